#include "server/logic/nsga2_sampler.h"

#include <cmath>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/multi_objective.h"
#include "server/logic/pareto.h"
#include "tests/server/logic/test_util.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const std::vector<ObjectiveSpec> kTwoLosses = {{"f1", Goal::kMinimize}, {"f2", Goal::kMinimize}};

Nsga2Sampler MakeNsga2(uint64_t seed, int64_t population = 10,
                       std::vector<ConstraintSpec> constraints = {}) {
  Nsga2Spec spec;
  spec.population_size = population;
  return Nsga2Sampler(spec, seed, kTwoLosses, std::move(constraints));
}

TrialRecord Evaluated(int64_t number, ParamMap params, double f1, double f2,
                      TrialState state = TrialState::kComplete) {
  TrialRecord trial;
  trial.number = number;
  trial.params = std::move(params);
  trial.state = state;
  trial.final_metrics = {{"f1", f1}, {"f2", f2}};
  return trial;
}

SearchSpace UnitCube(int dims) {
  std::string params;
  for (int i = 0; i < dims; ++i) {
    absl::StrAppend(&params, "  x", i, ": {type: float, low: 0, high: 1}\n");
  }
  return ParseSpace(params);
}

// ZDT1 (Zitzler, Deb, Thiele 2000): the Pareto front is f2 = 1 - sqrt(f1),
// reached when x1..x(n-1) are 0.
std::pair<double, double> Zdt1(const ParamMap& p, int dims) {
  const double f1 = Number(p, "x0");
  double sum = 0;
  for (int i = 1; i < dims; ++i) sum += Number(p, absl::StrCat("x", i));
  const double g = 1 + 9 * sum / (dims - 1);
  return {f1, g * (1 - std::sqrt(f1 / g))};
}

std::vector<TrialRecord> RunZdt1(const Sampler& sampler, int dims, int n) {
  const SearchSpace space = UnitCube(dims);
  std::vector<TrialRecord> trials;
  for (int i = 0; i < n; ++i) {
    ParamMap params = sampler.Suggest(space, Pointers(trials), i);
    auto [f1, f2] = Zdt1(params, dims);
    trials.push_back(Evaluated(i, std::move(params), f1, f2));
  }
  return trials;
}

double Hypervolume(const std::vector<TrialRecord>& trials, const Point& reference) {
  std::vector<Point> points;
  for (const TrialRecord& t : trials) points.push_back(*ObjectiveLosses(t, kTwoLosses));
  return Hypervolume2d(points, reference);
}

TEST(Nsga2SamplerTest, FirstGenerationIsUniformAndInsideTheSpace) {
  const SearchSpace space = MixedSpace();
  Nsga2Spec spec;
  spec.population_size = 8;
  Nsga2Sampler sampler(spec, 1, {{"m", Goal::kMinimize}}, {});
  std::vector<TrialRecord> trials = RunStudy(
      sampler, space, 60, [](const ParamMap& p) { return Number(p, "units"); },
      ExpectInsideMixedSpace);
  // Later generations (crossover and mutation of conditional and discrete
  // parameters) stay inside the space too: checked by ExpectInsideMixedSpace.
  EXPECT_EQ(trials.size(), 60u);
}

TEST(Nsga2SamplerTest, DeterministicForASeedAndHistory) {
  const SearchSpace space = UnitCube(3);
  std::vector<TrialRecord> a = RunZdt1(MakeNsga2(5), 3, 40);
  std::vector<TrialRecord> b = RunZdt1(MakeNsga2(5), 3, 40);
  std::vector<TrialRecord> c = RunZdt1(MakeNsga2(6), 3, 40);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].params, b[i].params) << i;
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i].params != c[i].params ? 1 : 0;
  EXPECT_GT(differ, 30);
}

