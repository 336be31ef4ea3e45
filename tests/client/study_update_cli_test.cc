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

  // An UpdateStudy request for the study that changes nothing yet.
  static v1::UpdateStudyRequest Request(bool resume) {
    v1::UpdateStudyRequest request;
    request.set_name("resumable");
    request.set_resume(resume);
    return request;
  }

  std::ostringstream out_;
  CommandContext ctx_;
};

TEST_F(StudyUpdateCliTest, UpdateChangesTheBudgetAndPrintsTheStudy) {
  v1::UpdateStudyRequest change = Request(/*resume=*/false);
  change.set_max_trials(4);
  ASSERT_OK(UpdateStudyCommand(ctx_, change));
  EXPECT_THAT(out_.str(), HasSubstr("\"max_trials\": 4"));
  EXPECT_EQ(Study().max_trials(), 4);
  EXPECT_FALSE(Study().spec().budget().has_max_seconds());

  v1::UpdateStudyRequest more_time = Request(/*resume=*/false);
  more_time.set_max_seconds(3600);
  ASSERT_OK(UpdateStudyCommand(ctx_, more_time));
  EXPECT_EQ(Study().spec().budget().max_seconds(), 3600);
}

TEST_F(StudyUpdateCliTest, UpdateWithoutAFieldIsRefusedBeforeAnyCall) {
  EXPECT_THAT(UpdateStudyCommand(ctx_, Request(/*resume=*/false)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-trials")));
}

TEST_F(StudyUpdateCliTest, ResumeRestartsACompletedStudyWithALargerBudget) {
  const v1::Trial trial = AskTrial("resumable");
  TellTrial("resumable", trial.number(), 0.5);
  ASSERT_EQ(Study().state(), v1::STUDY_STATE_COMPLETED);

  EXPECT_THAT(UpdateStudyCommand(ctx_, Request(/*resume=*/true)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("change that part of it")));
  v1::UpdateStudyRequest change = Request(/*resume=*/true);
  change.set_max_trials(2);
  ASSERT_OK(UpdateStudyCommand(ctx_, change));
  EXPECT_EQ(Study().state(), v1::STUDY_STATE_ACTIVE);
  EXPECT_EQ(AskTrial("resumable").number(), 1);
}

}  // namespace
}  // namespace vernier
