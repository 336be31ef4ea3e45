#include "server/logic/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "Eigen/Cholesky"
#include "Eigen/Core"
#include "server/logic/random.h"
#include "server/logic/sobol_sampler.h"
#include "server/logic/unit_space.h"

namespace vernier {
namespace gp {
namespace {

constexpr double kSqrt5 = 2.23606797749978969641;
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kPi = 3.14159265358979323846;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Priors and bounds of the hyperparameters, in log space. Inputs live in the
// unit cube and outputs are standardised, so fixed scales make sense. The
// length-scale prior grows with the dimension (Hvarfner et al. 2024).
constexpr double kLengthScalePriorSd = 1.7320508075688772;  // sqrt(3)
constexpr double kLogLengthScaleMin = -4.6;                 // ~0.01
constexpr double kLogLengthScaleMax = 4.6;                  // ~100
constexpr double kSignalPriorMean = 0.0;
constexpr double kSignalPriorSd = 1.0;
constexpr double kLogSignalMin = -4.6;
constexpr double kLogSignalMax = 4.6;
constexpr double kNoisePriorMean = -6.0;
constexpr double kNoisePriorSd = 2.0;
constexpr double kLogNoiseMin = -13.8;  // ~1e-6
constexpr double kLogNoiseMax = 0.0;
constexpr double kJitter = 1e-9;

double LengthScalePriorMean(int dims) { return kSqrt2 + 0.5 * std::log(dims); }

// L-BFGS with a backtracking Armijo line search, projected onto the box
// [lo, hi]. Returns the best point found; `value` receives its value.
Eigen::VectorXd MinimizeLbfgs(
    const std::function<double(const Eigen::VectorXd&, Eigen::VectorXd*)>& f, Eigen::VectorXd x,
    const Eigen::VectorXd& lo, const Eigen::VectorXd& hi, int max_iterations, double& value) {
  constexpr int kMemory = 8;
  const int n = static_cast<int>(x.size());
  x = x.cwiseMax(lo).cwiseMin(hi);
  Eigen::VectorXd g(n);
  double fx = f(x, &g);
  std::vector<Eigen::VectorXd> s_hist, y_hist;
  std::vector<double> rho_hist;
  for (int it = 0; it < max_iterations && std::isfinite(fx); ++it) {
    // Two-loop recursion: d = -H g.
    Eigen::VectorXd q = g;
    std::vector<double> a(s_hist.size());
    for (int i = static_cast<int>(s_hist.size()) - 1; i >= 0; --i) {
      a[i] = rho_hist[i] * s_hist[i].dot(q);
      q -= a[i] * y_hist[i];
    }
    if (!s_hist.empty()) q *= s_hist.back().dot(y_hist.back()) / y_hist.back().squaredNorm();
    for (size_t i = 0; i < s_hist.size(); ++i) {
      const double b = rho_hist[i] * y_hist[i].dot(q);
      q += (a[i] - b) * s_hist[i];
    }
    Eigen::VectorXd d = -q;
    if (g.dot(d) >= 0 || !d.allFinite()) {
      d = -g;
      s_hist.clear();
      y_hist.clear();
      rho_hist.clear();
    }
    double step =
        s_hist.empty() ? std::min(1.0, 1.0 / std::max(1e-12, g.lpNorm<Eigen::Infinity>())) : 1.0;
    bool accepted = false;
    Eigen::VectorXd x_new, g_new(n);
    double f_new = kInf;
    for (int tries = 0; tries < 30; ++tries) {
      x_new = (x + step * d).cwiseMax(lo).cwiseMin(hi);
      f_new = f(x_new, &g_new);
      if (std::isfinite(f_new) && f_new <= fx + 1e-4 * g.dot(x_new - x)) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    const Eigen::VectorXd s = x_new - x;
    const Eigen::VectorXd yv = g_new - g;
    const double improvement = fx - f_new;
    x = x_new;
    g = g_new;
    fx = f_new;
    if (s.dot(yv) > 1e-12) {
      s_hist.push_back(s);
      y_hist.push_back(yv);
      rho_hist.push_back(1.0 / s.dot(yv));
      if (static_cast<int>(s_hist.size()) > kMemory) {
        s_hist.erase(s_hist.begin());
        y_hist.erase(y_hist.begin());
        rho_hist.erase(rho_hist.begin());
      }
    }
    if (improvement < 1e-9 * std::max(1.0, std::abs(fx)) || s.lpNorm<Eigen::Infinity>() < 1e-9) {
      break;
    }
  }
  value = fx;
  return x;
}

// Kernel matrix (signal part) and the per-pair factor of its length-scale
// derivatives: K_ij = s2 (1 + sqrt5 r + 5/3 r^2) e^{-sqrt5 r} and
// dK_ij / d log l_d = D_ij (x_id - x_jd)^2 / l_d^2 with
// D_ij = 5/3 s2 (1 + sqrt5 r) e^{-sqrt5 r}.
void KernelMatrix(const Eigen::MatrixXd& x, const Eigen::VectorXd& theta, Eigen::MatrixXd& k,
                  Eigen::MatrixXd* d_factor) {
  const int n = static_cast<int>(x.rows());
  const int dims = static_cast<int>(x.cols());
  const Eigen::VectorXd inv_ls = (-theta.head(dims)).array().exp();
  const double s2 = std::exp(theta[dims]);
  const Eigen::MatrixXd scaled = x * inv_ls.asDiagonal();
  k.resize(n, n);
  if (d_factor) d_factor->resize(n, n);
  for (int i = 0; i < n; ++i) {
    k(i, i) = s2;
    if (d_factor) (*d_factor)(i, i) = 5.0 / 3.0 * s2;
    for (int j = 0; j < i; ++j) {
      const double r = (scaled.row(i) - scaled.row(j)).norm();
      const double e = std::exp(-kSqrt5 * r);
      k(i, j) = k(j, i) = s2 * (1 + kSqrt5 * r + 5.0 / 3.0 * r * r) * e;
      if (d_factor) (*d_factor)(i, j) = (*d_factor)(j, i) = 5.0 / 3.0 * s2 * (1 + kSqrt5 * r) * e;
    }
  }
}

double NormalCdf(double z) { return 0.5 * std::erfc(-z / kSqrt2); }

// exp(x^2) erfc(x) for x >= 0.
double Erfcx(double x) {
  if (x < 25) return std::exp(x * x) * std::erfc(x);
  // Asymptotic series; at x >= 25 the omitted terms are below 1e-20.
  const double inv = 1.0 / (2 * x * x);
  double term = 1, sum = 1;
  for (int k = 1; k <= 6; ++k) {
    term *= -(2 * k - 1) * inv;
    sum += term;
  }
  return sum / (x * std::sqrt(kPi));
}

uint64_t Mix(uint64_t a, uint64_t b) {
  return MakeGenerator(StreamSeed(a).Number(b).Word(stream_tag::kGp))();
}

}  // namespace

double Matern52(const Eigen::VectorXd& a, const Eigen::VectorXd& b, const Eigen::VectorXd& theta) {
  const int dims = static_cast<int>(a.size());
  const double r = ((a - b).array() * (-theta.head(dims)).array().exp()).matrix().norm();
  return std::exp(theta[dims]) * (1 + kSqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-kSqrt5 * r);
}

double NegLogMarginalLikelihood(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                const Eigen::VectorXd& theta, bool with_prior,
                                Eigen::VectorXd* gradient) {
  const int n = static_cast<int>(x.rows());
  const int dims = static_cast<int>(x.cols());
  const double noise = std::exp(theta[dims + 1]);
  Eigen::MatrixXd k, d_factor;
  KernelMatrix(x, theta, k, gradient ? &d_factor : nullptr);
  Eigen::MatrixXd k_noisy = k;
  k_noisy.diagonal().array() += noise + kJitter;
  Eigen::LLT<Eigen::MatrixXd> llt(k_noisy);
  if (llt.info() != Eigen::Success) return kInf;
  const Eigen::VectorXd alpha = llt.solve(y);
  const Eigen::MatrixXd& l = llt.matrixLLT();
  double value = 0.5 * y.dot(alpha) + l.diagonal().array().log().sum() + n * kLogSqrt2Pi;
  if (gradient) {
    // d value / d theta_j = 0.5 tr(W dK/d theta_j), W = K^-1 - alpha alpha^T.
    // K^-1 = L^-T L^-1, with L^-1 from one triangular solve.
    const Eigen::MatrixXd l_inv = llt.matrixL().solve(Eigen::MatrixXd::Identity(n, n));
    Eigen::MatrixXd w = Eigen::MatrixXd::Zero(n, n);
    w.selfadjointView<Eigen::Lower>().rankUpdate(l_inv.transpose());
    w.triangularView<Eigen::StrictlyUpper>() = w.transpose();
    w.noalias() -= alpha * alpha.transpose();
    gradient->setZero(NumHyperparameters(dims));
    const Eigen::MatrixXd wd = w.cwiseProduct(d_factor);
    const Eigen::VectorXd inv_ls2 = (-2 * theta.head(dims)).array().exp();
    for (int d = 0; d < dims; ++d) {
      double sum = 0;
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < i; ++j) {
          const double diff = x(i, d) - x(j, d);
          sum += wd(i, j) * diff * diff;
        }
      }
      (*gradient)[d] = sum * inv_ls2[d];  // 0.5 * 2 (both triangles).
    }
    (*gradient)[dims] = 0.5 * w.cwiseProduct(k).sum();
    (*gradient)[dims + 1] = 0.5 * noise * w.trace();
  }
  if (with_prior) {
    const double mu_l = LengthScalePriorMean(dims);
    const double var_l = kLengthScalePriorSd * kLengthScalePriorSd;
    for (int d = 0; d < dims; ++d) {
      const double dev = theta[d] - mu_l;
      value += 0.5 * dev * dev / var_l;
      if (gradient) (*gradient)[d] += dev / var_l;
    }
    const double dev_s = theta[dims] - kSignalPriorMean;
    value += 0.5 * dev_s * dev_s / (kSignalPriorSd * kSignalPriorSd);
    const double dev_n = theta[dims + 1] - kNoisePriorMean;
    value += 0.5 * dev_n * dev_n / (kNoisePriorSd * kNoisePriorSd);
    if (gradient) {
      (*gradient)[dims] += dev_s / (kSignalPriorSd * kSignalPriorSd);
      (*gradient)[dims + 1] += dev_n / (kNoisePriorSd * kNoisePriorSd);
    }
  }
  return value;
}

Eigen::VectorXd FitHyperparameters(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                   uint64_t seed) {
  constexpr int kGuesses = 8;
  constexpr int kIterations = 30;
  const int dims = static_cast<int>(x.cols());
  const int p = NumHyperparameters(dims);
  Eigen::VectorXd lo(p), hi(p);
  lo.head(dims).setConstant(kLogLengthScaleMin);
  hi.head(dims).setConstant(kLogLengthScaleMax);
  lo[dims] = kLogSignalMin;
  hi[dims] = kLogSignalMax;
  lo[dims + 1] = kLogNoiseMin;
  hi[dims + 1] = kLogNoiseMax;
  // Guesses: the prior's centre (length scales a little shorter, as the
  // data usually wants), then seeded draws around it.
  std::mt19937_64 gen(seed);
  Eigen::VectorXd best_guess;
  double best_value = kInf;
  for (int guess = 0; guess < kGuesses; ++guess) {
    Eigen::VectorXd theta(p);
    for (int d = 0; d < dims; ++d) {
      theta[d] = guess == 0 ? std::log(0.5 * std::sqrt(static_cast<double>(dims)))
                            : std::log(0.1) + Uniform01(gen) * (std::log(5.0) - std::log(0.1)) +
                                  0.5 * std::log(static_cast<double>(dims));
    }
    theta[dims] = guess == 0 ? 0.0 : StandardNormal(gen) * 0.5;
    theta[dims + 1] = guess == 0 ? -8.0 : -10.0 + 6 * Uniform01(gen);
    theta = theta.cwiseMax(lo).cwiseMin(hi);
    const double value = NegLogMarginalLikelihood(x, y, theta, /*with_prior=*/true, nullptr);
    if (value < best_value || best_guess.size() == 0) {
      best_value = value;
      best_guess = theta;
    }
  }
  double value = 0;
  return MinimizeLbfgs(
      [&](const Eigen::VectorXd& theta, Eigen::VectorXd* grad) {
        return NegLogMarginalLikelihood(x, y, theta, /*with_prior=*/true, grad);
      },
      best_guess, lo, hi, kIterations, value);
}

Posterior::Posterior(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                     const Eigen::VectorXd& theta)
    : x_(x), theta_(theta) {
  const int dims = static_cast<int>(x.cols());
  Eigen::MatrixXd k;
  KernelMatrix(x, theta, k, nullptr);
  k.diagonal().array() += std::exp(theta[dims + 1]) + kJitter;
  Eigen::LLT<Eigen::MatrixXd> llt(k);
  // More jitter until it factors; the fitted noise keeps this rare.
  for (double extra = 1e-8; llt.info() != Eigen::Success && extra < 1; extra *= 10) {
    k.diagonal().array() += extra;
    llt.compute(k);
  }
  cholesky_ = llt.matrixL();
  alpha_ = llt.solve(y);
}

void Posterior::Predict(const Eigen::VectorXd& point, double& mean, double& variance) const {
  const int n = static_cast<int>(x_.rows());
  const int dims = static_cast<int>(x_.cols());
  const Eigen::ArrayXd inv_ls = (-theta_.head(dims)).array().exp();
  const double s2 = std::exp(theta_[dims]);
  Eigen::VectorXd k_star(n);
  for (int i = 0; i < n; ++i) {
    const double r = ((x_.row(i).transpose() - point).array() * inv_ls).matrix().norm();
    k_star[i] = s2 * (1 + kSqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-kSqrt5 * r);
  }
  mean = k_star.dot(alpha_);
  const Eigen::VectorXd v = cholesky_.triangularView<Eigen::Lower>().solve(k_star);
  variance = std::max(s2 - v.squaredNorm(), 1e-12 * s2);
}

double LogH(double z) {
  if (z > -1) {
    return std::log(z * NormalCdf(z) + std::exp(-0.5 * z * z - kLogSqrt2Pi));
  }
  const double log_phi = -0.5 * z * z - kLogSqrt2Pi;
  if (z > -1e3) {
    // h(z) = phi(z) (1 + z Phi(z) / phi(z)) and Phi(z) / phi(z) =
    // sqrt(pi / 2) erfcx(-z / sqrt 2): no underflow, mild cancellation.
    return log_phi + std::log1p(z * std::sqrt(kPi / 2) * Erfcx(-z / kSqrt2));
  }
  // h(z) ~ phi(z) / z^2 (1 - 3 / z^2); the rest is below double precision.
  return log_phi - 2 * std::log(-z) + std::log1p(-3 / (z * z));
}

double LogExpectedImprovement(double mean, double variance, double best) {
  const double sigma = std::sqrt(variance);
  return std::log(sigma) + LogH((best - mean) / sigma);
}

}  // namespace gp

