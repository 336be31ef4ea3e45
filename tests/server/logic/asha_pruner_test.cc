#include "server/logic/asha_pruner.h"

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::vernier::testing::StatusIs;

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

class AshaPrunerTest : public ::testing::Test {
 protected:
  AshaPrunerTest() { options_.max_resource = 9; }  // Rungs at steps 1 and 3.

  // Whether `trial` stops at its last reported step.
  bool Prune(const TrialRecord& trial) {
    std::vector<const TrialRecord*> others;
    for (const TrialRecord& other : others_) others.push_back(&other);
    others.push_back(&trial);  // The coordinator passes the trial itself too.
    return AshaPruner(options_).ShouldPrune(objective_, trial, trial.intermediate.back().step,
                                            others);
  }

  AshaPruner::Options options_;
  ObjectiveSpec objective_{"acc", Goal::kMaximize};
  std::vector<TrialRecord> others_;
};

TEST_F(AshaPrunerTest, RungsGrowByTheReductionFactorBelowMaxResource) {
  options_.max_resource = std::nullopt;
  EXPECT_THAT(AshaPruner(options_).RungsIn(0, 30), ElementsAre(1, 3, 9, 27));
  EXPECT_THAT(AshaPruner(options_).RungsIn(1, 9), ElementsAre(3, 9));
  options_.max_resource = 27;
  EXPECT_THAT(AshaPruner(options_).RungsIn(0, 30), ElementsAre(1, 3, 9));
  options_.min_resource = 2;
  options_.min_early_stopping_rate = 1;
  EXPECT_THAT(AshaPruner(options_).RungsIn(0, 30), ElementsAre(6, 18));
}

TEST_F(AshaPrunerTest, HugeStepsDoNotOverflow) {
  options_.max_resource = std::nullopt;
  options_.reduction_factor = 2;
  EXPECT_EQ(AshaPruner(options_).RungsIn(0, std::numeric_limits<int64_t>::max()).size(), 63u);
}

TEST_F(AshaPrunerTest, FirstTrialAtARungContinues) {
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.1}})));
}

TEST_F(AshaPrunerTest, KeepsTheTopThirdAtARung) {
  others_ = {CurveAtSteps(1, {{1, 0.9}}), CurveAtSteps(2, {{1, 0.8}})};
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.85}})));  // n = 3: only the best continues.
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.95}})));
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.9}})));  // A tie continues.
  others_ = {CurveAtSteps(1, {{1, 0.9}}), CurveAtSteps(2, {{1, 0.8}}), CurveAtSteps(3, {{1, 0.7}}),
             CurveAtSteps(4, {{1, 0.6}}), CurveAtSteps(5, {{1, 0.5}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.85}})));  // n = 6: the best two continue.
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.75}})));
}

TEST_F(AshaPrunerTest, SecondTrialAtARungMustBeatTheFirst) {
  others_ = {CurveAtSteps(1, {{1, 0.5}})};
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.4}})));
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.6}})));
}

TEST_F(AshaPrunerTest, DecidesOnlyAtRungs) {
  others_ = {CurveAtSteps(1, {{1, 0.9}, {2, 0.9}, {3, 0.9}}),
             CurveAtSteps(2, {{1, 0.9}, {2, 0.9}, {3, 0.9}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.95}, {2, 0.1}})));  // Step 2 is no rung.
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.95}, {2, 0.1}, {3, 0.1}})));
}

TEST_F(AshaPrunerTest, ComparesTheValuesRecordedAtTheRungNotLaterOnes) {
  // Trial 1 is at 0.9 now, but it recorded 0.5 at rung 3.
  others_ = {CurveAtSteps(1, {{1, 0.5}, {3, 0.5}, {5, 0.9}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.6}, {3, 0.6}})));
}

TEST_F(AshaPrunerTest, IrregularStepsAreJudgedWhereTheyCrossTheRung) {
  // Trial 1 crossed rung 3 at step 5 with 0.7; trial 2 never reached rung 3.
  others_ = {CurveAtSteps(1, {{1, 0.2}, {5, 0.7}}), CurveAtSteps(2, {{2, 0.99}})};
  // Trial 0 crosses rung 3 at step 4: 0.65 < 0.7 (n = 2, the best continues).
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{2, 0.3}, {4, 0.65}})));
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{2, 0.3}, {4, 0.75}})));
  // Its step 2 crossed rung 1, where it meets 0.2 (trial 1) and 0.99 (trial 2).
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{2, 0.3}})));
}

TEST_F(AshaPrunerTest, CrossingSeveralRungsAtOnceJudgesEach) {
  others_ = {CurveAtSteps(1, {{1, 0.9}, {3, 0.2}})};
  // First report at step 4: good enough for rung 3 (0.5 > 0.2), not rung 1.
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{4, 0.5}})));
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{4, 0.95}})));
}

