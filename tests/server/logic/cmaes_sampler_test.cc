#include "server/logic/cmaes_sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/schema/study_schema.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

const ObjectiveSpec kMinimizeLoss{"loss", Goal::kMinimize};

CmaesSampler MakeCmaes(uint64_t seed, bool restarts = false, int64_t popsize = 0) {
  CmaesSpec spec;
  spec.restarts = restarts;
  spec.popsize = popsize;
  return CmaesSampler(spec, seed, kMinimizeLoss);
}

std::string BoxYaml(int dims, double low, double high) {
  std::string yaml;
  for (int i = 0; i < dims; ++i) {
    absl::StrAppend(&yaml, "  x", i, ": {type: float, low: ", low, ", high: ", high, "}\n");
  }
  return yaml;
}

double Sphere(const ParamMap& p, int dims) {
  double sum = 0;
  for (int i = 0; i < dims; ++i) sum += std::pow(Number(p, absl::StrCat("x", i)) - 1.0, 2);
  return sum;
}

TEST(CmaesStrategyTest, ConvergesOnASphere) {
  // 4-D sphere centred at 0.3 in the unit cube, straight through Strategy.
  cmaes::Strategy strategy(Eigen::VectorXd::Constant(4, 0.5), 0.2, cmaes::DefaultPopulation(4));
  std::mt19937_64 gen(1);
  const Eigen::VectorXd optimum = Eigen::VectorXd::Constant(4, 0.3);
  for (int g = 0; g < 100; ++g) {
    std::vector<Eigen::VectorXd> points;
    std::vector<double> losses;
    for (int i = 0; i < strategy.popsize(); ++i) {
      points.push_back(strategy.Ask(gen));
      EXPECT_TRUE((points.back().array() >= 0).all() && (points.back().array() <= 1).all());
      losses.push_back((points.back() - optimum).squaredNorm());
    }
    strategy.Tell(points, losses);
  }
  EXPECT_LT((strategy.mean() - optimum).norm(), 1e-4);
  EXPECT_LT(strategy.sigma(), 1e-3);
}

TEST(CmaesSamplerTest, ConvergesOnASphereInFourHundredEvaluations) {
  const SearchSpace space = ParseSpace(BoxYaml(5, -5, 5));
  const auto trials =
      RunStudy(MakeCmaes(3), space, 400, [](const ParamMap& p) { return Sphere(p, 5); });
  EXPECT_LT(BestLoss(trials), 1e-3);
}

TEST(CmaesSamplerTest, SameHistoryGivesTheSameSuggestionAfterARestart) {
  const SearchSpace space = ParseSpace(BoxYaml(3, -5, 5));
  std::vector<TrialRecord> trials =
      RunStudy(MakeCmaes(5), space, 23, [](const ParamMap& p) { return Sphere(p, 3); });
  std::vector<const TrialRecord*> history = Pointers(trials);
  const ParamMap first = MakeCmaes(5).Suggest(space, history, 23);
  std::reverse(history.begin(), history.end());
  // A new object stands for a restarted server: it only has the history.
  EXPECT_EQ(MakeCmaes(5).Suggest(space, history, 23), first);
  EXPECT_NE(MakeCmaes(6).Suggest(space, history, 23), first);
  EXPECT_NE(MakeCmaes(5).Suggest(space, history, 24), first);
}

TEST(CmaesSamplerTest, LearnsFromTheHistory) {
  // After several generations on a sphere, suggestions cluster near the
  // optimum at 1.0, far closer than uniform draws over [-5, 5].
  const SearchSpace space = ParseSpace(BoxYaml(3, -5, 5));
  std::vector<TrialRecord> trials =
      RunStudy(MakeCmaes(7), space, 140, [](const ParamMap& p) { return Sphere(p, 3); });
  double total = 0;
  for (int i = 140; i < 150; ++i)
    total += Sphere(MakeCmaes(7).Suggest(space, Pointers(trials), i), 3);
  EXPECT_LT(total / 10, 0.05);
}

TEST(CmaesSamplerTest, RespectsIntsStepsLogScalesAndConditions) {
  const SearchSpace space = MixedSpace();
  for (bool restarts : {false, true}) {
    RunStudy(
        MakeCmaes(2, restarts), space, 80,
        [](const ParamMap& p) {
          return std::abs(std::log10(Number(p, "lr")) + 2) + Number(p, "depth");
        },
        ExpectInsideMixedSpace);
  }
}

