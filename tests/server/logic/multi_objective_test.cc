// Multi-objective study files, constraints, and the Pareto helpers
// (server/logic/pareto.h, server/logic/multi_objective.h).
#include "server/logic/multi_objective.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/pareto.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/schema/study_schema.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Study(const std::string& head, const std::string& sampler = "{type: random}",
                  const std::string& pruner = "{type: none}") {
  return absl::StrCat("name: mo\n", head, "\nparams:\n  x: {type: float, low: 0, high: 1}\n",
                      "sampler: ", sampler, "\npruner: ", pruner,
                      "\ntrainer: {command: [/bin/true]}\n");
}

constexpr char kTwoObjectives[] =
    "objectives: [{metric: val_accuracy, goal: maximize}, {metric: latency_ms, goal: minimize}]";

std::string ErrorOf(const std::string& text) {
  auto spec = ParseStudySpec(text);
  EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument));
  return std::string(spec.status().message());
}

// ---- Study files ----------------------------------------------------------

TEST(MultiObjectiveSpecTest, ParsesObjectivesAndConstraints) {
  auto spec = ParseStudySpec(Study(absl::StrCat(
      kTwoObjectives,
      "\nconstraints: [{metric: memory_gb, max: 4.0}, {metric: params_m, min: 0.5, max: 20}]")));
  ASSERT_OK(spec);
  ASSERT_EQ(spec->objectives.size(), 2u);
  EXPECT_TRUE(spec->multi_objective());
  EXPECT_EQ(spec->objective.metric, "val_accuracy");  // The first, for old code paths.
  EXPECT_EQ(spec->objectives[1].metric, "latency_ms");
  EXPECT_EQ(spec->objectives[1].goal, Goal::kMinimize);
  ASSERT_EQ(spec->constraints.size(), 2u);
  EXPECT_EQ(spec->constraints[0].metric, "memory_gb");
  EXPECT_FALSE(spec->constraints[0].min.has_value());
  EXPECT_DOUBLE_EQ(*spec->constraints[0].max, 4.0);
  EXPECT_DOUBLE_EQ(*spec->constraints[1].min, 0.5);
}

TEST(MultiObjectiveSpecTest, SingleObjectiveFillsTheList) {
  auto spec = ParseStudySpec(Study("objective: {metric: loss, goal: minimize}"));
  ASSERT_OK(spec);
  ASSERT_EQ(spec->objectives.size(), 1u);
  EXPECT_EQ(spec->objectives[0].metric, "loss");
  EXPECT_FALSE(spec->multi_objective());
  EXPECT_TRUE(spec->constraints.empty());
}

TEST(MultiObjectiveSpecTest, OneEntryListIsASingleObjectiveStudy) {
  auto spec = ParseStudySpec(
      Study("objectives: [{metric: loss, goal: minimize}]", "{type: tpe}", "{type: median}"));
  ASSERT_OK(spec);
  EXPECT_FALSE(spec->multi_objective());
  EXPECT_EQ(spec->objective.metric, "loss");
}

TEST(MultiObjectiveSpecTest, RejectsBadObjectives) {
  EXPECT_THAT(ErrorOf(Study(absl::StrCat("objective: {metric: a}\n", kTwoObjectives))),
              HasSubstr("objectives: give either objective"));
  EXPECT_THAT(ErrorOf(Study("objectives: [{metric: a}, {metric: a, goal: minimize}]")),
              HasSubstr("objectives[1].metric: \"a\" is already an objective"));
  EXPECT_THAT(ErrorOf(Study("objectives: []")), HasSubstr("objectives: must hold 1 to 8"));
  EXPECT_THAT(ErrorOf(Study("objectives: [{metric: a}, {metric: b}, {metric: c}, {metric: d}, "
                            "{metric: e}, {metric: f}, {metric: g}, {metric: h}, {metric: i}]")),
              HasSubstr("got 9"));
  EXPECT_THAT(ErrorOf(Study("objectives: {metric: a}")), HasSubstr("objectives: must be a list"));
  EXPECT_THAT(ErrorOf(Study("objectives: [{metric: a, goal: up}]")),
              HasSubstr("objectives[0].goal: unknown goal \"up\""));
  EXPECT_THAT(ErrorOf(Study("objectives: [{metric: a}, {goal: minimize}]")),
              HasSubstr("objectives[1].metric: missing"));
  EXPECT_THAT(ErrorOf(Study("objectives: [{metric: a, weight: 2}]")),
              HasSubstr("objectives[0].weight: unknown key"));
  EXPECT_THAT(ErrorOf(Study("objectives: [a]")), HasSubstr("objectives[0]: must be a mapping"));
  EXPECT_THAT(ErrorOf(Study("")), HasSubstr("objective: missing"));
}

