#include "trainer/model_manifest.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "trainer/text_data.h"

namespace vernier {
namespace {

using nlohmann::json;

namespace fs = std::filesystem;

// Reads typed fields of one JSON object, naming each by its dotted path in
// errors: "<file>: <path>: <what is wrong>".
class FieldReader {
 public:
  FieldReader(const json& object, std::string file, std::string path)
      : object_(object), file_(std::move(file)), path_(std::move(path)) {}

  absl::Status Error(absl::string_view key, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", Path(key), ": ", what));
  }

  const json& object() const { return object_; }

  std::string Path(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  absl::StatusOr<const json*> Field(absl::string_view key) const {
    const auto it = object_.find(std::string(key));
    if (it == object_.end()) return Error(key, "missing");
    return &*it;
  }

  absl::StatusOr<FieldReader> Object(absl::string_view key) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    if (!value->is_object()) return Error(key, "expected an object");
    return FieldReader(*value, file_, Path(key));
  }

  absl::StatusOr<std::string> String(absl::string_view key) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    if (!value->is_string()) return Error(key, "expected a string");
    return value->get<std::string>();
  }

  // A JSON number; null reads as NaN (as ManifestToJson writes NaN).
  absl::StatusOr<double> Number(absl::string_view key) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    return AsNumber(*value, key);
  }

  absl::StatusOr<int64_t> Integer(absl::string_view key, int64_t min) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    if (!value->is_number_integer() || value->get<int64_t>() < min) {
      return Error(key, absl::StrCat("expected an integer >= ", min));
    }
    return value->get<int64_t>();
  }

  absl::StatusOr<std::vector<std::string>> Strings(absl::string_view key) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    std::vector<std::string> out;
    if (!value->is_array()) return Error(key, "expected an array of strings");
    for (const json& item : *value) {
      if (!item.is_string()) return Error(key, "expected an array of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  absl::StatusOr<std::vector<double>> Numbers(absl::string_view key) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    if (!value->is_array()) return Error(key, "expected an array of numbers");
    std::vector<double> out;
    for (const json& item : *value) {
      ASSIGN_OR_RETURN(double number, AsNumber(item, key));
      out.push_back(number);
    }
    return out;
  }

  absl::StatusOr<std::vector<int64_t>> Shape(absl::string_view key) const {
    ASSIGN_OR_RETURN(const json* value, Field(key));
    const absl::Status bad = Error(key, "expected a non-empty array of positive integers");
    if (!value->is_array() || value->empty()) return bad;
    std::vector<int64_t> out;
    for (const json& item : *value) {
      if (!item.is_number_integer() || item.get<int64_t>() < 1) return bad;
      out.push_back(item.get<int64_t>());
    }
    return out;
  }

  // The string field `key`, which must be one of `names` (index = enum value).
  template <typename Enum, size_t N>
  absl::StatusOr<Enum> Choice(absl::string_view key, const char* const (&names)[N]) const {
    ASSIGN_OR_RETURN(std::string value, String(key));
    for (size_t i = 0; i < N; ++i) {
      if (value == names[i]) return static_cast<Enum>(i);
    }
    return Error(key, absl::StrCat("unknown value \"", value,
                                   "\" (expected one of: ", absl::StrJoin(names, ", "), ")"));
  }

 private:
  absl::StatusOr<double> AsNumber(const json& value, absl::string_view key) const {
    if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!value.is_number()) return Error(key, "expected a number");
    return value.get<double>();
  }

  const json& object_;
  std::string file_;
  std::string path_;
};

// Names in enum order (the parser maps a name back through its index).
constexpr const char* kTaskNames[] = {"classification", "regression"};
constexpr const char* kInputNames[] = {"image", "features", "tokens"};
constexpr const char* kOutputNames[] = {"logits", "binary_logit", "scaled_value"};

