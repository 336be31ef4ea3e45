#include "server/coordinator/judge.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/logic/multi_objective.h"

namespace vernier {
namespace {

// `reason` cut to kMaxFailureReasonBytes at a UTF-8 character boundary.
std::string BoundedReason(const std::string& reason) {
  if (reason.size() <= kMaxFailureReasonBytes) return reason;
  size_t end = kMaxFailureReasonBytes;
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(reason.substr(0, end), " [truncated]");
}

// Why a worker's COMPLETE result cannot be ranked, or "" when it can: an
// objective that is missing or NaN, each found as TrialMetric finds it (the
// final metric, else the last intermediate one).
std::string UnrankableReason(const StudySpec& spec, const TrialRecord& trial) {
  for (const ObjectiveSpec& objective : spec.objectives) {
    const std::optional<double> value = TrialMetric(trial, objective.metric);
    if (!value) {
      return absl::StrCat("the trial reported no value of the objective metric \"",
                          objective.metric, "\"");
    }
    if (std::isnan(*value)) {
      return absl::StrCat("the objective metric \"", objective.metric, "\" is NaN");
    }
  }
  return "";
}

// Tell's checks of a COMPLETE result, whose objectives must be final metrics.
absl::StatusOr<TrialRecord> JudgeTold(const StudySpec& spec, TrialRecord trial, TrialState state) {
  if (state != TrialState::kComplete) return trial;
  const std::string& metric = spec.objective.metric;
  auto objective = trial.final_metrics.find(metric);
  if (objective == trial.final_metrics.end()) {
    return absl::InvalidArgumentError(absl::StrCat("value: a COMPLETE trial needs the objective \"",
                                                   metric, "\" (value or metrics)"));
  }
  if (std::isnan(objective->second)) {
    return absl::InvalidArgumentError(absl::StrCat("value: the objective \"", metric, "\" is NaN"));
  }
  for (size_t i = 1; i < spec.objectives.size(); ++i) {
    const std::string& other = spec.objectives[i].metric;
    auto it = trial.final_metrics.find(other);
    if (it == trial.final_metrics.end() || std::isnan(it->second)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: a COMPLETE trial needs a value of every objective; \"", other,
                       it == trial.final_metrics.end() ? "\" is missing" : "\" is NaN"));
    }
  }
  return trial;
}

}  // namespace

std::optional<double> ObjectiveValue(const TrialRecord& trial, const ObjectiveSpec& objective) {
  auto final_value = trial.final_metrics.find(objective.metric);
  if (final_value != trial.final_metrics.end()) return final_value->second;
  for (auto it = trial.intermediate.rbegin(); it != trial.intermediate.rend(); ++it) {
    auto value = it->metrics.find(objective.metric);
    if (value != it->metrics.end()) return value->second;
  }
  return std::nullopt;
}

absl::Status CheckMetrics(const MetricMap& metrics, absl::string_view field) {
  if (metrics.size() > kMaxMetricsPerReport) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", metrics.size(), " metrics, at most ", kMaxMetricsPerReport));
  }
  for (const auto& [name, value] : metrics) {
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty metric name"));
    if (name.size() > kMaxMetricNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": metric name \"", name.substr(0, 32),
                                                     "...\" is ", name.size(), " bytes, at most ",
                                                     kMaxMetricNameBytes));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MetricMap> WithObjectiveValue(const std::string& metric, std::optional<double> value,
                                             MetricMap metrics) {
  if (value && !metrics.emplace(metric, *value).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("value: the objective \"", metric, "\" is also in metrics; give it once"));
  }
  return metrics;
}

absl::StatusOr<TrialRecord> JudgeFinalResult(const StudySpec& spec, TrialRecord trial,
                                             TrialState state, MetricMap metrics,
                                             const std::string& failure_reason,
                                             ResultSource source) {
  if (state != TrialState::kComplete && state != TrialState::kPruned &&
      state != TrialState::kFailed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial ends COMPLETE, PRUNED or FAILED, not ", TrialStateName(state)));
  }
  trial.state = state;
  const absl::Status bounded =
      CheckMetrics(metrics, source == ResultSource::kTell ? "metrics" : "final_metrics");
  if (source == ResultSource::kTell) {
    RETURN_IF_ERROR(bounded);
    trial.final_metrics = std::move(metrics);
    ASSIGN_OR_RETURN(trial, JudgeTold(spec, std::move(trial), state));
  } else if (state == TrialState::kComplete) {
    // Final metrics beyond the bounds are dropped and the trial fails; the
    // other states keep what the worker sent (bounded or not, as before).
    if (bounded.ok()) trial.final_metrics = std::move(metrics);
    const std::string unrankable =
        bounded.ok() ? UnrankableReason(spec, trial) : std::string(bounded.message());
    if (!unrankable.empty()) {
      trial.state = TrialState::kFailed;
      trial.failure_reason = unrankable;
      return trial;
    }
  }
  if (trial.state == TrialState::kComplete) {
    const std::string violated =
        ConstraintViolationReason(ConstraintMetrics(trial, spec.constraints), spec.constraints);
    if (!violated.empty()) {
      trial.state = TrialState::kInfeasible;
      trial.failure_reason = violated;
    }
  }
  if (trial.state == TrialState::kFailed) {
    trial.failure_reason =
        failure_reason.empty() ? "failed (no reason given)" : BoundedReason(failure_reason);
  }
  return trial;
}

}  // namespace vernier
