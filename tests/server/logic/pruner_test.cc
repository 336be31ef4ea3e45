#include "server/logic/pruner.h"

#include <cmath>

#include "gtest/gtest.h"

namespace vernier {
namespace {

TrialRecord Curve(int64_t number, std::vector<double> values,
                  TrialState state = TrialState::kComplete) {
  TrialRecord trial;
  trial.number = number;
  trial.state = state;
  for (size_t i = 0; i < values.size(); ++i) {
    trial.intermediate.push_back({static_cast<int64_t>(i + 1), {{"acc", values[i]}}});
  }
  return trial;
}

class MedianPrunerTest : public ::testing::Test {
 protected:
  MedianPrunerTest() {
    spec_.type = "median";
    spec_.warmup_steps = 1;
    spec_.min_trials = 3;
    others_ = {Curve(0, {0.5, 0.6, 0.7}), Curve(1, {0.6, 0.7, 0.8}), Curve(2, {0.7, 0.8, 0.9})};
  }
  bool Prune(const TrialRecord& trial, int64_t step) {
    std::vector<const TrialRecord*> others;
    for (const auto& t : others_) others.push_back(&t);
    return MedianPruner(spec_).ShouldPrune(objective_, trial, step, others);
  }

  PrunerSpec spec_;
  ObjectiveSpec objective_{"acc", Goal::kMaximize};
  std::vector<TrialRecord> others_;
};

TEST_F(MedianPrunerTest, PrunesBelowMedian) { EXPECT_TRUE(Prune(Curve(9, {0.55, 0.65}), 2)); }

TEST_F(MedianPrunerTest, KeepsAboveMedian) { EXPECT_FALSE(Prune(Curve(9, {0.55, 0.75}), 2)); }

TEST_F(MedianPrunerTest, UsesBestValueSoFar) {
  // 0.75 at step 1 beats step 2's median of 0.7 even though step 2 dropped.
  EXPECT_FALSE(Prune(Curve(9, {0.75, 0.1}), 2));
}

TEST_F(MedianPrunerTest, NoPruningDuringWarmup) {
  spec_.warmup_steps = 3;
  EXPECT_FALSE(Prune(Curve(9, {0.0, 0.0}), 2));
}

TEST_F(MedianPrunerTest, NeedsMinTrialsAtTheStep) {
  spec_.min_trials = 4;
  EXPECT_FALSE(Prune(Curve(9, {0.1, 0.1}), 2));
}

TEST_F(MedianPrunerTest, IgnoresFailedTrialsAndMissingSteps) {
  others_.push_back(Curve(3, {0.99, 0.99, 0.99}, TrialState::kFailed));
  others_.push_back(Curve(4, {0.99}));  // Never reached step 2.
  // Median at step 2 stays 0.7.
  EXPECT_FALSE(Prune(Curve(9, {0.5, 0.71}), 2));
  EXPECT_TRUE(Prune(Curve(9, {0.5, 0.69}), 2));
}

TEST_F(MedianPrunerTest, MinimizeFlipsTheComparison) {
  objective_.goal = Goal::kMinimize;
  EXPECT_TRUE(Prune(Curve(9, {0.9, 0.9}), 2));
  EXPECT_FALSE(Prune(Curve(9, {0.5, 0.6}), 2));
}

TEST_F(MedianPrunerTest, NaNIsPruned) { EXPECT_TRUE(Prune(Curve(9, {0.9, std::nan("")}), 2)); }

TEST_F(MedianPrunerTest, IntervalSkipsSteps) {
  spec_.interval = 2;
  EXPECT_FALSE(Prune(Curve(9, {0.1, 0.1}), 2));  // (2 - warmup 1) % 2 != 0
  EXPECT_TRUE(Prune(Curve(9, {0.1, 0.1, 0.1}), 3));
}

TEST(NoPrunerTest, NeverPrunes) {
  EXPECT_FALSE(NoPruner().ShouldPrune({"acc", Goal::kMaximize}, Curve(0, {0.0}), 1, {}));
}

}  // namespace
}  // namespace vernier
