// How a trial's final result is judged: one pure function for both ways a
// result arrives, a worker's CompleteTrial and a user's Tell, so the two can
// never disagree about what a COMPLETE trial needs.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_COORDINATOR_JUDGE_H_
#define VERNIER_SERVER_COORDINATOR_JUDGE_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// Bounds on what a trial reports, so that one bad trial cannot bloat the
// database or a study's listing.
inline constexpr size_t kMaxMetricsPerReport = 256;
inline constexpr size_t kMaxMetricNameBytes = 256;
// Longer failure reasons are cut (at a character boundary) and marked.
inline constexpr size_t kMaxFailureReasonBytes = 16 * 1024;

// Where a final result comes from.
enum class ResultSource {
  // A worker's CompleteTrial. The worker cannot fix a result, and a refused
  // call would leave the trial to expire and run again: a result that cannot
  // be ranked makes the trial FAILED, with the reason, instead of an error.
  // The objective may come from the last intermediate report.
  kWorker,
  // A user's Tell. The caller can fix the call: a result that cannot be
  // ranked is INVALID_ARGUMENT and nothing is stored. The objective must be
  // among the final metrics.
  kTell,
};

// `trial` (RUNNING) as it ends in `state` with final `metrics` and
// `failure_reason`:
//   - COMPLETE needs every objective, not NaN (+-inf ranks last or first) and
//     metrics within the bounds above; it becomes INFEASIBLE, with a reason
//     naming the metric, its value and the bound, when a constraint metric is
//     outside its bounds, missing or NaN;
//   - FAILED keeps the reason (cut to kMaxFailureReasonBytes), or "failed (no
//     reason given)";
//   - PRUNED keeps the values reported so far.
// INVALID_ARGUMENT for a state other than COMPLETE, PRUNED and FAILED, and
// for kTell as said above (naming the field: "value: ...", "metrics: ...").
// The caller sets the end time.
absl::StatusOr<TrialRecord> JudgeFinalResult(const StudySpec& spec, TrialRecord trial,
                                             TrialState state, MetricMap metrics,
                                             const std::string& failure_reason,
                                             ResultSource source);

// OK when `metrics` hold at most kMaxMetricsPerReport metrics with names of
// 1 to kMaxMetricNameBytes bytes; INVALID_ARGUMENT naming `field` and the
// offending name or count otherwise.
absl::Status CheckMetrics(const MetricMap& metrics, absl::string_view field);

// `metrics` with the objective `metric`'s `value` added when given;
// INVALID_ARGUMENT when `metrics` has it too.
absl::StatusOr<MetricMap> WithObjectiveValue(const std::string& metric, std::optional<double> value,
                                             MetricMap metrics);

// The objective's value of a trial: its final metric, else its last
// intermediate one; nullopt when it reported none.
std::optional<double> ObjectiveValue(const TrialRecord& trial, const ObjectiveSpec& objective);

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_JUDGE_H_
