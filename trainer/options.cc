#include "trainer/options.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

using nlohmann::json;

// REQUIRES: `value` passed CheckBuiltinValue for an int parameter, so it is
// integral and within +-2^53, or a boolean for a 0/1 switch.
int64_t AsInt(const json& value) {
  if (value.is_boolean()) return value.get<bool>() ? 1 : 0;  // A 0/1 switch.
  return static_cast<int64_t>(value.get<double>());
}

// The model, optimizer, schedule, loss, regularisation and augmentation
// fields; returns false for any other name.
bool SetModelOrTrainingField(const std::string& name, const json& value, TrainOptions& options) {
  // One entry per field; kept as lists by type so that adding one is one line.
  static const auto* const strings = new std::map<std::string, std::string TrainOptions::*>{
      {"activation", &TrainOptions::activation},
      {"pooling", &TrainOptions::pooling},
      {"rnn_cell", &TrainOptions::rnn_cell},
      {"positional", &TrainOptions::positional},
      {"token_pooling", &TrainOptions::token_pooling},
      {"schedule", &TrainOptions::schedule},
      {"loss", &TrainOptions::loss},
      {"early_stop_metric", &TrainOptions::early_stop_metric},
      {"precision", &TrainOptions::precision},
      {"resume_from", &TrainOptions::resume_from},
  };
  static const auto* const doubles = new std::map<std::string, double TrainOptions::*>{
      {"leaky_slope", &TrainOptions::leaky_slope},
      {"beta1", &TrainOptions::beta1},
      {"beta2", &TrainOptions::beta2},
      {"eps", &TrainOptions::eps},
      {"weight_decay", &TrainOptions::weight_decay},
      {"gamma", &TrainOptions::gamma},
      {"label_smoothing", &TrainOptions::label_smoothing},
      {"clip_norm", &TrainOptions::clip_norm},
      {"min_delta", &TrainOptions::min_delta},
      {"aug_flip", &TrainOptions::aug_flip},
      {"aug_rotation", &TrainOptions::aug_rotation},
      {"aug_scale", &TrainOptions::aug_scale},
      {"aug_prob", &TrainOptions::aug_prob},
  };
  static const auto* const ints = new std::map<std::string, int TrainOptions::*>{
      {"conv_blocks", &TrainOptions::conv_blocks},
      {"layers", &TrainOptions::layers},
      {"step_size", &TrainOptions::step_size},
      {"warmup_epochs", &TrainOptions::warmup_epochs},
      {"patience", &TrainOptions::patience},
      {"checkpoint_every", &TrainOptions::checkpoint_every},
  };
  static const auto* const int64s = new std::map<std::string, int64_t TrainOptions::*>{
      {"channels", &TrainOptions::channels},
      {"kernel_size", &TrainOptions::kernel_size},
      {"units", &TrainOptions::units},
      {"hidden_size", &TrainOptions::hidden_size},
      {"embedding_dim", &TrainOptions::embedding_dim},
      {"d_model", &TrainOptions::d_model},
      {"heads", &TrainOptions::heads},
      {"ff_units", &TrainOptions::ff_units},
      {"aug_crop", &TrainOptions::aug_crop},
      {"aug_cutout", &TrainOptions::aug_cutout},
  };
  static const auto* const bools = new std::map<std::string, bool TrainOptions::*>{
      {"batch_norm", &TrainOptions::batch_norm},
      {"bidirectional", &TrainOptions::bidirectional},
      {"nesterov", &TrainOptions::nesterov},
      {"refit", &TrainOptions::refit},
  };
  // One name per table: an else-if's variable is in scope in the else
  // branches after it, so reusing one would shadow (-Wshadow).
  if (auto string_field = strings->find(name); string_field != strings->end()) {
    options.*(string_field->second) = value.get<std::string>();
  } else if (auto double_field = doubles->find(name); double_field != doubles->end()) {
    options.*(double_field->second) = value.get<double>();
  } else if (auto int_field = ints->find(name); int_field != ints->end()) {
    options.*(int_field->second) = static_cast<int>(AsInt(value));
  } else if (auto int64_field = int64s->find(name); int64_field != int64s->end()) {
    options.*(int64_field->second) = AsInt(value);
  } else if (auto bool_field = bools->find(name); bool_field != bools->end()) {
    options.*(bool_field->second) = AsInt(value) != 0;  // 0 or 1 in the table.
  } else {
    return false;
  }
  return true;
}