// A number, or null for NaN and infinities (JSON has neither).
json NumberOrNull(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json NumbersOrNull(const std::vector<double>& values) {
  json out = json::array();
  for (double value : values) out.push_back(NumberOrNull(value));
  return out;
}

json InputToJson(const ModelManifest& m) {
  json input = {{"kind", InputKindName(m.input)}, {"shape", m.input_shape}};
  switch (m.input) {
    case InputKind::kImageBytes:
      input["dtype"] = "float32";
      input["pixel_scale"] = m.image.pixel_scale;
      input["mean"] = m.image.mean;
      input["std"] = m.image.std;
      break;
    case InputKind::kTokens:
      input["dtype"] = "int64";
      input["max_len"] = m.text.max_len;
      input["vocab_size"] = m.text.vocab_size;
      input["vocab_file"] = kVocabFileName;
      input["tokenizer"] = kTokenizerName;
      input["pad_id"] = kPadTokenId;
      input["unknown_id"] = kUnknownTokenId;
      break;
    case InputKind::kFloat: {
      const TabularPreprocessing& t = m.tabular;
      input["dtype"] = "float32";
      input["feature_names"] = t.feature_names;
      input["target"] = t.target_name;
      input["missing"] = t.missing;
      input["fill_values"] = NumbersOrNull(t.fill_values);
      input["clip_low"] = NumbersOrNull(t.clip_low);
      input["clip_high"] = NumbersOrNull(t.clip_high);
      input["means"] = NumbersOrNull(t.means);
      input["scales"] = NumbersOrNull(t.scales);
      break;
    }
  }
  return input;
}

json OutputToJson(const ModelManifest& m) {
  json output = {{"kind", OutputKindName(m.output)}, {"width", m.output_width}};
  if (m.task == TaskKind::kClassification) output["class_names"] = m.class_names;
  if (m.output == OutputKind::kScaledValue) {
    output["target_mean"] = m.target_mean;
    output["target_std"] = m.target_std;
  }
  return output;
}

absl::Status ParseImageInput(const FieldReader& in, ImageInput& image) {
  ASSIGN_OR_RETURN(image.pixel_scale, in.Number("pixel_scale"));
  ASSIGN_OR_RETURN(image.mean, in.Number("mean"));
  ASSIGN_OR_RETURN(image.std, in.Number("std"));
  if (!(image.std > 0)) return in.Error("std", "expected a number > 0");
  return absl::OkStatus();
}

absl::Status ParseTextInput(const FieldReader& in, const std::vector<int64_t>& shape,
                            TextInput& text) {
  ASSIGN_OR_RETURN(text.max_len, in.Integer("max_len", 1));
  ASSIGN_OR_RETURN(text.vocab_size, in.Integer("vocab_size", 2));
  ASSIGN_OR_RETURN(std::string vocab_file, in.String("vocab_file"));
  if (vocab_file != kVocabFileName) {
    return in.Error("vocab_file", absl::StrCat("expected \"", kVocabFileName, "\""));
  }
  ASSIGN_OR_RETURN(std::string tokenizer, in.String("tokenizer"));
  if (tokenizer != kTokenizerName) {
    return in.Error("tokenizer", absl::StrCat("unknown tokenizer \"", tokenizer, "\" (expected ",
                                              kTokenizerName, ")"));
  }
  if (shape.size() != 1 || shape[0] != text.max_len) {
    return in.Error("shape", "expected [max_len] for token input");
  }
  return absl::OkStatus();
}

absl::Status ParseTabularInput(const FieldReader& in, const std::vector<int64_t>& shape,
                               TabularPreprocessing& t) {
  ASSIGN_OR_RETURN(t.feature_names, in.Strings("feature_names"));
  ASSIGN_OR_RETURN(t.target_name, in.String("target"));
  ASSIGN_OR_RETURN(t.missing, in.String("missing"));
  if (shape.size() != 1 || shape[0] != static_cast<int64_t>(t.feature_names.size())) {
    return in.Error("shape", "expected [number of feature_names] for feature input");
  }
  const size_t features = t.feature_names.size();
  for (auto [key, list] : {std::pair{"fill_values", &t.fill_values},
                           std::pair{"clip_low", &t.clip_low}, std::pair{"clip_high", &t.clip_high},
                           std::pair{"means", &t.means}, std::pair{"scales", &t.scales}}) {
    ASSIGN_OR_RETURN(*list, in.Numbers(key));
    if (!list->empty() && list->size() != features) {
      return in.Error(key,
                      absl::StrCat("expected ", features, " values (one per feature) or none"));
    }
  }
  if (t.clip_low.size() != t.clip_high.size()) {
    return in.Error("clip_high", "expected as many values as clip_low");
  }
  if (t.means.size() != t.scales.size()) {
    return in.Error("scales", "expected as many values as means");
  }
  return absl::OkStatus();
}

absl::Status ParseInput(const FieldReader& root, ModelManifest& m) {
  ASSIGN_OR_RETURN(FieldReader in, root.Object("input"));
  ASSIGN_OR_RETURN(m.input, in.Choice<InputKind>("kind", kInputNames));
  ASSIGN_OR_RETURN(m.input_shape, in.Shape("shape"));
  switch (m.input) {
    case InputKind::kImageBytes:
      if (m.input_shape.size() != 3) return in.Error("shape", "expected [channels, height, width]");
      return ParseImageInput(in, m.image);
    case InputKind::kTokens:
      return ParseTextInput(in, m.input_shape, m.text);
    case InputKind::kFloat:
      return ParseTabularInput(in, m.input_shape, m.tabular);
  }
  return absl::OkStatus();
}

absl::Status ParseOutput(const FieldReader& root, ModelManifest& m) {
  ASSIGN_OR_RETURN(FieldReader out, root.Object("output"));
  ASSIGN_OR_RETURN(m.output, out.Choice<OutputKind>("kind", kOutputNames));
  ASSIGN_OR_RETURN(m.output_width, out.Integer("width", 1));
  const bool regression = m.task == TaskKind::kRegression;
  if (regression != (m.output == OutputKind::kScaledValue)) {
    return out.Error("kind", absl::StrCat("\"", OutputKindName(m.output), "\" does not fit task ",
                                          TaskName(m.task)));
  }
  if (m.output != OutputKind::kLogits && m.output_width != 1) {
    return out.Error("width", "expected 1 for this output kind");
  }
  if (regression) {
    ASSIGN_OR_RETURN(m.target_mean, out.Number("target_mean"));
    ASSIGN_OR_RETURN(m.target_std, out.Number("target_std"));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(m.class_names, out.Strings("class_names"));
  const size_t expected = m.output == OutputKind::kLogits ? static_cast<size_t>(m.output_width) : 2;
  if (m.class_names.size() != expected) {
    return out.Error("class_names",
                     absl::StrCat("expected ", expected, " names, got ", m.class_names.size()));
  }
  return absl::OkStatus();
}

absl::Status ParseModel(const FieldReader& root, ModelManifest& m) {
  ASSIGN_OR_RETURN(FieldReader model, root.Object("model"));
  ASSIGN_OR_RETURN(m.model, model.String("kind"));
  ASSIGN_OR_RETURN(std::string file, model.String("file"));
  if (file != kModelFileName) {
    return model.Error("file", absl::StrCat("expected \"", kModelFileName, "\""));
  }
  ASSIGN_OR_RETURN(const json* architecture, model.Field("architecture"));
  if (!architecture->is_object()) return model.Error("architecture", "expected an object");
  m.architecture = *architecture;
  ASSIGN_OR_RETURN(m.parameter_count, model.Integer("parameter_count", 0));
  return absl::OkStatus();
}

absl::Status ParseProvenance(const FieldReader& root, ModelManifest& m) {
  ASSIGN_OR_RETURN(m.dataset, root.String("dataset"));
  ASSIGN_OR_RETURN(const json* params, root.Field("params"));
  if (!params->is_object()) return root.Error("params", "expected an object");
  m.params = *params;
  ASSIGN_OR_RETURN(FieldReader metrics, root.Object("metrics"));
  for (const auto& item : metrics.object().items()) {
    ASSIGN_OR_RETURN(m.metrics[item.key()], metrics.Number(item.key()));
  }
  ASSIGN_OR_RETURN(int64_t epoch, root.Integer("epoch", 0));
  m.epoch = static_cast<int>(epoch);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  return text.str();
}

// Writes `text` to `path` through a temporary name and a rename, so a reader
// never sees half a file.
absl::Status WriteWholeFile(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) return absl::InternalError(absl::StrCat(path, ": ", error.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ParseVocabulary(const std::string& text,
                                                         const std::string& file) {
  std::vector<std::string> tokens;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (end == begin) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", tokens.size() + 1, ": empty token"));
    }
    tokens.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return tokens;
}

}  // namespace

const char* TaskName(TaskKind task) { return kTaskNames[static_cast<int>(task)]; }
const char* InputKindName(InputKind input) { return kInputNames[static_cast<int>(input)]; }
const char* OutputKindName(OutputKind kind) { return kOutputNames[static_cast<int>(kind)]; }

std::string ManifestToJson(const ModelManifest& m) {
  json metrics = json::object();
  for (const auto& [name, value] : m.metrics) metrics[name] = NumberOrNull(value);
  json root = {
      {"format", m.format},
      {"vernier_version", m.vernier_version},
      {"model",
       {{"kind", m.model},
        {"file", kModelFileName},
        {"architecture", m.architecture},
        {"parameter_count", m.parameter_count}}},
      {"task", TaskName(m.task)},
      {"dataset", m.dataset},
      {"input", InputToJson(m)},
      {"output", OutputToJson(m)},
      {"params", m.params},
      {"metrics", metrics},
      {"epoch", m.epoch},
  };
  // Replace, not throw, on bytes that are not UTF-8 (a class name from a CSV).
  return root.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

absl::StatusOr<ModelManifest> ParseManifest(absl::string_view text, absl::string_view file) {
  const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": not a JSON object"));
  }
  const FieldReader reader(root, std::string(file), "");
  ModelManifest m;
  ASSIGN_OR_RETURN(m.format, reader.String("format"));
  if (m.format != kModelFormat) {
    return reader.Error("format", absl::StrCat("unsupported \"", m.format, "\" (this reader takes ",
                                               kModelFormat, ")"));
  }
  ASSIGN_OR_RETURN(m.vernier_version, reader.String("vernier_version"));
  RETURN_IF_ERROR(ParseModel(reader, m));
  ASSIGN_OR_RETURN(m.task, reader.Choice<TaskKind>("task", kTaskNames));
  RETURN_IF_ERROR(ParseInput(reader, m));
  RETURN_IF_ERROR(ParseOutput(reader, m));
  RETURN_IF_ERROR(ParseProvenance(reader, m));
  return m;
}

