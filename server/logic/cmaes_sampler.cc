#include "server/logic/cmaes_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "Eigen/Eigenvalues"
#include "server/logic/random.h"
#include "server/logic/unit_space.h"

namespace vernier {
namespace cmaes {

int DefaultPopulation(int dims) {
  return 4 + static_cast<int>(std::floor(3 * std::log(static_cast<double>(dims))));
}

Strategy::Strategy(const Eigen::VectorXd& mean, double sigma, int popsize)
    : dims_(static_cast<int>(mean.size())),
      popsize_(popsize),
      mu_(popsize / 2),
      mean_(mean),
      sigma_(sigma) {
  const double n = dims_;
  weights_.resize(mu_);
  for (int i = 0; i < mu_; ++i) weights_[i] = std::log((popsize_ + 1) / 2.0) - std::log(i + 1.0);
  weights_ /= weights_.sum();
  mu_eff_ = 1.0 / weights_.squaredNorm();
  c_sigma_ = (mu_eff_ + 2) / (n + mu_eff_ + 5);
  d_sigma_ = 1 + 2 * std::max(0.0, std::sqrt((mu_eff_ - 1) / (n + 1)) - 1) + c_sigma_;
  c_c_ = (4 + mu_eff_ / n) / (n + 4 + 2 * mu_eff_ / n);
  c_1_ = 2 / ((n + 1.3) * (n + 1.3) + mu_eff_);
  c_mu_ = std::min(1 - c_1_, 2 * (mu_eff_ - 2 + 1 / mu_eff_) / ((n + 2) * (n + 2) + mu_eff_));
  chi_n_ = std::sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
  c_ = Eigen::MatrixXd::Identity(dims_, dims_);
  b_ = Eigen::MatrixXd::Identity(dims_, dims_);
  d_ = Eigen::VectorXd::Ones(dims_);
  p_sigma_ = Eigen::VectorXd::Zero(dims_);
  p_c_ = Eigen::VectorXd::Zero(dims_);
}

Eigen::VectorXd Strategy::Ask(std::mt19937_64& gen) const {
  Eigen::VectorXd x(dims_);
  for (int attempt = 0; attempt < 100; ++attempt) {
    Eigen::VectorXd z(dims_);
    for (int d = 0; d < dims_; ++d) z[d] = StandardNormal(gen);
    x = mean_ + sigma_ * (b_ * d_.cwiseProduct(z));
    if ((x.array() >= 0).all() && (x.array() <= 1).all()) return x;
  }
  return x.cwiseMax(0.0).cwiseMin(1.0);
}

void Strategy::Tell(const std::vector<Eigen::VectorXd>& points, const std::vector<double>& losses) {
  std::vector<int> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return losses[a] < losses[b]; });
  last_loss_range_ = losses[order.back()] - losses[order.front()];

  // C^-1/2 = B D^-1 B^T.
  const Eigen::MatrixXd inv_sqrt_c = b_ * d_.cwiseInverse().asDiagonal() * b_.transpose();
  const double clip = std::sqrt(static_cast<double>(dims_)) + 2.0 * dims_ / (dims_ + 2.0);
  std::vector<Eigen::VectorXd> steps;
  for (int i = 0; i < mu_; ++i) {
    Eigen::VectorXd y = (points[order[i]] - mean_) / sigma_;
    const double length = (inv_sqrt_c * y).norm();
    if (length > clip) y *= clip / length;
    steps.push_back(std::move(y));
  }
  Eigen::VectorXd y_w = Eigen::VectorXd::Zero(dims_);
  for (int i = 0; i < mu_; ++i) y_w += weights_[i] * steps[i];

  mean_ += sigma_ * y_w;
  p_sigma_ = (1 - c_sigma_) * p_sigma_ +
             std::sqrt(c_sigma_ * (2 - c_sigma_) * mu_eff_) * (inv_sqrt_c * y_w);
  ++generation_;
  const double norm_ps = p_sigma_.norm();
  const double h_sigma_bound = (1.4 + 2 / (dims_ + 1.0)) * chi_n_;
  const bool h_sigma =
      norm_ps / std::sqrt(1 - std::pow(1 - c_sigma_, 2.0 * generation_)) < h_sigma_bound;
  p_c_ = (1 - c_c_) * p_c_ + (h_sigma ? std::sqrt(c_c_ * (2 - c_c_) * mu_eff_) : 0.0) * y_w;
  Eigen::MatrixXd rank_mu = Eigen::MatrixXd::Zero(dims_, dims_);
  for (int i = 0; i < mu_; ++i) rank_mu += weights_[i] * steps[i] * steps[i].transpose();
  const double old_weight = 1 - c_1_ - c_mu_ + (h_sigma ? 0.0 : c_1_ * c_c_ * (2 - c_c_));
  c_ = old_weight * c_ + c_1_ * p_c_ * p_c_.transpose() + c_mu_ * rank_mu;
  sigma_ *= std::exp(std::min(1.0, (c_sigma_ / d_sigma_) * (norm_ps / chi_n_ - 1)));
  Decompose();
}

