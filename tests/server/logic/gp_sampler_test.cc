#include "server/logic/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/sampler.h"
#include "server/logic/sobol_sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/unit_space.h"
#include "server/schema/study_schema.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

const ObjectiveSpec kMinimize{"loss", Goal::kMinimize};

// ---- The unit cube ---------------------------------------------------------

TEST(UnitSpaceTest, EncodesAndDecodesEveryKindOfParameter) {
  const SearchSpace space = MixedSpace();
  const UnitSpace unit(space);
  // lr, drop, units, depth: one coordinate each; opt: three; mom: one.
  ASSERT_EQ(unit.dims(), 8);
  ParamMap point = {{"lr", 1e-3},
                    {"drop", 0.3},
                    {"units", int64_t{64}},
                    {"depth", int64_t{7}},
                    {"opt", std::string("momentum")},
                    {"mom", 0.9}};
  const auto z = unit.Encode(point);
  ASSERT_TRUE(z.has_value());
  EXPECT_TRUE((z->array() >= 0).all() && (z->array() <= 1).all());
  // lr is 1e-3 in [1e-5, 1] on a log scale: 2/5 of the way.
  EXPECT_NEAR((*z)[0], 0.4, 1e-12);
  ParamMap decoded;
  unit.DecodeInto(*z, decoded);
  EXPECT_NEAR(std::get<double>(decoded.at("lr")), 1e-3, 1e-12);
  EXPECT_EQ(decoded.at("units"), point.at("units"));
  EXPECT_EQ(decoded.at("depth"), point.at("depth"));
  EXPECT_EQ(decoded.at("opt"), point.at("opt"));
  EXPECT_NEAR(std::get<double>(decoded.at("drop")), 0.3, 1e-12);

  // Without momentum, mom is absent and sits at the inactive coordinate.
  point["opt"] = std::string("adam");
  point.erase("mom");
  const auto z2 = unit.Encode(point);
  ASSERT_TRUE(z2.has_value());
  EXPECT_EQ((*z2)[7], UnitSpace::kInactive);
  decoded.clear();
  unit.DecodeInto(*z2, decoded);
  EXPECT_EQ(decoded.count("mom"), 0u);
  // Values outside the space cannot be modelled.
  point["units"] = int64_t{4096};
  EXPECT_FALSE(unit.Encode(point).has_value());
  // Any coordinates decode inside the space.
  std::mt19937_64 gen(1);
  std::uniform_real_distribution<double> wide(-0.5, 1.5);
  for (int i = 0; i < 200; ++i) {
    Eigen::VectorXd random(unit.dims());
    for (int d = 0; d < unit.dims(); ++d) random[d] = wide(gen);
    ParamMap params;
    unit.DecodeInto(random, params);
    ExpectInsideMixedSpace(params);
    EXPECT_EQ(unit.Canonical(unit.Canonical(random)), unit.Canonical(random));
  }
}

// ---- The model -------------------------------------------------------------

// theta for `dims` inputs: length scale `ls`, signal variance 1, noise `noise`.
Eigen::VectorXd Theta(int dims, double ls, double noise) {
  Eigen::VectorXd theta(gp::NumHyperparameters(dims));
  theta.head(dims).setConstant(std::log(ls));
  theta[dims] = 0;
  theta[dims + 1] = std::log(noise);
  return theta;
}

double HandMatern(double r) {
  return (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r * r) * std::exp(-std::sqrt(5.0) * r);
}

