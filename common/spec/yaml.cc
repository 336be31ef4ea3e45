#include "common/spec/yaml.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/spec/limits.h"
#include "common/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace vernier {
namespace {

using Json = nlohmann::ordered_json;

// The offset of the first byte that is not part of well-formed UTF-8, or
// npos. Study files must be UTF-8: their strings become JSON (which nlohmann
// refuses to dump otherwise, with an exception) and proto3 strings.
size_t FirstInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    unsigned int code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, code = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, code = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, code = c & 0x07;
    } else {
      return i;
    }
    if (i + extra >= text.size()) return i;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return i;
      code = (code << 6) | (next & 0x3F);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF))) {
      return i;
    }
    i += extra + 1;
  }
  return absl::string_view::npos;
}

// Types a plain YAML scalar the way YAML 1.2's core schema does.
Json PlainScalarToJson(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  int64_t as_int = 0;
  if (text.find_first_of(".eE") == std::string::npos && absl::SimpleAtoi(text, &as_int)) {
    return as_int;
  }
  if (text == ".inf" || text == "+.inf") return std::numeric_limits<double>::infinity();
  if (text == "-.inf") return -std::numeric_limits<double>::infinity();
  if (text == ".nan" || text == ".NaN") return std::nan("");
  double as_double = 0;
  if (text.find_first_of("0123456789") != std::string::npos && absl::SimpleAtod(text, &as_double)) {
    return as_double;
  }
  return text;
}

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Converts yaml-cpp's node graph, in which an alias is a shared node, into a
// JSON tree, in which it is a copy: the budget counts every node of every
// copy, so expanding aliases stops at kMaxYamlNodes.
class YamlToJson {
 public:
  YamlToJson(std::string document, const YamlBounds& bounds)
      : document_(std::move(document)), bounds_(bounds) {}

  absl::StatusOr<Json> Convert(const YAML::Node& node, const std::string& path, int depth) {
    if (++nodes_ > bounds_.max_nodes) {
      return absl::InvalidArgumentError(
          absl::StrCat(document_, "more than ", bounds_.max_nodes,
                       " YAML nodes once aliases are expanded (the limit)"));
    }
    if (depth > bounds_.max_depth) {
      return FieldError(
          path, absl::StrCat("nested more than ", bounds_.max_depth, " levels deep (the limit)"));
    }
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return Json(nullptr);
      case YAML::NodeType::Scalar:
        // Quoted scalars carry the "!" tag and stay strings.
        if (node.Tag() == "!") return Json(node.Scalar());
        return PlainScalarToJson(node.Scalar());
      case YAML::NodeType::Sequence:
        return Sequence(node, path, depth);
      case YAML::NodeType::Map:
        return Mapping(node, path, depth);
    }
    return FieldError(path, "unsupported YAML node");
  }

 private:
  absl::StatusOr<Json> Sequence(const YAML::Node& node, const std::string& path, int depth) {
    Json out = Json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      ASSIGN_OR_RETURN(Json item, Convert(node[i], absl::StrCat(path, "[", i, "]"), depth + 1));
      out.push_back(std::move(item));
    }
    return out;
  }

  absl::StatusOr<Json> Mapping(const YAML::Node& node, const std::string& path, int depth) {
    Json out = Json::object();
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) return FieldError(path, "keys must be plain names");
      const std::string key = entry.first.Scalar();
      const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
      if (out.contains(key)) return FieldError(child, "duplicate key");
      ASSIGN_OR_RETURN(out[key], Convert(entry.second, child, depth + 1));
    }
    return out;
  }

  const std::string document_;  // "<label>: ", or empty.
  const YamlBounds bounds_;
  int64_t nodes_ = 0;
};

}  // namespace

YamlBounds YamlBounds::ForInput() {
  return YamlBounds{kMaxStudyFileBytes, kMaxYamlNodes, kMaxYamlDepth};
}

YamlBounds YamlBounds::Unlimited() {
  return YamlBounds{std::numeric_limits<size_t>::max(), std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int>::max()};
}

absl::StatusOr<nlohmann::ordered_json> ParseYamlDocument(absl::string_view text,
                                                         absl::string_view label,
                                                         const YamlBounds& bounds) {
  const std::string document = label.empty() ? "" : absl::StrCat(label, ": ");
  if (text.size() > bounds.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(document, text.size(), " bytes, more than the limit of ", bounds.max_bytes));
  }
  if (const size_t bad = FirstInvalidUtf8(text); bad != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(document, "not valid UTF-8 (byte offset ", bad, ")"));
  }
  try {
    // yaml-cpp keeps an alias as a shared node (linear in the text) and
    // refuses nesting deeper than a few hundred levels itself.
    YAML::Node root = YAML::Load(std::string(text));
    return YamlToJson(document, bounds).Convert(root, "", 0);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(document, "line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ": ", e.msg));
  }
}

absl::StatusOr<nlohmann::ordered_json> ParseYamlText(absl::string_view text) {
  return ParseYamlDocument(text, "");
}

}  // namespace vernier
