#include "worker/trial_params.h"

#include "absl/strings/str_cat.h"
#include "common/trial_protocol.h"
#include "nlohmann/json.hpp"

namespace vernier::worker {

absl::StatusOr<std::string> TrialParamsFile(const std::string& settings_json,
                                            const ProtoParams& params) {
  nlohmann::json settings = nlohmann::json::object();
  if (!settings_json.empty()) {
    settings = nlohmann::json::parse(settings_json, nullptr, /*allow_exceptions=*/false);
    if (!settings.is_object()) {
      return absl::InvalidArgumentError("the coordinator sent settings that are not a JSON object");
    }
  }
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [name, value] : params) {
    switch (value.kind_case()) {
      case v1::ParameterValue::kDoubleValue:
        values[name] = value.double_value();
        break;
      case v1::ParameterValue::kIntValue:
        values[name] = value.int_value();
        break;
      case v1::ParameterValue::kStringValue:
        values[name] = value.string_value();
        break;
      case v1::ParameterValue::KIND_NOT_SET:
        return absl::InvalidArgumentError(
            absl::StrCat("the coordinator sent parameter \"", name, "\" without a value"));
    }
  }
  return OverlayTrialParams(std::move(settings), values).dump();
}

}  // namespace vernier::worker