namespace {

bool HasSobolRoom(const SearchSpace& space) {
  return space.params.size() <= static_cast<size_t>(kSobolMaxDimensions);
}

// The objective value of a COMPLETE trial as a loss (lower is better).
std::optional<double> Loss(const TrialRecord& trial, const ObjectiveSpec& objective) {
  if (trial.state != TrialState::kComplete) return std::nullopt;
  auto it = trial.final_metrics.find(objective.metric);
  if (it == trial.final_metrics.end() || !std::isfinite(it->second)) return std::nullopt;
  return objective.goal == Goal::kMinimize ? it->second : -it->second;
}

struct Observation {
  int64_t number;
  Eigen::VectorXd z;
  double loss;
};

// Keeps at most `limit`: the best half, then the newest of the rest.
std::vector<Observation> Thin(std::vector<Observation> obs, size_t limit) {
  if (obs.size() <= limit) return obs;
  std::sort(obs.begin(), obs.end(), [](const Observation& a, const Observation& b) {
    return std::tie(a.loss, a.number) < std::tie(b.loss, b.number);
  });
  std::vector<Observation> kept(obs.begin(), obs.begin() + limit / 2);
  std::vector<Observation> rest(obs.begin() + limit / 2, obs.end());
  std::sort(rest.begin(), rest.end(),
            [](const Observation& a, const Observation& b) { return a.number > b.number; });
  kept.insert(kept.end(), rest.begin(), rest.begin() + (limit - limit / 2));
  std::sort(kept.begin(), kept.end(),
            [](const Observation& a, const Observation& b) { return a.number < b.number; });
  return kept;
}

// Replaces losses by log(loss - min + (median - min)): a monotone map that
// spreads the good values and squeezes a long tail of bad ones (Rosenbrock's
// values span four orders of magnitude), so a stationary GP fits them better.
// The offset keeps the best values from running off to -infinity; it is at
// least 1/1000 of the range, for studies where most values tie with the best.
void WarpLosses(Eigen::VectorXd& y) {
  const double lo = y.minCoeff(), hi = y.maxCoeff();
  if (!(hi > lo)) return;
  std::vector<double> sorted(y.data(), y.data() + y.size());
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double offset = std::max(median - lo, 1e-3 * (hi - lo));
  y = (y.array() - lo + offset).log();
}

Eigen::MatrixXd Rows(const std::vector<Eigen::VectorXd>& points, int dims) {
  Eigen::MatrixXd x(points.size(), dims);
  for (size_t i = 0; i < points.size(); ++i) x.row(i) = points[i].transpose();
  return x;
}

// Maximises `score` over representable points of `unit`.
class AcquisitionSearch {
 public:
  AcquisitionSearch(const UnitSpace& unit, const gp::Posterior& posterior, double best,
                    uint64_t seed)
      : unit_(unit), posterior_(posterior), best_(best), gen_(seed) {}

