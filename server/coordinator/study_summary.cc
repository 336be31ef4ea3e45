#include "server/coordinator/study_summary.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/coordinator/best_trials.h"
#include "server/coordinator/judge.h"
#include "server/storage/record_codec.h"

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

// The latest end of a finished trial of the budget, or `otherwise`.
absl::Time LastEnd(const std::vector<TrialRecord>& trials, absl::Time otherwise) {
  std::optional<absl::Time> last;
  for (const TrialRecord& trial : trials) {
    if (OfTheBudget(trial) && IsFinished(trial.state)) {
      last = std::max(last.value_or(trial.end_time), trial.end_time);
    }
  }
  return last.value_or(otherwise);
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
  // The pace of a study that has ended is measured up to its last trial's
  // end, so that its summary stays what it was (see ParseRestingSummary).
  const absl::Time pace_end = study.state == StudyState::kActive ? now : LastEnd(trials, now);
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
    if (trial.end_time > pace_end - kSummaryRateWindow && trial.end_time <= pace_end) ++recent;
  }
  if (first_start) {
    const absl::Duration since_start = pace_end - *first_start;
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

// A resting summary is stored as one flat map of numbers (MetricsToJson):
// integers up to 2^53 are exact as doubles, and non-finite values are kept.
constexpr absl::string_view kCountPrefix = "count.";
constexpr absl::string_view kBestValuePrefix = "best_value.";
constexpr int64_t kMaxStoredObjectives = 64;

namespace {

// The summary's plain fields by their stored names: whole numbers, then
// real ones.
struct PlainFields {
  std::vector<std::pair<absl::string_view, int64_t*>> whole;
  std::vector<std::pair<absl::string_view, double*>> real;
};

PlainFields PlainFieldsOf(StudySummary& summary) {
  return {{{"trial_budget", &summary.trial_budget},
           {"finished", &summary.finished},
           {"pareto_front_size", &summary.pareto_front_size}},
          {{"finished_per_minute_recent", &summary.finished_per_minute_recent},
           {"finished_per_minute_overall", &summary.finished_per_minute_overall}}};
}

// N of a name "<prefix>N", or nullopt.
std::optional<int64_t> IndexAfter(absl::string_view name, absl::string_view prefix) {
  int64_t index = 0;
  if (!absl::ConsumePrefix(&name, prefix) || !absl::SimpleAtoi(name, &index)) return std::nullopt;
  return index;
}

// `value` as a whole number when it is one (finite, integral, within int64_t).
std::optional<int64_t> WholeNumber(double value) {
  // 2^63 as a double: the first value past int64_t's range.
  constexpr double kPastInt64 = 9223372036854775808.0;
  if (!std::isfinite(value) || value != std::trunc(value) || value < -kPastInt64 ||
      value >= kPastInt64) {
    return std::nullopt;
  }
  return static_cast<int64_t>(value);
}

// Reads one stored field into `summary`; false for a name it does not know,
// or a whole-number field that does not hold one.
bool ReadField(absl::string_view name, double value, StudySummary& summary) {
  if (std::optional<int64_t> objective = IndexAfter(name, kBestValuePrefix)) {
    if (*objective < 0 || *objective >= kMaxStoredObjectives) return false;
    std::vector<double>& values = summary.best_objective_values;
    if (values.size() <= static_cast<size_t>(*objective)) values.resize(*objective + 1);
    values[*objective] = value;
    return true;
  }
  PlainFields fields = PlainFieldsOf(summary);
  for (auto& [field, slot] : fields.real) {
    if (name != field) continue;
    *slot = value;
    return true;
  }
  const std::optional<int64_t> whole = WholeNumber(value);
  if (!whole) return false;
  if (std::optional<int64_t> state = IndexAfter(name, kCountPrefix)) {
    if (!IsKnownTrialState(*state)) return false;
    summary.trial_counts[static_cast<TrialState>(*state)] = *whole;
    return true;
  }
  if (name == "best_trial") {
    summary.best_trial = *whole;
    return true;
  }
  for (auto& [field, slot] : fields.whole) {
    if (name != field) continue;
    *slot = *whole;
    return true;
  }
  return false;
}

}  // namespace

std::string RestingSummaryText(const StudySummary& summary) {
  MetricMap stored;
  for (const auto& [state, count] : summary.trial_counts) {
    stored[absl::StrCat(kCountPrefix, static_cast<int>(state))] = static_cast<double>(count);
  }
  if (summary.best_trial) stored["best_trial"] = static_cast<double>(*summary.best_trial);
  for (size_t i = 0; i < summary.best_objective_values.size(); ++i) {
    stored[absl::StrCat(kBestValuePrefix, i)] = summary.best_objective_values[i];
  }
  StudySummary copy = summary;
  const PlainFields fields = PlainFieldsOf(copy);
  for (const auto& [name, slot] : fields.whole)
    stored[std::string(name)] = static_cast<double>(*slot);
  for (const auto& [name, slot] : fields.real) stored[std::string(name)] = *slot;
  return MetricsToJson(stored);
}

absl::StatusOr<StudySummary> ParseRestingSummary(absl::string_view text, StudyState state,
                                                 absl::Time now) {
  absl::StatusOr<MetricMap> stored = MetricsFromJson(text);
  if (!stored.ok()) {
    return absl::DataLossError(absl::StrCat("resting summary: ", stored.status().message()));
  }
  StudySummary summary;
  summary.state = state;
  summary.time = now;
  for (const auto& [name, value] : *stored) {
    if (!ReadField(name, value, summary)) {
      return absl::DataLossError(absl::StrCat("resting summary: field \"", name,
                                              "\" is unknown or its value ", value,
                                              " is not valid there"));
    }
  }
  return summary;
}

}  // namespace vernier
