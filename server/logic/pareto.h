// Pareto dominance for multi-objective studies: non-dominated sorting,
// crowding distance and Deb's constrained domination, over points whose
// coordinates are all to be minimised (callers negate maximised objectives).
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_LOGIC_PARETO_H_
#define VERNIER_SERVER_LOGIC_PARETO_H_

#include <vector>

namespace vernier {

// A point to minimise, one coordinate per objective.
using Point = std::vector<double>;

// True when `a` is no worse than `b` in every coordinate and better in at
// least one. REQUIRES: a.size() == b.size(); no NaN.
bool Dominates(const Point& a, const Point& b);

// Deb's constrained domination. `violation_*` is >= 0, 0 for a feasible point
// (+inf allowed). A feasible point dominates every infeasible one; of two
// infeasible points the one with the smaller violation dominates; two
// feasible points compare by Dominates().
bool ConstrainedDominates(const Point& a, double violation_a, const Point& b, double violation_b);

// Fast non-dominated sort (Deb et al. 2002) by constrained domination:
// fronts[0] holds the indices of the points no other point dominates,
// fronts[1] those dominated only by fronts[0], and so on. Indices are
// ascending within a front. `violations` is empty (all feasible) or has one
// entry per point. O(n^2 m).
std::vector<std::vector<int>> NonDominatedFronts(const std::vector<Point>& points,
                                                 const std::vector<double>& violations = {});

// The indices of the non-dominated points (all feasible), ascending; faster
// than NonDominatedFronts for one front: O(n f m) for a front of f points.
// Equal points are all kept.
std::vector<int> ParetoFront(const std::vector<Point>& points);

// Crowding distances of the points `front` indexes (parallel to `front`):
// the sum over coordinates of the normalised gap between a point's two
// neighbours; +inf at each coordinate's extremes and for fronts of <= 2.
std::vector<double> CrowdingDistances(const std::vector<Point>& points,
                                      const std::vector<int>& front);

// The area dominated by `points` (2 coordinates each) and bounded by
// `reference`; points not strictly better than the reference in both
// coordinates add nothing.
double Hypervolume2d(const std::vector<Point>& points, const Point& reference);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_PARETO_H_
