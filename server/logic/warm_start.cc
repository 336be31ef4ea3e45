#include "server/logic/warm_start.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/logic/given_params.h"

namespace vernier {
namespace {

struct Candidate {
  double value = 0;
  const TrialRecord* trial = nullptr;
  ParamMap params;  // Converted to the new space's types.
};

}  // namespace

WarmStartCopies SelectWarmStartTrials(const StudySpec& spec,
                                      const std::vector<TrialRecord>& old_trials) {
  WarmStartCopies copies;
  const std::string& metric = spec.objective.metric;
  auto skip = [&copies](std::string reason) {
    if (copies.skipped++ == 0) copies.first_skip_reason = std::move(reason);
  };
  std::vector<Candidate> candidates;
  for (const TrialRecord& trial : old_trials) {
    if (trial.state != TrialState::kComplete || !LearnsFrom(trial)) continue;
    auto value = trial.final_metrics.find(metric);
    if (value == trial.final_metrics.end() || std::isnan(value->second)) {
      skip(absl::StrCat("trial ", trial.number, " has no value of ", metric));
      continue;
    }
    absl::StatusOr<ParamMap> params = CheckCompleteParams(spec.space, trial.params);
    if (!params.ok()) {
      skip(absl::StrCat("trial ", trial.number, ": ", params.status().message()));
      continue;
    }
    candidates.push_back(Candidate{value->second, &trial, *std::move(params)});
  }
  const Goal goal = spec.objective.goal;
  std::stable_sort(candidates.begin(), candidates.end(),
                   [goal](const Candidate& a, const Candidate& b) {
                     return goal == Goal::kMaximize ? a.value > b.value : a.value < b.value;
                   });
  const auto keep = static_cast<size_t>(spec.warm_start && spec.warm_start->max_trials
                                            ? *spec.warm_start->max_trials
                                            : static_cast<int64_t>(candidates.size()));
  if (candidates.size() > keep) candidates.resize(keep);
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.trial->number < b.trial->number;
  });
  const std::string source = spec.warm_start ? spec.warm_start->study : "";
  for (Candidate& candidate : candidates) {
    const TrialRecord& old = *candidate.trial;
    TrialRecord copy;
    copy.study = spec.name;
    copy.number = static_cast<int64_t>(copies.trials.size());
    copy.params = std::move(candidate.params);
    copy.state = TrialState::kComplete;
    copy.intermediate = old.intermediate;
    copy.final_metrics = old.final_metrics;
    copy.start_time = old.start_time;
    copy.end_time = old.end_time;
    copy.origin = absl::StrCat(kOriginWarmStartPrefix, source, "#", old.number);
    copies.trials.push_back(std::move(copy));
  }
  return copies;
}

std::string WarmStartNote(const StudySpec& spec, const WarmStartCopies& copies) {
  if (!spec.warm_start) return "";
  std::string note = absl::StrCat("warm_start: copied ", copies.trials.size(),
                                  " COMPLETE trials of study \"", spec.warm_start->study, "\"");
  if (copies.skipped > 0) {
    absl::StrAppend(&note, "; skipped ", copies.skipped,
                    " that do not fit (first: ", copies.first_skip_reason, ")");
  }
  return note;
}

}  // namespace vernier
