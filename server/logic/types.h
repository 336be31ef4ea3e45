// Domain types of the coordinator: studies, trials and their values. Plain
// structs with no gRPC, SQLite or protobuf types, shared by the pure logic, the
// storage layer and the service layer.
#ifndef VERNIER_SERVER_LOGIC_TYPES_H_
#define VERNIER_SERVER_LOGIC_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/trial_protocol.h"

namespace vernier {

// Numeric values are stable: they are stored in SQLite.
enum class StudyState { kActive = 1, kStopped = 2, kCompleted = 3 };

// Numeric values are stable: they are stored in SQLite.
enum class TrialState {
  kWaiting = 1,
  kRunning = 2,
  kComplete = 3,
  kPruned = 4,
  kFailed = 5,
  kInfeasible = 6,
};

enum class Goal { kMaximize, kMinimize };

absl::string_view StudyStateName(StudyState state);  // "ACTIVE", ...
absl::string_view TrialStateName(TrialState state);  // "WAITING", ...

// True for COMPLETE, PRUNED, FAILED and INFEASIBLE.
bool IsFinished(TrialState state);

// A parameter's value: float, int or categorical (string).
using ParamValue = std::variant<double, int64_t, std::string>;
using ParamMap = std::map<std::string, ParamValue>;

// Renders a value for people and JSON-free contexts ("0.01", "64", "adam").
std::string ParamValueToString(const ParamValue& value);

// Metrics reported at one step.
struct Measurement {
  int64_t step = 0;
  MetricMap metrics;

  friend bool operator==(const Measurement& a, const Measurement& b) {
    return a.step == b.step && a.metrics == b.metrics;
  }
};

// One exploit step of population-based training (pruner type pbt): at `step`
// the trial took the checkpoint of trial `donor` at `donor_step` and the
// donor's parameters, perturbed. The trial's parameters before are kept, so
// the first entry holds the parameters the sampler gave it.
struct ExploitRecord {
  int64_t step = 0;
  int64_t donor = 0;
  int64_t donor_step = 0;
  ParamMap params_before;

  friend bool operator==(const ExploitRecord& a, const ExploitRecord& b) {
    return a.step == b.step && a.donor == b.donor && a.donor_step == b.donor_step &&
           a.params_before == b.params_before;
  }
};

struct TrialRecord {
  std::string study;
  int64_t number = 0;
  ParamMap params;
  TrialState state = TrialState::kWaiting;
  std::vector<Measurement> intermediate;  // Ascending by step, unique steps.
  MetricMap final_metrics;
  std::string failure_reason;
  std::string worker_id;                      // Lease holder while RUNNING; last holder after.
  int32_t attempt = 0;                        // Incremented each time the trial is leased.
  int32_t retries = 0;                        // Times a lost lease sent it back to WAITING.
  absl::Time start_time = absl::UnixEpoch();  // Epoch: not started.
  absl::Time end_time = absl::UnixEpoch();    // Epoch: not finished.
  // Where the trial came from: empty when the study's sampler suggested it;
  // kOriginEnqueued when a user enqueued it; kOriginWarmStartPrefix + "OLD#n"
  // when it was copied, finished, from trial n of study OLD (warm_start);
  // kOriginRefitPrefix + "n" when `vernier refit` runs trial n's parameters
  // again on the training plus validation data.
  std::string origin;
  std::vector<ExploitRecord> exploits;  // pbt only; oldest first.
  // A user excluded this finished trial from what the study learns from
  // (LearnsFrom), with this reason; its record stays as it ended.
  bool excluded = false;
  std::string exclusion_reason;
};

inline constexpr absl::string_view kOriginEnqueued = "enqueued";
inline constexpr absl::string_view kOriginWarmStartPrefix = "warm_start:";
inline constexpr absl::string_view kOriginRefitPrefix = "refit:";

// True for a trial copied from another study by warm_start: it was never run
// here and does not count toward budget.max_trials.
bool IsWarmStartCopy(const TrialRecord& trial);

// True for a refit trial (see TrialRecord::origin): its metrics come from
// other data than the search's trials, so it is never pruned and never among
// the best trials.
bool IsRefit(const TrialRecord& trial);
// True for a trial whose results the study learns from: its samplers,
// pruners and pbt, its best trials and Pareto front, its stop conditions and
// warm-start copies. False for a refit (other data) and an excluded trial.
// The caller still checks the trial's state.
bool LearnsFrom(const TrialRecord& trial);
// The trial a refit trial runs again; nullopt for any other trial.
std::optional<int64_t> RefitSource(const TrialRecord& trial);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_TYPES_H_
