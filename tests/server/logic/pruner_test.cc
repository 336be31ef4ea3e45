#include "server/logic/pruner.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/schema/study_schema.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;

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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class MedianPrunerTest : public ::testing::Test {
 protected:
  MedianPrunerTest() {
    spec_.warmup_steps = 1;
    spec_.min_trials = 3;
    others_ = {Curve(0, {0.5, 0.6, 0.7}), Curve(1, {0.6, 0.7, 0.8}), Curve(2, {0.7, 0.8, 0.9})};
  }
  bool Prune(const TrialRecord& trial, int64_t step) {
    std::vector<const TrialRecord*> others;
    for (const auto& t : others_) others.push_back(&t);
    return MedianPruner(spec_).ShouldPrune(objective_, trial, step, others);
  }

  MedianSpec spec_;
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

TEST_F(MedianPrunerTest, IntervalCopesWithIrregularSteps) {
  spec_.warmup_steps = 0;
  spec_.interval = 2;
  others_ = {CurveAtSteps(0, {{3, 0.8}}), CurveAtSteps(1, {{3, 0.9}}), CurveAtSteps(2, {{3, 0.7}})};
  spec_.min_trials = 3;
  // Boundary 2 was skipped: step 3 is the first report at or after it.
  EXPECT_TRUE(Prune(CurveAtSteps(9, {{1, 0.1}, {3, 0.1}}), 3));
  // Step 2 was reported already, so step 3 is not a deciding step.
  EXPECT_FALSE(Prune(CurveAtSteps(9, {{2, 0.1}, {3, 0.1}}), 3));
}

TEST_F(MedianPrunerTest, NaNPeersAreIgnoredAndTooFewPeersKeep) {
  others_ = {Curve(0, {0.9, 0.9}), Curve(1, {kNaN, kNaN}), Curve(2, {kNaN, kNaN})};
  EXPECT_FALSE(Prune(Curve(9, {0.1, 0.1}), 2));  // One usable peer < min_trials 3.
  spec_.min_trials = 1;
  EXPECT_TRUE(Prune(Curve(9, {0.1, 0.1}), 2));
}

TEST_F(MedianPrunerTest, SkipsItselfAmongTheOthers) {
  others_.push_back(Curve(9, {0.1, 0.1}));  // The trial itself, as the coordinator passes it.
  spec_.min_trials = 4;
  EXPECT_FALSE(Prune(Curve(9, {0.1, 0.1}), 2));
}

class PercentilePrunerTest : public ::testing::Test {
 protected:
  bool Prune(double percentile, const TrialRecord& trial, int64_t step) {
    spec_.percentile = percentile;
    return PercentilePruner(spec_).ShouldPrune(objective_, trial, step, Pointers(others_));
  }

  PercentileSpec spec_;
  ObjectiveSpec objective_{"acc", Goal::kMaximize};
  // At step 1 the peers hold 0.1, 0.2, 0.3, 0.4, 0.5.
  std::vector<TrialRecord> others_ = {Curve(0, {0.1}), Curve(1, {0.2}), Curve(2, {0.3}),
                                      Curve(3, {0.4}), Curve(4, {0.5})};
};

TEST_F(PercentilePrunerTest, KeepsTheBestPercentOfAMaximizedMetric) {
  // Keep the best 25 %: the 75th percentile is 0.4.
  EXPECT_TRUE(Prune(25, Curve(9, {0.39}), 1));
  EXPECT_FALSE(Prune(25, Curve(9, {0.4}), 1));
  // 50 is the median, 0.3.
  EXPECT_TRUE(Prune(50, Curve(9, {0.29}), 1));
  EXPECT_FALSE(Prune(50, Curve(9, {0.31}), 1));
}

TEST_F(PercentilePrunerTest, InterpolatesAndFlipsForMinimize) {
  objective_.goal = Goal::kMinimize;
  // Keep the lowest 10 %: the 10th percentile of 0.1..0.5 is 0.14.
  EXPECT_TRUE(Prune(10, Curve(9, {0.15}), 1));
  EXPECT_FALSE(Prune(10, Curve(9, {0.13}), 1));
}

TEST_F(PercentilePrunerTest, HundredPrunesOnlyWhatIsWorseThanEveryPeer) {
  EXPECT_TRUE(Prune(100, Curve(9, {0.09}), 1));
  EXPECT_FALSE(Prune(100, Curve(9, {0.1}), 1));
  EXPECT_TRUE(Prune(100, Curve(9, {kNaN}), 1));
}

TEST(PercentileTest, MatchesNumpysLinearInterpolation) {
  EXPECT_DOUBLE_EQ(Percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile({1, 2, 3, 4, 5}, 75), 4);
  EXPECT_DOUBLE_EQ(Percentile({7}, 30), 7);
}

class ThresholdPrunerTest : public ::testing::Test {
 protected:
  bool Prune(const TrialRecord& trial, int64_t step) {
    return ThresholdPruner(spec_).ShouldPrune(objective_, trial, step, {});
  }

  ThresholdSpec spec_;
  ObjectiveSpec objective_{"acc", Goal::kMinimize};
};

TEST_F(ThresholdPrunerTest, StopsALossExplosion) {
  spec_.upper = 10;
  EXPECT_FALSE(Prune(Curve(0, {2.0, 9.9}), 2));
  EXPECT_TRUE(Prune(Curve(0, {2.0, 11.0}), 2));
}

TEST_F(ThresholdPrunerTest, LowerBoundAndWarmup) {
  spec_.lower = 0.2;
  spec_.warmup_steps = 2;
  EXPECT_FALSE(Prune(Curve(0, {0.1}), 1));
  EXPECT_TRUE(Prune(Curve(0, {0.1, 0.1}), 2));
}

TEST_F(ThresholdPrunerTest, NaNIsPrunedEvenDuringWarmup) {
  spec_.upper = 10;
  spec_.warmup_steps = 5;
  EXPECT_TRUE(Prune(Curve(0, {kNaN}), 1));
}

TEST_F(ThresholdPrunerTest, MissingMetricAtTheStepIsNotJudged) {
  spec_.upper = 10;
  TrialRecord trial = Curve(0, {100.0});
  trial.intermediate.push_back({2, {{"other", 1.0}}});
  EXPECT_FALSE(Prune(trial, 2));
}

// Always prunes: shows when PatiencePruner consults the wrapped pruner.
class AlwaysPruner : public Pruner {
 public:
  bool ShouldPrune(const ObjectiveSpec&, const TrialRecord&, int64_t,
                   absl::Span<const TrialRecord* const>) const override {
    return true;
  }
};

class PatiencePrunerTest : public ::testing::Test {
 protected:
  PatiencePrunerTest() { spec_.patience = 2; }
  bool Prune(const TrialRecord& trial, int64_t step, std::unique_ptr<Pruner> wrapped = nullptr) {
    return PatiencePruner(spec_, std::move(wrapped)).ShouldPrune(objective_, trial, step, {});
  }

  PatienceSpec spec_;
  ObjectiveSpec objective_{"acc", Goal::kMaximize};
};

TEST_F(PatiencePrunerTest, PrunesAfterPatienceStepsWithoutImprovement) {
  EXPECT_FALSE(Prune(Curve(0, {0.5, 0.4}), 2));        // Nothing before the window (0, 2].
  EXPECT_TRUE(Prune(Curve(0, {0.5, 0.4, 0.5}), 3));    // Equal is no improvement.
  EXPECT_FALSE(Prune(Curve(0, {0.5, 0.4, 0.51}), 3));  // Improved.
}

TEST_F(PatiencePrunerTest, NeedsHistoryBeforeTheWindow) {
  EXPECT_FALSE(Prune(Curve(0, {0.5, 0.4}), 2));
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{5, 0.1}}), 5));
}