TEST(CmaesSamplerTest, RestartsAfterConvergence) {
  // A constant loss converges at once (no spread); with restarts the
  // population doubles and the search moves on instead of collapsing.
  const SearchSpace space = ParseSpace(BoxYaml(2, 0, 1));
  auto flat = [](const ParamMap&) { return 1.0; };
  const auto with = RunStudy(MakeCmaes(4, true, 4), space, 60, flat);
  const auto without = RunStudy(MakeCmaes(4, false, 4), space, 60, flat);
  EXPECT_EQ(with[3].params, without[3].params);  // The first generation is shared.
  EXPECT_NE(with[5].params, without[5].params);
}

TEST(CmaesSamplerTest, RunningTrialsGetDistinctSuggestions) {
  const SearchSpace space = ParseSpace(BoxYaml(2, 0, 1));
  std::vector<TrialRecord> trials =
      RunStudy(MakeCmaes(9), space, 12, [](const ParamMap& p) { return Sphere(p, 2); });
  const std::vector<ParamMap> batch = AskWhileRunning(MakeCmaes(9), space, trials, 4);
  for (size_t a = 0; a < batch.size(); ++a) {
    for (size_t b = 0; b < a; ++b) EXPECT_NE(batch[a], batch[b]);
  }
}

// The index keeps the replay's state after each generation; a trial that
// finishes (or fails) late must drop the generations it changes. At every
// step of a study whose trials finish out of order, with restarts, and with
// a categorical parameter for the TPE fallback, the indexed suggestion
// equals the one computed from the whole history.
TEST(CmaesSamplerTest, IndexedSuggestionsEqualTheScanOfTheHistory) {
  const SearchSpace space =
      ParseSpace(BoxYaml(2, 0, 1) + "  kind: {type: categorical, values: [a, b]}\n");
  for (bool restarts : {false, true}) {
    const CmaesSampler sampler = MakeCmaes(6, restarts, 4);
    std::unique_ptr<HistoryIndex> index = sampler.NewHistoryIndex();
    ASSERT_NE(index, nullptr);
    std::vector<TrialRecord> trials;
    std::vector<int64_t> running;  // Told two or three asks later.
    for (int64_t n = 0; n < 150; ++n) {
      ASSERT_TRUE(AskIndexedAsScanned(sampler, space, *index, trials))
          << (restarts ? "with restarts" : "without restarts");
      running.push_back(n);
      const size_t lag = n % 3 == 0 ? 2 : 3;
      while (running.size() > lag) {
        // The second oldest first now and then: completions out of order.
        const size_t pick = running.size() > 2 && n % 4 == 1 ? 1 : 0;
        TrialRecord& trial = trials[running[pick]];
        // Restarts need a flat loss to converge: constant after trial 60.
        const double loss = trial.number > 60 ? 1.0 : Sphere(trial.params, 2);
        trial = Complete(trial.number, trial.params, loss);
        if (trial.number % 11 == 5) trial.state = TrialState::kFailed;
        index->Observe(trial);
        running.erase(running.begin() + static_cast<long>(pick));
      }
    }
  }
}

TEST(CmaesSamplerTest, ParsesItsOptions) {
  auto parse = [](const std::string& sampler) {
    return ParseStudySpec(absl::StrCat(
        "name: s\nobjective: {metric: loss}\nparams:\n  x: {type: float, low: 0, high: 1}\n"
        "sampler: ",
        sampler, "\ntrainer: {command: [/bin/true]}\n"));
  };
  auto spec = parse("{type: cmaes, sigma0: 0.3, popsize: 12, restarts: true}");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->sampler.get<CmaesSpec>()->sigma0, 0.3);
  EXPECT_EQ(spec->sampler.get<CmaesSpec>()->popsize, 12);
  EXPECT_TRUE(spec->sampler.get<CmaesSpec>()->restarts);
  EXPECT_THAT(parse("{type: cmaes, sigma0: 2}").status().message(),
              HasSubstr("sampler.sigma0: must be in (0, 1]"));
  EXPECT_THAT(parse("{type: cmaes, popsize: 1}").status().message(), HasSubstr("sampler.popsize"));
  EXPECT_OK(MakeSampler(spec->sampler, spec->objective));
}

}  // namespace
}  // namespace vernier
