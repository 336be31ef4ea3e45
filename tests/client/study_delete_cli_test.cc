// `vernier study delete` and `vernier trial exclude` against a real
// in-process vernier-server: what the CLI prints, and refusals as the server
// worded them.
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

constexpr char kAsked[] = R"(
name: asked
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 5}
trainer: {external: true}
)";

class StudyDeleteCliTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    CreateStudy(kAsked);
  }

  CommandContext Context(OutputFormat format) {
    return CommandContext{studies_.get(), &out_, format, "test-server"};
  }

  static v1::DeleteStudyRequest Delete(bool force) {
    v1::DeleteStudyRequest request;
    request.set_name("asked");
    request.set_force(force);
    return request;
  }

  static v1::ExcludeTrialRequest Exclude(int64_t trial, bool undo) {
    v1::ExcludeTrialRequest request;
    request.set_study("asked");
    request.set_trial_number(trial);
    request.set_reason("label noise");
    request.set_include(undo);
    return request;
  }

  std::ostringstream out_;
};

TEST_F(StudyDeleteCliTest, DeleteIsRefusedWhileATrialRunsAndForcedSaysWhatItStopped) {
  const v1::Trial done = AskTrial("asked");
  TellTrial("asked", done.number(), 0.5);
  AskTrial("asked");  // Still running.
  EXPECT_THAT(
      DeleteStudyCommand(Context(OutputFormat::kTable), Delete(/*force=*/false)),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has 1 running trial (1)")));
  ASSERT_OK(DeleteStudyCommand(Context(OutputFormat::kTable), Delete(/*force=*/true)));
  EXPECT_EQ(out_.str(), "deleted study asked (2 trials, 1 of them stopped while running)\n");
  EXPECT_THAT(DeleteStudyCommand(Context(OutputFormat::kTable), Delete(/*force=*/false)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"asked\" not found")));
  CreateStudy(kAsked);  // The name is free again.
  EXPECT_EQ(AskTrial("asked").number(), 0);
}

TEST_F(StudyDeleteCliTest, ExcludeMarksTheTrialInTablesAndJsonAndUndoTakesItBack) {
  const v1::Trial trial = AskTrial("asked");
  TellTrial("asked", trial.number(), 0.5);
  ASSERT_OK(ExcludeTrialCommand(Context(OutputFormat::kTable), Exclude(trial.number(), false)));
  EXPECT_THAT(out_.str(), HasSubstr("COMPLETE*"));
  EXPECT_THAT(out_.str(), HasSubstr("* excluded: the study does not learn from it"));

  out_.str("");
  ASSERT_OK(ListTrialsCommand(Context(OutputFormat::kJson), "asked"));
  EXPECT_THAT(out_.str(), HasSubstr("\"excluded\": true"));
  EXPECT_THAT(out_.str(), HasSubstr("\"exclusion_reason\": \"label noise\""));

  out_.str("");
  ASSERT_OK(ExcludeTrialCommand(Context(OutputFormat::kJson), Exclude(trial.number(), true)));
  EXPECT_THAT(out_.str(), ::testing::Not(HasSubstr("excluded")));
}

TEST_F(StudyDeleteCliTest, ExcludingARunningTrialIsRefusedWithTheReason) {
  const v1::Trial running = AskTrial("asked");
  EXPECT_THAT(ExcludeTrialCommand(Context(OutputFormat::kTable), Exclude(running.number(), false)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is RUNNING: only a finished trial can be excluded")));
}

}  // namespace
}  // namespace vernier
