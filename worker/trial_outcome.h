// Outcome rules: how the way a trial process ended (TrialExit) becomes the
// result the worker reports to the coordinator.
//
//   stopped on the coordinator's order          -> PRUNED
//   a report line that is not a report          -> FAILED, the parse error
//   time limit passed                           -> FAILED "time limit of N s exceeded"
//   exit 0 with a final report                  -> COMPLETE, the final metrics
//   exit 0 without one                          -> FAILED "exited without a final result"
//   non-zero exit or a signal                   -> FAILED, exit code/signal and stderr tail
//
// Thread-safety: pure functions, thread-safe.
#ifndef VERNIER_WORKER_TRIAL_OUTCOME_H_
#define VERNIER_WORKER_TRIAL_OUTCOME_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/trial_protocol.h"
#include "worker/trial_launcher.h"

namespace vernier::worker {

enum class OutcomeState { kComplete, kPruned, kFailed };

struct TrialOutcome {
  OutcomeState state = OutcomeState::kFailed;
  // The final report's metrics (kComplete only).
  MetricMap final_metrics;
  // Why the trial failed (kFailed only); valid UTF-8, at most a few KB.
  std::string failure_reason;
};

// Applies the rules above. `time_limit` is the limit the trial ran under (for
// the message).
TrialOutcome DecideOutcome(const TrialExit& exit, absl::Duration time_limit);

// Returns `text` with every byte that is not part of a well-formed UTF-8
// sequence replaced by U+FFFD, so that it can travel in a proto string field
// (which must be valid UTF-8).
std::string ToValidUtf8(absl::string_view text);

// Returns "OutcomeState" as the word used in logs: COMPLETE, PRUNED, FAILED.
absl::string_view OutcomeStateName(OutcomeState state);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_TRIAL_OUTCOME_H_
