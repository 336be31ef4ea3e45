// Coordinator::ExcludeTrial: an excluded trial keeps its record but leaves
// the best trials, the pruner's peers and the stop conditions; the exclusion
// can be taken back, survives a restart, and is refused for a trial that has
// not finished.
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

constexpr char kAskedStudy[] = R"(
name: asked
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 10, target: 0.1}
pruner: {type: median, warmup_steps: 0, min_trials: 1}
trainer: {external: true}
)";

class TrialExcludeTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    ASSERT_OK(Create(kAskedStudy));
  }

  // Asks a trial, reports `value` at step 1 and tells it COMPLETE with it.
  int64_t Finish(double value) {
    absl::StatusOr<TrialView> asked = coordinator_->Ask("asked");
    EXPECT_OK(asked);
    const int64_t number = asked->trial.number;
    EXPECT_OK(coordinator_->Report("asked", number, value, Measurement{1, {}}));
    EXPECT_OK(coordinator_->Tell("asked", number, TrialState::kComplete, value, {}, ""));
    return number;
  }

  absl::StatusOr<TrialView> Exclude(int64_t number, bool include = false) {
    return coordinator_->ExcludeTrial("asked", number, "bad data shard", include);
  }

  // The number of the best trial, or -1 for none.
  int64_t Best() {
    absl::StatusOr<TrialsView> best = coordinator_->BestTrials("asked", 1);
    EXPECT_OK(best);
    return best->trials.empty() ? -1 : best->trials[0].number;
  }
};

TEST_F(TrialExcludeTest, AnExcludedTrialLeavesTheBestTrialsButKeepsItsRecord) {
  const int64_t good = Finish(0.3);
  const int64_t suspicious = Finish(0.2);
  ASSERT_EQ(Best(), suspicious);

  absl::StatusOr<TrialView> excluded = Exclude(suspicious);
  ASSERT_OK(excluded);
  EXPECT_TRUE(excluded->trial.excluded);
  EXPECT_EQ(excluded->trial.exclusion_reason, "bad data shard");
  EXPECT_EQ(excluded->trial.state, TrialState::kComplete);
  EXPECT_EQ(excluded->trial.final_metrics.at("loss"), 0.2);
  EXPECT_EQ(Best(), good);

  Restart();
  EXPECT_TRUE(coordinator_->GetTrial("asked", suspicious)->trial.excluded);
  EXPECT_EQ(Best(), good);

  ASSERT_OK(Exclude(suspicious, /*include=*/true));
  EXPECT_FALSE(coordinator_->GetTrial("asked", suspicious)->trial.excluded);
  EXPECT_EQ(coordinator_->GetTrial("asked", suspicious)->trial.exclusion_reason, "");
  EXPECT_EQ(Best(), suspicious);
}

TEST_F(TrialExcludeTest, ThePrunerNoLongerComparesWithAnExcludedTrial) {
  const int64_t strong = Finish(0.2);
  // Worse than the only peer at step 1: the median pruner stops it.
  absl::StatusOr<TrialView> second = coordinator_->Ask("asked");
  ASSERT_OK(second);
  absl::StatusOr<AskedReport> judged =
      coordinator_->Report("asked", second->trial.number, 0.9, Measurement{1, {}});
  ASSERT_OK(judged);
  EXPECT_TRUE(judged->should_prune);

  ASSERT_OK(Exclude(strong));
  absl::StatusOr<TrialView> third = coordinator_->Ask("asked");
  ASSERT_OK(third);
  judged = coordinator_->Report("asked", third->trial.number, 0.9, Measurement{1, {}});
  ASSERT_OK(judged);
  EXPECT_FALSE(judged->should_prune) << "the pruner still compared with the excluded trial";
}

TEST_F(TrialExcludeTest, ATargetReachedOnlyByAnExcludedTrialNoLongerEndsTheStudy) {
  Finish(0.5);
  const int64_t lucky = Finish(0.05);  // Reaches budget.target 0.1: the study completes.
  ASSERT_EQ(coordinator_->GetStudy("asked")->record.state, StudyState::kCompleted);
  BudgetUpdate resume;
  resume.resume = true;
  EXPECT_THAT(coordinator_->UpdateStudy("asked", resume),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("budget.target")));

  ASSERT_OK(Exclude(lucky));
  ASSERT_OK(coordinator_->UpdateStudy("asked", resume));
  EXPECT_EQ(coordinator_->GetStudy("asked")->record.state, StudyState::kActive);
}

TEST_F(TrialExcludeTest, IncludingATrialThatReachesTheTargetCompletesTheStudy) {
  const int64_t lucky = Finish(0.05);
  ASSERT_OK(Exclude(lucky));
  BudgetUpdate resume;
  resume.resume = true;
  ASSERT_OK(coordinator_->UpdateStudy("asked", resume));
  ASSERT_OK(Exclude(lucky, /*include=*/true));
  EXPECT_EQ(coordinator_->GetStudy("asked")->record.state, StudyState::kCompleted);
}

TEST_F(TrialExcludeTest, RefusesTrialsThatHaveNotFinishedAndUnknownOnes) {
  absl::StatusOr<TrialView> running = coordinator_->Ask("asked");
  ASSERT_OK(running);
  EXPECT_THAT(Exclude(running->trial.number),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("trial 0 of study \"asked\" is RUNNING: only a finished trial "
                                 "can be excluded")));
  EXPECT_THAT(Exclude(7), StatusIs(absl::StatusCode::kNotFound, HasSubstr("trial 7")));
  EXPECT_THAT(coordinator_->ExcludeTrial("nope", 0, "", false),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("study \"nope\"")));
  EXPECT_THAT(coordinator_->ExcludeTrial("asked", 0, std::string(1001, 'x'), false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason: 1001 bytes")));
}

}  // namespace
}  // namespace vernier