TEST(GpModelTest, PosteriorInterpolatesTwoPointsAsComputedByHand) {
  Eigen::MatrixXd x(2, 1);
  x << 0.2, 0.8;
  Eigen::VectorXd y(2);
  y << 1.0, -1.0;
  const Eigen::VectorXd theta = Theta(1, 0.3, 1e-10);
  const gp::Posterior posterior(x, y, theta);

  double mean = 0, variance = 0;
  posterior.Predict(Eigen::VectorXd::Constant(1, 0.2), mean, variance);
  EXPECT_NEAR(mean, 1.0, 1e-6);
  EXPECT_LT(variance, 1e-6);
  posterior.Predict(Eigen::VectorXd::Constant(1, 0.8), mean, variance);
  EXPECT_NEAR(mean, -1.0, 1e-6);
  EXPECT_LT(variance, 1e-6);

  // At 0.4, by hand: K = [[1, k], [k, 1]], k* = (k1, k2);
  // mean = k*^T K^-1 y, variance = 1 - k*^T K^-1 k*.
  const double k = HandMatern(0.6 / 0.3);
  const double k1 = HandMatern(0.2 / 0.3), k2 = HandMatern(0.4 / 0.3);
  const double det = 1 - k * k;
  const double a1 = (1 * 1 - k * -1) / det, a2 = (-k * 1 + 1 * -1) / det;  // K^-1 y.
  const double expected_mean = k1 * a1 + k2 * a2;
  const double expected_var = 1 - (k1 * (k1 - k * k2) + k2 * (k2 - k * k1)) / det;
  posterior.Predict(Eigen::VectorXd::Constant(1, 0.4), mean, variance);
  EXPECT_NEAR(mean, expected_mean, 1e-7);
  EXPECT_NEAR(variance, expected_var, 1e-7);
  EXPECT_GT(variance, 0.05);
  EXPECT_NEAR(
      gp::Matern52(Eigen::VectorXd::Constant(1, 0.2), Eigen::VectorXd::Constant(1, 0.8), theta), k,
      1e-12);
}

TEST(GpModelTest, LogExpectedImprovementMatchesDirectComputation) {
  for (double mean : {-2.0, -0.3, 0.0, 0.7, 3.0}) {
    for (double variance : {0.01, 0.5, 2.0}) {
      const double best = 0.1;
      const double sigma = std::sqrt(variance);
      const double z = (best - mean) / sigma;
      const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
      const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
      const double direct = std::log(sigma * (z * cdf + pdf));
      EXPECT_NEAR(gp::LogExpectedImprovement(mean, variance, best), direct,
                  1e-9 * std::max(1.0, std::abs(direct)))
          << "mean " << mean << " variance " << variance;
    }
  }
}

TEST(GpModelTest, LogHIsAccurateFarBelowTheIncumbent) {
  // In long double, h(z) = z Phi(z) + phi(z) does not underflow down to
  // z = -100 (phi ~ 1e-2174), though it loses a few digits to cancellation.
  for (long double z : {-2.0L, -5.0L, -12.0L, -40.0L, -100.0L}) {
    const long double cdf = 0.5L * std::erfc(-z / std::sqrt(2.0L));
    const long double pdf = std::exp(-0.5L * z * z) / std::sqrt(2.0L * 3.14159265358979323846L);
    const double direct = static_cast<double>(std::log(z * cdf + pdf));
    EXPECT_NEAR(gp::LogH(static_cast<double>(z)), direct, 1e-6 * std::abs(direct)) << z;
  }
  // Double precision would give log(0) = -inf here.
  EXPECT_TRUE(std::isfinite(gp::LogH(-1e4)));
  EXPECT_TRUE(std::isfinite(gp::LogH(-1e8)));
  EXPECT_LT(gp::LogH(-1e8), gp::LogH(-1e4));
  // Monotone through the branch points.
  double previous = -INFINITY;
  for (double z = -1200; z < 5; z += 0.37) {
    const double value = gp::LogH(z);
    EXPECT_GT(value, previous) << z;
    previous = value;
  }
}

TEST(GpModelTest, MarginalLikelihoodGradientMatchesFiniteDifferences) {
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> unit(0, 1);
  const int n = 9, dims = 3;
  Eigen::MatrixXd x(n, dims);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < dims; ++d) x(i, d) = unit(gen);
    y[i] = std::sin(4 * x(i, 0)) + x(i, 1) * x(i, 2);
  }
  y = (y.array() - y.mean()) / std::sqrt((y.array() - y.mean()).square().mean());
  Eigen::VectorXd theta(gp::NumHyperparameters(dims));
  theta << std::log(0.4), std::log(0.9), std::log(2.0), 0.3, std::log(1e-2);
  for (bool with_prior : {false, true}) {
    Eigen::VectorXd gradient;
    const double value = gp::NegLogMarginalLikelihood(x, y, theta, with_prior, &gradient);
    ASSERT_TRUE(std::isfinite(value));
    ASSERT_EQ(gradient.size(), theta.size());
    for (int j = 0; j < theta.size(); ++j) {
      const double h = 1e-5;
      Eigen::VectorXd up = theta, down = theta;
      up[j] += h;
      down[j] -= h;
      const double numeric = (gp::NegLogMarginalLikelihood(x, y, up, with_prior, nullptr) -
                              gp::NegLogMarginalLikelihood(x, y, down, with_prior, nullptr)) /
                             (2 * h);
      EXPECT_NEAR(gradient[j], numeric, 1e-5 * std::max(1.0, std::abs(numeric)))
          << "theta[" << j << "] with_prior " << with_prior;
    }
  }
}

