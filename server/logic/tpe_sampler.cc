#include "server/logic/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "server/logic/log_sum_exp.h"
#include "server/logic/random.h"

namespace vernier {
namespace {

constexpr int64_t kFullWeightLast = 25;  // Newest bad trials that keep full weight.
// Bad trials modelled at most: the newest ones. Older bad trials weigh little
// under Optuna's fading weights (the oldest ~1/n), and the cap keeps a
// suggestion's cost flat as a study grows past thousands of trials. A
// suggestion's cost is about proportional to the trials modelled, so a study
// of 1,000 trials pays on average about B - B^2/2000 of the cap B's full cost:
// with B = 1000 the 10,000th trial cost 2.1x the mean of the first 1,000 (CPU,
// bench/asktell coordinator-bench); with 500 it costs 1.35x, within issue 4's
// 1.5x. (Sphere, 4 floats, 2,000 trials, 6 seeds: the same best values.)
constexpr size_t kMaxBadTrials = 500;
constexpr double kMaxMagicClipDivisor = 100;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;

// ---- Random numbers -------------------------------------------------------
//
// The stream of (seed, trial number) with our own draws (server/logic/
// random.h), so a seed gives the same suggestions on every platform.
class Rng {
 public:
  Rng(uint64_t seed, int64_t trial_number)
      : gen_(MakeGenerator(StreamSeed(seed).Number(trial_number).Word(stream_tag::kTpe))) {}

  // Uniform in [0, 1).
  double Uniform() { return Uniform01(gen_); }

  // Standard normal (Box-Muller).
  double Normal() { return StandardNormal(gen_); }

  // An index drawn with probability proportional to `weights` (not all zero).
  size_t Pick(absl::Span<const double> weights) {
    double total = 0;
    for (double w : weights) total += w;
    double target = Uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      target -= weights[i];
      if (target < 0) return i;
    }
    return weights.size() - 1;
  }

 private:
  std::mt19937_64 gen_;
};

// ---- Normal distribution --------------------------------------------------

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double LogNormalPdf(double z) { return -0.5 * z * z - kLogSqrt2Pi; }

// log P(a <= Z <= b) for a standard normal Z and a < b, accurate in both tails.
double LogNormalMass(double a, double b) {
  // Beyond 8.5 standard deviations on both sides the two tails hold less
  // than 2e-17, so the mass rounds to exactly 1 and its log to 0: the same
  // bits without two erfc() calls (most kernels of a large history are such).
  constexpr double kWholeMass = 8.5;
  if (a <= -kWholeMass && b >= kWholeMass) return 0.0;
  const double mass = a > 0 ? NormalCdf(-a) - NormalCdf(-b) : NormalCdf(b) - NormalCdf(a);
  if (mass > 1e-280) return std::log(mass);
  // Far in a tail the difference underflows: use the density at the nearer end.
  const double nearer = std::min(std::abs(a), std::abs(b));
  return LogNormalPdf(nearer) + std::log(b - a);
}

// A standard normal conditioned on [a, b]. Kernels sit inside their range and
// are never wider than it (a <= 0 <= b, b - a >= 1), so rejection accepts at
// least a third of the draws; the uniform fallback is for safety only.
double SampleTruncatedNormal(double a, double b, Rng& rng) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    const double z = rng.Normal();
    if (z >= a && z <= b) return z;
  }
  return a + (b - a) * rng.Uniform();
}

// ---- Axes: a parameter in the coordinate its kernels live in --------------

// Numeric parameters are modelled on a coordinate u: the value itself, or its
// logarithm on a log scale. Categoricals use the index of the value.
struct Axis {
  enum class Kind {
    kContinuous,   // u = x or log x, any value in [lo, hi].
    kGrid,         // u = x on low + k * step, k in [0, points).
    kLogInt,       // u = log x for an integer x in [low, high].
    kCategorical,  // u = index into param->values.
  };

  const ParamSpec* param = nullptr;
  Kind kind = Kind::kContinuous;
  double lo = 0;  // Range of the kernels on u; grids are widened by half a cell.
  double hi = 0;
  double step = 0;     // kGrid.
  int64_t points = 0;  // kGrid: grid points; kCategorical: choices.

  double Width() const { return hi - lo; }
  // True when the parameter can take only one value.
  bool Fixed() const {
    return kind == Kind::kContinuous ? lo == hi
           : kind == Kind::kLogInt   ? param->low == param->high
                                     : points <= 1;
  }
};

