#include "server/coordinator/study_summary.h"

#include <algorithm>

#include "server/coordinator/best_trials.h"
#include "server/coordinator/judge.h"

namespace vernier {
namespace {

// A trial of the study's own budget: warm_start copies never ran here, and
// a refit runs after the search, on other data.
bool OfTheBudget(const TrialRecord& trial) { return !IsWarmStartCopy(trial) && !IsRefit(trial); }

double PerMinute(int64_t count, absl::Duration span) {
  return span > absl::ZeroDuration() ? static_cast<double>(count) / absl::ToDoubleMinutes(span) : 0;
}

RunningTrialSummary RunningOf(const TrialRecord& trial,
                              const std::vector<ObjectiveSpec>& objectives) {
  RunningTrialSummary running;
  running.number = trial.number;
  if (!trial.intermediate.empty()) running.latest_step = trial.intermediate.back().step;
  for (const ObjectiveSpec& objective : objectives) {
    running.objective_values.push_back(ObjectiveValue(trial, objective));
  }
  running.worker_id = trial.worker_id;
  running.start_time = trial.start_time;
  return running;
}

// The best trial (one objective) or the Pareto front's size (several), as
// GetBestTrials ranks them.
void AddBest(const std::vector<TrialRecord>& trials, const std::vector<ObjectiveSpec>& objectives,
             StudySummary& summary) {
  if (objectives.size() > 1) {
    summary.pareto_front_size =
        static_cast<int64_t>(RankBestTrials(trials, objectives, /*count=*/0).size());
    return;
  }
  const std::vector<const TrialRecord*> best = RankBestTrials(trials, objectives, /*count=*/1);
  if (best.empty()) return;
  summary.best_trial = best.front()->number;
  for (const ObjectiveSpec& objective : objectives) {
    // Ranked trials have the value.
    summary.best_objective_values.push_back(ObjectiveValue(*best.front(), objective).value_or(0));
  }
}

}  // namespace

StudySummary SummarizeStudy(const StudyRecord& study, const std::vector<TrialRecord>& trials,
                            const std::map<TrialState, int64_t>& counts, int64_t trial_budget,
                            absl::Time now) {
  StudySummary summary;
  summary.state = study.state;
  summary.trial_counts = counts;
  summary.trial_budget = trial_budget;
  summary.time = now;
  const std::vector<ObjectiveSpec>& objectives = study.spec.objectives;
  std::optional<absl::Time> first_start;
  int64_t recent = 0;
  for (const TrialRecord& trial : trials) {
    if (trial.state == TrialState::kRunning)
      summary.running.push_back(RunningOf(trial, objectives));
    if (!OfTheBudget(trial)) continue;
    if (trial.start_time != absl::UnixEpoch()) {
      first_start = std::min(first_start.value_or(trial.start_time), trial.start_time);
    }
    if (!IsFinished(trial.state)) continue;
    ++summary.finished;
    if (trial.end_time > now - kSummaryRateWindow && trial.end_time <= now) ++recent;
  }
  if (first_start) {
    const absl::Duration since_start = now - *first_start;
    summary.finished_per_minute_overall = PerMinute(summary.finished, since_start);
    summary.finished_per_minute_recent =
        PerMinute(recent, std::min(kSummaryRateWindow, since_start));
  }
  if (study.state == StudyState::kActive && summary.finished_per_minute_recent > 0) {
    const int64_t remaining = std::max<int64_t>(0, trial_budget - summary.finished);
    summary.eta =
        absl::Minutes(static_cast<double>(remaining) / summary.finished_per_minute_recent);
  }
  AddBest(trials, objectives, summary);
  return summary;
}

}  // namespace vernier