TEST(MultiObjectiveSpecTest, RejectsBadConstraints) {
  const std::string head = "objective: {metric: a}\nconstraints: ";
  EXPECT_THAT(ErrorOf(Study(head + "[{metric: m}]")),
              HasSubstr("constraints[0]: needs min, max or both"));
  EXPECT_THAT(ErrorOf(Study(head + "[{metric: m, min: 3, max: 1}]")),
              HasSubstr("constraints[0].min: must be <= max (1), got 3"));
  EXPECT_THAT(ErrorOf(Study(head + "[{metric: m, max: 1}, {metric: m, min: 0}]")),
              HasSubstr("constraints[1].metric: \"m\" is already constrained"));
  EXPECT_THAT(ErrorOf(Study(head + "[{max: 1}]")), HasSubstr("constraints[0].metric: missing"));
  EXPECT_THAT(ErrorOf(Study(head + "[{metric: m, max: big}]")),
              HasSubstr("constraints[0].max: must be a number"));
  EXPECT_THAT(ErrorOf(Study(head + "[{metric: m, below: 1}]")),
              HasSubstr("constraints[0].below: unknown key"));
  EXPECT_THAT(ErrorOf(Study(head + "{metric: m, max: 1}")),
              HasSubstr("constraints: must be a list"));
}

TEST(MultiObjectiveSpecTest, SingleObjectiveSamplersAndPrunersNeedOneObjective) {
  for (const char* type : {"tpe", "gp", "cmaes"}) {
    const std::string error = ErrorOf(Study(kTwoObjectives, absl::StrCat("{type: ", type, "}")));
    EXPECT_THAT(error, HasSubstr("sampler.type"));
    EXPECT_THAT(error, HasSubstr("nsga2"));
  }
  for (const char* type : {"random", "grid", "sobol", "nsga2"}) {
    auto spec = ParseStudySpec(Study(kTwoObjectives, absl::StrCat("{type: ", type, "}")));
    EXPECT_OK(spec) << type;
  }
  EXPECT_THAT(ErrorOf(Study(kTwoObjectives, "{type: nsga2}", "{type: median}")),
              HasSubstr("pruner.type: \"median\" prunes on one objective"));
  // One objective: nsga2 and pruners are fine.
  EXPECT_OK(ParseStudySpec(Study("objective: {metric: a}", "{type: nsga2}", "{type: median}")));
}

TEST(MultiObjectiveSpecTest, ParsesNsga2Settings) {
  auto spec = ParseStudySpec(Study(kTwoObjectives,
                                   "{type: nsga2, population_size: 20, mutation_prob: null, "
                                   "crossover_prob: 0.8, swapping_prob: 0.4, seed: 3}"));
  ASSERT_OK(spec);
  EXPECT_EQ(spec->sampler.type(), "nsga2");
  EXPECT_EQ(spec->sampler.get<Nsga2Spec>()->population_size, 20);
  EXPECT_FALSE(spec->sampler.get<Nsga2Spec>()->mutation_prob.has_value());
  EXPECT_DOUBLE_EQ(spec->sampler.get<Nsga2Spec>()->crossover_prob, 0.8);
  EXPECT_DOUBLE_EQ(spec->sampler.get<Nsga2Spec>()->swapping_prob, 0.4);
  EXPECT_EQ(spec->sampler.seed, 3u);
  auto defaults = ParseStudySpec(Study(kTwoObjectives, "{type: nsga2, mutation_prob: 0.25}"));
  ASSERT_OK(defaults);
  EXPECT_EQ(defaults->sampler.get<Nsga2Spec>()->population_size, 50);
  EXPECT_DOUBLE_EQ(*defaults->sampler.get<Nsga2Spec>()->mutation_prob, 0.25);

  EXPECT_THAT(ErrorOf(Study(kTwoObjectives, "{type: nsga2, population_size: 1}")),
              HasSubstr("sampler.population_size: must be >= 2, got 1"));
  EXPECT_THAT(ErrorOf(Study(kTwoObjectives, "{type: nsga2, crossover_prob: 1.5}")),
              HasSubstr("sampler.crossover_prob: must be in [0, 1], got 1.5"));
  EXPECT_THAT(ErrorOf(Study(kTwoObjectives, "{type: nsga2, mutation_prob: -0.1}")),
              HasSubstr("sampler.mutation_prob: must be in [0, 1]"));
  EXPECT_THAT(ErrorOf(Study(kTwoObjectives, "{type: nsga2, swapping_prob: x}")),
              HasSubstr("sampler.swapping_prob: must be a number"));
  EXPECT_THAT(ErrorOf(Study(kTwoObjectives, "{type: nsga2, eta: 3}")),
              HasSubstr("sampler.eta: unknown key"));
}

