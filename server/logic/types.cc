#include "server/logic/types.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vernier {

absl::string_view StudyStateName(StudyState state) {
  switch (state) {
    case StudyState::kActive:
      return "ACTIVE";
    case StudyState::kStopped:
      return "STOPPED";
    case StudyState::kCompleted:
      return "COMPLETED";
  }
  return "UNKNOWN";
}

absl::string_view TrialStateName(TrialState state) {
  switch (state) {
    case TrialState::kWaiting:
      return "WAITING";
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kComplete:
      return "COMPLETE";
    case TrialState::kPruned:
      return "PRUNED";
    case TrialState::kFailed:
      return "FAILED";
    case TrialState::kInfeasible:
      return "INFEASIBLE";
  }
  return "UNKNOWN";
}

bool IsFinished(TrialState state) {
  return state != TrialState::kWaiting && state != TrialState::kRunning;
}

std::string ParamValueToString(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return absl::StrCat(*d);
  if (const auto* i = std::get_if<int64_t>(&value)) return absl::StrCat(*i);
  return std::get<std::string>(value);
}

bool IsWarmStartCopy(const TrialRecord& trial) {
  return absl::StartsWith(trial.origin, kOriginWarmStartPrefix);
}

bool IsRefit(const TrialRecord& trial) {
  return absl::StartsWith(trial.origin, kOriginRefitPrefix);
}

bool LearnsFrom(const TrialRecord& trial) { return !trial.excluded && !IsRefit(trial); }

std::optional<int64_t> RefitSource(const TrialRecord& trial) {
  int64_t source = 0;
  if (!IsRefit(trial) ||
      !absl::SimpleAtoi(absl::string_view(trial.origin).substr(kOriginRefitPrefix.size()),
                        &source)) {
    return std::nullopt;
  }
  return source;
}

}  // namespace vernier
