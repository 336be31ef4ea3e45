#include "server/coordinator/best_trials.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "server/coordinator/judge.h"
#include "server/logic/multi_objective.h"

namespace vernier {

std::vector<const TrialRecord*> RankBestTrials(absl::Span<const TrialRecord> trials,
                                               absl::Span<const ObjectiveSpec> objectives,
                                               int count) {
  std::vector<const TrialRecord*> best;
  if (objectives.empty()) return best;
  if (objectives.size() > 1) {
    for (const TrialRecord* trial : ParetoTrials(trials, objectives)) {
      if (count > 0 && static_cast<int>(best.size()) >= count) break;
      best.push_back(trial);
    }
    return best;
  }
  const ObjectiveSpec& objective = objectives.front();
  // (value, position): ties keep the trials' order (by number), as a
  // stable sort would, without sorting every trial to keep a few.
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord& trial = trials[i];
    if (trial.state != TrialState::kComplete || !LearnsFrom(trial)) continue;
    std::optional<double> value = ObjectiveValue(trial, objective);
    if (value && !std::isnan(*value)) ranked.emplace_back(*value, i);
  }
  const bool maximize = objective.goal == Goal::kMaximize;
  const size_t keep = std::min(ranked.size(), static_cast<size_t>(std::max(count, 1)));
  std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(),
                    [maximize](const auto& a, const auto& b) {
                      if (a.first != b.first)
                        return maximize ? a.first > b.first : a.first < b.first;
                      return a.second < b.second;
                    });
  for (size_t i = 0; i < keep; ++i) best.push_back(&trials[ranked[i].second]);
  return best;
}

}  // namespace vernier
