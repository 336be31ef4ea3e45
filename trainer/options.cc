#include "trainer/options.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

using nlohmann::json;

// REQUIRES: `value` passed CheckBuiltinValue for an int parameter, so it is
// integral and within +-2^53.
int64_t AsInt(const json& value) { return static_cast<int64_t>(value.get<double>()); }

// Stores `value` (already checked against the table) in the field for `name`.
// Returns false when TrainOptions has no such field: the table and the struct
// disagree, a bug caught by the options test.
bool SetField(const std::string& name, const json& value, TrainOptions& options) {
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
