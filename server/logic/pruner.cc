#include "server/logic/pruner.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

double Median(std::vector<double> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2 == 1) return values[mid];
  const double upper = values[mid];
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return (lower + upper) / 2;
}

// The trial's best value of `metric` at steps <= `step`; NaN when the newest
// value is NaN (a diverged trial), nullopt when it has none.
std::optional<double> BestSoFar(const TrialRecord& trial, const ObjectiveSpec& objective,
                                int64_t step) {
  std::optional<double> best;
  for (const Measurement& m : trial.intermediate) {
    if (m.step > step) break;
    auto it = m.metrics.find(objective.metric);
    if (it == m.metrics.end()) continue;
    if (std::isnan(it->second)) {
      if (m.step == step) return it->second;
      continue;
    }
    if (!best) {
      best = it->second;
    } else {
      best = objective.goal == Goal::kMaximize ? std::max(*best, it->second)
                                               : std::min(*best, it->second);
    }
  }
  return best;
}

}  // namespace

std::optional<double> ValueAtStep(const TrialRecord& trial, const std::string& metric,
                                  int64_t step) {
  auto it = std::lower_bound(trial.intermediate.begin(), trial.intermediate.end(), step,
                             [](const Measurement& m, int64_t s) { return m.step < s; });
  if (it == trial.intermediate.end() || it->step != step) return std::nullopt;
  auto value = it->metrics.find(metric);
  if (value == it->metrics.end()) return std::nullopt;
  return value->second;
}

bool MedianPruner::ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial,
                               int64_t step, absl::Span<const TrialRecord* const> others) const {
  if (step < spec_.warmup_steps) return false;
  if ((step - spec_.warmup_steps) % spec_.interval != 0) return false;
  std::optional<double> best = BestSoFar(trial, objective, step);
  if (!best) return false;
  if (std::isnan(*best)) return true;
  std::vector<double> peers;
  for (const TrialRecord* other : others) {
    if (other->number == trial.number || other->state == TrialState::kFailed) continue;
    std::optional<double> value = ValueAtStep(*other, objective.metric, step);
    if (value && !std::isnan(*value)) peers.push_back(*value);
  }
  if (peers.empty() || static_cast<int64_t>(peers.size()) < spec_.min_trials) return false;
  const double median = Median(std::move(peers));
  return objective.goal == Goal::kMaximize ? *best < median : *best > median;
}

absl::StatusOr<std::unique_ptr<Pruner>> MakePruner(const PrunerSpec& spec) {
  if (spec.type == "none") return std::make_unique<NoPruner>();
  if (spec.type == "median") return std::make_unique<MedianPruner>(spec);
  return absl::InvalidArgumentError(
      absl::StrCat("pruner.type: unknown pruner \"", spec.type, "\""));
}

}  // namespace vernier
