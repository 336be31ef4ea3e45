// `vernier study update` and `vernier study resume` against a real
// in-process vernier-server: the budget changes on the server, the CLI prints
// the study as it now is, and refusals come back as the server worded them.
#include <sstream>
#include <string>

#include "client/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

constexpr char kResumable[] = R"(
name: resumable
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 1}
trainer: {external: true}
)";

class StudyUpdateCliTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    ctx_ = CommandContext{studies_.get(), &out_, OutputFormat::kJson, "test-server"};
    CreateStudy(kResumable);
  }

  v1::Study Study() { return GetStudy("resumable"); }

  std::ostringstream out_;
  CommandContext ctx_;
};

TEST_F(StudyUpdateCliTest, UpdateChangesTheBudgetAndPrintsTheStudy) {
  BudgetChange change;
  change.max_trials = 4;
  ASSERT_OK(UpdateStudyCommand(ctx_, "resumable", change, /*resume=*/false));
  EXPECT_THAT(out_.str(), HasSubstr("\"max_trials\": 4"));
  EXPECT_EQ(Study().max_trials(), 4);
  EXPECT_FALSE(Study().spec().budget().has_max_seconds());

  BudgetChange more_time;
  more_time.max_seconds = 3600;
  ASSERT_OK(UpdateStudyCommand(ctx_, "resumable", more_time, /*resume=*/false));
  EXPECT_EQ(Study().spec().budget().max_seconds(), 3600);
}

TEST_F(StudyUpdateCliTest, UpdateWithoutAFieldIsRefusedBeforeAnyCall) {
  EXPECT_THAT(UpdateStudyCommand(ctx_, "resumable", BudgetChange{}, /*resume=*/false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-trials")));
}

TEST_F(StudyUpdateCliTest, ResumeRestartsACompletedStudyWithALargerBudget) {
  const v1::Trial trial = AskTrial("resumable");
  TellTrial("resumable", trial.number(), 0.5);
  ASSERT_EQ(Study().state(), v1::STUDY_STATE_COMPLETED);

  EXPECT_THAT(UpdateStudyCommand(ctx_, "resumable", BudgetChange{}, /*resume=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("change that part of it")));
  BudgetChange change;
  change.max_trials = 2;
  ASSERT_OK(UpdateStudyCommand(ctx_, "resumable", change, /*resume=*/true));
  EXPECT_EQ(Study().state(), v1::STUDY_STATE_ACTIVE);
  EXPECT_EQ(AskTrial("resumable").number(), 1);
}

}  // namespace
}  // namespace vernier
