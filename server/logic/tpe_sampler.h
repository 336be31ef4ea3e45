// TpeSampler: the Tree-structured Parzen Estimator (Bergstra et al., "Algorithms
// for Hyper-Parameter Optimization", NeurIPS 2011), with the refinements that
// Optuna's TPESampler made standard: a prior kernel, the "magic clip" on
// bandwidths, weights that fade the oldest bad trials, pruned trials ranked by
// how far they got, and a constant liar for parallel suggestions.
//
// How one suggestion is made:
//   1. While fewer than `n_startup_trials` trials are finished (COMPLETE, or
//      PRUNED), the suggestion is RandomSampler's for the same seed.
//   2. Otherwise the ranked trials are split into a "good" set (the best
//      min(ceil(gamma n), 25), n the finished trials; gamma 0.1, or 0.15 for
//      multivariate, see TpeTuning) and a "bad" set (the newest 500 of the
//      others). COMPLETE trials rank by their
//      objective; PRUNED trials rank below every COMPLETE one, deeper (larger
//      last step) first, then by their last reported value; with
//      `constant_liar`, RUNNING and WAITING trials rank last of all, so a
//      parallel worker is steered away from the points others are evaluating.
//      FAILED and INFEASIBLE trials, and trials without a usable value, are
//      ignored.
//   3. Each set becomes a Parzen estimator (a mixture of truncated normals, or
//      of smoothed category counts, one kernel per trial plus a prior kernel)
//      in the parameter's own space: log-scale parameters in log space, ints
//      and stepped floats as continuous kernels rounded to their grid, whose
//      density is the kernel mass of the grid cell. `n_ei_candidates` draws
//      from the good estimator l(x) are scored by l(x) / g(x) and the best one
//      is taken (with the kernels normalised as TpeTuning says).
//   4. Multivariate (the default): one joint kernel over all unconditional
//      parameters; conditional parameters are still suggested one by one.
//      Univariate: one estimator pair per parameter, using only the trials in
//      which the parameter is present. A parameter whose `when` condition does not
//      hold for the values chosen so far is left out.
//
// Determinism: the suggestion is a function of (seed, trial number, the set of
// trials in `history`); the order of `history` does not matter.
//
// Thread-safety: immutable after construction; Suggest() may be called
// concurrently.
#ifndef VERNIER_SERVER_LOGIC_TPE_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_TPE_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// Algorithm choices that are not part of the study file; the benchmark in
// bench/samplers compares them. A default-constructed TpeTuning is Optuna
// 3.1's TPE; Recommended() says what a study gets.
struct TpeTuning {
  // What TpeSampler uses unless told otherwise. Univariate: Optuna 3.1's
  // choices (the defaults below). Multivariate (the study-file default): the
  // choices that put it at or below Optuna 3.1 TPE's simple regret on every
  // function and budget of bench/samplers (bench/README.md, "TPE: multivariate
  // by default"): neighbour-gap bandwidths on continuous axes, 0.1-scaled
  // range bandwidths on the other numeric axes, good kernels weighted by
  // rank, exact densities, gamma 0.15. (The same choices made univariate TPE
  // worse, so it keeps Optuna's.)
  static TpeTuning Recommended(bool multivariate);

  // Scores candidates with continuous kernels whose peak, not integral, is 1
  // (each kernel's density times its bandwidth), so a wide kernel weighs as
  // much as a narrow one at its centre. Optuna 3.1's TPE computes this (its
  // truncated-normal log-pdf leaves out the scale), and it finds better points
  // on the benchmark functions than exact densities do. Sampling from l(x) and
  // the masses of discrete values are unaffected. False: exact densities.
  bool peak_normalized_kernels = true;

  // ---- Which trials are good, and how the kernels are shaped.
  //
  // The good set is the best min(ceil(gamma * n), max_good) of the n finished
  // trials; with `gamma_sqrt`, min(ceil(gamma * sqrt(n)), max_good) instead
  // (hyperopt's rule, Watanabe 2023 sec. 3.1).
  double gamma = 0.1;
  bool gamma_sqrt = false;
  int64_t max_good = 25;
  // Good trials' kernels weigh by rank: the best of g good ones g, the worst 1.
  bool rank_weights = false;
  // Weight of the prior kernel (the whole range) against one per trial.
  double prior_weight = 1.0;
  // Lower bound on every numeric bandwidth, as a share of the axis width, on
  // top of the magic clip (Watanabe 2023's "minimum bandwidth factor").
  double min_bandwidth_factor = 0.0;

  // Bandwidths of the joint (multivariate) kernel on each numeric axis.
  enum class MultivariateBandwidth {
    // Optuna 3.1: sigma0 * kernels^(-1/(d+4)) of the width, shared by all.
    kScaledRange,
    // Each kernel gets the univariate neighbour-gap bandwidth per axis.
    kNeighbourGap,
    // Scott's rule on the observations: 1.06 * std * kernels^(-1/(d+4)).
    kScottOfData,
  };
  MultivariateBandwidth multivariate_bandwidth = MultivariateBandwidth::kScaledRange;
  double multivariate_sigma0 = 0.2;  // kScaledRange's sigma0.
  double gap_scale = 1.0;            // kNeighbourGap's bandwidths are multiplied by this.
  // kNeighbourGap on continuous axes only; grid and log-int axes (where many
  // trials share a value, so gaps are 0) keep kScaledRange's.
  bool gap_continuous_only = false;
};

class TpeSampler : public Sampler {
 public:
  // `objective` says which metric ranks the trials and in which direction.
  // REQUIRES: spec.n_startup_trials >= 1 and spec.n_ei_candidates >= 1 (as
  // ParseStudySpec guarantees).
  // With TpeTuning::Recommended(spec.multivariate).
  TpeSampler(const TpeSpec& spec, uint64_t seed, const ObjectiveSpec& objective);
  TpeSampler(const TpeSpec& spec, uint64_t seed, const ObjectiveSpec& objective,
             const TpeTuning& tuning);

  // Never returns a value outside `space`: floats within [low, high] (on the
  // step grid when there is one), ints on their grid, categoricals from their
  // list.
  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

  // Incremental history: an index of the trials by rank and by number, so a
  // suggestion costs O((25 + 500) log n) and not O(n log n) (see
  // Sampler::SuggestIndexed). The same suggestions as Suggest().
  std::unique_ptr<HistoryIndex> NewHistoryIndex() const override;
  ParamMap SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                          const HistoryIndex& index, int64_t trial_number) const override;

  // The trials a suggestion past the startup learns from, by number, each
  // list ascending: from the whole history, or from `index` as
  // SuggestIndexed reads it (the same lists). For tests and diagnostics.
  struct Modelled {
    std::vector<int64_t> good;
    std::vector<int64_t> bad;
  };
  Modelled ModelledTrials(absl::Span<const TrialRecord* const> history) const;
  // REQUIRES: `index` came from this sampler's NewHistoryIndex().
  Modelled ModelledTrials(absl::Span<const TrialRecord> trials, const HistoryIndex& index) const;

 private:
  const TpeSpec spec_;
  const uint64_t seed_;
  const ObjectiveSpec objective_;
  const TpeTuning tuning_;
  const RandomSampler startup_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_TPE_SAMPLER_H_