Axis MakeAxis(const ParamSpec& param) {
  Axis axis;
  axis.param = &param;
  if (param.type == ParamSpec::Type::kCategorical) {
    axis.kind = Axis::Kind::kCategorical;
    axis.points = static_cast<int64_t>(param.values.size());
    return axis;
  }
  const bool is_int = param.type == ParamSpec::Type::kInt;
  if (param.log && is_int) {
    axis.kind = Axis::Kind::kLogInt;
    axis.lo = std::log(param.low - 0.5);
    axis.hi = std::log(param.high + 0.5);
  } else if (param.log || !param.step) {
    // A log-scale float ignores `step`, as RandomSampler does.
    axis.kind = Axis::Kind::kContinuous;
    axis.lo = param.log ? std::log(param.low) : param.low;
    axis.hi = param.log ? std::log(param.high) : param.high;
  } else {
    axis.kind = Axis::Kind::kGrid;
    axis.step = *param.step;
    axis.points = static_cast<int64_t>(std::floor((param.high - param.low) / axis.step + 1e-9)) + 1;
    axis.lo = param.low - 0.5 * axis.step;
    axis.hi = param.low + (static_cast<double>(axis.points) - 0.5) * axis.step;
  }
  return axis;
}

int64_t GridIndex(const Axis& axis, double u) {
  const auto k = static_cast<int64_t>(std::llround((u - axis.param->low) / axis.step));
  return std::clamp<int64_t>(k, 0, axis.points - 1);
}

int64_t NearestLogInt(const Axis& axis, double u) {
  return std::clamp<int64_t>(std::llround(std::exp(u)), static_cast<int64_t>(axis.param->low),
                             static_cast<int64_t>(axis.param->high));
}

// The representable coordinate nearest to `u`.
double Snap(const Axis& axis, double u) {
  switch (axis.kind) {
    case Axis::Kind::kContinuous:
      return std::clamp(u, axis.lo, axis.hi);
    case Axis::Kind::kGrid:
      return axis.param->low + static_cast<double>(GridIndex(axis, u)) * axis.step;
    case Axis::Kind::kLogInt:
      return std::log(static_cast<double>(NearestLogInt(axis, u)));
    case Axis::Kind::kCategorical:
      return static_cast<double>(std::clamp<int64_t>(std::llround(u), 0, axis.points - 1));
  }
  return u;
}

// The cell of u that a discrete value owns: [first, second].
std::pair<double, double> Cell(const Axis& axis, double u) {
  if (axis.kind == Axis::Kind::kLogInt) {
    const double x = std::round(std::exp(u));
    return {std::log(x - 0.5), std::log(x + 0.5)};
  }
  return {u - 0.5 * axis.step, u + 0.5 * axis.step};
}

std::optional<double> AsNumber(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::nullopt;
}

// The coordinate of a stored value; nullopt when the value no longer fits the
// parameter (a study file edited between runs, say), so it is not modelled.
std::optional<double> ToCoordinate(const Axis& axis, const ParamValue& value) {
  const ParamSpec& param = *axis.param;
  if (axis.kind == Axis::Kind::kCategorical) {
    for (size_t i = 0; i < param.values.size(); ++i) {
      if (ParamValueIn(value, {param.values[i]})) return static_cast<double>(i);
    }
    return std::nullopt;
  }
  std::optional<double> x = AsNumber(value);
  if (!x || !std::isfinite(*x)) return std::nullopt;
  const double slack = 1e-9 * std::max(1.0, std::abs(param.high - param.low));
  if (*x < param.low - slack || *x > param.high + slack) return std::nullopt;
  if (param.log) return Snap(axis, std::log(std::max(*x, param.low)));
  return Snap(axis, *x);
}

ParamValue ToValue(const Axis& axis, double u) {
  const ParamSpec& param = *axis.param;
  switch (axis.kind) {
    case Axis::Kind::kCategorical:
      return param.values[static_cast<size_t>(Snap(axis, u))];
    case Axis::Kind::kLogInt:
      return NearestLogInt(axis, u);
    case Axis::Kind::kGrid: {
      const int64_t k = GridIndex(axis, u);
      if (param.type == ParamSpec::Type::kInt) {
        return static_cast<int64_t>(param.low) + k * static_cast<int64_t>(axis.step);
      }
      return std::min(param.low + static_cast<double>(k) * axis.step, param.high);
    }
    case Axis::Kind::kContinuous: {
      const double x = param.log ? std::exp(Snap(axis, u)) : Snap(axis, u);
      if (param.type == ParamSpec::Type::kInt)
        return std::llround(std::clamp(x, param.low, param.high));
      return std::clamp(x, param.low, param.high);
    }
  }
  return param.low;
}

