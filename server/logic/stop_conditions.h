// The budget's stop conditions beyond max_trials and max_failures: a target
// value (Katib's goal), a wall-clock budget, and patience (no better trial in
// the last N). Pure logic: the coordinator asks after each change.
//
// Thread-safety: pure functions, thread-safe.
#ifndef VERNIER_SERVER_LOGIC_STOP_CONDITIONS_H_
#define VERNIER_SERVER_LOGIC_STOP_CONDITIONS_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// True when `budget` sets target, max_seconds or patience_trials.
bool HasStopConditions(const BudgetSpec& budget);

// Why a study with `budget` and `objectives`, created at `created`, with
// `trials` (any order), is done at `now`: "budget.target 0.1 reached by trial 7",
// "budget.max_seconds 3600 spent", "budget.patience_trials 20: no better trial in the last 20
// COMPLETE trials (best 0.13, trial 4)"; nullopt while none holds.
//
// Only COMPLETE trials with a value count, in the order they ended (end
// time, then number). target and patience_trials apply to single-objective
// studies (CheckBudgetStopConditions refuses them otherwise).
std::optional<std::string> StopConditionReached(const BudgetSpec& budget,
                                                absl::Span<const ObjectiveSpec> objectives,
                                                absl::Span<const TrialRecord> trials,
                                                absl::Time created, absl::Time now);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_STOP_CONDITIONS_H_
