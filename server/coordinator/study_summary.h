// A study's summary: where it stands in one answer (GetStudySummary, `vernier
// study show`): counts by state, the best so far, how fast trials finish and
// when the budget will be spent at that pace, and what the running trials
// reported last. One pass over the trials plus the best-trial ranking, so the
// Study computes it under its lock from the trials as they are.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_COORDINATOR_STUDY_SUMMARY_H_
#define VERNIER_SERVER_COORDINATOR_STUDY_SUMMARY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/logic/study_record.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The recent pace of a study is measured over this much time before now.
inline constexpr absl::Duration kSummaryRateWindow = absl::Minutes(10);

struct RunningTrialSummary {
  int64_t number = 0;
  std::optional<int64_t> latest_step;  // Its highest reported step.
  // One per objective, in order (ObjectiveValue); nullopt where none.
  std::vector<std::optional<double>> objective_values;
  std::string worker_id;
  absl::Time start_time = absl::UnixEpoch();
};

struct StudySummary {
  StudyState state = StudyState::kActive;
  std::map<TrialState, int64_t> trial_counts;
  // The trials the study runs in all (its budget, a grid's points).
  int64_t trial_budget = 0;
  // Trials that ended here, warm_start copies and refits not counted.
  int64_t finished = 0;
  // One objective: the best trial so far (RankBestTrials) and its value;
  // nullopt / empty when no COMPLETE trial has one, and with several
  // objectives.
  std::optional<int64_t> best_trial;
  std::vector<double> best_objective_values;
  // Several objectives: the size of the Pareto front; 0 with one.
  int64_t pareto_front_size = 0;
  // Finished trials per minute over the last kSummaryRateWindow (or since
  // the first trial started, when that is shorter), and since then.
  double finished_per_minute_recent = 0;
  double finished_per_minute_overall = 0;
  // Until trial_budget trials have finished at the recent pace; nullopt when
  // the study is not ACTIVE or no trial finished in the window.
  std::optional<absl::Duration> eta;
  std::vector<RunningTrialSummary> running;  // By number.
  // Why trials that could start do not (Study::WaitReasonNow); "" when none
  // waits.
  std::string wait_reason;
  absl::Time time = absl::UnixEpoch();  // `now`.
};

// The summary at `now` of a study whose record is `study`, whose trials are
// `trials` (ascending by number) with `counts` by state, and which runs
// `trial_budget` trials in all.
StudySummary SummarizeStudy(const StudyRecord& study, const std::vector<TrialRecord>& trials,
                            const std::map<TrialState, int64_t>& counts, int64_t trial_budget,
                            absl::Time now);

// The summary of a study that is over, as stored when its trials are
// unloaded (StudyStore::SetRestingSummary): JSON of every field but `state`
// (the record's), `eta`, `running` and `wait_reason` (none: nothing runs or
// waits) and `time` (the reader's now).
std::string RestingSummaryText(const StudySummary& summary);
// RestingSummaryText's inverse, with `state` and `time` as given;
// DATA_LOSS naming the field that cannot be read.
absl::StatusOr<StudySummary> ParseRestingSummary(absl::string_view text, StudyState state,
                                                 absl::Time now);

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_STUDY_SUMMARY_H_
