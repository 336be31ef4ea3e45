// One rule judges a final result, whether a worker or Tell sends it.
#include "server/coordinator/judge.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/schema/study_schema.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

class JudgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(spec_, ParseStudySpec(R"(
name: judged
objectives: [{metric: acc}, {metric: ms, goal: minimize}]
constraints: [{metric: mem, max: 4}]
params: {x: {type: float, low: 0, high: 1}}
trainer: {command: [a]}
)"));
    running_.number = 3;
    running_.state = TrialState::kRunning;
    running_.intermediate = {{1, {{"acc", 0.5}, {"ms", 9}}}};
  }

  absl::StatusOr<TrialRecord> Judge(TrialState state, MetricMap metrics, ResultSource source,
                                    std::string reason = "") {
    return JudgeFinalResult(spec_, running_, state, std::move(metrics), reason, source);
  }

  StudySpec spec_;
  TrialRecord running_;
};

TEST_F(JudgeTest, ACompleteResultWithEveryObjectiveWithinBoundsIsComplete) {
  for (ResultSource source : {ResultSource::kWorker, ResultSource::kTell}) {
    ASSERT_OK_AND_ASSIGN(TrialRecord trial, Judge(TrialState::kComplete,
                                                  {{"acc", 0.9}, {"ms", 3}, {"mem", 2}}, source));
    EXPECT_EQ(trial.state, TrialState::kComplete);
    EXPECT_EQ(trial.final_metrics.at("acc"), 0.9);
  }
}

TEST_F(JudgeTest, ABrokenConstraintIsInfeasibleOnBothPaths) {
  for (ResultSource source : {ResultSource::kWorker, ResultSource::kTell}) {
    ASSERT_OK_AND_ASSIGN(TrialRecord trial, Judge(TrialState::kComplete,
                                                  {{"acc", 0.9}, {"ms", 3}, {"mem", 8}}, source));
    EXPECT_EQ(trial.state, TrialState::kInfeasible);
    EXPECT_THAT(trial.failure_reason, HasSubstr("mem"));
  }
}

TEST_F(JudgeTest, AWorkersUnrankableResultFailsTheTrialATellIsRefused) {
  // The worker cannot fix a result: the trial fails, with the reason.
  ASSERT_OK_AND_ASSIGN(TrialRecord nan, Judge(TrialState::kComplete, {{"acc", NAN}, {"ms", 3}},
                                              ResultSource::kWorker));
  EXPECT_EQ(nan.state, TrialState::kFailed);
  EXPECT_THAT(nan.failure_reason, HasSubstr("\"acc\" is NaN"));
  // The objectives may come from the last report on a worker.
  ASSERT_OK_AND_ASSIGN(TrialRecord from_report,
                       Judge(TrialState::kComplete, {{"mem", 1}}, ResultSource::kWorker));
  EXPECT_EQ(from_report.state, TrialState::kComplete);
  // Tell's caller can fix the call: INVALID_ARGUMENT, nothing stored.
  EXPECT_THAT(Judge(TrialState::kComplete, {{"mem", 1}}, ResultSource::kTell),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a COMPLETE trial needs the objective \"acc\"")));
  EXPECT_THAT(Judge(TrialState::kComplete, {{"acc", 1}}, ResultSource::kTell),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"ms\" is missing")));
}

TEST_F(JudgeTest, MetricsBeyondTheBoundsFailAWorkersTrialAndAreRefusedToTell) {
  MetricMap many;
  for (size_t i = 0; i <= kMaxMetricsPerReport; ++i) many["m" + std::to_string(i)] = 1;
  ASSERT_OK_AND_ASSIGN(TrialRecord worker,
                       Judge(TrialState::kComplete, many, ResultSource::kWorker));
  EXPECT_EQ(worker.state, TrialState::kFailed);
  EXPECT_TRUE(worker.final_metrics.empty());
  EXPECT_THAT(Judge(TrialState::kComplete, many, ResultSource::kTell),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics: 257 metrics")));
}

TEST_F(JudgeTest, FailedTrialsKeepABoundedReason) {
  ASSERT_OK_AND_ASSIGN(TrialRecord silent, Judge(TrialState::kFailed, {}, ResultSource::kTell));
  EXPECT_EQ(silent.failure_reason, "failed (no reason given)");
  const std::string long_reason(kMaxFailureReasonBytes + 100, 'x');
  ASSERT_OK_AND_ASSIGN(TrialRecord loud,
                       Judge(TrialState::kFailed, {}, ResultSource::kWorker, long_reason));
  EXPECT_THAT(loud.failure_reason, HasSubstr("[truncated]"));
  EXPECT_LT(loud.failure_reason.size(), long_reason.size());
  EXPECT_THAT(Judge(TrialState::kWaiting, {}, ResultSource::kWorker),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not WAITING")));
}

}  // namespace
}  // namespace vernier