TEST(MultiObjectiveSpecTest, FactoryBuildsNsga2) {
  auto spec = ParseStudySpec(Study(kTwoObjectives, "{type: nsga2}"));
  ASSERT_OK(spec);
  auto sampler = MakeSampler(*spec);
  ASSERT_OK(sampler);
  EXPECT_NE(*sampler, nullptr);
}

// ---- Domination, fronts, crowding -----------------------------------------

TEST(ParetoTest, Domination) {
  EXPECT_TRUE(Dominates({1, 2}, {2, 2}));
  EXPECT_TRUE(Dominates({1, 1}, {2, 2}));
  EXPECT_FALSE(Dominates({1, 2}, {1, 2}));  // Equal points do not dominate.
  EXPECT_FALSE(Dominates({1, 3}, {2, 2}));  // A trade-off.
  EXPECT_FALSE(Dominates({2, 2}, {1, 2}));
  EXPECT_TRUE(Dominates({1, 2, -kInf}, {1, 2, 0}));
}

TEST(ParetoTest, ConstrainedDomination) {
  // A feasible point beats an infeasible one whatever the objectives say.
  EXPECT_TRUE(ConstrainedDominates({9, 9}, 0, {0, 0}, 0.1));
  EXPECT_FALSE(ConstrainedDominates({0, 0}, 0.1, {9, 9}, 0));
  // Of two infeasible points the smaller violation wins.
  EXPECT_TRUE(ConstrainedDominates({9, 9}, 0.5, {0, 0}, 2));
  EXPECT_FALSE(ConstrainedDominates({0, 0}, 2, {9, 9}, 0.5));
  EXPECT_FALSE(ConstrainedDominates({0, 0}, 1, {9, 9}, 1));
  EXPECT_TRUE(ConstrainedDominates({0, 0}, 1, {9, 9}, kInf));
  // Feasible pairs compare by plain domination.
  EXPECT_TRUE(ConstrainedDominates({1, 1}, 0, {2, 2}, 0));
  EXPECT_FALSE(ConstrainedDominates({1, 3}, 0, {2, 2}, 0));
}

TEST(ParetoTest, NonDominatedFrontsOnHandMadePoints) {
  //   0:(1,5) 1:(2,3) 2:(4,1) front 0; 3:(3,4) 4:(5,2) front 1; 5:(6,6) front 2.
  const std::vector<Point> points = {{1, 5}, {2, 3}, {4, 1}, {3, 4}, {5, 2}, {6, 6}};
  EXPECT_THAT(NonDominatedFronts(points),
              ElementsAre(ElementsAre(0, 1, 2), ElementsAre(3, 4), ElementsAre(5)));
  EXPECT_THAT(ParetoFront(points), ElementsAre(0, 1, 2));
  EXPECT_TRUE(NonDominatedFronts({}).empty());
}

TEST(ParetoTest, ConstrainedFrontsPutInfeasiblePointsLastByViolation) {
  const std::vector<Point> points = {{0, 0}, {5, 5}, {1, 1}, {6, 1}, {0, 0}};
  const std::vector<double> violations = {2, 0, 1, 0, kInf};
  EXPECT_THAT(NonDominatedFronts(points, violations),
              ElementsAre(ElementsAre(1, 3), ElementsAre(2), ElementsAre(0), ElementsAre(4)));
}

TEST(ParetoTest, EqualPointsShareAFront) {
  const std::vector<Point> points = {{1, 1}, {1, 1}, {2, 2}};
  EXPECT_THAT(NonDominatedFronts(points), ElementsAre(ElementsAre(0, 1), ElementsAre(2)));
  EXPECT_THAT(ParetoFront(points), ElementsAre(0, 1));
}

TEST(ParetoTest, ParetoFrontDropsPointsLaterDominated) {
  const std::vector<Point> points = {{3, 3}, {2, 4}, {1, 1}, {0, 5}};
  EXPECT_THAT(ParetoFront(points), ElementsAre(2, 3));
}

TEST(ParetoTest, CrowdingDistanceOnHandMadeFront) {
  // Front sorted on x: (0,4) (1,2) (3,1) (4,0); ranges 4 and 4.
  const std::vector<Point> points = {{1, 2}, {4, 0}, {0, 4}, {3, 1}};
  std::vector<double> d = CrowdingDistances(points, {0, 1, 2, 3});
  ASSERT_EQ(d.size(), 4u);
  EXPECT_DOUBLE_EQ(d[0], (3.0 - 0.0) / 4 + (4.0 - 1.0) / 4);  // (1,2): neighbours (0,4),(3,1).
  EXPECT_EQ(d[1], kInf);
  EXPECT_EQ(d[2], kInf);
  EXPECT_DOUBLE_EQ(d[3], (4.0 - 1.0) / 4 + (2.0 - 0.0) / 4);  // (3,1): neighbours (1,2),(4,0).
  EXPECT_THAT(CrowdingDistances(points, {0, 1}), ElementsAre(kInf, kInf));
}