absl::Status WriteModelManifest(const std::string& dir, const ModelManifest& manifest) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  if (manifest.input == InputKind::kTokens) {
    std::string vocab;
    for (const std::string& token : manifest.text.vocabulary) {
      if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("vocabulary token \"", token, "\" is empty or holds a line break"));
      }
      absl::StrAppend(&vocab, token, "\n");
    }
    RETURN_IF_ERROR(WriteWholeFile(absl::StrCat(dir, "/", kVocabFileName), vocab));
  }
  return WriteWholeFile(absl::StrCat(dir, "/", kManifestFileName), ManifestToJson(manifest));
}

absl::StatusOr<ModelManifest> ReadModelManifest(const std::string& dir) {
  const std::string manifest_path = absl::StrCat(dir, "/", kManifestFileName);
  ASSIGN_OR_RETURN(std::string text, ReadWholeFile(manifest_path));
  ASSIGN_OR_RETURN(ModelManifest manifest, ParseManifest(text, manifest_path));
  if (manifest.input != InputKind::kTokens) return manifest;
  const std::string vocab_path = absl::StrCat(dir, "/", kVocabFileName);
  ASSIGN_OR_RETURN(std::string vocab, ReadWholeFile(vocab_path));
  ASSIGN_OR_RETURN(manifest.text.vocabulary, ParseVocabulary(vocab, vocab_path));
  const int64_t ids = static_cast<int64_t>(manifest.text.vocabulary.size()) + 2;
  if (ids != manifest.text.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        vocab_path, ": ", manifest.text.vocabulary.size(), " tokens, but ", manifest_path,
        " says input.vocab_size ", manifest.text.vocab_size, " (tokens + 2)"));
  }
  return manifest;
}

}  // namespace vernier