// The value of a parameter that can take only one.
ParamValue OnlyValue(const Axis& axis) {
  return axis.kind == Axis::Kind::kCategorical ? axis.param->values.front()
                                               : ToValue(axis, axis.lo);
}

// ---- Parzen estimators ----------------------------------------------------

// Optuna's default weights: equal below kFullWeightLast observations; beyond,
// the oldest fade linearly so that the estimator follows the search.
std::vector<double> ObservationWeights(size_t n) {
  std::vector<double> weights(n, 1.0);
  if (n <= static_cast<size_t>(kFullWeightLast)) return weights;
  const size_t ramp = n - kFullWeightLast;
  for (size_t i = 0; i < ramp; ++i) {
    weights[i] =
        ramp == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * static_cast<double>(i) / (ramp - 1);
  }
  return weights;
}

// One axis of a mixture: a kernel per component.
struct AxisKernels {
  Axis axis;
  std::vector<double> mu;        // Numeric kernels.
  std::vector<double> sigma;     //
  std::vector<double> log_mass;  // log of the kernel's mass on [lo, hi].
  // Continuous kernels' log density at u is log_norm - ((u - mu) * inv_sigma)^2 / 2.
  std::vector<double> inv_sigma;
  std::vector<double> log_norm;
  std::vector<std::vector<double>> probs;  // Categorical: per component, per choice.
};

// Univariate bandwidths (Optuna's rule): each kernel is as wide as the larger
// gap to its sorted neighbours, the outermost ones look inward only, and all
// are clipped to [width / min(100, 1 + kernels), width]. `mus` ends with the
// prior kernel.
std::vector<double> GapBandwidths(const Axis& axis, const std::vector<double>& mus) {
  const size_t n = mus.size();
  // (mu, index) pairs sorted: equal mus stay in index order, as a stable
  // sort of the indices would leave them, without its indirect compares.
  std::vector<std::pair<double, size_t>> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = {mus[i], i};
  std::sort(order.begin(), order.end());
  std::vector<double> sorted(n + 2);
  sorted.front() = axis.lo;
  sorted.back() = axis.hi;
  for (size_t i = 0; i < n; ++i) sorted[i + 1] = order[i].first;
  std::vector<double> sigma(n);
  for (size_t i = 0; i < n; ++i) {
    double gap = std::max(sorted[i + 1] - sorted[i], sorted[i + 2] - sorted[i + 1]);
    if (n >= 2 && i == 0) gap = sorted[2] - sorted[1];
    if (n >= 2 && i == n - 1) gap = sorted[n] - sorted[n - 1];
    sigma[order[i].second] = gap;
  }
  return sigma;
}

double StdDev(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += (v - mean) * (v - mean);
  return std::sqrt(sum / static_cast<double>(values.size() - 1));
}

AxisKernels NumericKernels(const Axis& axis, const std::vector<double>& observed,
                           std::optional<double> shared_sigma, const TpeTuning& tuning,
                           double gap_scale = 1.0) {
  AxisKernels kernels{axis};
  kernels.mu = observed;
  kernels.mu.push_back(0.5 * (axis.lo + axis.hi));  // The prior kernel.
  const size_t n = kernels.mu.size();
  kernels.sigma =
      shared_sigma ? std::vector<double>(n, *shared_sigma) : GapBandwidths(axis, kernels.mu);
  if (!shared_sigma) {
    for (double& s : kernels.sigma) s *= gap_scale;
  }
  const double min_sigma =
      std::max(axis.Width() / std::min(kMaxMagicClipDivisor, 1.0 + static_cast<double>(n)),
               tuning.min_bandwidth_factor * axis.Width());
  for (double& s : kernels.sigma) s = std::clamp(s, min_sigma, axis.Width());
  kernels.sigma.back() = axis.Width();
  for (size_t k = 0; k < n; ++k) {
    const double s = kernels.sigma[k];
    kernels.log_mass.push_back(
        LogNormalMass((axis.lo - kernels.mu[k]) / s, (axis.hi - kernels.mu[k]) / s));
    kernels.inv_sigma.push_back(1.0 / s);
    kernels.log_norm.push_back(-kLogSqrt2Pi - (tuning.peak_normalized_kernels ? 0.0 : std::log(s)) -
                               kernels.log_mass.back());
  }
  return kernels;
}