  double Score(const Eigen::VectorXd& z) const {
    double mean = 0, variance = 0;
    posterior_.Predict(z, mean, variance);
    return gp::LogExpectedImprovement(mean, variance, best_);
  }

  Eigen::VectorXd Run(const std::vector<Eigen::VectorXd>& incumbents) {
    constexpr int kRandom = 1000;
    constexpr int kPerIncumbent = 40;
    constexpr int kStarts = 4;
    constexpr int kLocalSteps = 60;
    const int dims = unit_.dims();
    std::vector<std::pair<double, Eigen::VectorXd>> pool;
    auto add = [&](const Eigen::VectorXd& raw) {
      Eigen::VectorXd z = unit_.Canonical(raw.cwiseMax(0.0).cwiseMin(1.0));
      const double s = Score(z);
      pool.emplace_back(s, std::move(z));
    };
    for (int i = 0; i < kRandom; ++i) {
      Eigen::VectorXd z(dims);
      for (int d = 0; d < dims; ++d) z[d] = Uniform01(gen_);
      add(z);
    }
    for (const Eigen::VectorXd& base : incumbents) {
      for (int i = 0; i < kPerIncumbent; ++i) {
        const double scale = i < kPerIncumbent / 2 ? 0.02 : 0.1;
        Eigen::VectorXd z = base;
        for (int d = 0; d < dims; ++d) z[d] += scale * StandardNormal(gen_);
        add(z);
      }
    }
    std::stable_sort(pool.begin(), pool.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    Eigen::VectorXd best = pool.front().second;
    double best_score = pool.front().first;
    for (int s = 0; s < kStarts && s < static_cast<int>(pool.size()); ++s) {
      Eigen::VectorXd z = pool[s].second;
      double score = pool[s].first;
      double step = 0.05;
      for (int it = 0; it < kLocalSteps && step > 1e-4; ++it) {
        Eigen::VectorXd trial = z;
        for (int d = 0; d < dims; ++d) trial[d] += step * StandardNormal(gen_);
        trial = unit_.Canonical(trial.cwiseMax(0.0).cwiseMin(1.0));
        const double trial_score = Score(trial);
        if (trial_score > score) {
          z = std::move(trial);
          score = trial_score;
          step *= 1.5;
        } else {
          step *= 0.85;
        }
      }
      if (score > best_score) {
        best_score = score;
        best = z;
      }
    }
    return best;
  }

 private:
  const UnitSpace& unit_;
  const gp::Posterior& posterior_;
  const double best_;
  std::mt19937_64 gen_;
};

}  // namespace

GpSampler::GpSampler(const GpSpec& spec, uint64_t seed, const ObjectiveSpec& objective)
    : spec_(spec),
      seed_(seed),
      objective_(objective),
      startup_random_(std::make_unique<RandomSampler>(seed)),
      startup_sobol_(std::make_unique<SobolSampler>(seed)) {}

// What a suggestion reads from the history: the observations and the points
// of pending, pruned and infeasible trials, in the unit cube.
struct GpSampler::Gathered {
  std::vector<Observation> observed;
  std::vector<Eigen::VectorXd> pending;
  std::vector<Eigen::VectorXd> worst_of_all;
};

GpSampler::Gathered GpSampler::Gather(const SearchSpace& space,
                                      absl::Span<const TrialRecord* const> history) const {
  const UnitSpace unit(space);
  std::vector<const TrialRecord*> trials(history.begin(), history.end());
  std::sort(trials.begin(), trials.end(),
            [](const TrialRecord* a, const TrialRecord* b) { return a->number < b->number; });
  Gathered data;
  // Pruned and infeasible trials have no usable loss; they count as the
  // worst observed one, so the model learns to avoid their region.
  for (const TrialRecord* trial : trials) {
    if (trial->params.empty() || !LearnsFrom(*trial)) continue;
    std::optional<Eigen::VectorXd> z = unit.Encode(trial->params);
    if (!z) continue;
    if (std::optional<double> loss = Loss(*trial, objective_)) {
      data.observed.push_back({trial->number, *std::move(z), *loss});
    } else if (trial->state == TrialState::kRunning || trial->state == TrialState::kWaiting) {
      data.pending.push_back(*std::move(z));
    } else if (trial->state == TrialState::kPruned || trial->state == TrialState::kInfeasible) {
      data.worst_of_all.push_back(*std::move(z));
    }
  }
  return data;
}

bool GpSampler::ModelReady(const SearchSpace& space, const Gathered& data) const {
  return static_cast<int64_t>(data.observed.size()) >= spec_.n_startup_trials &&
         UnitSpace(space).dims() > 0;
}

ParamMap GpSampler::Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                            int64_t trial_number) const {
  Gathered data = Gather(space, history);
  if (!ModelReady(space, data)) return Startup(space).Suggest(space, history, trial_number);
  return Propose(space, std::move(data), trial_number);
}

