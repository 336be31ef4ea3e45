// GetStudySummary through the real server on a loopback port, and `vernier
// study show`, which prints it. The pace and the time left are checked on the
// coordinator's fake clock (tests/server/coordinator/study_summary_test.cc);
// here, on the server's real clock, only that they are there.
#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include "client/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSummarisedStudy[] = R"(
name: sum
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 10}
trainer: {external: true}
)";

class StudySummaryServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    CreateStudy(kSummarisedStudy);
  }

  int64_t Ask() { return AskTrial("sum").number(); }
  void Report(int64_t trial, int64_t step, double loss) { ReportValue("sum", trial, step, loss); }
  // Ends trial `trial`: COMPLETE with `loss`, or FAILED when it is NaN.
  void Tell(int64_t trial, double loss) {
    TellTrial("sum", trial, std::isnan(loss) ? std::nullopt : std::optional<double>(loss));
  }

  grpc::Status Summary(const std::string& study, v1::StudySummary* summary) {
    grpc::ClientContext context;
    v1::GetStudySummaryRequest request;
    request.set_study(study);
    return studies_->GetStudySummary(&context, request, summary);
  }

  // Trials 0-2 ended (COMPLETE 0.4, FAILED, COMPLETE 0.2); trial 3 runs and
  // reported 0.3 at step 2.
  void MakeTrials() {
    Tell(Ask(), 0.4);
    Tell(Ask(), NAN);
    Tell(Ask(), 0.2);
    const int64_t running = Ask();
    Report(running, 1, 0.5);
    Report(running, 2, 0.3);
  }
};

TEST_F(StudySummaryServiceTest, CountsBestAndRunningTrialsOfAScriptedStudy) {
  MakeTrials();
  v1::StudySummary summary;
  const grpc::Status status = Summary("sum", &summary);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.study(), "sum");
  EXPECT_EQ(summary.state(), v1::STUDY_STATE_ACTIVE);
  EXPECT_EQ(summary.trial_counts().at("COMPLETE"), 2);
  EXPECT_EQ(summary.trial_counts().at("FAILED"), 1);
  EXPECT_EQ(summary.trial_counts().at("RUNNING"), 1);
  EXPECT_EQ(summary.max_trials(), 10);
  EXPECT_EQ(summary.finished_trials(), 3);
  ASSERT_TRUE(summary.has_best_trial());
  EXPECT_EQ(summary.best_trial(), 2);
  EXPECT_THAT(summary.best_objective_values(), ElementsAre(0.2));
  EXPECT_EQ(summary.pareto_front_size(), 0);
  // All three ended just now.
  EXPECT_GT(summary.finished_per_minute_recent(), 0);
  EXPECT_GT(summary.finished_per_minute_overall(), 0);
  EXPECT_TRUE(summary.has_eta_seconds());
  ASSERT_EQ(summary.running_size(), 1);
  EXPECT_EQ(summary.running(0).number(), 3);
  EXPECT_EQ(summary.running(0).latest_step(), 2);
  EXPECT_EQ(summary.running(0).objective_value(), 0.3);
  EXPECT_THAT(summary.running(0).objective_values(), ElementsAre(0.3));
  EXPECT_EQ(summary.running(0).worker_id(), "(ask)");
  EXPECT_GT(summary.running(0).start_time_unix_ms(), 0);
  EXPECT_GT(summary.time_unix_ms(), 0);
}

TEST_F(StudySummaryServiceTest, AStudyWithoutTrialsHasNoBestNorPace) {
  v1::StudySummary summary;
  ASSERT_TRUE(Summary("sum", &summary).ok());
  EXPECT_EQ(summary.finished_trials(), 0);
  EXPECT_FALSE(summary.has_best_trial());
  EXPECT_EQ(summary.finished_per_minute_recent(), 0);
  EXPECT_FALSE(summary.has_eta_seconds());
  EXPECT_EQ(summary.running_size(), 0);
}

TEST_F(StudySummaryServiceTest, UnknownOrMissingStudyIsRefused) {
  v1::StudySummary summary;
  const grpc::Status unknown = Summary("nope", &summary);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), HasSubstr("nope"));
  EXPECT_EQ(Summary("", &summary).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// ---- `vernier study show` ----

class StudyShowTest : public StudySummaryServiceTest {
 protected:
  std::string Show(OutputFormat format) {
    std::ostringstream out;
    const CommandContext ctx{studies_.get(), &out, format, "test-server"};
    const absl::Status status = ShowStudyCommand(ctx, "sum");
    EXPECT_TRUE(status.ok()) << status;
    return out.str();
  }
};

TEST_F(StudyShowTest, TheTablePrintsTheSummaryBelowTheStudy) {
  MakeTrials();
  const std::string table = Show(OutputFormat::kTable);
  EXPECT_THAT(table, HasSubstr("name:       sum\n"));
  EXPECT_THAT(table, HasSubstr("trials:     COMPLETE=2 FAILED=1 RUNNING=1\n"));
  EXPECT_THAT(table, HasSubstr("finished:   3 of 10 ("));
  EXPECT_THAT(table, HasSubstr("/min in the last 10 min, "));
  EXPECT_THAT(table, HasSubstr("best:       trial 2, loss=0.2\n"));
  EXPECT_THAT(table, HasSubstr("eta:        "));
  EXPECT_THAT(table, HasSubstr("running:    trial 3 (step 2, loss=0.3)\n"));
}

TEST_F(StudyShowTest, TheJsonKeepsItsFieldsAndAddsASummaryObject) {
  MakeTrials();
  const nlohmann::json shown = nlohmann::json::parse(Show(OutputFormat::kJson));
  EXPECT_EQ(shown["name"], "sum");
  EXPECT_EQ(shown["spec_yaml"], kSummarisedStudy);
  EXPECT_EQ(shown["max_trials"], 10);
  const nlohmann::json& summary = shown["summary"];
  EXPECT_EQ(summary["finished_trials"], 3);
  EXPECT_EQ(summary["max_trials"], 10);
  EXPECT_EQ(summary["trial_counts"]["COMPLETE"], 2);
  EXPECT_EQ(summary["best_trial"], 2);
  EXPECT_EQ(summary["best_objective_values"], nlohmann::json::array({0.2}));
  EXPECT_GT(summary["finished_per_minute_recent"].get<double>(), 0);
  EXPECT_TRUE(summary["eta_seconds"].is_number());
  ASSERT_EQ(summary["running"].size(), 1u);
  EXPECT_EQ(summary["running"][0]["number"], 3);
  EXPECT_EQ(summary["running"][0]["latest_step"], 2);
  EXPECT_EQ(summary["running"][0]["objective_value"], 0.3);
}

TEST_F(StudyShowTest, AStudyWithoutTrialsShowsNoBestAndAnUnknownEta) {
  const std::string table = Show(OutputFormat::kTable);
  EXPECT_THAT(table, HasSubstr("finished:   0 of 10\n"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("best:")));
  EXPECT_THAT(table, HasSubstr("eta:        unknown (no trial finished in the last 10 min)\n"));
  const nlohmann::json shown = nlohmann::json::parse(Show(OutputFormat::kJson));
  EXPECT_TRUE(shown["summary"]["eta_seconds"].is_null());
  EXPECT_FALSE(shown["summary"].contains("best_trial"));
}

}  // namespace
}  // namespace vernier
