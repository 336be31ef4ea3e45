// Trials seen through several objectives and constraints: their objective
// values as points to minimise, their constraint violation, and the Pareto
// front of a study.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_LOGIC_MULTI_OBJECTIVE_H_
#define VERNIER_SERVER_LOGIC_MULTI_OBJECTIVE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "server/logic/pareto.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The value of `metric` for a trial: its final metric, else its last
// intermediate one; nullopt when it reported none (as ObjectiveValue).
std::optional<double> TrialMetric(const TrialRecord& trial, const std::string& metric);

// The trial's objective values as a point to minimise (maximised objectives
// negated), in `objectives` order; nullopt when one is missing or NaN.
std::optional<Point> ObjectiveLosses(const TrialRecord& trial,
                                     absl::Span<const ObjectiveSpec> objectives);

// The values of the constrained metrics a trial reported (each as
// TrialMetric finds it), for the two functions below.
MetricMap ConstraintMetrics(const TrialRecord& trial, absl::Span<const ConstraintSpec> constraints);

// How far `metrics` lie outside the constraints: the sum of the distances to
// the bounds they break; 0 when all hold; +inf when a constrained metric is
// missing or NaN.
double ConstraintViolation(const MetricMap& metrics, absl::Span<const ConstraintSpec> constraints);

// Why `metrics` break the constraints, naming the first broken one, its value
// and its bound ("memory_gb = 5.2 is above max 4"); empty when all hold.
std::string ConstraintViolationReason(const MetricMap& metrics,
                                      absl::Span<const ConstraintSpec> constraints);

// The Pareto front of the COMPLETE trials with every objective value (the
// non-dominated ones; refit trials are not candidates), sorted by the first objective, best first,
// then by trial number.
std::vector<const TrialRecord*> ParetoTrials(absl::Span<const TrialRecord> trials,
                                             absl::Span<const ObjectiveSpec> objectives);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_MULTI_OBJECTIVE_H_