TEST_F(PatiencePrunerTest, MinDeltaIsTheImprovementNeeded) {
  spec_.min_delta = 0.05;
  EXPECT_TRUE(Prune(Curve(0, {0.5, 0.52, 0.54}), 3));
  EXPECT_FALSE(Prune(Curve(0, {0.5, 0.52, 0.56}), 3));
}

TEST_F(PatiencePrunerTest, MinimizeFlipsTheComparison) {
  objective_.goal = Goal::kMinimize;
  EXPECT_TRUE(Prune(Curve(0, {1.0, 1.2, 1.1}), 3));
  EXPECT_FALSE(Prune(Curve(0, {1.0, 1.2, 0.9}), 3));
}

TEST_F(PatiencePrunerTest, CountsStepsNotReports) {
  // Steps 1 and 10: nine steps passed without improvement.
  EXPECT_TRUE(Prune(CurveAtSteps(0, {{1, 0.5}, {10, 0.4}}), 10));
  // Step 4 improved on step 1 and lies in the window (3, 5].
  EXPECT_FALSE(Prune(CurveAtSteps(0, {{1, 0.5}, {4, 0.6}, {5, 0.55}}), 5));
}

TEST_F(PatiencePrunerTest, NaNIsNoImprovement) {
  EXPECT_TRUE(Prune(Curve(0, {0.5, kNaN, kNaN}), 3));
  EXPECT_FALSE(Prune(Curve(0, {kNaN, kNaN, 0.1}), 3));  // No finite value before the window.
}

