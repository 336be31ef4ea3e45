#include "server/logic/fanova.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/random.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

// `n` trials whose parameters are uniform draws from `space` (on the steps of
// stepped ones; log-scale ones uniform in value, not in log: fANOVA weighs the
// space linearly) and whose value is `objective` of them.
std::vector<ImportanceTrial> RandomTrials(const SearchSpace& space, int n,
                                          const std::function<double(const ParamMap&)>& objective,
                                          uint64_t seed = 1) {
  std::mt19937_64 gen(seed);
  std::vector<ImportanceTrial> trials;
  for (int i = 0; i < n; ++i) {
    ImportanceTrial trial;
    for (const ParamSpec& param : space.params) {
      const double steps = param.step ? std::floor((param.high - param.low) / *param.step) : 0;
      const double on_step =
          param.low + param.step.value_or(0) * UniformInt(gen, 0, static_cast<int64_t>(steps));
      switch (param.type) {
        case ParamSpec::Type::kFloat:
          trial.params[param.name] =
              param.step ? on_step : param.low + Uniform01(gen) * (param.high - param.low);
          break;
        case ParamSpec::Type::kInt:
          trial.params[param.name] = static_cast<int64_t>(on_step);
          break;
        case ParamSpec::Type::kCategorical:
          trial.params[param.name] = param.values[UniformIndex(gen, param.values.size())];
          break;
      }
    }
    trial.value = objective(trial.params);
    trials.push_back(std::move(trial));
  }
  return trials;
}

std::map<std::string, double> ByName(const FanovaResult& result) {
  std::map<std::string, double> out;
  for (const ParamImportance& p : result.importances) out[p.name] = p.importance;
  return out;
}

std::vector<std::string> Names(const FanovaResult& result) {
  std::vector<std::string> out;
  for (const ParamImportance& p : result.importances) out.push_back(p.name);
  return out;
}

const SearchSpace& TwoFloats() {
  static const SearchSpace space = ParseSpace(R"(
  x1: {type: float, low: 0.0, high: 1.0}
  x2: {type: float, low: 0.0, high: 1.0}
)");
  return space;
}

TEST(FanovaTest, ParameterWithTheLargerEffectDominates) {
  auto trials = RandomTrials(TwoFloats(), 100, [](const ParamMap& p) {
    return 10 * Number(p, "x1") + 0.1 * Number(p, "x2");
  });
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(TwoFloats(), trials));
  std::map<std::string, double> importance = ByName(result);
  EXPECT_GT(importance["x1"], 0.95);
  EXPECT_LT(importance["x2"], 0.02);
  EXPECT_THAT(Names(result), ElementsAre("x1", "x2"));
  EXPECT_EQ(result.trials_used, 100);
}

TEST(FanovaTest, AdditiveObjectiveSplitsVarianceByEachTermsVariance) {
  // Var(3 x1) = 9/12 and Var(x2) = 1/12 on the unit square: shares 0.9, 0.1.
  auto trials = RandomTrials(
      TwoFloats(), 300, [](const ParamMap& p) { return 3 * Number(p, "x1") + Number(p, "x2"); });
  std::map<std::string, double> importance =
      ByName(VALUE_OR_FAIL(FanovaImportances(TwoFloats(), trials)));
  EXPECT_NEAR(importance["x1"], 0.9, 0.05);
  EXPECT_NEAR(importance["x2"], 0.1, 0.05);
}

TEST(FanovaTest, ParameterThatDoesNotAffectTheObjectiveGetsAlmostNothing) {
  SearchSpace space = ParseSpace(R"(
  a:       {type: float, low: -2.0, high: 2.0}
  b:       {type: int, low: 1, high: 9}
  useless: {type: float, low: 0.0, high: 10.0}
)");
  auto trials = RandomTrials(space, 200, [](const ParamMap& p) {
    const double a = Number(p, "a") - 0.5;
    const double b = Number(p, "b") - 3;
    return a * a + 0.2 * b * b;
  });
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(space, trials));
  std::map<std::string, double> importance = ByName(result);
  EXPECT_LT(importance["useless"], 0.03);
  EXPECT_GT(importance["a"], 0.1);
  EXPECT_GT(importance["b"], 0.1);
  EXPECT_EQ(result.importances.back().name, "useless");
}

TEST(FanovaTest, CategoricalParameterIsAssessedOverItsChoices) {
  SearchSpace space = ParseSpace(R"(
  opt:   {type: categorical, values: [sgd, adam, rmsprop]}
  act:   {type: categorical, values: [relu, tanh]}
  x:     {type: float, low: 0.0, high: 1.0}
)");
  auto trials = RandomTrials(space, 150, [](const ParamMap& p) {
    const std::string& opt = std::get<std::string>(p.at("opt"));
    return (opt == "adam" ? 5.0 : opt == "rmsprop" ? 2.0 : 0.0) + 0.5 * Number(p, "x");
  });
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(space, trials));
  std::map<std::string, double> importance = ByName(result);
  EXPECT_EQ(result.importances.front().name, "opt");
  EXPECT_GT(importance["opt"], 0.8);
  EXPECT_LT(importance["act"], 0.03);
  EXPECT_GT(importance["x"], importance["act"]);
}

