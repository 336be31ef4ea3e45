// GpSampler: Gaussian-process Bayesian optimisation.
//
// How one suggestion is made:
//   1. While fewer than `n_startup_trials` trials are COMPLETE with a usable
//      objective value, the suggestion is SobolSampler's for the same seed
//      (RandomSampler's when the space has more than kSobolMaxDimensions
//      parameters), so the first trials cover the space evenly.
//   2. The COMPLETE trials are mapped onto the unit cube (UnitSpace: log
//      scales in log space, one-hot categoricals, absent conditional
//      parameters at a fixed coordinate) and their objective values, as
//      losses, are warped by log(loss - min + (median - min)), which tames a
//      long tail of bad values (HEBO, Cowen-Rivers et al. 2022, warps outputs
//      for the same reason), then standardised (mean 0, variance 1). Above
//      kMaxObservations trials, the best half and the newest of the others
//      are kept, so the cost stays bounded.
//   3. A zero-mean GP with a Matérn-5/2 ARD kernel (one length scale per
//      coordinate, a signal variance and a noise variance) is fitted: the
//      hyperparameters maximise the log marginal likelihood plus weak
//      log-normal priors (length scales as in Hvarfner et al. 2024, "Vanilla
//      Bayesian Optimization Performs Great in High Dimensions"), by L-BFGS
//      in log space with analytic gradients, started from the best of a few
//      seeded guesses.
//   4. Parallel workers (kriging believer): RUNNING and WAITING trials are
//      added to the posterior with the posterior mean as their value, and
//      PRUNED and INFEASIBLE trials with the worst observed value, so the
//      acquisition is low next to the points other workers are evaluating,
//      next to points that were stopped for looking bad and next to points
//      that broke a constraint. The incumbent is the best value
//      among observations and believed values.
//   5. The next point maximises log expected improvement (computed without
//      underflow far from the incumbent): seeded uniform candidates and
//      perturbations of the best trials, every candidate made representable
//      first (ints and steps rounded, one-hot exact, absent parameters at
//      their fixed coordinate), then a (1+1) evolution strategy from the best
//      few.
//
// Determinism: a function of (seed, trial number, the set of trials in
// `history`); the order of `history` does not matter.
//
// Thread-safety: immutable after construction; Suggest() may be called
// concurrently.
#ifndef VERNIER_SERVER_LOGIC_GP_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_GP_SAMPLER_H_

#include <cstdint>
#include <memory>

#include "Eigen/Core"
#include "absl/types/span.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

class GpSampler : public Sampler {
 public:
  // The most COMPLETE trials one fit uses.
  static constexpr int kMaxObservations = 200;

  // REQUIRES: spec.n_startup_trials >= 1 (ParseStudySpec guarantees it).
  GpSampler(const GpSpec& spec, uint64_t seed, const ObjectiveSpec& objective);

  // Never returns a value outside `space`.
  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

  // Copies the encoded observations under the caller's lock; the returned
  // function fits the model and searches the acquisition function (the slow
  // part) from the copy.
  PreparedSuggestion PrepareSuggestion(const SearchSpace& space,
                                       absl::Span<const TrialRecord> trials,
                                       const HistoryIndex* index,
                                       int64_t trial_number) const override;

 private:
  struct Gathered;
  // The history as the model reads it.
  Gathered Gather(const SearchSpace& space, absl::Span<const TrialRecord* const> history) const;
  // Whether `data` has enough observations to fit the model.
  bool ModelReady(const SearchSpace& space, const Gathered& data) const;
  // The quasi-random sampler of the first trials.
  const Sampler& Startup(const SearchSpace& space) const;
  // Fits the model to `data` and returns the point maximising log EI.
  ParamMap Propose(const SearchSpace& space, Gathered data, int64_t trial_number) const;

  const GpSpec spec_;
  const uint64_t seed_;
  const ObjectiveSpec objective_;
  std::unique_ptr<Sampler> startup_random_;
  std::unique_ptr<Sampler> startup_sobol_;
};

// The model behind GpSampler, exposed for tests.
namespace gp {

// Hyperparameters in log space, packed as one vector:
// [log length scale_1 .. log length scale_D, log signal variance, log noise
// variance].
inline int NumHyperparameters(int dims) { return dims + 2; }

// Matérn-5/2 ARD kernel between two points.
double Matern52(const Eigen::VectorXd& a, const Eigen::VectorXd& b, const Eigen::VectorXd& theta);

// The negative log marginal likelihood of standardised values `y` at points
// `x` (one row per point), minus the log prior density of `theta` when
// `with_prior`. Fills `gradient` (d/d theta) when it is not null. +infinity
// when the kernel matrix is not positive definite.
double NegLogMarginalLikelihood(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                const Eigen::VectorXd& theta, bool with_prior,
                                Eigen::VectorXd* gradient);

// The hyperparameters that minimise NegLogMarginalLikelihood (with prior),
// searched from a few guesses drawn with `seed`; within fixed bounds.
Eigen::VectorXd FitHyperparameters(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                   uint64_t seed);

// The GP posterior for fixed hyperparameters.
class Posterior {
 public:
  // REQUIRES: x.rows() == y.size() >= 1, theta.size() == NumHyperparameters(x.cols()).
  Posterior(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& theta);

  // Mean and variance of the latent function (noise excluded) at `point`.
  void Predict(const Eigen::VectorXd& point, double& mean, double& variance) const;

 private:
  Eigen::MatrixXd x_;
  Eigen::VectorXd theta_;
  Eigen::MatrixXd cholesky_;  // Lower factor of K + noise I.
  Eigen::VectorXd alpha_;     // (K + noise I)^-1 y.
};

// log h(z) with h(z) = z Phi(z) + phi(z): accurate for every z, including
// far below 0 where h(z) underflows.
double LogH(double z);

// log E[max(best - f, 0)] for f ~ N(mean, variance): expected improvement of a
// loss below `best`. REQUIRES: variance > 0.
double LogExpectedImprovement(double mean, double variance, double best);

}  // namespace gp
}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_GP_SAMPLER_H_