TEST_F(PatiencePrunerTest, PrunesOnlyWhenStalledAndTheWrappedPrunerAgrees) {
  EXPECT_FALSE(Prune(Curve(0, {0.5, 0.6, 0.7}), 3, std::make_unique<AlwaysPruner>()));
  EXPECT_TRUE(Prune(Curve(0, {0.5, 0.4, 0.4}), 3, std::make_unique<AlwaysPruner>()));
  EXPECT_FALSE(Prune(Curve(0, {0.5, 0.4, 0.4}), 3, std::make_unique<NoPruner>()));
}

TEST_F(PatiencePrunerTest, WrapsAMedianPrunerFromTheSpec) {
  auto median = std::make_shared<PrunerSpec>();
  median->rule = MedianSpec{};
  spec_.wrapped = median;
  auto pruner = MakePruner(PrunerSpec{spec_});
  ASSERT_OK(pruner);
  std::vector<TrialRecord> others = {Curve(1, {0.9, 0.9, 0.9})};
  // Stalled and below the median: pruned.
  EXPECT_TRUE((*pruner)->ShouldPrune(objective_, Curve(0, {0.5, 0.4, 0.4}), 3, Pointers(others)));
  // Stalled but above the median: kept.
  EXPECT_FALSE(
      (*pruner)->ShouldPrune(objective_, Curve(0, {0.95, 0.94, 0.94}), 3, Pointers(others)));
}

TEST(MakePrunerTest, BuildsEveryType) {
  // Every alternative of PrunerRule, at its defaults.
  for (const PrunerRule& rule :
       std::vector<PrunerRule>{NoPrunerSpec{}, MedianSpec{}, PercentileSpec{}, AshaSpec{},
                               ThresholdSpec{}, PatienceSpec{}, PbtSpec{}}) {
    EXPECT_OK(MakePruner(PrunerSpec{rule})) << PrunerSpec{rule}.type();
  }
  // hyperband's max_resource is required by the schema (see
  // ErrorsNameTheFieldAndTheValue); a value below min_resource is refused.
  HyperbandSpec hyperband;
  hyperband.max_resource = 0;
  EXPECT_THAT(MakePruner(PrunerSpec{hyperband}), Not(IsOk()));
  hyperband.max_resource = 27;
  EXPECT_OK(MakePruner(PrunerSpec{hyperband}));
  AshaSpec asha;
  asha.reduction_factor = 1;
  auto bad = MakePruner(PrunerSpec{asha});
  ASSERT_THAT(bad, Not(IsOk()));
  EXPECT_EQ(bad.status().message(), "pruner.reduction_factor: must be >= 2, got 1");
}

// ---- Study-file syntax -------------------------------------------------------

std::string StudyWithPruner(const std::string& pruner) {
  return "name: p\nobjective: {metric: acc, goal: maximize}\n"
         "params: {lr: {type: float, low: 0.1, high: 1.0}}\npruner: " +
         pruner + "\n";
}

absl::StatusOr<PrunerSpec> ParsedPruner(const std::string& pruner) {
  auto spec = ParseStudySpec(StudyWithPruner(pruner));
  if (!spec.ok()) return spec.status();
  return spec->pruner;
}

std::string PrunerError(const std::string& pruner) {
  auto spec = ParsedPruner(pruner);
  EXPECT_THAT(spec, Not(IsOk())) << pruner;
  return std::string(spec.status().message());
}

