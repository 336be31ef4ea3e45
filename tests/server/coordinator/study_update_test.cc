// Coordinator::UpdateStudy: a running study's budget changed, an ended one
// resumed, and the changes it refuses, each saying why; every change
// survives a restart.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

constexpr char kBudgetedStudy[] = R"(
name: budgeted
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 3, parallel: 1, max_failures: 0}
trainer: {external: true}
)";

class StudyUpdateTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    ASSERT_TRUE(Create(kBudgetedStudy).ok());
  }

  void Run(int trials, TrialState state = TrialState::kComplete) {
    for (int i = 0; i < trials; ++i) {
      absl::StatusOr<TrialView> asked = coordinator_->Ask("budgeted");
      ASSERT_TRUE(asked.ok()) << asked.status();
      const std::optional<double> value =
          state == TrialState::kComplete ? std::optional<double>(0.5) : std::nullopt;
      ASSERT_TRUE(coordinator_->Tell("budgeted", asked->trial.number, state, value, {}, "").ok());
    }
  }

  absl::StatusOr<StudyView> Update(BudgetUpdate update) {
    return coordinator_->UpdateStudy("budgeted", update);
  }

  StudyRecord Record() { return coordinator_->GetStudy("budgeted")->record; }
};

TEST_F(StudyUpdateTest, ARunningStudyGetsALargerBudgetThatSurvivesARestart) {
  Run(2);
  BudgetUpdate update;
  update.max_trials = 5;
  update.parallel = 2;
  absl::StatusOr<StudyView> view = Update(update);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->record.spec.budget.max_trials, 5);
  Run(2);  // Trials 3 and 4 would have been refused under max_trials 3.
  EXPECT_EQ(Record().state, StudyState::kActive);

  Restart();
  EXPECT_EQ(Record().spec.budget.max_trials, 5);
  EXPECT_EQ(Record().spec.budget.parallel, 2);
  Run(1);
  EXPECT_EQ(Record().state, StudyState::kCompleted);
}

TEST_F(StudyUpdateTest, LoweringMaxTrialsToTheTrialsDoneCompletesTheStudy) {
  Run(2);
  BudgetUpdate update;
  update.max_trials = 1;
  EXPECT_THAT(Update(update), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("already has 2 trials of its budget; it cannot "
                                                 "be lowered to 1")));
  update.max_trials = 2;
  ASSERT_TRUE(Update(update).ok());
  EXPECT_EQ(Record().state, StudyState::kCompleted);
}

TEST_F(StudyUpdateTest, BadValuesNameTheField) {
  BudgetUpdate update;
  update.parallel = 0;
  EXPECT_THAT(Update(update),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("budget.parallel")));
  EXPECT_THAT(coordinator_->UpdateStudy("nope", BudgetUpdate{}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(Record().spec.budget.parallel, 1);
}

TEST_F(StudyUpdateTest, AnEndedStudyIsResumedNotUpdated) {
  Run(3);
  ASSERT_EQ(Record().state, StudyState::kCompleted);
  BudgetUpdate update;
  update.max_trials = 4;
  EXPECT_THAT(Update(update), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("`vernier study resume` restarts it")));

  update.resume = true;
  update.max_trials = 3;
  EXPECT_THAT(Update(update),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("would end again at once under this budget (its 3 trials "
                                 "spend budget.max_trials): change that part of it")));
  EXPECT_EQ(Record().state, StudyState::kCompleted);

  update.max_trials = 4;
  absl::StatusOr<StudyView> resumed = Update(update);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->record.state, StudyState::kActive);
  EXPECT_EQ(resumed->record.state_reason, "");
  Restart();
  EXPECT_EQ(Record().state, StudyState::kActive);
  Run(1);
  EXPECT_EQ(Record().state, StudyState::kCompleted);

  update.max_trials = 6;
  ASSERT_TRUE(Update(update).ok());
  EXPECT_THAT(Update(update), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("is ACTIVE: there is nothing to resume")));
}

TEST_F(StudyUpdateTest, AStudyStoppedByFailuresResumesOnlyWithRoomForMore) {
  Run(1, TrialState::kFailed);
  ASSERT_EQ(Record().state, StudyState::kStopped);
  BudgetUpdate update;
  update.resume = true;
  EXPECT_THAT(Update(update), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("1 trials failed (budget.max_failures is 0)")));
  update.max_failures = 1;
  ASSERT_TRUE(Update(update).ok());
  EXPECT_EQ(Record().state, StudyState::kActive);
  Run(1);
}

TEST_F(StudyUpdateTest, AStudyItsTargetEndedResumesWithAnotherTarget) {
  BudgetUpdate target;
  target.max_trials = 10;
  target.target = 0.6;
  ASSERT_TRUE(Update(target).ok());
  Run(1);  // 0.5 reaches 0.6.
  ASSERT_EQ(Record().state, StudyState::kCompleted);
  EXPECT_THAT(Record().state_reason, HasSubstr("budget.target 0.6 reached by trial 0"));

  BudgetUpdate resume;
  resume.resume = true;
  EXPECT_THAT(Update(resume), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("(budget.target 0.6 reached by trial 0")));
  resume.target = 0.1;
  ASSERT_TRUE(Update(resume).ok());
  EXPECT_EQ(Record().spec.budget.target, 0.1);
  Run(1);
  EXPECT_EQ(Record().state, StudyState::kActive);
}

TEST_F(StudyUpdateTest, AStoppedStudyResumesWithTheSameBudget) {
  Run(1);
  ASSERT_TRUE(coordinator_->StopStudy("budgeted").ok());
  BudgetUpdate update;
  update.resume = true;
  ASSERT_TRUE(Update(update).ok());
  Run(2);
  EXPECT_EQ(Record().state, StudyState::kCompleted);
}

}  // namespace
}  // namespace vernier