// Each observation is its own category plus prior_weight / kernels on every
// category; the prior kernel is uniform.
AxisKernels CategoricalKernels(const Axis& axis, const std::vector<double>& observed,
                               double prior_weight) {
  AxisKernels kernels{axis};
  const size_t n = observed.size() + 1;
  const double smoothing = prior_weight / static_cast<double>(n);
  for (size_t k = 0; k < n; ++k) {
    std::vector<double> probs(axis.points, smoothing);
    if (k < observed.size()) probs[static_cast<size_t>(observed[k])] += 1.0;
    double total = 0;
    for (double p : probs) total += p;
    for (double& p : probs) p /= total;
    kernels.probs.push_back(std::move(probs));
  }
  return kernels;
}

// log density of kernel `k` of one axis at coordinate `u`.
double KernelLogDensity(const AxisKernels& kernels, size_t k, double u) {
  const Axis& axis = kernels.axis;
  if (axis.kind == Axis::Kind::kCategorical) {
    return std::log(kernels.probs[k][static_cast<size_t>(u)]);
  }
  const double mu = kernels.mu[k];
  const double sigma = kernels.sigma[k];
  if (axis.kind == Axis::Kind::kContinuous) {
    const double z = (u - mu) * kernels.inv_sigma[k];
    return kernels.log_norm[k] - 0.5 * z * z;
  }
  // Discrete: the truncated kernel's probability mass on the value's cell.
  const auto [low, high] = Cell(axis, u);
  return LogNormalMass((low - mu) / sigma, (high - mu) / sigma) - kernels.log_mass[k];
}

// Adds kernel k's log density at `u` to terms[k], for every kernel. The
// loop over continuous kernels is a suggestion's innermost one, so it is
// written without branches, for the compiler to vectorise.
void AddKernelLogDensities(const AxisKernels& kernels, double u, std::vector<double>& terms) {
  if (kernels.axis.kind != Axis::Kind::kContinuous) {
    for (size_t k = 0; k < terms.size(); ++k) terms[k] += KernelLogDensity(kernels, k, u);
    return;
  }
  const double* mu = kernels.mu.data();
  const double* inv_sigma = kernels.inv_sigma.data();
  const double* log_norm = kernels.log_norm.data();
  double* out = terms.data();
  for (size_t k = 0; k < terms.size(); ++k) {
    const double z = (u - mu[k]) * inv_sigma[k];
    out[k] += log_norm[k] - 0.5 * z * z;
  }
}

double SampleKernel(const AxisKernels& kernels, size_t k, Rng& rng) {
  const Axis& axis = kernels.axis;
  if (axis.kind == Axis::Kind::kCategorical) {
    return static_cast<double>(rng.Pick(kernels.probs[k]));
  }
  const double mu = kernels.mu[k];
  const double sigma = kernels.sigma[k];
  const double z = SampleTruncatedNormal((axis.lo - mu) / sigma, (axis.hi - mu) / sigma, rng);
  return Snap(axis, mu + sigma * z);
}

// A product-kernel mixture over one or more axes: one component per observed
// trial plus a prior component, each a product of per-axis kernels.
class ParzenEstimator {
 public:
  // `observed[d][i]` is the coordinate on axes[d] of the i-th observation,
  // oldest first (one column per axis, as Observations returns them).
  // Multivariate bandwidths follow tuning.multivariate_bandwidth (Optuna
  // 3.1: one per axis, sigma0 * kernels^(-1 / (d + 4)) of the width).
  // `observation_weights`, when given, replaces ObservationWeights (one per
  // observation, oldest first).
  ParzenEstimator(const std::vector<Axis>& axes, const std::vector<std::vector<double>>& observed,
                  bool multivariate, const TpeTuning& tuning,
                  const std::vector<double>* observation_weights = nullptr) {
    std::vector<double> weights = observation_weights != nullptr
                                      ? *observation_weights
                                      : ObservationWeights(observed.front().size());
    weights.push_back(tuning.prior_weight);
    double total = 0;
    for (double w : weights) total += w;
    for (double w : weights) {
      weights_.push_back(w / total);
      log_weights_.push_back(std::log(w / total));
    }
    const double kernels = static_cast<double>(weights.size());
    for (size_t d = 0; d < axes.size(); ++d) {
      const std::vector<double>& column = observed[d];
      if (axes[d].kind == Axis::Kind::kCategorical) {
        dims_.push_back(CategoricalKernels(axes[d], column, tuning.prior_weight));
        continue;
      }
      std::optional<double> shared;
      const double scott = std::pow(kernels, -1.0 / (axes.size() + 4.0));
      double gap_scale = 1.0;
      if (multivariate) {
        switch (tuning.multivariate_bandwidth) {
          case TpeTuning::MultivariateBandwidth::kScaledRange:
            shared = tuning.multivariate_sigma0 * scott * axes[d].Width();
            break;
          case TpeTuning::MultivariateBandwidth::kNeighbourGap:
            if (tuning.gap_continuous_only && axes[d].kind != Axis::Kind::kContinuous) {
              shared = tuning.multivariate_sigma0 * scott * axes[d].Width();
            }
            gap_scale = tuning.gap_scale;
            break;
          case TpeTuning::MultivariateBandwidth::kScottOfData:
            shared = 1.06 * StdDev(column) * scott;
            break;
        }
      }
      dims_.push_back(NumericKernels(axes[d], column, shared, tuning, gap_scale));
    }
  }