TEST(FanovaTest, ImportancesSumToOneAndAreSortedDescending) {
  SearchSpace space = MixedSpace();
  auto trials = RandomTrials(space, 80, [](const ParamMap& p) {
    return Number(p, "drop") + 0.01 * Number(p, "units") + Number(p, "depth") * Number(p, "lr");
  });
  // `mom` exists only when opt == momentum: not in every trial.
  for (auto& trial : trials) {
    if (std::get<std::string>(trial.params.at("opt")) != "momentum") trial.params.erase("mom");
  }
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(space, trials));
  EXPECT_THAT(Names(result),
              ::testing::UnorderedElementsAre("lr", "drop", "units", "depth", "opt"));
  double sum = 0;
  for (size_t i = 0; i < result.importances.size(); ++i) {
    EXPECT_GE(result.importances[i].importance, 0);
    if (i > 0) {
      EXPECT_LE(result.importances[i].importance, result.importances[i - 1].importance);
    }
    sum += result.importances[i].importance;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(FanovaTest, SameSeedGivesTheSameImportancesAndAnotherSeedAnotherForest) {
  auto trials = RandomTrials(TwoFloats(), 60, [](const ParamMap& p) {
    return std::sin(6 * Number(p, "x1")) + Number(p, "x2");
  });
  FanovaOptions options;
  options.seed = 7;
  FanovaResult first = VALUE_OR_FAIL(FanovaImportances(TwoFloats(), trials, {}, options));
  FanovaResult again = VALUE_OR_FAIL(FanovaImportances(TwoFloats(), trials, {}, options));
  ASSERT_EQ(first.importances.size(), again.importances.size());
  for (size_t i = 0; i < first.importances.size(); ++i) {
    EXPECT_EQ(first.importances[i].name, again.importances[i].name);
    EXPECT_EQ(first.importances[i].importance, again.importances[i].importance);  // Bit for bit.
  }
  options.seed = 8;
  FanovaResult other = VALUE_OR_FAIL(FanovaImportances(TwoFloats(), trials, {}, options));
  EXPECT_NE(ByName(first)["x1"], ByName(other)["x1"]);
  EXPECT_NEAR(ByName(first)["x1"], ByName(other)["x1"], 0.1);
}

TEST(FanovaTest, NamedParametersAreTheOnlyOnesAssessed) {
  SearchSpace space = ParseSpace(R"(
  x1: {type: float, low: 0.0, high: 1.0}
  x2: {type: float, low: 0.0, high: 1.0}
  x3: {type: float, low: 0.0, high: 1.0}
)");
  auto trials = RandomTrials(space, 100, [](const ParamMap& p) {
    return Number(p, "x1") + Number(p, "x2") + 4 * Number(p, "x3");
  });
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(space, trials, {"x3", "x2"}));
  EXPECT_THAT(Names(result), ElementsAre("x3", "x2"));
  EXPECT_NEAR(result.importances[0].importance + result.importances[1].importance, 1.0, 1e-12);
}

TEST(FanovaTest, ConditionalParameterIsAssessedOnlyWhenNamedAndOverTheTrialsThatHaveIt) {
  SearchSpace space = ParseSpace(R"(
  opt:  {type: categorical, values: [sgd, momentum]}
  mom:  {type: float, low: 0.0, high: 1.0, when: {opt: momentum}}
  x:    {type: float, low: 0.0, high: 1.0}
)");
  auto trials = RandomTrials(space, 120, [](const ParamMap& p) {
    const bool momentum = std::get<std::string>(p.at("opt")) == "momentum";
    return Number(p, "x") + (momentum ? 4 * Number(p, "mom") : 0.0);
  });
  int64_t with_mom = 0;
  for (auto& trial : trials) {
    if (std::get<std::string>(trial.params.at("opt")) == "momentum") {
      ++with_mom;
    } else {
      trial.params.erase("mom");
    }
  }
  FanovaResult all = VALUE_OR_FAIL(FanovaImportances(space, trials));
  EXPECT_THAT(Names(all), ::testing::UnorderedElementsAre("opt", "x"));
  EXPECT_EQ(all.trials_used, 120);

  FanovaResult named = VALUE_OR_FAIL(FanovaImportances(space, trials, {"mom", "x"}));
  EXPECT_EQ(named.trials_used, with_mom);
  EXPECT_EQ(named.importances.front().name, "mom");
}

