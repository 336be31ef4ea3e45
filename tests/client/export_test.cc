// `vernier study export` against a real in-process server (ServerRunner on a
// loopback port with a temporary SQLite file), plus the CSV helpers.
#include "client/export.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/service/server_runner.h"
#include "tests/server/service/in_process_server.h"
#include "tests/testing/temp_dir.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A categorical value with a comma and quotes, to exercise CSV quoting.
constexpr char kStudy[] = R"(
name: exp
objective: {metric: loss, goal: minimize}
params:
  lr: {type: float, low: 0.001, high: 0.1}
  tag: {type: categorical, values: ['a,"b"']}
budget: {max_trials: 3, parallel: 3}
trainer: {command: [python3, trial.py]}
)";

using ::vernier::testing::ReadFile;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(CsvFieldTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField(""), "");
}

TEST(ParseExportFormatTest, KnowsJsonAndCsv) {
  EXPECT_EQ(*ParseExportFormat("json"), ExportFormat::kJson);
  EXPECT_EQ(*ParseExportFormat("csv"), ExportFormat::kCsv);
  EXPECT_EQ(ParseExportFormat("table").status().code(), absl::StatusCode::kInvalidArgument);
}

class ExportTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    ctx_ = CommandContext{studies_.get(), &out_, OutputFormat::kTable, "test-server"};
    RunStudy();
  }

  // Trial 0 completes after two steps, trial 1 fails, trial 2 keeps running.
  void RunStudy() {
    grpc::ClientContext create_context;
    v1::CreateStudyRequest create;
    create.set_spec_yaml(kStudy);
    v1::Study study;
    ASSERT_TRUE(studies_->CreateStudy(&create_context, create, &study).ok());
    v1::TrialLease t0 = Acquire(), t1 = Acquire();
    Acquire();
    Report(t0, 0, 0.9);
    Report(t0, 1, 0.4);
    Complete(t0, v1::TRIAL_STATE_COMPLETE, "");
    Complete(t1, v1::TRIAL_STATE_FAILED, "exit code 1, \"boom\"");
  }

  v1::TrialLease Acquire() {
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id("w");
    v1::AcquireTrialResponse response;
    EXPECT_TRUE(workers_->AcquireTrial(&context, request, &response).ok());
    return response.lease();
  }

  void Report(const v1::TrialLease& lease, int64_t step, double loss) {
    grpc::ClientContext context;
    v1::ReportProgressRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = lease;
    request.mutable_measurement()->set_step(step);
    (*request.mutable_measurement()->mutable_metrics())["loss"] = loss;
    (*request.mutable_measurement()->mutable_metrics())["acc"] = 1 - loss;
    v1::ReportProgressResponse response;
    EXPECT_TRUE(workers_->ReportProgress(&context, request, &response).ok());
  }

  void Complete(const v1::TrialLease& lease, v1::TrialState state, const std::string& reason) {
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = lease;
    request.set_state(state);
    if (state == v1::TRIAL_STATE_COMPLETE) (*request.mutable_final_metrics())["loss"] = 0.25;
    request.set_failure_reason(reason);
    v1::CompleteTrialResponse response;
    EXPECT_TRUE(workers_->CompleteTrial(&context, request, &response).ok());
  }

  std::ostringstream out_;
  CommandContext ctx_;
};

TEST_F(ExportTest, JsonHoldsTheStudySpecAndEveryTrial) {
  ASSERT_TRUE(ExportStudyCommand(ctx_, "exp", {ExportFormat::kJson, "", ""}).ok());
  const nlohmann::json exported = nlohmann::json::parse(out_.str());
  EXPECT_EQ(exported["study"]["name"], "exp");
  EXPECT_EQ(exported["study"]["spec_yaml"], kStudy);
  const nlohmann::json& trials = exported["trials"];
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0]["state"], "COMPLETE");
  EXPECT_EQ(trials[0]["params"]["tag"], "a,\"b\"");
  EXPECT_TRUE(trials[0]["params"]["lr"].is_number());
  ASSERT_EQ(trials[0]["intermediate"].size(), 2u);
  EXPECT_EQ(trials[0]["intermediate"][1]["step"], 1);
  EXPECT_EQ(trials[0]["intermediate"][1]["metrics"]["loss"], 0.4);
  EXPECT_EQ(trials[0]["final_metrics"]["loss"], 0.25);
  EXPECT_EQ(trials[0]["objective_value"], 0.25);
  EXPECT_GT(trials[0]["end_time_unix_ms"], 0);
  EXPECT_EQ(trials[1]["state"], "FAILED");
  // The server keeps logs (a database file), so the reason points at the log.
  EXPECT_EQ(trials[1]["failure_reason"],
            "exit code 1, \"boom\" (full log: vernier logs exp 1 --attempt 1)");
  EXPECT_EQ(trials[2]["state"], "RUNNING");
}

TEST_F(ExportTest, CsvHasOneQuotedRowPerTrialAndALongIntermediateFile) {
  const std::filesystem::path trials_path = dir_ / "trials.csv";
  const std::filesystem::path steps_path = dir_ / "steps.csv";
  ASSERT_TRUE(ExportStudyCommand(ctx_, "exp",
                                 {ExportFormat::kCsv, trials_path.string(), steps_path.string()})
                  .ok());
  EXPECT_EQ(out_.str(), "");
  const std::vector<std::string> rows = Lines(ReadFile(trials_path));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0],
            "number,state,objective_value,duration_seconds,params_lr,params_tag,final_loss");
  EXPECT_THAT(rows[1], StartsWith("0,COMPLETE,0.25,"));
  EXPECT_THAT(rows[1], HasSubstr(",\"a,\"\"b\"\"\",0.25"));
  EXPECT_THAT(rows[2], StartsWith("1,FAILED,,"));
  EXPECT_THAT(rows[2], HasSubstr(",\"a,\"\"b\"\"\","));
  EXPECT_THAT(rows[3], StartsWith("2,RUNNING,,"));

  EXPECT_EQ(ReadFile(steps_path),
            "number,step,metric,value\n"
            "0,0,acc,0.09999999999999998\n"
            "0,0,loss,0.9\n"
            "0,1,acc,0.6\n"
            "0,1,loss,0.4\n");
}

TEST_F(ExportTest, ErrorsAreClear) {
  EXPECT_EQ(ExportStudyCommand(ctx_, "ghost", {ExportFormat::kJson, "", ""}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ExportStudyCommand(ctx_, "exp", {ExportFormat::kJson, "", "steps.csv"}).code(),
            absl::StatusCode::kInvalidArgument);
  const std::string unwritable = (dir_ / "no" / "dir" / "out.json").string();
  absl::Status status = ExportStudyCommand(ctx_, "exp", {ExportFormat::kJson, unwritable, ""});
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr(unwritable));
}

TEST_F(ExportTest, BackupCommandPrintsTheSize) {
  const std::string path = (dir_ / "copy.db").string();
  ASSERT_TRUE(BackupCommand(ctx_, path).ok());
  EXPECT_THAT(out_.str(), HasSubstr("bytes to " + path));
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(BackupCommand(ctx_, path).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace vernier