  std::vector<double> Sample(Rng& rng) const {
    const size_t k = rng.Pick(weights_);
    std::vector<double> point;
    for (const AxisKernels& dim : dims_) point.push_back(SampleKernel(dim, k, rng));
    return point;
  }

  double LogDensity(const std::vector<double>& point) const {
    std::vector<double>& per_component = scratch_;
    per_component.assign(log_weights_.begin(), log_weights_.end());
    for (size_t d = 0; d < dims_.size(); ++d) {
      AddKernelLogDensities(dims_[d], point[d], per_component);
    }
    return LogSumExp(per_component, log_sum_exp_scratch_);
  }

 private:
  std::vector<double> weights_;
  std::vector<double> log_weights_;
  std::vector<AxisKernels> dims_;
  // LogDensity's per-component terms, kept to spare an allocation per call
  // (an estimator lives inside one suggestion: never shared).
  mutable std::vector<double> scratch_;
  mutable std::vector<double> log_sum_exp_scratch_;
};

// ---- Ranking the history --------------------------------------------------

// Lower ranks are better: (tier, then key within the tier).
struct Ranked {
  // 0 COMPLETE, 1 PRUNED with a value, 2 PRUNED without (key1 0) or
  // INFEASIBLE (key1 1), 3 pending.
  int tier = 0;
  double key1 = 0;
  double key2 = 0;
  const TrialRecord* trial = nullptr;

  bool operator<(const Ranked& other) const {
    return std::tie(tier, key1, key2, trial->number) <
           std::tie(other.tier, other.key1, other.key2, other.trial->number);
  }
};

// Ranks the trials that TPE learns from; nullopt for those it ignores.
std::optional<Ranked> Rank(const TrialRecord& trial, const ObjectiveSpec& objective,
                           bool constant_liar) {
  if (!LearnsFrom(trial)) return std::nullopt;
  const double sign = objective.goal == Goal::kMinimize ? 1.0 : -1.0;
  switch (trial.state) {
    case TrialState::kComplete: {
      auto value = trial.final_metrics.find(objective.metric);
      if (value == trial.final_metrics.end() || std::isnan(value->second)) return std::nullopt;
      return Ranked{0, sign * value->second, 0, &trial};
    }
    case TrialState::kPruned:
      for (auto it = trial.intermediate.rbegin(); it != trial.intermediate.rend(); ++it) {
        auto value = it->metrics.find(objective.metric);
        if (value == it->metrics.end() || std::isnan(value->second)) continue;
        return Ranked{1, -static_cast<double>(it->step), sign * value->second, &trial};
      }
      return Ranked{2, 0, 0, &trial};
    case TrialState::kRunning:
    case TrialState::kWaiting:
      if (constant_liar) return Ranked{3, 0, 0, &trial};
      return std::nullopt;
    case TrialState::kInfeasible:
      // Worse than every feasible trial, so TPE learns to avoid the region
      // (as Optuna's constrained TPE does); ordered after the PRUNED trials
      // without a value.
      return Ranked{2, 1, 0, &trial};
    case TrialState::kFailed:
      return std::nullopt;
  }
  return std::nullopt;
}

struct Split {
  std::vector<const TrialRecord*> good;  // Each ascending by trial number.
  std::vector<const TrialRecord*> bad;
  std::vector<int64_t> good_rank;  // good[i]'s place among the good trials, 0 the best.
};