Sampler::PreparedSuggestion GpSampler::PrepareSuggestion(const SearchSpace& space,
                                                         absl::Span<const TrialRecord> trials,
                                                         const HistoryIndex* /*index*/,
                                                         int64_t trial_number) const {
  std::vector<const TrialRecord*> history;
  history.reserve(trials.size());
  for (const TrialRecord& trial : trials) history.push_back(&trial);
  auto data = std::make_shared<Gathered>(Gather(space, history));
  if (!ModelReady(space, *data)) {
    ParamMap params = Startup(space).Suggest(space, history, trial_number);
    return [params = std::move(params)] { return params; };
  }
  // The model fit runs in the returned function, on the copied points only.
  return [this, &space, data, trial_number] { return Propose(space, *data, trial_number); };
}

const Sampler& GpSampler::Startup(const SearchSpace& space) const {
  return HasSobolRoom(space) ? *startup_sobol_ : *startup_random_;
}

ParamMap GpSampler::Propose(const SearchSpace& space, Gathered data, int64_t trial_number) const {
  const UnitSpace unit(space);
  std::vector<Observation> observed = Thin(std::move(data.observed), kMaxObservations);
  const std::vector<Eigen::VectorXd>& pending = data.pending;
  const std::vector<Eigen::VectorXd>& worst_of_all = data.worst_of_all;
  // Standardised losses.
  const int n = static_cast<int>(observed.size());
  Eigen::VectorXd y(n);
  std::vector<Eigen::VectorXd> points;
  for (int i = 0; i < n; ++i) {
    y[i] = observed[i].loss;
    points.push_back(observed[i].z);
  }
  WarpLosses(y);
  const double mean = y.mean();
  double sd = std::sqrt((y.array() - mean).square().sum() / n);
  if (!(sd > 1e-12)) sd = 1;
  y = (y.array() - mean) / sd;

  const uint64_t stream = gp::Mix(seed_, static_cast<uint64_t>(trial_number));
  const Eigen::MatrixXd x = Rows(points, unit.dims());
  const Eigen::VectorXd theta = gp::FitHyperparameters(x, y, stream);

  // Kriging believer for pending trials, the worst loss for pruned and
  // infeasible ones.
  double best = y.minCoeff();
  const double worst = y.maxCoeff();
  std::vector<double> values(y.data(), y.data() + n);
  if (!pending.empty() || !worst_of_all.empty()) {
    const gp::Posterior base(x, y, theta);
    for (const Eigen::VectorXd& z : pending) {
      double m = 0, v = 0;
      base.Predict(z, m, v);
      points.push_back(z);
      values.push_back(m);
      best = std::min(best, m);
    }
    for (const Eigen::VectorXd& z : worst_of_all) {
      points.push_back(z);
      values.push_back(worst);
    }
  }
  const Eigen::VectorXd all_y = Eigen::Map<const Eigen::VectorXd>(values.data(), values.size());
  const gp::Posterior posterior(Rows(points, unit.dims()), all_y, theta);

  // Start local searches from the best few observations too.
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return y[a] < y[b]; });
  std::vector<Eigen::VectorXd> incumbents;
  for (int i = 0; i < std::min(n, 5); ++i) incumbents.push_back(observed[order[i]].z);

  AcquisitionSearch search(unit, posterior, best, stream ^ 0x9e3779b97f4a7c15ull);
  const Eigen::VectorXd chosen = search.Run(incumbents);
  ParamMap params;
  unit.DecodeInto(chosen, params);
  return params;
}

}  // namespace vernier
