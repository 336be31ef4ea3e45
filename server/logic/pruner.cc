#include "server/logic/pruner.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/logic/asha_pruner.h"

namespace vernier {
namespace {

constexpr int64_t kFirstStep = std::numeric_limits<int64_t>::min();

// Measurements from the first one at a step >= `step`.
std::vector<Measurement>::const_iterator LowerBound(const TrialRecord& trial, int64_t step) {
  return std::lower_bound(trial.intermediate.begin(), trial.intermediate.end(), step,
                          [](const Measurement& m, int64_t s) { return m.step < s; });
}

std::optional<double> MetricOf(const Measurement& m, const std::string& metric) {
  auto it = m.metrics.find(metric);
  if (it == m.metrics.end()) return std::nullopt;
  return it->second;
}

// Folds `value` into the running best, skipping NaN.
void KeepBest(Goal goal, double value, std::optional<double>& best) {
  if (std::isnan(value)) return;
  if (!best || IsBetter(goal, value, *best)) best = value;
}

// The trial's best finite value at steps in [from, to], if any.
std::optional<double> BestInRange(const TrialRecord& trial, const ObjectiveSpec& objective,
                                  int64_t from, int64_t to) {
  std::optional<double> best;
  for (auto it = LowerBound(trial, from); it != trial.intermediate.end() && it->step <= to; ++it) {
    std::optional<double> value = MetricOf(*it, objective.metric);
    if (value) KeepBest(objective.goal, *value, best);
  }
  return best;
}

// Whether `step` is the first reported step at or after one of the deciding
// steps warmup_steps + k * interval (Optuna's rule for irregular steps).
template <typename StepRule>
bool IsDecidingStep(const StepRule& spec, const TrialRecord& trial, const std::string& metric,
                    int64_t step) {
  if (step < spec.warmup_steps) return false;
  const int64_t boundary =
      spec.warmup_steps + (step - spec.warmup_steps) / spec.interval * spec.interval;
  std::optional<int64_t> previous = PreviousStep(trial, metric, step);
  return !previous || *previous < boundary;
}

}  // namespace

std::optional<double> ValueAtStep(const TrialRecord& trial, const std::string& metric,
                                  int64_t step) {
  auto it = LowerBound(trial, step);
  if (it == trial.intermediate.end() || it->step != step) return std::nullopt;
  return MetricOf(*it, metric);
}

std::optional<StepValue> FirstValueAtOrAfter(const TrialRecord& trial, const std::string& metric,
                                             int64_t step) {
  for (auto it = LowerBound(trial, step); it != trial.intermediate.end(); ++it) {
    std::optional<double> value = MetricOf(*it, metric);
    if (value) return StepValue{it->step, *value};
  }
  return std::nullopt;
}

std::optional<int64_t> PreviousStep(const TrialRecord& trial, const std::string& metric,
                                    int64_t step) {
  for (auto it = std::make_reverse_iterator(LowerBound(trial, step));
       it != trial.intermediate.rend(); ++it) {
    if (MetricOf(*it, metric)) return it->step;
  }
  return std::nullopt;
}

bool IsPeer(const TrialRecord& trial, const TrialRecord& other) {
  return other.number != trial.number && other.state != TrialState::kFailed;
}

bool IsBetter(Goal goal, double a, double b) { return goal == Goal::kMaximize ? a > b : a < b; }

double Percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double rank = q / 100 * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

bool PercentilePruner::ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial,
                                   int64_t step,
                                   absl::Span<const TrialRecord* const> others) const {
  if (!IsDecidingStep(spec_, trial, objective.metric, step)) return false;
  std::optional<double> current = ValueAtStep(trial, objective.metric, step);
  if (current && std::isnan(*current)) return true;
  std::optional<double> best = BestInRange(trial, objective, kFirstStep, step);
  if (!best) return false;
  std::vector<double> peers;
  for (const TrialRecord* other : others) {
    if (!IsPeer(trial, *other)) continue;
    std::optional<double> value = ValueAtStep(*other, objective.metric, step);
    if (value && !std::isnan(*value)) peers.push_back(*value);
  }
  if (peers.empty() || static_cast<int64_t>(peers.size()) < spec_.min_trials) return false;
  // Ascending order: the best `percentile` % of a maximized metric sits above
  // its (100 - percentile)-th percentile.
  const double q = objective.goal == Goal::kMaximize ? 100 - spec_.percentile : spec_.percentile;
  return IsBetter(objective.goal, Percentile(std::move(peers), q), *best);
}

bool ThresholdPruner::ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial,
                                  int64_t step, absl::Span<const TrialRecord* const>) const {
  std::optional<double> value = ValueAtStep(trial, objective.metric, step);
  if (!value) return false;
  if (std::isnan(*value)) return true;
  if (!IsDecidingStep(spec_, trial, objective.metric, step)) return false;
  return (spec_.lower && *value < *spec_.lower) || (spec_.upper && *value > *spec_.upper);
}

bool PatiencePruner::Stalled(const ObjectiveSpec& objective, const TrialRecord& trial,
                             int64_t step) const {
  const int64_t window_start = step - spec_.patience + 1;
  std::optional<double> before = BestInRange(trial, objective, kFirstStep, window_start - 1);
  if (!before) return false;
  std::optional<double> recent = BestInRange(trial, objective, window_start, step);
  const double needed =
      objective.goal == Goal::kMaximize ? *before + spec_.min_delta : *before - spec_.min_delta;
  return !recent || !IsBetter(objective.goal, *recent, needed);
}

bool PatiencePruner::ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial,
                                 int64_t step, absl::Span<const TrialRecord* const> others) const {
  if (!Stalled(objective, trial, step)) return false;
  return wrapped_ == nullptr || wrapped_->ShouldPrune(objective, trial, step, others);
}

namespace {

absl::Status CheckInterval(int64_t interval) {
  if (interval >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError("pruner.interval: must be >= 1");
}

// One factory per kind of early-stopping rule (std::visit over PrunerRule).
struct PrunerFactory {
  using Made = absl::StatusOr<std::unique_ptr<Pruner>>;

  Made operator()(const NoPrunerSpec&) const { return std::make_unique<NoPruner>(); }
  Made operator()(const MedianSpec& median) const {
    RETURN_IF_ERROR(CheckInterval(median.interval));
    return std::make_unique<MedianPruner>(median);
  }
  Made operator()(const PercentileSpec& percentile) const {
    RETURN_IF_ERROR(CheckInterval(percentile.interval));
    return std::make_unique<PercentilePruner>(percentile);
  }
  Made operator()(const AshaSpec& asha) const { return AshaPruner::Create(asha); }
  Made operator()(const HyperbandSpec& hyperband) const {
    return HyperbandPruner::Create(hyperband);
  }
  Made operator()(const ThresholdSpec& threshold) const {
    RETURN_IF_ERROR(CheckInterval(threshold.interval));
    return std::make_unique<ThresholdPruner>(threshold);
  }
  Made operator()(const PatienceSpec& patience) const {
    std::unique_ptr<Pruner> wrapped;
    if (patience.wrapped != nullptr) {
      ASSIGN_OR_RETURN(wrapped, MakePruner(*patience.wrapped));
    }
    return std::make_unique<PatiencePruner>(patience, std::move(wrapped));
  }
  // PBT never stops a trial: its exploit decision is PbtPolicy (pbt.h), which
  // the coordinator asks separately.
  Made operator()(const PbtSpec&) const { return std::make_unique<NoPruner>(); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Pruner>> MakePruner(const PrunerSpec& spec) {
  return std::visit(PrunerFactory{}, spec.rule);
}

}  // namespace vernier
