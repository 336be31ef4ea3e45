// Parameter importance by fANOVA (Hutter, Hoos and Leyton-Brown, "An
// Efficient Approach for Assessing Hyperparameter Importance", ICML 2014), as
// Optuna 3.1's default FanovaImportanceEvaluator computes it: how much of the
// variance of the objective over the search space each parameter explains on
// its own, read off a random forest fitted to the study's COMPLETE trials.
//
// How:
//   1. Each trial becomes a point of a numeric space: a float or int is one
//      coordinate, scaled from [low, high] to [0, 1] (on a linear scale even
//      for a log-scale parameter, as Optuna's transform_log=False; scaling
//      changes no split and no share of variance); a categorical is one
//      coordinate per choice, one-hot, each spanning [0, 1].
//   2. A random forest of regression trees is fitted to (points, values), as
//      scikit-learn's RandomForestRegressor does it: each tree on a bootstrap
//      sample of the trials, every coordinate considered at every split
//      (visited in a random order, ties to the first), the split that most
//      reduces the squared error, at the midpoint between two neighbouring
//      values; a node stops splitting at max_depth, when pure, or when a split
//      would leave fewer than min_samples_leaf distinct trials on a side.
//   3. Each tree is a piecewise-constant function f on the unit cube. With
//      the uniform measure there, its variance V is split among the
//      parameters: parameter p's share is Var_p(m_p) / V, where m_p(x_p) is
//      the mean of f over every other coordinate (x_p is the parameter's one
//      or several coordinates). A tree whose V is 0 (its bootstrap sample had
//      one value) has no say.
//   4. A parameter's importance is its mean share over the trees, normalised
//      so that the importances of the parameters assessed sum to 1. The
//      shares of interactions between parameters are not reported, so before
//      normalising the shares sum to at most 1.
// Parameters that can take a single value are not modelled and get 0.
//
// Determinism: the result is a function of (space, the set of trials and
// their order, params, options); the forest's randomness comes from
// options.seed only, the same on every platform (server/logic/random.h).
//
// Thread-safety: the function is pure and thread-safe.
#ifndef VERNIER_SERVER_LOGIC_FANOVA_H_
#define VERNIER_SERVER_LOGIC_FANOVA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The forest's settings. The defaults are Optuna 3.1's
// FanovaImportanceEvaluator (n_trees=64, max_depth=64) with scikit-learn's
// min_samples_split=2 and min_samples_leaf=1.
struct FanovaOptions {
  int n_trees = 64;           // >= 1.
  int max_depth = 64;         // >= 1; the root is at depth 0.
  int min_samples_split = 2;  // >= 2; distinct trials a node needs to split.
  int min_samples_leaf = 1;   // >= 1; distinct trials each side of a split keeps.
  uint64_t seed = 0;          // The forest's bootstrap samples and split orders.
};

// One COMPLETE trial as fANOVA reads it.
struct ImportanceTrial {
  ParamMap params;
  double value = 0;  // The objective (or any metric); non-finite: not used.
};

struct ParamImportance {
  std::string name;
  double importance = 0;  // In [0, 1].
};

struct FanovaResult {
  // Every parameter assessed, by descending importance, then by name. The
  // importances sum to 1.
  std::vector<ParamImportance> importances;
  // How many of the trials the forest was fitted to.
  int64_t trials_used = 0;
};

// The importance of `params` (names in `space`; empty: every parameter of
// `space` that every trial with a finite value has, as Optuna's intersection
// search space) for `trials`' values.
//
// The trials used are those with a finite value that have every parameter
// assessed, each value fitting its parameter (ConvertGivenValue: of its type,
// inside its range); others are left out, so a conditional parameter named in
// `params` is assessed over the trials in which it is present.
//
// INVALID_ARGUMENT naming the field: an option out of its range; a name in
// `params` that is not a parameter of `space`, or named twice.
// FAILED_PRECONDITION: fewer than 2 trials used; no parameter to assess (none
// is present in every trial), or each assessed parameter can take a single
// value; the values are all equal, or the trees explain their variance by
// interactions alone, so no parameter has a share to normalise.
absl::StatusOr<FanovaResult> FanovaImportances(const SearchSpace& space,
                                               const std::vector<ImportanceTrial>& trials,
                                               const std::vector<std::string>& params = {},
                                               const FanovaOptions& options = {});

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_FANOVA_H_