void Strategy::Decompose() {
  c_ = 0.5 * (c_ + c_.transpose());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(c_);
  b_ = solver.eigenvectors();
  d_ = solver.eigenvalues().cwiseMax(1e-20).cwiseSqrt();
}

bool Strategy::Converged() const {
  const double spread = sigma_ * c_.diagonal().cwiseSqrt().maxCoeff();
  const double condition = (d_.maxCoeff() / d_.minCoeff());
  return spread < 1e-8 || last_loss_range_ < 1e-12 || condition * condition > 1e14;
}

}  // namespace cmaes

namespace {

bool SearchedByCmaes(const ParamSpec& param) {
  return param.type != ParamSpec::Type::kCategorical && !param.when;
}

std::optional<double> Loss(const TrialRecord& trial, const ObjectiveSpec& objective) {
  if (trial.state != TrialState::kComplete || !LearnsFrom(trial)) return std::nullopt;
  auto it = trial.final_metrics.find(objective.metric);
  if (it == trial.final_metrics.end() || !std::isfinite(it->second)) return std::nullopt;
  return objective.goal == Goal::kMinimize ? it->second : -it->second;
}

std::mt19937_64 Generator(uint64_t seed, uint64_t stream, uint32_t purpose) {
  return MakeGenerator(StreamSeed(seed).Number(stream).Word(purpose));
}

// The fallback for categorical and conditional parameters: TpeSampler's
// defaults, but univariate (the TPE default is multivariate since
// 2026-11-27; the fallback stays one estimator per parameter, as documented).
TpeSpec UnivariateTpe() {
  TpeSpec spec;
  spec.multivariate = false;
  return spec;
}

}  // namespace

CmaesSampler::CmaesSampler(const CmaesSpec& spec, uint64_t seed, const ObjectiveSpec& objective)
    : spec_(spec),
      seed_(seed),
      objective_(objective),
      fallback_(UnivariateTpe(), seed, objective) {}

// The state of the replay of the told trials: the search after the last
// full generation, and the generation being gathered.
struct CmaesSampler::Replay {
  cmaes::Strategy strategy;
  int restarts = 0;
  std::vector<Eigen::VectorXd> points;
  std::vector<double> losses;
};

CmaesSampler::Replay CmaesSampler::InitialReplay(int dims) const {
  const int popsize =
      spec_.popsize > 0 ? static_cast<int>(spec_.popsize) : cmaes::DefaultPopulation(dims);
  return Replay{cmaes::Strategy(Eigen::VectorXd::Constant(dims, 0.5), spec_.sigma0, popsize)};
}

bool CmaesSampler::Feed(const UnitSpace& unit, const TrialRecord& trial, Replay& replay) const {
  std::optional<double> loss = Loss(trial, objective_);
  if (!loss) return false;
  std::optional<Eigen::VectorXd> z = unit.Encode(trial.params);
  if (!z) return false;
  replay.points.push_back(*std::move(z));
  replay.losses.push_back(*loss);
  cmaes::Strategy& strategy = replay.strategy;
  if (static_cast<int>(replay.points.size()) < strategy.popsize()) return false;
  strategy.Tell(replay.points, replay.losses);
  replay.points.clear();
  replay.losses.clear();
  if (spec_.restarts && strategy.Converged()) {
    ++replay.restarts;
    std::mt19937_64 gen =
        Generator(seed_, static_cast<uint64_t>(replay.restarts), stream_tag::kCmaesRestart);
    const int dims = unit.dims();
    Eigen::VectorXd mean(dims);
    for (int d = 0; d < dims; ++d) mean[d] = Uniform01(gen);
    strategy = cmaes::Strategy(mean, spec_.sigma0, 2 * strategy.popsize());
  }
  return true;
}

