// The budget's stop conditions (target, max_seconds, patience_trials) as the
// coordinator applies them: the study COMPLETEs with the reason, hands out
// no more trials, stops its running trials at their next report, and stays
// COMPLETED after a restart.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/coordinator/coordinator_fixture.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

// A study minimising loss with `budget` (a YAML flow mapping): its trials
// asked and told (ask/tell) or run by workers.
std::string StudyYaml(const std::string& name, const std::string& budget, bool ask_tell = true) {
  return absl::StrCat("name: ", name,
                      "\nobjective: {metric: loss, goal: minimize}\n"
                      "params:\n  x: {type: float, low: 0, high: 1}\n"
                      "budget: ",
                      budget, "\ntrainer: ",
                      ask_tell ? "{external: true}" : "{command: [python3, trial.py]}", "\n");
}

class StopConditionsTest : public CoordinatorFixture {
 protected:
  int64_t AskAndTell(const std::string& study, double loss) {
    absl::StatusOr<TrialView> asked = coordinator_->Ask(study);
    EXPECT_TRUE(asked.ok()) << asked.status();
    if (!asked.ok()) return -1;
    clock_.Advance(absl::Seconds(1));
    EXPECT_TRUE(
        coordinator_->Tell(study, asked->trial.number, TrialState::kComplete, loss, {}, "").ok());
    return asked->trial.number;
  }

  StudyRecord Record(const std::string& study) { return coordinator_->GetStudy(study)->record; }
};

TEST_F(StopConditionsTest, ReachingTheTargetCompletesTheStudyAndStopsItsOtherTrials) {
  ASSERT_TRUE(Create(StudyYaml("goal", "{max_trials: 50, target: 0.1}")).ok());
  absl::StatusOr<TrialView> still_running = coordinator_->Ask("goal");
  ASSERT_TRUE(still_running.ok());
  AskAndTell("goal", 0.5);
  EXPECT_EQ(Record("goal").state, StudyState::kActive);
  const int64_t winner = AskAndTell("goal", 0.05);

  const StudyRecord done = Record("goal");
  EXPECT_EQ(done.state, StudyState::kCompleted);
  EXPECT_THAT(done.state_reason,
              HasSubstr(absl::StrCat("budget.target 0.1 reached by trial ", winner)));
  absl::StatusOr<TrialView> more = coordinator_->Ask("goal");
  EXPECT_EQ(more.status().code(), absl::StatusCode::kFailedPrecondition);
  // The trial still running is told to stop at its next report.
  Measurement first_epoch;
  first_epoch.step = 1;
  absl::StatusOr<AskedReport> report =
      coordinator_->Report("goal", still_running->trial.number, 0.7, first_epoch);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->should_prune);

  Restart();
  EXPECT_EQ(Record("goal").state, StudyState::kCompleted);
  EXPECT_THAT(Record("goal").state_reason, HasSubstr("budget.target"));
}

TEST_F(StopConditionsTest, PatienceCompletesTheStudyAfterTrialsThatDoNotImprove) {
  ASSERT_TRUE(Create(StudyYaml("patient", "{max_trials: 50, patience_trials: 3}")).ok());
  AskAndTell("patient", 0.2);
  AskAndTell("patient", 0.1);
  AskAndTell("patient", 0.3);
  AskAndTell("patient", 0.1);  // Equal to the best: no improvement.
  EXPECT_EQ(Record("patient").state, StudyState::kActive);
  AskAndTell("patient", 0.4);
  EXPECT_EQ(Record("patient").state, StudyState::kCompleted);
  EXPECT_THAT(
      Record("patient").state_reason,
      HasSubstr("no better trial in the last 3 COMPLETE trials (best loss = 0.1, trial 1)"));
}

TEST_F(StopConditionsTest, MaxSecondsEndsAnIdleStudyWhenItIsNextAskedForATrial) {
  ASSERT_TRUE(Create(StudyYaml("timed", "{max_trials: 50, max_seconds: 60}")).ok());
  AskAndTell("timed", 0.5);
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(Record("timed").state, StudyState::kActive);
  absl::StatusOr<TrialView> late = coordinator_->Ask("timed");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr("COMPLETED"));
  EXPECT_THAT(Record("timed").state_reason, HasSubstr("budget.max_seconds 60 spent"));
}

TEST_F(StopConditionsTest, MaxSecondsStopsWorkersFromLeasingMore) {
  ASSERT_TRUE(
      Create(StudyYaml("timed-workers", "{max_trials: 50, max_seconds: 30}", /*ask_tell=*/false))
          .ok());
  const WorkerRegistration worker = coordinator_->RegisterWorker("w");
  absl::StatusOr<std::optional<Assignment>> first =
      coordinator_->AcquireTrial(worker.worker_id, "0");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->has_value());
  clock_.Advance(absl::Seconds(30));
  absl::StatusOr<std::optional<Assignment>> second =
      coordinator_->AcquireTrial(worker.worker_id, "1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->has_value());
  EXPECT_EQ(Record("timed-workers").state, StudyState::kCompleted);
}

TEST_F(StopConditionsTest, StudiesWithoutStopConditionsRunTheirWholeBudget) {
  ASSERT_TRUE(Create(StudyYaml("plain", "{max_trials: 3}")).ok());
  AskAndTell("plain", 0.0);
  clock_.Advance(absl::Hours(1000));
  AskAndTell("plain", 0.0);
  EXPECT_EQ(Record("plain").state, StudyState::kActive);
  AskAndTell("plain", 0.0);
  EXPECT_EQ(Record("plain").state, StudyState::kCompleted);
  EXPECT_EQ(Record("plain").state_reason, "");
}

}  // namespace
}  // namespace vernier