TEST(FanovaTest, SingleValuedParameterGetsZero) {
  SearchSpace space = ParseSpace(R"(
  x:     {type: float, low: 0.0, high: 1.0}
  fixed: {type: int, low: 4, high: 4}
  only:  {type: categorical, values: [one]}
)");
  auto trials = RandomTrials(space, 40, [](const ParamMap& p) { return Number(p, "x"); });
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(space, trials));
  EXPECT_THAT(Names(result), ElementsAre("x", "fixed", "only"));
  EXPECT_DOUBLE_EQ(result.importances[0].importance, 1.0);
  EXPECT_EQ(result.importances[1].importance, 0.0);
  EXPECT_EQ(result.importances[2].importance, 0.0);
}

TEST(FanovaTest, TrialsWithANonFiniteValueOrAValueOutsideTheSpaceAreLeftOut) {
  auto trials = RandomTrials(TwoFloats(), 30, [](const ParamMap& p) { return Number(p, "x1"); });
  trials[0].value = std::numeric_limits<double>::quiet_NaN();
  trials[1].value = std::numeric_limits<double>::infinity();
  trials[2].params["x1"] = 1.5;                   // Outside [0, 1].
  trials[3].params["x2"] = std::string("large");  // Not a number.
  FanovaResult result = VALUE_OR_FAIL(FanovaImportances(TwoFloats(), trials));
  EXPECT_EQ(result.trials_used, 26);
  EXPECT_EQ(result.importances.front().name, "x1");
}

TEST(FanovaTest, FewerThanTwoUsableTrialsIsAFailedPrecondition) {
  auto trials = RandomTrials(TwoFloats(), 2, [](const ParamMap& p) { return Number(p, "x1"); });
  EXPECT_THAT(FanovaImportances(TwoFloats(), {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("at least 2")));
  EXPECT_THAT(FanovaImportances(TwoFloats(), {trials[0]}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("got 1")));
  trials[1].value = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("at least 2")));
}

TEST(FanovaTest, UnknownOrRepeatedParameterNameIsInvalid) {
  auto trials = RandomTrials(TwoFloats(), 10, [](const ParamMap& p) { return Number(p, "x1"); });
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials, {"x1", "lr"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("params"), HasSubstr("\"lr\""))));
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials, {"x1", "x1"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("\"x1\""), HasSubstr("twice"))));
}

TEST(FanovaTest, OptionOutOfRangeIsInvalidAndNamed) {
  auto trials = RandomTrials(TwoFloats(), 10, [](const ParamMap& p) { return Number(p, "x1"); });
  auto with = [&](const std::function<void(FanovaOptions&)>& set) {
    FanovaOptions options;
    set(options);
    return FanovaImportances(TwoFloats(), trials, {}, options).status();
  };
  EXPECT_THAT(with([](FanovaOptions& o) { o.n_trees = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("n_trees")));
  EXPECT_THAT(with([](FanovaOptions& o) { o.max_depth = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_depth")));
  EXPECT_THAT(with([](FanovaOptions& o) { o.min_samples_split = 1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_samples_split")));
  EXPECT_THAT(with([](FanovaOptions& o) { o.min_samples_leaf = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_samples_leaf")));
  EXPECT_THAT(with([](FanovaOptions&) {}), IsOk());
}

TEST(FanovaTest, ConstantObjectiveHasNoVarianceToShare) {
  auto trials = RandomTrials(TwoFloats(), 20, [](const ParamMap&) { return 3.0; });
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("same value")));
}

TEST(FanovaTest, NoParameterInEveryTrialOrOnlySingleValuedOnesIsAFailedPrecondition) {
  auto trials = RandomTrials(TwoFloats(), 10, [](const ParamMap& p) { return Number(p, "x1"); });
  trials[0].params.erase("x1");
  trials[1].params.erase("x2");
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("every trial")));

  SearchSpace fixed = ParseSpace("  k: {type: int, low: 2, high: 2}\n");
  auto same = RandomTrials(fixed, 10, [](const ParamMap&) { return 1.0; });
  same[0].value = 2;
  EXPECT_THAT(FanovaImportances(fixed, same),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("single value")));
}

TEST(FanovaTest, InteractionOnlyObjectiveHasNoMainEffectToNormalise) {
  // y = 1 on the two quarters where x1 and x2 are on the same side of 0.5:
  // the mean over either parameter is flat, so every share is 0. Each corner
  // is there 50 times, so every bootstrap sample has all four.
  std::vector<ImportanceTrial> trials;
  for (int copy = 0; copy < 50; ++copy) {
    for (double x1 : {0.25, 0.75}) {
      for (double x2 : {0.25, 0.75}) {
        trials.push_back({{{"x1", x1}, {"x2", x2}}, (x1 < 0.5) == (x2 < 0.5) ? 1.0 : 0.0});
      }
    }
  }
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("interaction")));
  // One more trial in a corner makes main effects.
  trials.push_back({{{"x1", 0.75}, {"x2", 0.75}}, 3.0});
  EXPECT_THAT(FanovaImportances(TwoFloats(), trials), IsOk());
}

}  // namespace
}  // namespace vernier