TEST(GpModelTest, FittingLowersTheObjectiveAndFindsTheNoiseFreeScale) {
  // A smooth noise-free function of the first input only: the fit should
  // prefer a small noise and a longer length scale on the irrelevant input.
  std::mt19937_64 gen(5);
  std::uniform_real_distribution<double> unit(0, 1);
  const int n = 30;
  Eigen::MatrixXd x(n, 2);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    x(i, 0) = unit(gen);
    x(i, 1) = unit(gen);
    y[i] = std::sin(6 * x(i, 0));
  }
  y = (y.array() - y.mean()) / std::sqrt((y.array() - y.mean()).square().mean());
  const Eigen::VectorXd fitted = gp::FitHyperparameters(x, y, 11);
  const Eigen::VectorXd start = Theta(2, 0.5, 1e-3);
  EXPECT_LT(gp::NegLogMarginalLikelihood(x, y, fitted, true, nullptr),
            gp::NegLogMarginalLikelihood(x, y, start, true, nullptr));
  EXPECT_LT(std::exp(fitted[3]), 1e-2);   // Noise variance.
  EXPECT_GT(fitted[1], fitted[0] + 1.0);  // Irrelevant input: longer scale.
}

// ---- The sampler -----------------------------------------------------------

GpSampler MakeGp(uint64_t seed, int64_t startup = 10) {
  GpSpec spec;
  spec.n_startup_trials = startup;
  return GpSampler(spec, seed, kMinimize);
}

TEST(GpSamplerTest, StartsWithTheSobolSequence) {
  const SearchSpace space = MixedSpace();
  const GpSampler gp = MakeGp(4);
  const SobolSampler sobol(4);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 10; ++i) {
    ParamMap params = gp.Suggest(space, Pointers(trials), i);
    EXPECT_EQ(params, sobol.Suggest(space, {}, i)) << i;
    trials.push_back(Complete(i, params, i));
  }
}

TEST(GpSamplerTest, FindsTheMinimumOfAQuadratic) {
  const SearchSpace space = ParseSpace("  x: {type: float, low: -10.0, high: 10.0}\n");
  const auto trials = RunStudy(MakeGp(1), space, 20,
                               [](const ParamMap& p) { return std::pow(Number(p, "x") - 3.0, 2); });
  EXPECT_LT(BestLoss(trials), 1e-3);
}

TEST(GpSamplerTest, BeatsRandomSearchOnAMixedSpace) {
  const SearchSpace space = MixedSpace();
  auto loss = [](const ParamMap& p) {
    double value = std::pow(std::log10(Number(p, "lr")) + 3, 2) +
                   std::pow(Number(p, "drop") - 0.2, 2) +
                   0.1 * std::pow(std::log2(Number(p, "units")) - 6, 2) +
                   0.1 * std::pow(Number(p, "depth") - 5, 2);
    const std::string& opt = std::get<std::string>(p.at("opt"));
    if (opt == "momentum") return value + 10 * std::pow(Number(p, "mom") - 0.9, 2);
    return value + (opt == "adam" ? 0.5 : 1.0);
  };
  double gp_total = 0, random_total = 0;
  for (uint64_t seed = 0; seed < 3; ++seed) {
    gp_total += BestLoss(RunStudy(MakeGp(seed), space, 40, loss, ExpectInsideMixedSpace));
    random_total += BestLoss(RunStudy(RandomSampler(seed), space, 40, loss));
  }
  EXPECT_LT(gp_total, 0.5 * random_total);
}

TEST(GpSamplerTest, RespectsIntsStepsLogScalesAndConditionsAfterStartup) {
  const SearchSpace space = MixedSpace();
  RunStudy(
      MakeGp(2, /*startup=*/3), space, 15,
      [](const ParamMap& p) { return std::abs(std::log10(Number(p, "lr")) + 2); },
      ExpectInsideMixedSpace);
}

