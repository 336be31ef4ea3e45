#include "server/logic/grid_sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

// Counts saturate here, so a huge grid is reported without overflow.
constexpr int64_t kCap = kMaxGridPoints + 1;

int64_t SatMul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kCap / b ? kCap : std::min(a * b, kCap);
}

int64_t SatAdd(int64_t a, int64_t b) { return std::min(a + b, kCap); }

// Number of values `param` takes on the grid (saturated at kCap).
int64_t ValueCount(const ParamSpec& param, const GridSpec& spec) {
  switch (param.type) {
    case ParamSpec::Type::kCategorical:
      return std::min<int64_t>(static_cast<int64_t>(param.values.size()), kCap);
    case ParamSpec::Type::kInt: {
      const double points = std::floor((param.high - param.low) / param.step.value_or(1)) + 1;
      return points >= kCap ? kCap : static_cast<int64_t>(points);
    }
    case ParamSpec::Type::kFloat: {
      if (param.low == param.high) return 1;
      if (param.step) {
        const double points = std::floor((param.high - param.low) / *param.step + 1e-9) + 1;
        return points >= kCap ? kCap : static_cast<int64_t>(points);
      }
      return std::min(spec.ResolutionOf(param.name), kCap);
    }
  }
  return 1;
}

// Value `index` of `param` on the grid. REQUIRES: index < ValueCount().
ParamValue ValueAt(const ParamSpec& param, const GridSpec& spec, int64_t index) {
  switch (param.type) {
    case ParamSpec::Type::kCategorical:
      return param.values[static_cast<size_t>(index)];
    case ParamSpec::Type::kInt:
      return static_cast<int64_t>(param.low) + index * static_cast<int64_t>(param.step.value_or(1));
    case ParamSpec::Type::kFloat: {
      if (param.low == param.high) return param.low;
      if (param.step)
        return std::min(param.low + static_cast<double>(index) * *param.step, param.high);
      const int64_t resolution = spec.ResolutionOf(param.name);
      if (resolution > 1 && index == resolution - 1) return param.high;  // Exact end point.
      const double t =
          resolution == 1 ? 0.5 : static_cast<double>(index) / static_cast<double>(resolution - 1);
      if (param.log) {
        const double low = std::log(param.low);
        return std::exp(low + t * (std::log(param.high) - low));
      }
      return param.low + t * (param.high - param.low);
    }
  }
  return 0.0;
}

// The grid's tree: which parameters hang under which, and how many points
// each subtree holds.
class GridTree {
 public:
  GridTree(const SearchSpace& space, const GridSpec& spec) : space_(space), spec_(spec) {
    const size_t n = space.params.size();
    children_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const ParamSpec& param = space.params[i];
      if (!param.when) {
        roots_.push_back(i);
        continue;
      }
      for (size_t j = 0; j < i; ++j) {
        if (space.params[j].name == param.when->parent) children_[j].push_back(i);
      }
    }
    // Parents come before their children, so filling from the back sees every
    // child's count before its parent's.
    count_.assign(n, 0);
    for (size_t i = n; i-- > 0;) {
      const int64_t values = ValueCount(space.params[i], spec);
      if (children_[i].empty() || values >= kCap) {
        count_[i] = values;
        continue;
      }
      int64_t total = 0;
      for (int64_t v = 0; v < values && total < kCap; ++v) total = SatAdd(total, Weight(i, v));
      count_[i] = total;
    }
    total_ = 1;
    for (size_t root : roots_) total_ = SatMul(total_, count_[root]);
  }

  // Saturated at kMaxGridPoints + 1.
  int64_t total() const { return total_; }

  // Fills `out` with point `index` (< total()).
  void Decode(int64_t index, ParamMap& out) const { DecodeAll(roots_, index, out); }

 private:
  // Points under value `v` of parameter `i`: the product of the counts of
  // the children that value switches on.
  int64_t Weight(size_t i, int64_t v) const {
    if (children_[i].empty()) return 1;
    const ParamValue value = ValueAt(space_.params[i], spec_, v);
    int64_t weight = 1;
    for (size_t c : children_[i]) {
      if (ParamValueIn(value, space_.params[c].when->values)) weight = SatMul(weight, count_[c]);
    }
    return weight;
  }

  // Mixed radix over `params`, the first most significant.
  void DecodeAll(const std::vector<size_t>& params, int64_t index, ParamMap& out) const {
    for (size_t k = params.size(); k-- > 0;) {
      const int64_t count = count_[params[k]];
      DecodeOne(params[k], index % count, out);
      index /= count;
    }
  }

  void DecodeOne(size_t i, int64_t index, ParamMap& out) const {
    const ParamSpec& param = space_.params[i];
    if (children_[i].empty()) {
      out[param.name] = ValueAt(param, spec_, index);
      return;
    }
    const int64_t values = ValueCount(param, spec_);
    for (int64_t v = 0; v < values; ++v) {
      const int64_t weight = Weight(i, v);
      if (index >= weight) {
        index -= weight;
        continue;
      }
      const ParamValue value = ValueAt(param, spec_, v);
      out[param.name] = value;
      std::vector<size_t> on;
      for (size_t c : children_[i]) {
        if (ParamValueIn(value, space_.params[c].when->values)) on.push_back(c);
      }
      DecodeAll(on, index, out);
      return;
    }
  }

  const SearchSpace& space_;
  const GridSpec& spec_;
  std::vector<size_t> roots_;
  std::vector<std::vector<size_t>> children_;
  std::vector<int64_t> count_;
  int64_t total_ = 0;
};

}  // namespace

absl::StatusOr<int64_t> GridPointCount(const SearchSpace& space, const GridSpec& spec) {
  const int64_t total = GridTree(space, spec).total();
  if (total > kMaxGridPoints) {
    return absl::InvalidArgumentError(absl::StrCat("sampler.resolution: the grid has more than ",
                                                   kMaxGridPoints,
                                                   " points; lower the resolution or add steps"));
  }
  return total;
}

ParamMap GridSampler::Suggest(const SearchSpace& space,
                              absl::Span<const TrialRecord* const> /*history*/,
                              int64_t trial_number) const {
  GridTree tree(space, spec_);
  ParamMap params;
  tree.Decode(trial_number % tree.total(), params);
  return params;
}

std::optional<int64_t> GridSampler::Capacity(const SearchSpace& space) const {
  return GridTree(space, spec_).total();
}

}  // namespace vernier
