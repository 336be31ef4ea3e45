#include "server/logic/fanova.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/logic/given_params.h"
#include "server/logic/random.h"

namespace vernier {
namespace {

// The purpose tag of a tree's stream of draws (server/logic/random.h): the
// tree's bootstrap sample and the order it tries the coordinates in.
constexpr uint32_t kFanovaStreamTag = 0xfa40a;

// Two values of a coordinate closer than this are one value to a split
// (scikit-learn's FEATURE_THRESHOLD), in unit-cube units.
constexpr double kSameCoordinate = 1e-7;

// A node whose values vary by at most this is pure (scikit-learn's EPSILON),
// in units of the trials' variance: values are standardised first.
constexpr double kPureVariance = std::numeric_limits<double>::epsilon();

// Below this the shares of every parameter are rounding error.
constexpr double kNoShare = 1e-12;

// ---- The trials as points of the unit cube ---------------------------------

// A parameter the forest models: it can take more than one value.
struct Modelled {
  const ParamSpec* param = nullptr;
  std::vector<int> columns;  // Its coordinates: one, or one per choice.
};

// The trials the forest is fitted to: row r is x[r * dims, (r + 1) * dims),
// with value y[r] (standardised: mean 0, variance 1).
struct Points {
  int dims = 0;
  std::vector<double> x;
  std::vector<double> y;