// Fills `split` from the good trials in rank order (best first) and the bad ones.
void SetGood(std::vector<const TrialRecord*> good_by_rank, Split& split) {
  std::vector<std::pair<int64_t, int64_t>> number_rank;
  for (size_t r = 0; r < good_by_rank.size(); ++r) {
    number_rank.emplace_back(good_by_rank[r]->number, static_cast<int64_t>(r));
  }
  std::sort(number_rank.begin(), number_rank.end());
  for (const auto& [number, rank] : number_rank) {
    split.good.push_back(good_by_rank[static_cast<size_t>(rank)]);
    split.good_rank.push_back(rank);
  }
}

// How many of `ranked` modelled trials are good: the share is taken of the
// `finished` ones, as Optuna does (pending trials rank last, never good).
int64_t GoodCount(const TpeTuning& tuning, int64_t finished, int64_t ranked) {
  const double n = static_cast<double>(finished);
  const double share = tuning.gamma * (tuning.gamma_sqrt ? std::sqrt(n) : n);
  return std::min({static_cast<int64_t>(std::ceil(share)), tuning.max_good, ranked});
}

Split SplitGoodBad(const TpeTuning& tuning, std::vector<Ranked> ranked) {
  int64_t finished = 0;
  for (const Ranked& r : ranked) finished += r.tier < 3 ? 1 : 0;
  const auto n = static_cast<int64_t>(ranked.size());
  const int64_t n_good = GoodCount(tuning, finished, n);
  // Ranked's order is total (ties broken by trial number), so the split does
  // not depend on the order of `ranked`.
  std::nth_element(ranked.begin(), ranked.begin() + n_good, ranked.end());
  std::sort(ranked.begin(), ranked.begin() + n_good);
  Split split;
  std::vector<const TrialRecord*> good_by_rank;
  for (int64_t i = 0; i < n; ++i)
    (i < n_good ? good_by_rank : split.bad).push_back(ranked[i].trial);
  SetGood(std::move(good_by_rank), split);
  auto by_number = [](const TrialRecord* a, const TrialRecord* b) { return a->number < b->number; };
  std::sort(split.bad.begin(), split.bad.end(), by_number);
  if (split.bad.size() > kMaxBadTrials) {
    split.bad.erase(split.bad.begin(), split.bad.end() - kMaxBadTrials);
  }
  return split;
}

// ---- The incremental index ------------------------------------------------

// The trials TPE learns from, kept in rank order and in number order as they
// change, so that a suggestion takes the best few and the newest bad ones
// without ranking or sorting the whole history: O(log n) per change and
// O((good + kMaxBadTrials) log n) per suggestion. Gives the same split
// as SplitGoodBad over the same trials.
class TpeHistoryIndex : public HistoryIndex {
 public:
  TpeHistoryIndex(const ObjectiveSpec& objective, bool constant_liar)
      : objective_(objective), constant_liar_(constant_liar) {}

  void Observe(const TrialRecord& trial) override {
    if (trial.number < 0) return;  // Never a stored trial.
    const auto number = static_cast<size_t>(trial.number);
    if (number >= keys_.size()) keys_.resize(number + 1);
    std::optional<Key>& key = keys_[number];
    if (key) {
      by_rank_.erase(*key);
      by_number_.erase(trial.number);
      finished_ -= std::get<0>(*key) < 3 ? 1 : 0;
    }
    key.reset();
    const std::optional<Ranked> rank = Rank(trial, objective_, constant_liar_);
    if (!rank) return;
    key = Key{rank->tier, rank->key1, rank->key2, trial.number};
    by_rank_.insert(*key);
    by_number_.insert(trial.number);
    finished_ += rank->tier < 3 ? 1 : 0;
  }

  // Trials ranked COMPLETE, PRUNED or INFEASIBLE (not pending).
  int64_t finished() const { return finished_; }

  // True when this index ranks as a sampler with these settings would.
  bool SameRanking(const ObjectiveSpec& objective, bool constant_liar) const {
    return objective.metric == objective_.metric && objective.goal == objective_.goal &&
           constant_liar == constant_liar_;
  }

