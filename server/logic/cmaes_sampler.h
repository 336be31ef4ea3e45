// CmaesSampler: the covariance matrix adaptation evolution strategy (Hansen,
// "The CMA Evolution Strategy: A Tutorial", 2016) with the standard
// (mu/mu_w, lambda) update, for the numeric parameters of a study.
//
// Which parameters CMA-ES searches: every float and int without a `when`
// condition, on the unit cube of UnitSpace (log scales in log space; ints and
// stepped floats rounded to their grid when decoded). Categorical and
// conditional parameters fall back to an independent univariate TPE
// (TpeSampler's defaults for the same seed), which learns from the same
// history; a parameter whose condition depends on a CMA-ES parameter takes
// the TPE value when TPE chose it too, else a uniform draw.
//
// Rebuilt from the history alone: the COMPLETE trials with a usable objective
// value, ascending by trial number, are cut into generations of `popsize`
// and replayed through the update from the initial state (mean at the centre
// of the cube, step size `sigma0`), so a restarted server reaches the same
// state and suggests the same point. A trial's point is then drawn from the
// current search distribution with a generator seeded by (seed, trial
// number): trials running in parallel get independent draws. When trials
// finish out of order, a generation may hold points drawn from an earlier
// distribution; as for injected solutions (Hansen 2011, "Injecting External
// Solutions Into CMA-ES"), each step is clipped to a Mahalanobis length of
// sqrt(n) + 2n / (n + 2), which keeps the update sound.
//
// With `restarts`, a run that has converged (step size or spread of values
// negligible, or the covariance ill-conditioned) restarts from a seeded
// random mean with twice the population (IPOP-CMA-ES); the replay repeats the
// same restarts.
//
// Thread-safety: immutable after construction; Suggest() may be called
// concurrently.
#ifndef VERNIER_SERVER_LOGIC_CMAES_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_CMAES_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "absl/types/span.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/tpe_sampler.h"
#include "server/logic/types.h"

namespace vernier {

class UnitSpace;

class CmaesSampler : public Sampler {
 public:
  // REQUIRES: 0 < spec.sigma0 <= 1, spec.popsize == 0 or >= 2 (as
  // ParseStudySpec guarantees).
  CmaesSampler(const CmaesSpec& spec, uint64_t seed, const ObjectiveSpec& objective);

  // Never returns a value outside `space`.
  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

  // Incremental history: the replay's state after each generation, kept, so
  // that a suggestion replays only the trials after the last kept generation
  // that no changed trial affects (see Sampler::SuggestIndexed). The same
  // suggestions as Suggest(). The TPE fallback keeps its own index.
  std::unique_ptr<HistoryIndex> NewHistoryIndex() const override;
  ParamMap SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                          const HistoryIndex& index, int64_t trial_number) const override;

 private:
  struct Replay;
  class ReplayIndex;

  // The replay before any trial: mean at the centre, step size sigma0.
  Replay InitialReplay(int dims) const;
  // Adds `trial` to the replay when it is COMPLETE with a usable value;
  // true when it completed a generation (which is then told).
  bool Feed(const UnitSpace& unit, const TrialRecord& trial, Replay& replay) const;
  // The point of trial `trial_number` drawn from the replay's distribution,
  // with the other parameters from `fallback` (or uniform draws).
  ParamMap Draw(const SearchSpace& space, const UnitSpace& unit, const Replay& replay,
                const ParamMap& fallback, int64_t trial_number) const;

  const CmaesSpec spec_;
  const uint64_t seed_;
  const ObjectiveSpec objective_;
  const TpeSampler fallback_;
};

namespace cmaes {

// The default population size for `dims` dimensions: 4 + floor(3 ln dims).
int DefaultPopulation(int dims);

// One CMA-ES run on the unit cube [0, 1]^dims, minimising.
class Strategy {
 public:
  // REQUIRES: dims >= 1, sigma > 0, popsize >= 2, mean.size() == dims.
  Strategy(const Eigen::VectorXd& mean, double sigma, int popsize);

  int popsize() const { return popsize_; }
  int generation() const { return generation_; }
  double sigma() const { return sigma_; }
  const Eigen::VectorXd& mean() const { return mean_; }

  // A draw from N(mean, sigma^2 C), redrawn up to 100 times until it lies in
  // the cube, then clipped to it.
  Eigen::VectorXd Ask(std::mt19937_64& gen) const;

  // Updates the distribution from one generation.
  // REQUIRES: points.size() == losses.size() == popsize().
  void Tell(const std::vector<Eigen::VectorXd>& points, const std::vector<double>& losses);

  // True when the run has converged: the step size or the spread of the last
  // generation's losses is negligible, or C is ill-conditioned.
  bool Converged() const;

 private:
  void Decompose();

  int dims_;
  int popsize_;
  int mu_;
  Eigen::VectorXd weights_;
  double mu_eff_ = 0;
  double c_sigma_ = 0, d_sigma_ = 0, c_c_ = 0, c_1_ = 0, c_mu_ = 0, chi_n_ = 0;

  Eigen::VectorXd mean_;
  double sigma_;
  Eigen::MatrixXd c_;
  Eigen::MatrixXd b_;  // Eigenvectors of C.
  Eigen::VectorXd d_;  // Square roots of its eigenvalues.
  Eigen::VectorXd p_sigma_, p_c_;
  int generation_ = 0;
  double last_loss_range_ = 1;
};

}  // namespace cmaes
}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_CMAES_SAMPLER_H_