  int rows() const { return static_cast<int>(y.size()); }
  double at(int row, int column) const { return x[static_cast<size_t>(row) * dims + column]; }
};

absl::Status CheckOptions(const FanovaOptions& options) {
  auto at_least = [](const char* field, int value, int min) {
    if (value >= min) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be at least ", min, ", got ", value));
  };
  for (absl::Status status :
       {at_least("n_trees", options.n_trees, 1), at_least("max_depth", options.max_depth, 1),
        at_least("min_samples_split", options.min_samples_split, 2),
        at_least("min_samples_leaf", options.min_samples_leaf, 1)}) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::string SpaceNames(const SearchSpace& space) {
  std::vector<std::string> names;
  for (const ParamSpec& param : space.params) names.push_back(param.name);
  return absl::StrJoin(names, ", ");
}

bool IsFinite(const ImportanceTrial& trial) { return std::isfinite(trial.value); }

// The parameters `params` names, in its order; INVALID_ARGUMENT naming an
// unknown or repeated name.
absl::StatusOr<std::vector<const ParamSpec*>> NamedParams(const SearchSpace& space,
                                                          const std::vector<std::string>& params) {
  std::vector<const ParamSpec*> named;
  std::set<std::string> seen;
  for (const std::string& name : params) {
    const ParamSpec* param = space.Find(name);
    if (param == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("params: \"", name,
                                                     "\" is not a parameter of the study (its "
                                                     "parameters: ",
                                                     SpaceNames(space), ")"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("params: \"", name, "\" is named twice"));
    }
    named.push_back(param);
  }
  return named;
}

// The parameters of `space`, in its order, that every trial with a finite
// value has.
std::vector<const ParamSpec*> ParamsInEveryTrial(const SearchSpace& space,
                                                 const std::vector<ImportanceTrial>& trials) {
  std::vector<const ParamSpec*> common;
  for (const ParamSpec& param : space.params) {
    const bool everywhere = std::all_of(trials.begin(), trials.end(), [&](const auto& trial) {
      return !IsFinite(trial) || trial.params.count(param.name) > 0;
    });
    if (everywhere) common.push_back(&param);
  }
  return common;
}

// True when `param` can take one value only (Optuna's distribution.single()).
bool IsSingleValued(const ParamSpec& param) {
  if (param.type == ParamSpec::Type::kCategorical) return param.values.size() <= 1;
  if (param.low == param.high) return true;
  return param.step.has_value() && param.high - param.low < *param.step;
}

// The modelled parameters of `assessed` and their coordinates.
struct Encoding {
  std::vector<Modelled> modelled;
  int dims = 0;
};

Encoding EncodingOf(const std::vector<const ParamSpec*>& assessed) {
  Encoding encoding;
  for (const ParamSpec* param : assessed) {
    if (IsSingleValued(*param)) continue;
    Modelled m{param, {}};
    const size_t width =
        param->type == ParamSpec::Type::kCategorical ? param->values.size() : size_t{1};
    for (size_t k = 0; k < width; ++k) m.columns.push_back(encoding.dims++);
    encoding.modelled.push_back(std::move(m));
  }
  return encoding;
}

// Appends the coordinates of `trial` to `x`; false, appending nothing, when
// the trial lacks an assessed parameter or a value does not fit its parameter.
bool AppendPoint(const ImportanceTrial& trial, const std::vector<const ParamSpec*>& assessed,
                 const Encoding& encoding, std::vector<double>& x) {
  ParamMap values;  // As their parameters' types (ConvertGivenValue).
  for (const ParamSpec* param : assessed) {
    auto it = trial.params.find(param->name);
    if (it == trial.params.end()) return false;
    absl::StatusOr<ParamValue> value = ConvertGivenValue(*param, it->second);
    if (!value.ok()) return false;
    values[param->name] = *std::move(value);
  }
  std::vector<double> point(encoding.dims, 0.0);
  for (const Modelled& m : encoding.modelled) {
    const ParamValue& value = values.at(m.param->name);
    if (m.param->type == ParamSpec::Type::kCategorical) {
      const auto choice = std::find(m.param->values.begin(), m.param->values.end(), value);
      point[m.columns[choice - m.param->values.begin()]] = 1.0;
    } else {
      const double number = std::holds_alternative<int64_t>(value)
                                ? static_cast<double>(std::get<int64_t>(value))
                                : std::get<double>(value);
      point[m.columns[0]] = (number - m.param->low) / (m.param->high - m.param->low);
    }
  }
  x.insert(x.end(), point.begin(), point.end());
  return true;
}

// Scales `y` to mean 0 and variance 1, so that kPureVariance is relative to
// the spread of the values (fANOVA's shares do not change with the scale).
// False when every value is the same.
bool Standardise(std::vector<double>& y) {
  const double n = static_cast<double>(y.size());
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double squares = 0;
  for (double v : y) squares += (v - mean) * (v - mean);
  const double sd = std::sqrt(squares / n);
  if (!(sd > 0) || !std::isfinite(sd)) return false;
  for (double& v : y) v = (v - mean) / sd;
  return true;
}

// ---- One regression tree -----------------------------------------------------

struct Node {
  int feature = -1;      // The coordinate it splits on; -1 for a leaf.
  double threshold = 0;  // Points with coordinate <= threshold go left.
  int left = -1;
  int right = -1;
  double value = 0;  // The weighted mean of its trials' values.
};

struct Split {
  int feature = -1;
  double threshold = 0;
  double proxy = -std::numeric_limits<double>::infinity();  // Larger: less squared error.
};

// Grows one tree the way scikit-learn's DepthFirstTreeBuilder with its
// BestSplitter and squared error does (see the header), on the rows of
// `points` with a positive weight (their bootstrap counts).
class TreeBuilder {
 public:
  TreeBuilder(const Points& points, const std::vector<double>& weights,
              const FanovaOptions& options, std::mt19937_64& gen)
      : points_(points), weights_(weights), options_(options), gen_(gen) {}

  std::vector<Node> Build() {
    NodeRows root;
    for (int r = 0; r < points_.rows(); ++r) {
      if (weights_[r] > 0) root.rows.push_back(r);
    }
    // Sorted once per tree; each split partitions the orders in place of
    // sorting every node again (the same orders: a partition keeps them).
    root.by_feature.resize(points_.dims);
    for (int feature = 0; feature < points_.dims; ++feature) {
      std::vector<int>& order = root.by_feature[feature];
      order = root.rows;
      std::sort(order.begin(), order.end(), [this, feature](int a, int b) {
        const double va = points_.at(a, feature), vb = points_.at(b, feature);
        return va < vb || (va == vb && a < b);
      });
    }
    Grow(root, 0);
    return std::move(nodes_);
  }

 private:
  // The rows of a node (distinct, weight > 0), ascending, and the same rows
  // in ascending (coordinate, row) order for each coordinate.
  struct NodeRows {
    std::vector<int> rows;
    std::vector<std::vector<int>> by_feature;
  };

  // Adds the node of `node`'s rows and its subtree; returns its index.
  int Grow(const NodeRows& node, int depth) {
    const std::vector<int>& rows = node.rows;
    double weight = 0, sum = 0;
    for (int r : rows) {
      weight += weights_[r];
      sum += weights_[r] * points_.y[r];
    }
    const double mean = sum / weight;
    double squares = 0;
    for (int r : rows) squares += weights_[r] * (points_.y[r] - mean) * (points_.y[r] - mean);

    const int index = static_cast<int>(nodes_.size());
    nodes_.push_back(Node{-1, 0, -1, -1, mean});
    const int count = static_cast<int>(rows.size());
    if (depth >= options_.max_depth || count < options_.min_samples_split ||
        count < 2 * options_.min_samples_leaf || squares / weight <= kPureVariance) {
      return index;
    }
    const Split split = BestSplit(node, weight, sum);
    if (split.feature < 0) return index;
    NodeRows left, right;
    Partition(node, split, left, right);
    const int left_index = Grow(left, depth + 1);
    const int right_index = Grow(right, depth + 1);
    nodes_[index].feature = split.feature;
    nodes_[index].threshold = split.threshold;
    nodes_[index].left = left_index;
    nodes_[index].right = right_index;
    return index;
  }

  // Splits `node`'s rows and orders by `split`, each keeping its order.
  void Partition(const NodeRows& node, const Split& split, NodeRows& left, NodeRows& right) {
    goes_left_.resize(points_.rows());
    for (int r : node.rows) {
      const bool to_left = points_.at(r, split.feature) <= split.threshold;
      goes_left_[r] = to_left;
      (to_left ? left : right).rows.push_back(r);
    }
    left.by_feature.resize(node.by_feature.size());
    right.by_feature.resize(node.by_feature.size());
    for (size_t feature = 0; feature < node.by_feature.size(); ++feature) {
      left.by_feature[feature].reserve(left.rows.size());
      right.by_feature[feature].reserve(right.rows.size());
      for (int r : node.by_feature[feature]) {
        (goes_left_[r] ? left : right).by_feature[feature].push_back(r);
      }
    }
  }

  // The best split of `node`'s rows over every coordinate, tried in a
  // random order; feature -1 when no coordinate can be split.
  Split BestSplit(const NodeRows& node, double weight, double sum) {
    std::vector<int> order(points_.dims);
    std::iota(order.begin(), order.end(), 0);
    for (size_t i = order.size(); i > 1; --i) {  // Fisher-Yates.
      std::swap(order[i - 1], order[UniformIndex(gen_, i)]);
    }
    Split best;
    std::vector<std::pair<double, int>> sorted(node.rows.size());  // (coordinate, row)
    for (int feature : order) {
      const std::vector<int>& rows = node.by_feature[feature];
      const double min = points_.at(rows.front(), feature);
      const double max = points_.at(rows.back(), feature);
      if (max <= min + kSameCoordinate) continue;  // Constant here.
      for (size_t i = 0; i < rows.size(); ++i) sorted[i] = {points_.at(rows[i], feature), rows[i]};
      BestSplitOn(feature, sorted, weight, sum, best);
    }
    return best;
  }

  // Improves `best` with the splits of `sorted` (ascending (coordinate, row)
  // pairs of `feature`) between two distinct values that leave
  // min_samples_leaf rows on each side.
  void BestSplitOn(int feature, const std::vector<std::pair<double, int>>& sorted, double weight,
                   double sum, Split& best) const {
    const int count = static_cast<int>(sorted.size());
    double left_weight = 0, left_sum = 0;
    for (int i = 0; i + 1 < count; ++i) {
      const auto [here, row] = sorted[i];
      const double next = sorted[i + 1].first;
      left_weight += weights_[row];
      left_sum += weights_[row] * points_.y[row];
      if (next <= here + kSameCoordinate) continue;
      if (i + 1 < options_.min_samples_leaf || count - i - 1 < options_.min_samples_leaf) continue;
      const double right_weight = weight - left_weight;
      const double right_sum = sum - left_sum;
      // Minimising the children's squared error is maximising this.
      const double proxy = left_sum * left_sum / left_weight + right_sum * right_sum / right_weight;
      if (proxy > best.proxy) {
        double threshold = here / 2 + next / 2;
        if (threshold == next || !std::isfinite(threshold)) threshold = here;
        best = Split{feature, threshold, proxy};
      }
    }
  }

  const Points& points_;
  const std::vector<double>& weights_;
  const FanovaOptions& options_;
  std::mt19937_64& gen_;
  std::vector<Node> nodes_;
  std::vector<char> goes_left_;  // By row: Partition()'s scratch.
};

// How many times each row is in a bootstrap sample of as many draws as rows.
std::vector<double> BootstrapCounts(int rows, std::mt19937_64& gen) {
  std::vector<double> counts(rows, 0.0);
  for (int i = 0; i < rows; ++i) counts[UniformIndex(gen, static_cast<size_t>(rows))] += 1;
  return counts;
}

// ---- fANOVA on one tree ------------------------------------------------------

// A leaf of a tree: its value on its box [lo, hi] of the unit cube.
struct Leaf {
  double value = 0;
  std::vector<double> lo;
  std::vector<double> hi;

  double Width(int column) const { return hi[column] - lo[column]; }
};

// The leaves of `tree`, whose boxes partition the unit cube of `dims`
// coordinates.
std::vector<Leaf> Leaves(const std::vector<Node>& tree, int dims) {
  std::vector<Leaf> leaves;
  std::vector<std::pair<int, Leaf>> stack;
  stack.push_back({0, Leaf{0, std::vector<double>(dims, 0.0), std::vector<double>(dims, 1.0)}});
  while (!stack.empty()) {
    auto [index, box] = std::move(stack.back());
    stack.pop_back();
    const Node& node = tree[index];
    if (node.feature < 0) {
      box.value = node.value;
      leaves.push_back(std::move(box));
      continue;
    }
    Leaf left = box;
    left.hi[node.feature] = std::min(left.hi[node.feature], node.threshold);
    box.lo[node.feature] = std::max(box.lo[node.feature], node.threshold);
    stack.push_back({node.right, std::move(box)});
    stack.push_back({node.left, std::move(left)});
  }
  return leaves;
}

// The volume of `leaf`'s box over the coordinates not in `columns`.
double VolumeOutside(const Leaf& leaf, const std::vector<int>& columns) {
  double volume = 1;
  for (int c = 0; c < static_cast<int>(leaf.lo.size()); ++c) {
    if (std::find(columns.begin(), columns.end(), c) == columns.end()) volume *= leaf.Width(c);
  }
  return volume;
}

// The tree's mean and variance over the unit cube.
std::pair<double, double> MeanAndVariance(const std::vector<Leaf>& leaves) {
  const std::vector<int> none;
  double mean = 0;
  for (const Leaf& leaf : leaves) mean += VolumeOutside(leaf, none) * leaf.value;
  double variance = 0;
  for (const Leaf& leaf : leaves) {
    variance += VolumeOutside(leaf, none) * (leaf.value - mean) * (leaf.value - mean);
  }
  return {mean, variance};
}

// The integral over [0, 1] of the square of the sum of the steps of height
// a[l] on [lo[l], hi[l]] (the variance, when the sum has mean 0): a sweep,
// as the sum is constant between two step edges.
double SweptVariance(const std::vector<double>& lo, const std::vector<double>& hi,
                     const std::vector<double>& a) {
  std::vector<std::pair<double, double>> edges;  // (position, change of the sum)
  for (size_t l = 0; l < a.size(); ++l) {
    edges.push_back({lo[l], a[l]});
    edges.push_back({hi[l], -a[l]});
  }
  std::sort(edges.begin(), edges.end());
  double variance = 0, level = 0, at = 0;
  for (const auto& [position, change] : edges) {
    variance += level * level * (position - at);
    level += change;
    at = position;
  }
  return variance;
}

// The variance of m(x_F) = the tree's mean over the coordinates outside
// F = `columns`, with x_F uniform in the unit cube. Writing each leaf's box as
// P x Z (its extent in F and outside it), m(x_F) - mean = the sum over the
// leaves whose P holds x_F of a = (value - mean) |Z|. One coordinate: swept.
// Several (a categorical's one-hot coordinates): the sum over pairs of
// distinct boxes P, P' (their leaves' a summed) of a a' |P intersect P'|.
double MarginalVariance(const std::vector<Leaf>& leaves, const std::vector<int>& columns,
                        double mean) {
  if (columns.size() == 1) {
    std::vector<double> lo, hi, a;
    for (const Leaf& leaf : leaves) {
      lo.push_back(leaf.lo[columns[0]]);
      hi.push_back(leaf.hi[columns[0]]);
      a.push_back((leaf.value - mean) * VolumeOutside(leaf, columns));
    }
    return std::max(SweptVariance(lo, hi, a), 0.0);
  }
  // Leaves of one box in F: a one-hot coordinate is split at most once on a
  // path, so there are few boxes.
  std::map<std::vector<double>, double> boxes;  // (lo, hi) of each column in F -> sum of a.
  for (const Leaf& leaf : leaves) {
    std::vector<double> box;
    for (int c : columns) {
      box.push_back(leaf.lo[c]);
      box.push_back(leaf.hi[c]);
    }
    boxes[box] += (leaf.value - mean) * VolumeOutside(leaf, columns);
  }
  double variance = 0;
  for (auto p = boxes.begin(); p != boxes.end(); ++p) {
    for (auto q = p; q != boxes.end(); ++q) {
      double overlap = 1;
      for (size_t k = 0; k < columns.size() && overlap > 0; ++k) {
        overlap *= std::max(0.0, std::min(p->first[2 * k + 1], q->first[2 * k + 1]) -
                                     std::max(p->first[2 * k], q->first[2 * k]));
      }
      variance += (p == q ? 1 : 2) * p->second * q->second * overlap;
    }
  }
  return std::max(variance, 0.0);
}

// Adds each parameter's share of the variance of the tree grown with stream
// `tree` to `shares`; false when the tree is constant (it has no say).
bool AddTreeShares(const Points& points, const std::vector<Modelled>& modelled,
                   const FanovaOptions& options, int tree, std::vector<double>& shares) {
  std::mt19937_64 gen =
      MakeGenerator(StreamSeed(options.seed).Number(int64_t{tree}).Word(kFanovaStreamTag));
  const std::vector<double> weights = BootstrapCounts(points.rows(), gen);
  const std::vector<Leaf> leaves =
      Leaves(TreeBuilder(points, weights, options, gen).Build(), points.dims);
  const auto [mean, variance] = MeanAndVariance(leaves);
  if (!(variance > 0)) return false;
  for (size_t p = 0; p < modelled.size(); ++p) {
    shares[p] += MarginalVariance(leaves, modelled[p].columns, mean) / variance;
  }
  return true;
}

}  // namespace

absl::StatusOr<FanovaResult> FanovaImportances(const SearchSpace& space,
                                               const std::vector<ImportanceTrial>& trials,
                                               const std::vector<std::string>& params,
                                               const FanovaOptions& options) {
  if (absl::Status status = CheckOptions(options); !status.ok()) return status;
  absl::StatusOr<std::vector<const ParamSpec*>> named = NamedParams(space, params);
  if (!named.ok()) return named.status();
  const std::vector<const ParamSpec*> assessed =
      params.empty() ? ParamsInEveryTrial(space, trials) : *std::move(named);
  if (assessed.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no parameter is present in every trial; name the parameters to assess (the study's: ",
        SpaceNames(space), ")"));
  }
  std::vector<std::string> assessed_names;
  for (const ParamSpec* param : assessed) assessed_names.push_back(param->name);