ParamMap CmaesSampler::Draw(const SearchSpace& space, const UnitSpace& unit, const Replay& replay,
                            const ParamMap& fallback, int64_t trial_number) const {
  std::mt19937_64 gen =
      Generator(seed_, static_cast<uint64_t>(trial_number), stream_tag::kCmaesAsk);
  const Eigen::VectorXd z = replay.strategy.Ask(gen);
  ParamMap params;
  std::mt19937_64 uniform =
      Generator(seed_, static_cast<uint64_t>(trial_number), stream_tag::kCmaesFallback);
  for (const auto& axis : unit.axes()) params[axis.param->name] = UnitSpace::Decode(axis, z);
  for (const ParamSpec& param : space.params) {
    if (SearchedByCmaes(param) || !ConditionHolds(param, params)) continue;
    auto it = fallback.find(param.name);
    params[param.name] = it != fallback.end() ? it->second : SampleUniform(param, uniform);
  }
  return params;
}

namespace {

bool NeedsFallback(const SearchSpace& space) {
  return std::any_of(space.params.begin(), space.params.end(),
                     [](const ParamSpec& param) { return !SearchedByCmaes(param); });
}

}  // namespace

ParamMap CmaesSampler::Suggest(const SearchSpace& space,
                               absl::Span<const TrialRecord* const> history,
                               int64_t trial_number) const {
  const UnitSpace unit(space, &SearchedByCmaes);
  ParamMap fallback;
  if (NeedsFallback(space) || unit.dims() == 0) {
    fallback = fallback_.Suggest(space, history, trial_number);
  }
  if (unit.dims() == 0) return fallback;
  // Replay: COMPLETE trials by number, popsize at a time.
  std::vector<const TrialRecord*> trials(history.begin(), history.end());
  std::sort(trials.begin(), trials.end(),
            [](const TrialRecord* a, const TrialRecord* b) { return a->number < b->number; });
  Replay replay = InitialReplay(unit.dims());
  for (const TrialRecord* trial : trials) Feed(unit, *trial, replay);
  return Draw(space, unit, replay, fallback, trial_number);
}

// The replay after each told generation, with the number of the trial that
// completed it. The replay takes the COMPLETE trials in number order, so the
// state after the generation completed by trial L depends on trials up to L
// only: a change to trial k drops the kept states with L >= k.
class CmaesSampler::ReplayIndex : public HistoryIndex {
 public:
  explicit ReplayIndex(std::unique_ptr<HistoryIndex> fallback) : fallback_(std::move(fallback)) {}

  void Observe(const TrialRecord& trial) override {
    while (!kept_.empty() && kept_.back().last >= trial.number) kept_.pop_back();
    fallback_->Observe(trial);
  }

  // The TPE fallback's own index.
  const HistoryIndex& fallback() const { return *fallback_; }

  // The replay of every trial of `trials`, as CmaesSampler::Suggest makes it.
  // REQUIRES: trials[i].number == i; the same space at every call.
  Replay Replayed(const CmaesSampler& sampler, const UnitSpace& unit,
                  absl::Span<const TrialRecord> trials) const {
    Replay replay = kept_.empty() ? sampler.InitialReplay(unit.dims()) : kept_.back().replay;
    const int64_t first = kept_.empty() ? 0 : kept_.back().last + 1;
    for (int64_t n = first; n < static_cast<int64_t>(trials.size()); ++n) {
      if (sampler.Feed(unit, trials[static_cast<size_t>(n)], replay)) kept_.push_back({n, replay});
    }
    return replay;
  }

 private:
  struct Kept {
    int64_t last;  // The trial that completed the generation.
    Replay replay;
  };
  // Ascending by `last`. Filled by Replayed(), which the caller serialises
  // with Observe() (HistoryIndex's contract).
  mutable std::vector<Kept> kept_;
  const std::unique_ptr<HistoryIndex> fallback_;
};

std::unique_ptr<HistoryIndex> CmaesSampler::NewHistoryIndex() const {
  return std::make_unique<ReplayIndex>(fallback_.NewHistoryIndex());
}

ParamMap CmaesSampler::SuggestIndexed(const SearchSpace& space,
                                      absl::Span<const TrialRecord> trials,
                                      const HistoryIndex& index, int64_t trial_number) const {
  const auto& replay_index = dynamic_cast<const ReplayIndex&>(index);
  const UnitSpace unit(space, &SearchedByCmaes);
  ParamMap fallback;
  if (NeedsFallback(space) || unit.dims() == 0) {
    fallback = fallback_.SuggestIndexed(space, trials, replay_index.fallback(), trial_number);
  }
  if (unit.dims() == 0) return fallback;
  return Draw(space, unit, replay_index.Replayed(*this, unit, trials), fallback, trial_number);
}

}  // namespace vernier
