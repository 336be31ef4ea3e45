#include "server/logic/stop_conditions.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/logic/test_util.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

const absl::Time kCreated = absl::FromUnixSeconds(1'000'000);

// A study of `goal` on "loss" with `budget` (YAML of its budget block).
StudySpec Spec(const std::string& budget, const std::string& goal = "minimize") {
  return VALUE_OR_FAIL(testing::StudySpecForTest(
      absl::StrCat("name: s\nobjective: {metric: loss, goal: ", goal,
                   "}\nparams:\n  x: {type: float, low: 0, high: 1}\nbudget: ", budget,
                   "\ntrainer: {command: [/bin/true]}\n")));
}

// COMPLETE trial `number` with `loss`, ended `ended_s` seconds after creation.
TrialRecord Ended(int64_t number, double loss, int ended_s) {
  TrialRecord trial = Complete(number, {{"x", 0.5}}, loss);
  trial.end_time = kCreated + absl::Seconds(ended_s);
  return trial;
}

std::optional<std::string> Reached(const StudySpec& spec, const std::vector<TrialRecord>& trials,
                                   int now_s = 10) {
  return StopConditionReached(spec.budget, spec.objectives, trials, kCreated,
                              kCreated + absl::Seconds(now_s));
}

TEST(StopConditionsTest, NoneSetNeverStops) {
  const StudySpec spec = Spec("{max_trials: 5}");
  EXPECT_FALSE(HasStopConditions(spec.budget));
  EXPECT_EQ(Reached(spec, {Ended(0, -1e9, 1)}, 1'000'000), std::nullopt);
}

TEST(StopConditionsTest, TargetStopsOnceAMinimisedObjectiveIsAtOrBelowIt) {
  const StudySpec spec = Spec("{target: 0.1}");
  EXPECT_TRUE(HasStopConditions(spec.budget));
  EXPECT_EQ(Reached(spec, {Ended(0, 0.5, 1), Ended(1, 0.2, 2)}), std::nullopt);
  EXPECT_THAT(Reached(spec, {Ended(0, 0.5, 1), Ended(1, 0.1, 2)}),
              Optional(HasSubstr("budget.target 0.1 reached by trial 1 (loss = 0.1)")));
}

TEST(StopConditionsTest, TargetOfAMaximisedObjectiveIsReachedFromBelow) {
  const StudySpec spec = Spec("{target: 0.9}", "maximize");
  EXPECT_EQ(Reached(spec, {Ended(0, 0.1, 1), Ended(1, 0.89, 2)}), std::nullopt);
  EXPECT_THAT(Reached(spec, {Ended(0, 0.95, 1)}), Optional(HasSubstr("loss = 0.95")));
}

TEST(StopConditionsTest, OnlyCompleteTrialsWithAValueCount) {
  const StudySpec spec = Spec("{target: 0.1}");
  TrialRecord pruned = Ended(0, 0.0, 1);
  pruned.state = TrialState::kPruned;
  TrialRecord running = Ended(1, 0.0, 1);
  running.state = TrialState::kRunning;
  TrialRecord no_value = Ended(2, 0.0, 1);
  no_value.final_metrics.clear();
  EXPECT_EQ(Reached(spec, {pruned, running, no_value}), std::nullopt);
}

TEST(StopConditionsTest, MaxSecondsCountsFromTheStudysCreation) {
  const StudySpec spec = Spec("{max_seconds: 60}");
  EXPECT_EQ(Reached(spec, {}, 59), std::nullopt);
  EXPECT_THAT(Reached(spec, {}, 60), Optional(HasSubstr("budget.max_seconds 60 spent")));
}

TEST(StopConditionsTest, PatienceCountsTrialsInTheOrderTheyEnded) {
  const StudySpec spec = Spec("{patience_trials: 2}");
  // By number, 1 and 2 come after the best (0); by end time the best (trial
  // 0) ended last, so nothing has failed to beat it yet.
  EXPECT_EQ(Reached(spec, {Ended(0, 0.1, 9), Ended(1, 0.5, 1), Ended(2, 0.4, 2)}), std::nullopt);
  EXPECT_THAT(Reached(spec, {Ended(0, 0.1, 1), Ended(1, 0.5, 2), Ended(2, 0.4, 3)}),
              Optional(HasSubstr("no better trial in the last 2 COMPLETE trials (best loss = "
                                 "0.1, trial 0)")));
}

TEST(StopConditionsTest, AnEqualValueIsNoImprovement) {
  const StudySpec spec = Spec("{patience_trials: 1}");
  EXPECT_NE(Reached(spec, {Ended(0, 0.1, 1), Ended(1, 0.1, 2)}), std::nullopt);
  EXPECT_EQ(Reached(spec, {Ended(0, 0.1, 1), Ended(1, 0.05, 2)}), std::nullopt);
}

}  // namespace
}  // namespace vernier