TEST(Nsga2SamplerTest, RestartedSamplerContinuesTheSameSearch) {
  // One sampler for the whole study versus a new one (a restarted server)
  // every 7 trials, rebuilt from the stored trials alone.
  const int dims = 3;
  const SearchSpace space = UnitCube(dims);
  std::vector<TrialRecord> whole = RunZdt1(MakeNsga2(9), dims, 45);
  std::vector<TrialRecord> restarted;
  for (int i = 0; i < 45; ++i) {
    const Nsga2Sampler fresh = MakeNsga2(9);
    ParamMap params = fresh.Suggest(space, Pointers(restarted), i);
    auto [f1, f2] = Zdt1(params, dims);
    restarted.push_back(Evaluated(i, std::move(params), f1, f2));
    ASSERT_EQ(restarted[i].params, whole[i].params) << "trial " << i;
  }
}

TEST(Nsga2SamplerTest, ChildrenComeFromTheParentsOnceAGenerationFinished) {
  // Population 4. Generation 0 = trials 0-3; generation 1's parents are they.
  const Nsga2Sampler sampler = MakeNsga2(1, 4);
  std::vector<TrialRecord> trials = {
      Evaluated(0, {{"x0", 0.1}}, 1, 4), Evaluated(1, {{"x0", 0.2}}, 2, 3),
      Evaluated(2, {{"x0", 0.3}}, 3, 3.5), Evaluated(3, {{"x0", 0.4}}, 4, 1)};
  EXPECT_TRUE(sampler.ParentNumbers(Pointers(trials), 0).empty());
  EXPECT_THAT(sampler.ParentNumbers(Pointers(trials), 1), UnorderedElementsAre(0, 1, 2, 3));
  // Generation 1: trial 4 dominates 1 and 2; trial 5 is dominated by all;
  // trial 6 is infeasible with the best objectives; trial 7 failed.
  trials.push_back(Evaluated(4, {{"x0", 0.5}}, 1.5, 2));
  trials.push_back(Evaluated(5, {{"x0", 0.6}}, 9, 9));
  TrialRecord infeasible = Evaluated(6, {{"x0", 0.7}}, 0, 0, TrialState::kInfeasible);
  infeasible.final_metrics["mem"] = 5;
  trials.push_back(infeasible);
  TrialRecord failed;
  failed.number = 7;
  failed.state = TrialState::kFailed;
  trials.push_back(failed);
  const Nsga2Sampler constrained = MakeNsga2(1, 4, {{"mem", std::nullopt, 4.0}});
  // Front 0: 0 (1,4), 4 (1.5,2), 3 (4,1), the extremes (infinite crowding)
  // first; front 1: trial 1 (2,3), which dominates 2 (3,3.5).
  EXPECT_THAT(constrained.ParentNumbers(Pointers(trials), 2), ElementsAre(0, 3, 4, 1));
  // With the infeasible trial counted as feasible it would have been first.
  std::vector<TrialRecord> as_feasible = trials;
  as_feasible[6].state = TrialState::kComplete;
  EXPECT_THAT(constrained.ParentNumbers(Pointers(as_feasible), 2), ElementsAre(6, 0, 3, 4));
}

TEST(Nsga2SamplerTest, InfeasibleTrialsSurviveOnlyWhenFeasibleOnesRunOut) {
  const Nsga2Sampler sampler = MakeNsga2(1, 3, {{"mem", std::nullopt, 4.0}});
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 3; ++i) {
    TrialRecord t = Evaluated(i, {{"x0", 0.1 * i}}, i, -i, TrialState::kInfeasible);
    t.final_metrics["mem"] = 10 - i;  // Violations 6, 5, 4.
    trials.push_back(t);
  }
  trials.push_back(Evaluated(3, {{"x0", 0.9}}, 100, 100));
  std::vector<int64_t> parents = sampler.ParentNumbers(Pointers(trials), 2);
  // Generation 0's parents were all infeasible, best violation first; the
  // feasible trial 3 of generation 1 then beats all of them.
  EXPECT_THAT(sampler.ParentNumbers(Pointers(trials), 1), ElementsAre(2, 1, 0));
  EXPECT_THAT(parents, ElementsAre(3, 2, 1));
}

