#include "common/builtin_trainer.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/strings/match.h"
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
      Choice("model", {"cnn", "mlp", "rnn", "transformer"}, "cnn",
             "cnn for images, mlp for features (or images), rnn or transformer for text"),
      Choice("activation", {"relu", "leaky_relu", "prelu", "sigmoid", "tanh", "gelu"}, "relu",
             "hidden-layer activation (transformer: not prelu)"),
      Number(Kind::kFloat, "leaky_slope", 0, 1, 0.01, "negative slope of leaky_relu"),
      Number(Kind::kInt, "conv_blocks", 1, 6, 2,
             "cnn: conv -> [batch norm] -> activation -> 2x2 pool blocks"),
      Number(Kind::kInt, "channels", 1, 512, 16,
             "cnn: channels of the first block; each further block doubles them"),
      Number(Kind::kInt, "kernel_size", 1, 11, 3, "cnn: square kernel side ('same' padding)"),
      Choice("pooling", {"max", "avg"}, "max", "cnn: 2x2 pooling after each block"),
      Number(Kind::kInt, "batch_norm", 0, 1, 0, "cnn: 1 = BatchNorm2d after each conv"),
      Number(Kind::kInt, "units", 1, 16384, 128,
             "cnn: dense layer width; mlp: width of each layer"),
      Number(Kind::kInt, "layers", 1, 24, 2, "mlp: hidden layers; rnn, transformer: layers"),
      Choice("rnn_cell", {"lstm", "gru", "rnn"}, "lstm", "rnn: recurrent cell"),
      Number(Kind::kInt, "hidden_size", 1, 4096, 128, "rnn: hidden units per direction"),
      Number(Kind::kInt, "bidirectional", 0, 1, 0, "rnn: 1 = both directions"),
      Number(Kind::kInt, "embedding_dim", 1, 4096, 64, "rnn: token embedding size"),
      Number(Kind::kInt, "d_model", 2, 4096, 64,
             "transformer: embedding and model width (divisible by heads)"),
      Number(Kind::kInt, "heads", 1, 64, 4, "transformer: attention heads"),
      Number(Kind::kInt, "ff_units", 1, 16384, 128, "transformer: feed-forward width"),
      Choice("positional", {"sinusoidal", "learned", "none"}, "sinusoidal",
             "transformer: positional encoding"),
      Choice("token_pooling", {"mean", "first"}, "mean",
             "transformer: mean over non-pad tokens, or the first token"),
      Choice("dataset", {"fashion-mnist", "idx", "spam-assassin", "text-csv", "tabular-csv"},
             "fashion-mnist",
             "fashion-mnist or idx: IDX image files in data_dir; spam-assassin: the corpus in "
             "data_dir; text-csv: text,label rows in data_file; tabular-csv: a CSV with a header "
             "and a target column in data_file"),
      Text("data_dir", "/usr/share/datasets/fashion-mnist",
           "directory of the IDX files or the corpus (spam-assassin with this default: "
           "$VERNIER_DATASETS or ~/.cache/vernier/datasets, then /spam-assassin)"),
      Text("data_file", "",
           "text-csv, tabular-csv: the CSV/TSV file (relative: to the working directory, else to "
           "the fetched-datasets directory, e.g. diabetes.csv)"),
      Number(Kind::kFloat, "test_fraction", 0.001, 0.9, 0.2,
             "data sets without a test file: share of the examples held out for the test"),
      Number(Kind::kInt, "data_seed", 0, kMaxExactInt, 0,
             "seeds the shuffle of the hold-out splits; keep it fixed within a study"),
      Text("cache_dir", "auto",
           "cache of decoded images and the parsed spam-assassin corpus: auto = "
           "$XDG_CACHE_HOME/vernier or ~/.cache/vernier, none = off, or a directory"),
      Number(Kind::kInt, "max_len", 1, 100000, 200,
             "text: tokens per example (longer texts are cut, shorter ones padded)"),
      Number(Kind::kInt, "vocab_size", 3, 10000000, 20000,
             "text: the most frequent training tokens kept, plus the padding and unknown ids"),
      Text("target", "", "tabular: the target column (\"\" = the last column)"),
      Choice("task", {"auto", "classification", "regression"}, "auto",
             "tabular: auto = classification for a non-numeric target or <= 20 integer values"),
      Choice("missing", {"drop", "mean", "median", "constant", "interpolate"}, "mean",
             "tabular: missing cells (empty, NA, NaN, ?): drop the row, fill with the training "
             "mean / median / missing_value, or interpolate between neighbouring rows"),
      Number(Kind::kFloat, "missing_value", -1e300, 1e300, 0.0,
             "tabular: fill for missing = constant"),
      Choice("outliers", {"none", "clip", "drop"}, "none",
             "tabular: clip features into the bounds, or drop training rows outside them"),
      Choice("outlier_rule", {"z", "iqr"}, "z",
             "tabular: bounds mean +- t*stddev (z) or Q1 - t*IQR .. Q3 + t*IQR (iqr), on training"),
      Number(Kind::kFloat, "outlier_threshold", 0.01, 1e6, 3.0, "tabular: t of outlier_rule"),
      Number(Kind::kInt, "standardize", 0, 1, 1,
             "tabular: 1 = scale features to mean 0, stddev 1 (fitted on training)"),
      Number(Kind::kInt, "epochs", 1, 1000, 3, "passes over the training images"),
      Number(Kind::kInt, "train_subset", 0, 1e9, 0,
             "train on the first N training examples (0 = all after the validation split)"),
      Number(Kind::kFloat, "val_fraction", 0.001, 0.9, 1.0 / 6,
             "share held out for validation: the training file's last images, or of the "
             "examples left after the test split"),
      Choice("optimizer", {"gd", "sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad"}, "adam",
             "gd = full-batch gradient descent (ignores batch_size); sgd; sgd with momentum; ..."),
      Number(Kind::kFloat, "lr", 1e-10, 10, 0.001, "learning rate (> 0)"),
      Number(Kind::kFloat, "momentum", 0, 0.999, 0.9, "momentum of momentum and rmsprop"),
      Number(Kind::kInt, "nesterov", 0, 1, 0, "momentum: 1 = Nesterov momentum"),
      Number(Kind::kFloat, "beta1", 0, 0.9999, 0.9, "adam, adamw: first-moment decay"),
      Number(Kind::kFloat, "beta2", 0, 0.99999, 0.999, "adam, adamw: second-moment decay"),
      Number(Kind::kFloat, "eps", 1e-12, 1, 1e-8,
             "adam, adamw, rmsprop, adagrad: denominator term"),
      Number(Kind::kFloat, "weight_decay", 0, 1, 0.0,
             "adamw: decoupled weight decay; other optimizers: torch's coupled weight_decay"),
      Choice("schedule", {"constant", "step", "cosine"}, "constant",
             "learning-rate schedule per epoch (after any warm-up)"),
      Number(Kind::kInt, "step_size", 1, 1000, 1, "step schedule: epochs between decays"),
      Number(Kind::kFloat, "gamma", 1e-6, 1, 0.1, "step schedule: decay factor"),
      Number(Kind::kInt, "warmup_epochs", 0, 1000, 0,
             "linear warm-up: epoch e < warmup_epochs uses lr * (e + 1) / (warmup_epochs + 1)"),
      Choice("loss", {"auto", "cross_entropy", "bce", "mse", "kl_div"}, "auto",
             "auto = cross_entropy for classes, mse for regression; bce: two classes only"),
      Number(Kind::kFloat, "label_smoothing", 0, 0.99, 0.0,
             "cross_entropy, kl_div: label smoothing"),
      Number(Kind::kFloat, "clip_norm", 0, kNoUpperBound, 0.0,
             "clip the gradients' global L2 norm to this (0 = off)"),
      Choice("early_stop_metric",
             {"val_loss", "val_accuracy", "val_f1", "val_f1_macro", "val_precision",
              "val_precision_macro", "val_recall", "val_recall_macro", "val_mse", "val_rmse",
              "val_mae"},
             "val_loss", "early stopping: validation metric watched (loss, mse, rmse, mae: lower)"),
      Number(Kind::kInt, "patience", 0, 1000, 0,
             "early stopping: stop after this many epochs without improvement (0 = off); the "
             "best epoch's weights are restored for the test"),
      Number(Kind::kFloat, "min_delta", 0, kNoUpperBound, 0.0,
             "early stopping: smallest change that counts as improvement"),
      Choice("precision", {"fp32", "bf16"}, "fp32",
             "bf16 = bfloat16 autocast on CUDA (on the CPU: ignored, with a log line)"),
      Number(Kind::kInt, "checkpoint_every", 0, 1000, 0,
             "save model + optimizer to $VERNIER_TRIAL_DIR/checkpoint every N epochs (0 = off)"),
      Text("resume_from", "",
           "checkpoint directory to continue from, at its saved epoch (\"\" = start fresh)"),
      Number(Kind::kInt, "refit", 0, 1, 0,
             "1 = refit: train on training + validation data for exactly `epochs` epochs, no "
             "early stopping; val_* metrics are then measured on the test split"),
      Number(Kind::kInt, "batch_size", 1, 65536, 64, "training images per step"),
      Number(Kind::kFloat, "dropout", 0, 0.95, 0.25, "dropout rate before each dense layer"),
      Number(Kind::kFloat, "aug_flip", 0, 1, 0.0, "images: probability of a horizontal flip"),
      Number(Kind::kFloat, "aug_rotation", 0, 180, 0.0, "images: random rotation within +-degrees"),
      Number(Kind::kFloat, "aug_scale", 0, 0.9, 0.0, "images: random zoom in [1 - s, 1 + s]"),
      Number(Kind::kInt, "aug_crop", 0, 64, 0,
             "images: random crop after zero-padding this many pixels (a shift)"),
      Number(Kind::kInt, "aug_cutout", 0, 1024, 0,
             "images: zero a random square of this side (0 = off)"),
      Number(Kind::kFloat, "aug_prob", 0, 1, 1.0,
             "images: probability that an image gets rotation, scale, crop and cutout"),
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
  // 0/1 switches (batch_norm, refit, ...) also take JSON's true and false.
  if (is_int && value.is_boolean() && param.min_value == 0 && param.max_value == 1) {
    return absl::OkStatus();
  }
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

// A string parameter whose default is "" (e.g. resume_from: none) takes "";
// the others need a non-empty value.
absl::Status CheckString(const BuiltinParam& param, const json& value, absl::string_view field) {
  if (value.is_string() &&
      (!value.get_ref<const std::string&>().empty() || param.default_value == json(""))) {
    return absl::OkStatus();
  }
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

nlohmann::json BuiltinTrialSettings(nlohmann::json settings, uint64_t study_seed,
                                    int64_t trial_number, std::optional<int64_t> checkpoint_every) {
  if (!settings.is_object()) settings = nlohmann::json::object();
  if (!settings.contains("seed")) {
    settings["seed"] = static_cast<int64_t>(
        (study_seed + 7919 * static_cast<uint64_t>(trial_number)) % 2147483647);
  }
  if (checkpoint_every && !settings.contains("checkpoint_every")) {
    settings["checkpoint_every"] = *checkpoint_every;
  }
  return settings;
}

bool BuiltinMetricLowerIsBetter(absl::string_view metric) {
  for (absl::string_view suffix : {"loss", "mse", "rmse", "mae"}) {
    if (absl::EndsWith(metric, suffix)) return true;
  }
  return false;
}

}  // namespace vernier