// Stores a data parameter in `data`; returns false for any other name.
bool SetDataField(const std::string& name, const json& value, DataOptions& data) {
  static const auto* const strings = new std::map<std::string, std::string DataOptions::*>{
      {"dataset", &DataOptions::dataset},     {"data_dir", &DataOptions::data_dir},
      {"data_file", &DataOptions::data_file}, {"target", &DataOptions::target},
      {"task", &DataOptions::task},           {"missing", &DataOptions::missing},
      {"outliers", &DataOptions::outliers},   {"outlier_rule", &DataOptions::outlier_rule},
  };
  static const auto* const doubles = new std::map<std::string, double DataOptions::*>{
      {"val_fraction", &DataOptions::val_fraction},
      {"test_fraction", &DataOptions::test_fraction},
      {"missing_value", &DataOptions::missing_value},
      {"outlier_threshold", &DataOptions::outlier_threshold},
  };
  static const auto* const int64s = new std::map<std::string, int64_t DataOptions::*>{
      {"train_subset", &DataOptions::train_subset},
      {"max_len", &DataOptions::max_len},
      {"vocab_size", &DataOptions::vocab_size},
  };
  if (auto string_field = strings->find(name); string_field != strings->end()) {
    data.*(string_field->second) = value.get<std::string>();
  } else if (auto double_field = doubles->find(name); double_field != doubles->end()) {
    data.*(double_field->second) = value.get<double>();
  } else if (auto int64_field = int64s->find(name); int64_field != int64s->end()) {
    data.*(int64_field->second) = AsInt(value);
  } else if (name == "data_seed") {
    data.data_seed = static_cast<uint64_t>(AsInt(value));
  } else if (name == "cache_dir") {
    data.cache_dir = value.get<std::string>();
  } else if (name == "standardize") {
    data.standardize = AsInt(value) != 0;  // 0 or 1 in the table.
  } else {
    return false;
  }
  return true;
}

// Stores `value` (already checked against the table) in the field for `name`.
// Returns false when TrainOptions has no such field: the table and the struct
// disagree, a bug caught by the options test.
bool SetField(const std::string& name, const json& value, TrainOptions& options) {
  const bool data_field = SetDataField(name, value, options.data);
  if (name == "model") {
    options.model = value.get<std::string>();
  } else if (name == "dataset") {
    options.dataset = value.get<std::string>();
  } else if (name == "data_dir") {
    options.data_dir = value.get<std::string>();
  } else if (name == "epochs") {
    options.epochs = static_cast<int>(AsInt(value));
  } else if (name == "train_subset") {
    options.train_subset = AsInt(value);
  } else if (name == "val_fraction") {
    options.val_fraction = value.get<double>();
  } else if (name == "optimizer") {
    options.optimizer = value.get<std::string>();
  } else if (name == "lr") {
    options.lr = value.get<double>();
  } else if (name == "momentum") {
    options.momentum = value.get<double>();
  } else if (name == "batch_size") {
    options.batch_size = AsInt(value);
  } else if (name == "dropout") {
    options.dropout = value.get<double>();
  } else if (name == "l1") {
    options.l1 = value.get<double>();
  } else if (name == "l2") {
    options.l2 = value.get<double>();
  } else if (name == "seed") {
    options.seed = static_cast<uint64_t>(AsInt(value));
  } else if (name == "num_threads") {
    options.num_threads = static_cast<int>(AsInt(value));
  } else if (data_field) {
    // Only in options.data.
  } else if (SetModelOrTrainingField(name, value, options)) {
    // Set there.
  } else {
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TrainOptions> TrainOptionsFromJson(const json& params, absl::string_view source) {
  if (!params.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the parameters must be a JSON object of name -> value"));
  }
  for (const auto& [name, value] : params.items()) {
    // CheckBuiltinValue also rejects unknown names, naming the key.
    RETURN_IF_ERROR(CheckBuiltinValue(name, value, absl::StrCat(source, ": ", name)));
  }
  TrainOptions options;
  for (const BuiltinParam& param : BuiltinTrainerParams()) {
    auto it = params.find(param.name);
    const json& value = it != params.end() ? *it : param.default_value;
    if (!SetField(param.name, value, options)) {
      return absl::InternalError(
          absl::StrCat("parameter \"", param.name, "\" has no field in TrainOptions"));
    }
  }
  return options;
}

absl::StatusOr<TrainOptions> LoadTrainOptions(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the parameter file"));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat(path, ": cannot read the parameter file"));
  json params;
  try {
    params = json::parse(text.str());
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON: ", e.what()));
  }
  return TrainOptionsFromJson(params, path);
}

absl::StatusOr<int> ResolveNumThreads(int num_threads_param, const char* env_value) {
  if (num_threads_param > 0) return num_threads_param;
  if (env_value == nullptr || *env_value == '\0') return 1;
  int threads = 0;
  if (!absl::SimpleAtoi(env_value, &threads) || threads < 1 || threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VERNIER_NUM_THREADS must be an integer from 1 to 1024, got \"", env_value, "\""));
  }
  return threads;
}

absl::StatusOr<DeviceRequest> ParseDeviceRequest(const char* env_value) {
  if (env_value == nullptr || *env_value == '\0') return DeviceRequest::kAuto;
  const absl::string_view value(env_value);
  if (value == "cpu") return DeviceRequest::kCpu;
  if (value == "cuda") return DeviceRequest::kCuda;
  return absl::InvalidArgumentError(
      absl::StrCat("VERNIER_DEVICE must be \"cpu\" or \"cuda\", got \"", value, "\""));
}

}  // namespace vernier
