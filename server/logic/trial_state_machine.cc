#include "server/logic/trial_state_machine.h"

#include "absl/strings/str_cat.h"

namespace vernier {

absl::Status CheckTransition(TrialState from, TrialState to) {
  bool allowed = false;
  switch (from) {
    case TrialState::kWaiting:
      allowed = to == TrialState::kRunning || to == TrialState::kFailed;
      break;
    case TrialState::kRunning:
      allowed = to != TrialState::kRunning;
      break;
    default:
      allowed = false;  // Finished trials never change again.
  }
  if (allowed) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("trial cannot go from ", TrialStateName(from), " to ", TrialStateName(to)));
}

}  // namespace vernier