TEST_F(AshaPrunerTest, MinimizeKeepsTheLowest) {
  objective_.goal = Goal::kMinimize;
  others_ = {CurveAtSteps(1, {{1, 0.3}}), CurveAtSteps(2, {{1, 0.5}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.2}})));
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.4}})));
}

TEST_F(AshaPrunerTest, NaNIsPrunedAtAnyStepAndNeverCompetes) {
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.5}, {2, kNoValue}})));
  others_ = {CurveAtSteps(1, {{1, kNoValue}}), CurveAtSteps(2, {{1, kNoValue}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.1}})));  // Alone at the rung.
}

TEST_F(AshaPrunerTest, FailedTrialsAreNotPeers) {
  others_ = {CurveAtSteps(1, {{1, 0.9}}, TrialState::kFailed)};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.1}})));
  others_.push_back(CurveAtSteps(2, {{1, 0.9}}, TrialState::kPruned));
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.1}})));
}

TEST_F(AshaPrunerTest, BootstrapWaitsForEnoughPeers) {
  options_.bootstrap_count = 3;
  others_ = {CurveAtSteps(1, {{1, 0.9}}), CurveAtSteps(2, {{1, 0.8}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.1}})));  // Two peers < 3: continue.
  others_.push_back(CurveAtSteps(3, {{1, 0.7}}));
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.1}})));
}

TEST_F(AshaPrunerTest, NoDecisionAtOrBeyondMaxResource) {
  others_ = {CurveAtSteps(1, {{1, 0.9}, {3, 0.9}, {9, 0.9}})};
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.95}, {3, 0.95}, {9, 0.1}})));
}

TEST_F(AshaPrunerTest, MissingMetricIsNotJudged) {
  others_ = {CurveAtSteps(1, {{1, 0.9}})};
  TrialRecord trial = CurveAtSteps(0, {});
  trial.intermediate.push_back({1, {{"loss", 5.0}}});
  EXPECT_FALSE(Prune(trial));
}

class HyperbandPrunerTest : public ::testing::Test {
 protected:
  HyperbandPrunerTest() {
    spec_.max_resource = 27;  // Rungs 1, 3, 9 (rf 3): four brackets.
  }
  std::unique_ptr<HyperbandPruner> Make() { return VALUE_OR_FAIL(HyperbandPruner::Create(spec_)); }
  bool Prune(const TrialRecord& trial, const std::vector<TrialRecord>& others) {
    std::vector<const TrialRecord*> pointers;
    for (const TrialRecord& other : others) pointers.push_back(&other);
    return Make()->ShouldPrune(objective_, trial, trial.intermediate.back().step, pointers);
  }

  HyperbandSpec spec_;
  ObjectiveSpec objective_{"acc", Goal::kMaximize};
};

TEST_F(HyperbandPrunerTest, AssignsBracketsByWeightedRoundRobin) {
  auto pruner = Make();
  ASSERT_EQ(pruner->NumBrackets(), 4);
  // Cycle of 27 + 12 + 6 + 4 = 49 trial numbers.
  EXPECT_EQ(pruner->BracketOf(0), 0);
  EXPECT_EQ(pruner->BracketOf(26), 0);
  EXPECT_EQ(pruner->BracketOf(27), 1);
  EXPECT_EQ(pruner->BracketOf(38), 1);
  EXPECT_EQ(pruner->BracketOf(39), 2);
  EXPECT_EQ(pruner->BracketOf(45), 3);
  EXPECT_EQ(pruner->BracketOf(48), 3);
  EXPECT_EQ(pruner->BracketOf(49), 0);
}

TEST_F(HyperbandPrunerTest, ComparesOnlyWithinTheBracket) {
  // Trial 30 is in bracket 1: it does not count at trial 0's rung.
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.1}}), {CurveAtSteps(30, {{1, 0.9}})}));
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.1}}), {CurveAtSteps(1, {{1, 0.9}})}));
}

TEST_F(HyperbandPrunerTest, LaterBracketsStartAtHigherRungs) {
  const std::vector<TrialRecord> peers = {CurveAtSteps(28, {{1, 0.9}, {3, 0.9}})};
  EXPECT_FALSE(Prune(CurveAtSteps(27, {{1, 0.1}}), peers));  // Bracket 1's first rung is 3.
  EXPECT_TRUE(Prune(CurveAtSteps(27, {{1, 0.1}, {3, 0.1}}), peers));
  // Bracket 3 (first rung 27 = max_resource) never prunes.
  EXPECT_FALSE(Prune(CurveAtSteps(45, {{3, 0.1}, {9, 0.1}, {26, 0.1}}),
                     {CurveAtSteps(46, {{3, 0.9}, {9, 0.9}, {26, 0.9}})}));
}

// max_resource is required by the study schema now ("pruner.max_resource:
// missing", PrunerSpecTest); the pruner still refuses one below min_resource.
TEST_F(HyperbandPrunerTest, NeedsMaxResource) {
  spec_.max_resource = 0;
  auto pruner = HyperbandPruner::Create(spec_);
  ASSERT_THAT(pruner, StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vernier
