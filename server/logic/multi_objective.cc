#include "server/logic/multi_objective.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace vernier {

std::optional<double> TrialMetric(const TrialRecord& trial, const std::string& metric) {
  auto final_value = trial.final_metrics.find(metric);
  if (final_value != trial.final_metrics.end()) return final_value->second;
  for (auto it = trial.intermediate.rbegin(); it != trial.intermediate.rend(); ++it) {
    auto value = it->metrics.find(metric);
    if (value != it->metrics.end()) return value->second;
  }
  return std::nullopt;
}

std::optional<Point> ObjectiveLosses(const TrialRecord& trial,
                                     absl::Span<const ObjectiveSpec> objectives) {
  Point point;
  point.reserve(objectives.size());
  for (const ObjectiveSpec& objective : objectives) {
    std::optional<double> value = TrialMetric(trial, objective.metric);
    if (!value || std::isnan(*value)) return std::nullopt;
    point.push_back(objective.goal == Goal::kMinimize ? *value : -*value);
  }
  return point;
}

MetricMap ConstraintMetrics(const TrialRecord& trial,
                            absl::Span<const ConstraintSpec> constraints) {
  MetricMap metrics;
  for (const ConstraintSpec& constraint : constraints) {
    if (std::optional<double> value = TrialMetric(trial, constraint.metric)) {
      metrics[constraint.metric] = *value;
    }
  }
  return metrics;
}

double ConstraintViolation(const MetricMap& metrics, absl::Span<const ConstraintSpec> constraints) {
  double total = 0;
  for (const ConstraintSpec& constraint : constraints) {
    auto it = metrics.find(constraint.metric);
    if (it == metrics.end() || std::isnan(it->second)) {
      return std::numeric_limits<double>::infinity();
    }
    const double value = it->second;
    if (constraint.min && value < *constraint.min) total += *constraint.min - value;
    if (constraint.max && value > *constraint.max) total += value - *constraint.max;
  }
  return total;
}

std::string ConstraintViolationReason(const MetricMap& metrics,
                                      absl::Span<const ConstraintSpec> constraints) {
  for (const ConstraintSpec& constraint : constraints) {
    auto it = metrics.find(constraint.metric);
    if (it == metrics.end()) {
      return absl::StrCat("constraint metric \"", constraint.metric, "\" was not reported");
    }
    const double value = it->second;
    if (std::isnan(value))
      return absl::StrCat("constraint metric \"", constraint.metric, "\" is NaN");
    if (constraint.min && value < *constraint.min) {
      return absl::StrCat("constraint violated: ", constraint.metric, " = ", value,
                          " is below min ", *constraint.min);
    }
    if (constraint.max && value > *constraint.max) {
      return absl::StrCat("constraint violated: ", constraint.metric, " = ", value,
                          " is above max ", *constraint.max);
    }
  }
  return "";
}

std::vector<const TrialRecord*> ParetoTrials(absl::Span<const TrialRecord> trials,
                                             absl::Span<const ObjectiveSpec> objectives) {
  std::vector<const TrialRecord*> candidates;
  std::vector<Point> points;
  for (const TrialRecord& trial : trials) {
    if (trial.state != TrialState::kComplete || !LearnsFrom(trial)) continue;
    std::optional<Point> point = ObjectiveLosses(trial, objectives);
    if (!point) continue;
    candidates.push_back(&trial);
    points.push_back(std::move(*point));
  }
  std::vector<int> front = ParetoFront(points);
  std::stable_sort(front.begin(), front.end(),
                   [&points](int a, int b) { return points[a][0] < points[b][0]; });
  std::vector<const TrialRecord*> out;
  out.reserve(front.size());
  for (int i : front) out.push_back(candidates[i]);
  return out;
}

}  // namespace vernier