TEST(GpSamplerTest, DeterministicForASeedAndHistoryWhateverItsOrder) {
  const SearchSpace space = MixedSpace();
  std::vector<TrialRecord> trials = RunStudy(MakeGp(8, 5), space, 12, [](const ParamMap& p) {
    return Number(p, "drop") + Number(p, "depth");
  });
  std::vector<const TrialRecord*> history = Pointers(trials);
  const ParamMap first = MakeGp(8, 5).Suggest(space, history, 12);
  std::reverse(history.begin(), history.end());
  EXPECT_EQ(MakeGp(8, 5).Suggest(space, history, 12), first);
  EXPECT_NE(MakeGp(9, 5).Suggest(space, history, 12), first);
}

TEST(GpSamplerTest, RunningTrialsGetDistinctSuggestions) {
  const SearchSpace space = ParseSpace(
      "  x: {type: float, low: 0.0, high: 1.0}\n  y: {type: float, low: 0.0, high: 1.0}\n");
  auto loss = [](const ParamMap& p) {
    return std::pow(Number(p, "x") - 0.3, 2) + std::pow(Number(p, "y") - 0.6, 2);
  };
  std::vector<TrialRecord> trials = RunStudy(MakeGp(6), space, 15, loss);
  // Four workers ask in turn before any of them reports.
  const std::vector<ParamMap> batch = AskWhileRunning(MakeGp(6), space, trials, 4);
  for (size_t a = 0; a < batch.size(); ++a) {
    for (size_t b = 0; b < a; ++b) {
      const double distance = std::hypot(Number(batch[a], "x") - Number(batch[b], "x"),
                                         Number(batch[a], "y") - Number(batch[b], "y"));
      EXPECT_GT(distance, 1e-3) << a << " vs " << b;
    }
  }
}

// Loss x on [0, 1], but x < 0.3 breaks a constraint. A GP of the feasible
// trials alone extrapolates the loss downwards into x < 0.3 and keeps asking
// there; infeasible trials must count as bad ones, as pruned ones do.
TEST(GpSamplerTest, StepsAwayFromInfeasibleTrials) {
  const SearchSpace space = ParseSpace("  x: {type: float, low: 0.0, high: 1.0}\n");
  const GpSampler gp = MakeGp(3);
  std::vector<TrialRecord> trials;
  int infeasible_after_startup = 0;
  for (int64_t i = 0; i < 30; ++i) {
    ParamMap params = gp.Suggest(space, Pointers(trials), i);
    const double x = Number(params, "x");
    TrialRecord trial = Complete(i, std::move(params), x);
    if (x < 0.3) {
      trial.state = TrialState::kInfeasible;
      if (i >= 10) ++infeasible_after_startup;
    }
    trials.push_back(std::move(trial));
  }
  EXPECT_LE(infeasible_after_startup, 5);
  double best_feasible = INFINITY;
  for (const TrialRecord& trial : trials) {
    if (trial.state == TrialState::kComplete) {
      best_feasible = std::min(best_feasible, trial.final_metrics.at("loss"));
    }
  }
  EXPECT_LT(best_feasible, 0.35);  // Still finds the edge of the feasible region.
}

TEST(GpSamplerTest, ParsesItsOptions) {
  auto parse = [](const std::string& sampler) {
    return ParseStudySpec(absl::StrCat(
        "name: s\nobjective: {metric: loss}\nparams:\n  x: {type: float, low: 0, high: 1}\n"
        "sampler: ",
        sampler, "\ntrainer: {command: [/bin/true]}\n"));
  };
  auto spec = parse("{type: gp, n_startup_trials: 4, seed: 3}");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->sampler.get<GpSpec>()->n_startup_trials, 4);
  EXPECT_THAT(parse("{type: gp, n_startup_trials: 0}").status().message(),
              HasSubstr("sampler.n_startup_trials"));
  EXPECT_THAT(parse("{type: gp, sigma0: 0.1}").status().message(),
              HasSubstr("sampler.sigma0: unknown key"));
  EXPECT_OK(MakeSampler(spec->sampler, spec->objective));
}

}  // namespace
}  // namespace vernier