TEST(PrunerSpecTest, ParsesEachType) {
  auto percentile = ParsedPruner("{type: percentile, percentile: 25, warmup_steps: 2}");
  ASSERT_OK(percentile);
  EXPECT_DOUBLE_EQ(percentile->get<PercentileSpec>()->percentile, 25);
  EXPECT_EQ(percentile->get<PercentileSpec>()->warmup_steps, 2);

  auto asha = ParsedPruner("{type: asha, min_resource: 2, reduction_factor: 4, max_resource: 32}");
  ASSERT_OK(asha);
  EXPECT_EQ(asha->get<AshaSpec>()->min_resource, 2);
  EXPECT_EQ(asha->get<AshaSpec>()->reduction_factor, 4);
  EXPECT_EQ(asha->get<AshaSpec>()->max_resource, 32);
  EXPECT_EQ(asha->get<AshaSpec>()->bootstrap_count, 0);

  auto asha_defaults = ParsedPruner("{type: asha}");
  ASSERT_OK(asha_defaults);
  EXPECT_EQ(asha_defaults->get<AshaSpec>()->min_resource, 1);
  EXPECT_EQ(asha_defaults->get<AshaSpec>()->reduction_factor, 3);
  EXPECT_FALSE(asha_defaults->get<AshaSpec>()->max_resource.has_value());

  auto hyperband = ParsedPruner("{type: hyperband, max_resource: 27}");
  ASSERT_OK(hyperband);

  auto threshold = ParsedPruner("{type: threshold, upper: 10.0}");
  ASSERT_OK(threshold);
  EXPECT_EQ(threshold->get<ThresholdSpec>()->upper, 10.0);
  EXPECT_FALSE(threshold->get<ThresholdSpec>()->lower.has_value());

  auto patience = ParsedPruner(
      "{type: patience, patience: 3, min_delta: 0.01, wrapped: {type: median, min_trials: 2}}");
  ASSERT_OK(patience);
  const PatienceSpec& rule = *patience->get<PatienceSpec>();
  EXPECT_EQ(rule.patience, 3);
  EXPECT_DOUBLE_EQ(rule.min_delta, 0.01);
  ASSERT_NE(rule.wrapped, nullptr);
  EXPECT_EQ(rule.wrapped->type(), "median");
  EXPECT_EQ(rule.wrapped->get<MedianSpec>()->min_trials, 2);
  EXPECT_OK(MakePruner(*patience));
}

TEST(PrunerSpecTest, ErrorsNameTheFieldAndTheValue) {
  using ::testing::HasSubstr;
  EXPECT_EQ(PrunerError("{type: asha, reduction_factor: 1}"),
            "pruner.reduction_factor: must be >= 2, got 1");
  EXPECT_EQ(PrunerError("{type: asha, min_resource: 0}"),
            "pruner.min_resource: must be >= 1, got 0");
  EXPECT_EQ(PrunerError("{type: asha, min_resource: 4, max_resource: 2}"),
            "pruner.max_resource: must be >= 4, got 2");
  EXPECT_THAT(PrunerError("{type: hyperband}"), HasSubstr("pruner.max_resource: missing"));
  EXPECT_EQ(PrunerError("{type: percentile, percentile: 120}"),
            "pruner.percentile: must be in [0, 100], got 120");
  EXPECT_EQ(PrunerError("{type: percentile}"), "pruner.percentile: missing");
  EXPECT_THAT(PrunerError("{type: median, percentile: 30}"),
              HasSubstr("pruner.percentile: unknown key"));
  EXPECT_THAT(PrunerError("{type: threshold}"), HasSubstr("pruner: threshold needs lower"));
  EXPECT_EQ(PrunerError("{type: threshold, lower: 2, upper: 1}"),
            "pruner.lower: must be <= upper (1), got 2");
  EXPECT_EQ(PrunerError("{type: patience}"), "pruner.patience: missing");
  EXPECT_EQ(PrunerError("{type: patience, patience: 0}"), "pruner.patience: must be >= 1, got 0");
  EXPECT_EQ(PrunerError("{type: patience, patience: 2, min_delta: -0.1}"),
            "pruner.min_delta: must be >= 0, got -0.1");
  EXPECT_EQ(
      PrunerError("{type: patience, patience: 2, wrapped: {type: asha, reduction_factor: 0}}"),
      "pruner.wrapped.reduction_factor: must be >= 2, got 0");
  EXPECT_THAT(PrunerError("{type: patience, patience: 2, wrapped: {type: none}}"),
              HasSubstr("pruner.wrapped.type: must not be \"none\""));
  EXPECT_THAT(PrunerError("{type: fancy}"), HasSubstr("pruner.type: unknown pruner \"fancy\""));
}

}  // namespace
}  // namespace vernier