  // SplitGoodBad of the observed trials, as pointers into `trials`
  // (trials[i].number == i).
  Split SplitGoodBad(const TpeTuning& tuning, absl::Span<const TrialRecord> trials) const {
    const int64_t n_good = GoodCount(tuning, finished_, static_cast<int64_t>(by_rank_.size()));
    std::vector<int64_t> good;
    std::vector<const TrialRecord*> good_by_rank;
    for (auto it = by_rank_.begin(); static_cast<int64_t>(good.size()) < n_good; ++it) {
      good.push_back(std::get<3>(*it));
      good_by_rank.push_back(&trials[static_cast<size_t>(std::get<3>(*it))]);
    }
    std::sort(good.begin(), good.end());
    std::vector<int64_t> bad;
    for (auto it = by_number_.rbegin(); it != by_number_.rend() && bad.size() < kMaxBadTrials;
         ++it) {
      if (!std::binary_search(good.begin(), good.end(), *it)) bad.push_back(*it);
    }
    std::reverse(bad.begin(), bad.end());
    Split split;
    SetGood(std::move(good_by_rank), split);
    for (int64_t number : bad) split.bad.push_back(&trials[static_cast<size_t>(number)]);
    return split;
  }

 private:
  // Ranked's order: (tier, key1, key2, trial number).
  using Key = std::tuple<int, double, double, int64_t>;

  const ObjectiveSpec objective_;
  const bool constant_liar_;
  std::vector<std::optional<Key>> keys_;  // By trial number; nullopt: not modelled.
  std::set<Key> by_rank_;                 // Every modelled trial, best first.
  std::set<int64_t> by_number_;           // The same trials, by number.
  int64_t finished_ = 0;
};

// ---- Suggesting -----------------------------------------------------------

// The coordinates on `axes` of every trial that has all of them, one column
// per axis: columns[d][i] is the i-th such trial's on axes[d]. (Columns, so
// that hundreds of trials cost a few allocations, not one each.)
// REQUIRES: !axes.empty().
std::vector<std::vector<double>> Observations(const std::vector<Axis>& axes,
                                              absl::Span<const TrialRecord* const> trials,
                                              std::vector<size_t>* kept = nullptr) {
  std::vector<std::vector<double>> columns(axes.size());
  for (std::vector<double>& column : columns) column.reserve(trials.size());
  std::vector<double> row(axes.size());
  for (size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord* trial = trials[i];
    size_t d = 0;
    for (; d < axes.size(); ++d) {
      auto value = trial->params.find(axes[d].param->name);
      if (value == trial->params.end()) break;
      std::optional<double> u = ToCoordinate(axes[d], value->second);
      if (!u) break;
      row[d] = *u;
    }
    if (d < axes.size()) continue;
    for (d = 0; d < axes.size(); ++d) columns[d].push_back(row[d]);
    if (kept != nullptr) kept->push_back(i);
  }
  return columns;
}

// The draw from l that maximises l / g, as coordinates on `axes`.
std::vector<double> BestCandidate(const std::vector<Axis>& axes, const Split& split,
                                  bool multivariate, int64_t n_candidates, const TpeTuning& tuning,
                                  Rng& rng) {
  std::vector<size_t> kept;
  const std::vector<std::vector<double>> good_observed = Observations(axes, split.good, &kept);
  std::vector<double> good_weights = ObservationWeights(kept.size());
  if (tuning.rank_weights) {
    for (size_t i = 0; i < kept.size(); ++i) {
      good_weights[i] *=
          static_cast<double>(static_cast<int64_t>(split.good.size()) - split.good_rank[kept[i]]);
    }
  }
  const ParzenEstimator good(axes, good_observed, multivariate, tuning, &good_weights);
  const ParzenEstimator bad(axes, Observations(axes, split.bad), multivariate, tuning);
  std::vector<double> best;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n_candidates; ++i) {
    std::vector<double> candidate = good.Sample(rng);
    const double score = good.LogDensity(candidate) - bad.LogDensity(candidate);
    if (best.empty() || score > best_score) {
      best_score = score;
      best = std::move(candidate);
    }
  }
  return best;
}

