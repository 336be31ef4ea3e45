#include "common/builtin_trainer.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vernier {
namespace {

using nlohmann::json;
using Kind = BuiltinParam::Kind;

constexpr double kNoUpperBound = std::numeric_limits<double>::infinity();
// The largest integer a double (and so a JSON number) holds exactly: 2^53 - 1.
constexpr double kMaxExactInt = 9007199254740991.0;

BuiltinParam Choice(std::string name, std::vector<std::string> choices, std::string default_value,
                    std::string help) {
  BuiltinParam param{std::move(name), Kind::kChoice};
  param.default_value = std::move(default_value);
  param.choices = std::move(choices);
  param.help = std::move(help);
  return param;
}

BuiltinParam Text(std::string name, std::string default_value, std::string help) {
  BuiltinParam param{std::move(name), Kind::kString};
  param.default_value = std::move(default_value);
  param.help = std::move(help);
  return param;
}

BuiltinParam Number(Kind kind, std::string name, double min_value, double max_value,
                    json default_value, std::string help) {
  BuiltinParam param{std::move(name), kind};
  param.min_value = min_value;
  param.max_value = max_value;
  param.default_value = std::move(default_value);
  param.help = std::move(help);
  return param;
}

std::vector<BuiltinParam> MakeTable() {
  return {
      Choice("model", {"cnn"}, "cnn", "model architecture: a small two-layer CNN"),
      Choice("dataset", {"fashion-mnist"}, "fashion-mnist",
             "data set (IDX files, gzip or raw, in data_dir)"),
      Text("data_dir", "/usr/share/datasets/fashion-mnist", "directory holding the data set files"),
      Number(Kind::kInt, "epochs", 1, 1000, 3, "passes over the training images"),
      Number(Kind::kInt, "train_subset", 0, 1e9, 0,
             "train on the first N training images (0 = all after the validation split)"),
      Number(Kind::kFloat, "val_fraction", 0.001, 0.9, 1.0 / 6,
             "share of the training file held out for validation (its last images)"),
      Choice("optimizer", {"sgd", "momentum", "adam"}, "adam",
             "plain sgd, sgd with momentum, or adam"),
      Number(Kind::kFloat, "lr", 1e-10, 10, 0.001, "learning rate (> 0)"),
      Number(Kind::kFloat, "momentum", 0, 0.999, 0.9, "momentum of the momentum optimizer"),
      Number(Kind::kInt, "batch_size", 1, 65536, 64, "training images per step"),
      Number(Kind::kFloat, "dropout", 0, 0.95, 0.25, "dropout rate before each dense layer"),
      Number(Kind::kFloat, "l1", 0, kNoUpperBound, 0.0,
             "l1 * sum(|w|) over weights (not biases) added to the loss"),
      Number(Kind::kFloat, "l2", 0, kNoUpperBound, 0.0,
             "l2 * sum(w^2) over weights (not biases) added to the loss (not decoupled decay)"),
      Number(Kind::kInt, "seed", 0, kMaxExactInt, 0,
             "seeds weights, shuffling and dropout: same seed, same run (on one device)"),
      Number(Kind::kInt, "num_threads", 0, 1024, 0,
             "intra-op CPU threads (0 = $VERNIER_NUM_THREADS, else 1)"),
  };
}

// Renders a JSON value for an error message, shortened if long. Never throws
// (invalid UTF-8 in a string is replaced).
std::string Show(const json& value) {
  constexpr size_t kMaxShown = 80;
  std::string shown = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (shown.size() > kMaxShown) shown = shown.substr(0, kMaxShown) + "...";
  return shown;
}

std::string FormatBound(const BuiltinParam& param, double bound) {
  if (param.kind == Kind::kInt) return absl::StrCat(static_cast<int64_t>(bound));
  return absl::StrCat(bound);
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckNumber(const BuiltinParam& param, const json& value, absl::string_view field) {
  const bool is_int = param.kind == Kind::kInt;
  const char* const expected = is_int ? "an integer" : "a number";
  if (!value.is_number()) {
    return Invalid(field, absl::StrCat(param.name, " must be ", expected, ", got ", Show(value)));
  }
  const double number = value.get<double>();
  if (!std::isfinite(number) ||
      (is_int && value.is_number_float() && std::trunc(number) != number)) {
    return Invalid(field, absl::StrCat(param.name, " must be ", expected, ", got ", Show(value)));
  }
  if (number >= param.min_value && number <= param.max_value) return absl::OkStatus();
  if (param.max_value == kNoUpperBound) {
    return Invalid(field, absl::StrCat(param.name, " must be >= ",
                                       FormatBound(param, param.min_value), ", got ", Show(value)));
  }
  return Invalid(field,
                 absl::StrCat(param.name, " must be between ", FormatBound(param, param.min_value),
                              " and ", FormatBound(param, param.max_value), ", got ", Show(value)));
}

absl::Status CheckChoice(const BuiltinParam& param, const json& value, absl::string_view field) {
  if (value.is_string()) {
    for (const std::string& choice : param.choices) {
      if (value.get_ref<const std::string&>() == choice) return absl::OkStatus();
    }
  }
  return Invalid(field,
                 absl::StrCat("unknown ", param.name, " ", Show(value),
                              " (expected one of: ", absl::StrJoin(param.choices, ", "), ")"));
}

absl::Status CheckString(const BuiltinParam& param, const json& value, absl::string_view field) {
  if (value.is_string() && !value.get_ref<const std::string&>().empty()) return absl::OkStatus();
  return Invalid(field, absl::StrCat(param.name, " must be a non-empty string, got ", Show(value)));
}

}  // namespace

const std::vector<BuiltinParam>& BuiltinTrainerParams() {
  static const std::vector<BuiltinParam>* const table = new std::vector<BuiltinParam>(MakeTable());
  return *table;
}

const BuiltinParam* FindBuiltinParam(absl::string_view name) {
  for (const BuiltinParam& param : BuiltinTrainerParams()) {
    if (param.name == name) return &param;
  }
  return nullptr;
}

absl::Status CheckBuiltinValue(absl::string_view name, const json& value, absl::string_view field) {
  const BuiltinParam* param = FindBuiltinParam(name);
  if (param == nullptr) {
    std::vector<absl::string_view> known;
    for (const BuiltinParam& p : BuiltinTrainerParams()) known.push_back(p.name);
    return Invalid(field,
                   absl::StrCat("unknown parameter \"", name, "\" of the built-in trainer (known: ",
                                absl::StrJoin(known, ", "), ")"));
  }
  switch (param->kind) {
    case Kind::kFloat:
    case Kind::kInt:
      return CheckNumber(*param, value, field);
    case Kind::kChoice:
      return CheckChoice(*param, value, field);
    case Kind::kString:
      return CheckString(*param, value, field);
  }
  return absl::InternalError("unreachable: unknown BuiltinParam::Kind");
}

}  // namespace vernier
