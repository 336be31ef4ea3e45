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
  std::vector<std::pair<double, const TrialRecord*>> ranked;
  for (const TrialRecord& trial : trials) {
    if (trial.state != TrialState::kComplete || !LearnsFrom(trial)) continue;
    std::optional<double> value = ObjectiveValue(trial, objective);
    if (value && !std::isnan(*value)) ranked.emplace_back(*value, &trial);
  }
  const bool maximize = objective.goal == Goal::kMaximize;
  std::stable_sort(ranked.begin(), ranked.end(), [maximize](const auto& a, const auto& b) {
    return maximize ? a.first > b.first : a.first < b.first;
  });
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < std::max(count, 1); ++i) {
    best.push_back(ranked[i].second);
  }
  return best;
}

}  // namespace vernier