TEST(ParetoTest, Hypervolume2d) {
  EXPECT_DOUBLE_EQ(Hypervolume2d({{1, 1}}, {2, 2}), 1.0);
  // Staircase (0,2),(1,1),(2,0) under reference (3,3): 3 + 2 + 1 = 6... by slabs.
  EXPECT_DOUBLE_EQ(Hypervolume2d({{2, 0}, {0, 2}, {1, 1}}, {3, 3}), 6.0);
  EXPECT_DOUBLE_EQ(Hypervolume2d({{1, 1}, {1.5, 1.5}}, {2, 2}), 1.0);  // Dominated adds nothing.
  EXPECT_DOUBLE_EQ(Hypervolume2d({{3, 0}}, {2, 2}), 0.0);              // Beyond the reference.
}

// ---- Trials through objectives and constraints ----------------------------

TrialRecord Trial(int64_t number, TrialState state, MetricMap metrics) {
  TrialRecord trial;
  trial.number = number;
  trial.state = state;
  trial.final_metrics = std::move(metrics);
  return trial;
}

TEST(MultiObjectiveTest, ObjectiveLossesNegateMaximisedObjectives) {
  const std::vector<ObjectiveSpec> objectives = {{"acc", Goal::kMaximize}, {"ms", Goal::kMinimize}};
  auto loss =
      ObjectiveLosses(Trial(0, TrialState::kComplete, {{"acc", 0.9}, {"ms", 3}}), objectives);
  ASSERT_TRUE(loss.has_value());
  EXPECT_THAT(*loss, ElementsAre(-0.9, 3));
  EXPECT_FALSE(ObjectiveLosses(Trial(0, TrialState::kComplete, {{"acc", 0.9}}), objectives));
  EXPECT_FALSE(
      ObjectiveLosses(Trial(0, TrialState::kComplete, {{"acc", NAN}, {"ms", 1}}), objectives));
}

TEST(MultiObjectiveTest, ConstraintViolationAndReason) {
  const std::vector<ConstraintSpec> constraints = {{"mem", std::nullopt, 4.0}, {"p", 0.5, 20.0}};
  EXPECT_EQ(ConstraintViolation({{"mem", 4}, {"p", 0.5}}, constraints), 0);
  EXPECT_EQ(ConstraintViolationReason({{"mem", 4}, {"p", 0.5}}, constraints), "");
  EXPECT_DOUBLE_EQ(ConstraintViolation({{"mem", 5}, {"p", 0.25}}, constraints), 1.25);
  EXPECT_EQ(ConstraintViolationReason({{"mem", 5.5}, {"p", 1}}, constraints),
            "constraint violated: mem = 5.5 is above max 4");
  EXPECT_EQ(ConstraintViolationReason({{"mem", 1}, {"p", 0.25}}, constraints),
            "constraint violated: p = 0.25 is below min 0.5");
  EXPECT_EQ(ConstraintViolation({{"mem", 1}}, constraints), kInf);
  EXPECT_EQ(ConstraintViolationReason({{"mem", 1}}, constraints),
            "constraint metric \"p\" was not reported");
  EXPECT_EQ(ConstraintViolation({{"mem", NAN}, {"p", 1}}, constraints), kInf);
  EXPECT_EQ(ConstraintViolationReason({{"mem", NAN}, {"p", 1}}, constraints),
            "constraint metric \"mem\" is NaN");
}

TEST(MultiObjectiveTest, ParetoTrialsAreFeasibleCompleteAndSortedByFirstObjective) {
  const std::vector<ObjectiveSpec> objectives = {{"acc", Goal::kMaximize}, {"ms", Goal::kMinimize}};
  const std::vector<TrialRecord> trials = {
      Trial(0, TrialState::kComplete, {{"acc", 0.80}, {"ms", 1}}),
      Trial(1, TrialState::kComplete, {{"acc", 0.90}, {"ms", 5}}),
      Trial(2, TrialState::kComplete, {{"acc", 0.85}, {"ms", 6}}),    // Dominated by 1.
      Trial(3, TrialState::kInfeasible, {{"acc", 0.99}, {"ms", 0}}),  // Never best.
      Trial(4, TrialState::kComplete, {{"acc", 0.95}, {"ms", 9}}),
      Trial(5, TrialState::kRunning, {}),
      Trial(6, TrialState::kComplete, {{"acc", 0.95}}),  // Missing an objective.
      Trial(7, TrialState::kPruned, {{"acc", 1.0}, {"ms", 0}}),
  };
  std::vector<int64_t> numbers;
  for (const TrialRecord* t : ParetoTrials(trials, objectives)) numbers.push_back(t->number);
  EXPECT_THAT(numbers, ElementsAre(4, 1, 0));
}

}  // namespace
}  // namespace vernier