// One suggestion learnt from `split` (past the startup trials).
ParamMap SuggestFromSplit(const TpeSpec& spec, uint64_t seed, const TpeTuning& tuning,
                          const SearchSpace& space, const Split& split, int64_t trial_number) {
  Rng rng(seed, trial_number);
  ParamMap params;
  if (spec.multivariate) {
    std::vector<Axis> joint;
    for (const ParamSpec& param : space.params) {
      Axis axis = MakeAxis(param);
      if (!param.when && !axis.Fixed()) joint.push_back(axis);
    }
    if (!joint.empty()) {
      std::vector<double> best =
          BestCandidate(joint, split, /*multivariate=*/true, spec.n_ei_candidates, tuning, rng);
      for (size_t d = 0; d < joint.size(); ++d) {
        params[joint[d].param->name] = ToValue(joint[d], best[d]);
      }
    }
  }
  for (const ParamSpec& param : space.params) {
    if (params.count(param.name) > 0 || !ConditionHolds(param, params)) continue;
    const Axis axis = MakeAxis(param);
    if (axis.Fixed()) {
      params[param.name] = OnlyValue(axis);
      continue;
    }
    std::vector<double> best =
        BestCandidate({axis}, split, /*multivariate=*/false, spec.n_ei_candidates, tuning, rng);
    params[param.name] = ToValue(axis, best.front());
  }
  return params;
}

}  // namespace

TpeTuning TpeTuning::Recommended(bool multivariate) {
  TpeTuning tuning;  // Optuna 3.1's.
  if (!multivariate) return tuning;
  // Chosen on seeds 0-59 of bench/samplers, confirmed on seeds 60-179.
  tuning.multivariate_bandwidth = MultivariateBandwidth::kNeighbourGap;
  tuning.gap_continuous_only = true;
  tuning.multivariate_sigma0 = 0.1;
  tuning.rank_weights = true;
  tuning.peak_normalized_kernels = false;
  tuning.gamma = 0.15;
  return tuning;
}

TpeSampler::TpeSampler(const TpeSpec& spec, uint64_t seed, const ObjectiveSpec& objective)
    : TpeSampler(spec, seed, objective, TpeTuning::Recommended(spec.multivariate)) {}

TpeSampler::TpeSampler(const TpeSpec& spec, uint64_t seed, const ObjectiveSpec& objective,
                       const TpeTuning& tuning)
    : spec_(spec), seed_(seed), objective_(objective), tuning_(tuning), startup_(seed) {}

ParamMap TpeSampler::Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                             int64_t trial_number) const {
  std::vector<Ranked> ranked;
  int64_t finished = 0;
  for (const TrialRecord* trial : history) {
    std::optional<Ranked> rank = Rank(*trial, objective_, spec_.constant_liar);
    if (!rank) continue;
    finished += rank->tier < 3 ? 1 : 0;
    ranked.push_back(*rank);
  }
  if (finished < spec_.n_startup_trials) return startup_.Suggest(space, history, trial_number);
  return SuggestFromSplit(spec_, seed_, tuning_, space, SplitGoodBad(tuning_, std::move(ranked)),
                          trial_number);
}

namespace {

TpeSampler::Modelled Numbers(const Split& split) {
  TpeSampler::Modelled modelled;
  for (const TrialRecord* trial : split.good) modelled.good.push_back(trial->number);
  for (const TrialRecord* trial : split.bad) modelled.bad.push_back(trial->number);
  return modelled;
}

}  // namespace

TpeSampler::Modelled TpeSampler::ModelledTrials(
    absl::Span<const TrialRecord* const> history) const {
  std::vector<Ranked> ranked;
  for (const TrialRecord* trial : history) {
    std::optional<Ranked> rank = Rank(*trial, objective_, spec_.constant_liar);
    if (rank) ranked.push_back(*rank);
  }
  return Numbers(SplitGoodBad(tuning_, std::move(ranked)));
}

TpeSampler::Modelled TpeSampler::ModelledTrials(absl::Span<const TrialRecord> trials,
                                                const HistoryIndex& index) const {
  return Numbers(dynamic_cast<const TpeHistoryIndex&>(index).SplitGoodBad(tuning_, trials));
}

std::unique_ptr<HistoryIndex> TpeSampler::NewHistoryIndex() const {
  return std::make_unique<TpeHistoryIndex>(objective_, spec_.constant_liar);
}

ParamMap TpeSampler::SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                                    const HistoryIndex& index, int64_t trial_number) const {
  const auto* tpe_index = dynamic_cast<const TpeHistoryIndex*>(&index);
  if (tpe_index == nullptr || !tpe_index->SameRanking(objective_, spec_.constant_liar)) {
    return Sampler::SuggestIndexed(space, trials, index, trial_number);  // Not ours: scan.
  }
  if (tpe_index->finished() < spec_.n_startup_trials) {
    return startup_.Suggest(space, {}, trial_number);  // RandomSampler reads no history.
  }
  return SuggestFromSplit(spec_, seed_, tuning_, space, tpe_index->SplitGoodBad(tuning_, trials),
                          trial_number);
}

}  // namespace vernier
