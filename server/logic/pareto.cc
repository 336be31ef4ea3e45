#include "server/logic/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace vernier {

bool Dominates(const Point& a, const Point& b) {
  bool better = false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

bool ConstrainedDominates(const Point& a, double violation_a, const Point& b, double violation_b) {
  const bool feasible_a = violation_a <= 0;
  const bool feasible_b = violation_b <= 0;
  if (feasible_a != feasible_b) return feasible_a;
  if (!feasible_a) return violation_a < violation_b;
  return Dominates(a, b);
}

std::vector<std::vector<int>> NonDominatedFronts(const std::vector<Point>& points,
                                                 const std::vector<double>& violations) {
  const int n = static_cast<int>(points.size());
  auto violation = [&violations](int i) { return violations.empty() ? 0.0 : violations[i]; };
  std::vector<std::vector<int>> dominated(n);  // dominated[i]: points i dominates.
  std::vector<int> dominators(n, 0);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      if (ConstrainedDominates(points[i], violation(i), points[j], violation(j))) {
        dominated[i].push_back(j);
        dominators[j]++;
      } else if (ConstrainedDominates(points[j], violation(j), points[i], violation(i))) {
        dominated[j].push_back(i);
        dominators[i]++;
      }
    }
  }
  std::vector<std::vector<int>> fronts;
  std::vector<int> current;
  for (int i = 0; i < n; ++i) {
    if (dominators[i] == 0) current.push_back(i);
  }
  while (!current.empty()) {
    std::vector<int> next;
    for (int i : current) {
      for (int j : dominated[i]) {
        if (--dominators[j] == 0) next.push_back(j);
      }
    }
    std::sort(next.begin(), next.end());
    fronts.push_back(std::move(current));
    current = std::move(next);
  }
  return fronts;
}

std::vector<int> ParetoFront(const std::vector<Point>& points) {
  std::vector<int> front;
  for (int i = 0; i < static_cast<int>(points.size()); ++i) {
    bool dominated = false;
    for (int j : front) {
      if (Dominates(points[j], points[i])) {
        dominated = true;
        break;
      }
    }
    if (dominated) continue;
    // The new point may dominate members kept so far.
    front.erase(std::remove_if(front.begin(), front.end(),
                               [&](int j) { return Dominates(points[i], points[j]); }),
                front.end());
    front.push_back(i);
  }
  return front;  // Ascending: members are appended in index order.
}

std::vector<double> CrowdingDistances(const std::vector<Point>& points,
                                      const std::vector<int>& front) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const size_t n = front.size();
  std::vector<double> distance(n, 0.0);
  if (n <= 2) return std::vector<double>(n, kInf);
  const size_t m = points[front[0]].size();
  std::vector<size_t> order(n);
  for (size_t k = 0; k < m; ++k) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return points[front[a]][k] < points[front[b]][k]; });
    const double lo = points[front[order.front()]][k];
    const double hi = points[front[order.back()]][k];
    distance[order.front()] = kInf;
    distance[order.back()] = kInf;
    if (!(hi > lo) || !std::isfinite(hi - lo)) continue;
    for (size_t r = 1; r + 1 < n; ++r) {
      const double gap = points[front[order[r + 1]]][k] - points[front[order[r - 1]]][k];
      distance[order[r]] += gap / (hi - lo);
    }
  }
  return distance;
}

double Hypervolume2d(const std::vector<Point>& points, const Point& reference) {
  std::vector<Point> inside;
  for (const Point& p : points) {
    if (p[0] < reference[0] && p[1] < reference[1]) inside.push_back(p);
  }
  std::sort(inside.begin(), inside.end());
  double volume = 0;
  double best_y = reference[1];
  for (const Point& p : inside) {  // Ascending x: each new lower y adds a slab.
    if (p[1] >= best_y) continue;
    volume += (reference[0] - p[0]) * (best_y - p[1]);
    best_y = p[1];
  }
  return volume;
}

}  // namespace vernier