  const Encoding encoding = EncodingOf(assessed);
  const std::vector<Modelled>& modelled = encoding.modelled;
  Points points;
  points.dims = encoding.dims;
  for (const ImportanceTrial& trial : trials) {
    if (IsFinite(trial) && AppendPoint(trial, assessed, encoding, points.x)) {
      points.y.push_back(trial.value);
    }
  }
  if (points.rows() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "fANOVA needs at least 2 trials with a finite value and every parameter assessed (",
        absl::StrJoin(assessed_names, ", "), "); got ", points.rows()));
  }
  if (modelled.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("each parameter assessed (", absl::StrJoin(assessed_names, ", "),
                     ") can take a single value only; there is nothing to compare"));
  }
  if (!Standardise(points.y)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the objective has the same value in all ", points.rows(),
                     " trials used; no parameter explains any of it"));
  }

  std::vector<double> shares(modelled.size(), 0.0);
  int trees_with_say = 0;
  for (int tree = 0; tree < options.n_trees; ++tree) {
    if (AddTreeShares(points, modelled, options, tree, shares)) ++trees_with_say;
  }
  const double total = std::accumulate(shares.begin(), shares.end(), 0.0);
  if (trees_with_say == 0 || !(total > kNoShare * trees_with_say)) {
    return absl::FailedPreconditionError(
        "the forest explains the objective by interactions between parameters alone (or not "
        "at all): no parameter has a share of its own");
  }

  FanovaResult result;
  result.trials_used = points.rows();
  for (const ParamSpec* param : assessed) result.importances.push_back({param->name, 0.0});
  for (size_t p = 0; p < modelled.size(); ++p) {
    for (ParamImportance& importance : result.importances) {
      if (importance.name == modelled[p].param->name) importance.importance = shares[p] / total;
    }
  }
  std::sort(result.importances.begin(), result.importances.end(),
            [](const ParamImportance& a, const ParamImportance& b) {
              return a.importance != b.importance ? a.importance > b.importance : a.name < b.name;
            });
  return result;
}

}  // namespace vernier