TEST(Nsga2SamplerTest, ParallelAsksWhileRunningGetDistinctPoints) {
  // A small discrete space (25 points), generation 1 asked while all of it
  // runs: no child repeats an earlier trial or a running one while fresh
  // points remain.
  const SearchSpace space = ParseSpace(
      "  a: {type: int, low: 0, high: 4}\n"
      "  b: {type: categorical, values: [p, q, r, s, t]}\n");
  Nsga2Spec spec;
  spec.population_size = 6;
  Nsga2Sampler sampler(spec, 3, {{"loss", Goal::kMinimize}}, {});
  std::vector<TrialRecord> trials =
      RunStudy(sampler, space, 6, [](const ParamMap& p) { return Number(p, "a"); });
  std::vector<ParamMap> batch = AskWhileRunning(sampler, space, trials, 6);
  std::set<ParamMap> seen;
  for (const TrialRecord& t : trials) seen.insert(t.params);
  EXPECT_EQ(seen.size(), trials.size());
}

// The index caches each generation's parents; trials that finish late, fail
// or are infeasible must drop what they change. At every step of a study
// whose trials finish out of order, the indexed suggestion and parents equal
// those computed from the whole history.
TEST(Nsga2SamplerTest, IndexedSuggestionsEqualTheScanOfTheHistory) {
  const int dims = 3;
  const SearchSpace space = UnitCube(dims);
  const Nsga2Sampler sampler = MakeNsga2(4, 8, {{"mem", std::nullopt, 4.0}});
  std::unique_ptr<HistoryIndex> index = sampler.NewHistoryIndex();
  ASSERT_NE(index, nullptr);
  std::vector<TrialRecord> trials;
  std::vector<int64_t> running;  // Told three asks later, oldest first.
  auto finish = [&](int64_t number) {
    TrialRecord& trial = trials[number];
    auto [f1, f2] = Zdt1(trial.params, dims);
    trial = Evaluated(number, trial.params, f1, f2);
    if (number % 7 == 3) trial.state = TrialState::kFailed;
    if (number % 5 == 1) {
      trial.state = TrialState::kInfeasible;
      trial.final_metrics["mem"] = 4.0 + number % 3;
    }
    index->Observe(trial);
  };
  for (int64_t n = 0; n < 120; ++n) {
    ASSERT_TRUE(AskIndexedAsScanned(sampler, space, *index, trials));
    running.push_back(n);
    if (running.size() > 3) {
      finish(running.front());
      running.erase(running.begin());
    }
  }
  for (int64_t generation = 0; generation <= 15; ++generation) {
    EXPECT_EQ(sampler.ParentNumbers(trials, *index, generation),
              sampler.ParentNumbers(Pointers(trials), generation))
        << "generation " << generation;
  }
}

TEST(Nsga2SamplerTest, BeatsRandomSearchOnZdt1) {
  // Same budget, several seeds: NSGA-II's front dominates a clearly larger
  // area than random search's on ZDT1 with 10 variables.
  const int dims = 10;
  const int budget = 600;
  const Point reference = {1.1, 1.1 * 4};
  double nsga2_total = 0;
  double random_total = 0;
  for (uint64_t seed : {1, 2, 3}) {
    Nsga2Spec spec;
    spec.population_size = 40;
    const double nsga2 =
        Hypervolume(RunZdt1(Nsga2Sampler(spec, seed, kTwoLosses, {}), dims, budget), reference);
    const double random = Hypervolume(RunZdt1(RandomSampler(seed), dims, budget), reference);
    EXPECT_GT(nsga2, 1.15 * random) << "seed " << seed;
    nsga2_total += nsga2;
    random_total += random;
  }
  RecordProperty("nsga2_mean_hv", absl::StrCat(nsga2_total / 3));
  RecordProperty("random_mean_hv", absl::StrCat(random_total / 3));
  std::cout << "ZDT1 hypervolume (ref 1.1, 4.4), mean of 3 seeds: nsga2 " << nsga2_total / 3
            << ", random " << random_total / 3 << "\n";
}

}  // namespace
}  // namespace vernier
