// `vernier best`, `vernier trials` and `vernier study show` for a study with
// two objectives and a constraint, against a real in-process server
// (ServerRunner on a loopback port over a temporary SQLite file).
#include <sstream>
#include <string>
#include <vector>

#include "client/commands.h"
#include "client/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/service/in_process_server.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTwoObjectiveStudy[] = R"(
name: mo
objectives: [{metric: val_accuracy, goal: maximize}, {metric: latency_ms, goal: minimize}]
constraints: [{metric: memory_gb, max: 4}]
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: nsga2, population_size: 4, seed: 1}
budget: {max_trials: 6, parallel: 6}
trainer: {command: [python3, trial.py]}
)";

std::vector<std::string> OutputLines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class MultiObjectiveCliTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    ctx_ = CommandContext{studies_.get(), &out_, OutputFormat::kTable, "test-server"};
  }

  grpc::Status Create(const std::string& yaml) {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(yaml);
    v1::Study study;
    return studies_->CreateStudy(&context, request, &study);
  }

  // Leases the next trial and completes it with these metrics.
  void Run(double accuracy, double latency, double memory) {
    v1::AcquireTrialResponse acquired;
    {
      grpc::ClientContext context;
      v1::AcquireTrialRequest request;
      request.set_worker_id("w");
      ASSERT_TRUE(workers_->AcquireTrial(&context, request, &acquired).ok());
      ASSERT_TRUE(acquired.has_lease());
    }
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = acquired.lease();
    request.set_state(v1::TRIAL_STATE_COMPLETE);
    auto& metrics = *request.mutable_final_metrics();
    metrics["val_accuracy"] = accuracy;
    metrics["latency_ms"] = latency;
    metrics["memory_gb"] = memory;
    v1::CompleteTrialResponse response;
    ASSERT_TRUE(workers_->CompleteTrial(&context, request, &response).ok());
  }

  void RunStudy() {
    ASSERT_TRUE(Create(kTwoObjectiveStudy).ok());
    Run(0.80, 10, 1);  // 0: front.
    Run(0.90, 50, 2);  // 1: front.
    Run(0.85, 60, 2);  // 2: dominated by 1.
    Run(0.99, 1, 8);   // 3: infeasible (memory).
    Run(0.95, 90, 3);  // 4: front.
  }

  std::ostringstream out_;
  CommandContext ctx_;
};

TEST_F(MultiObjectiveCliTest, BestPrintsTheParetoFrontWithEveryObjective) {
  RunStudy();
  ASSERT_TRUE(BestTrialsCommand(ctx_, "mo", 0).ok());
  std::vector<std::string> lines = OutputLines(out_.str());
  ASSERT_EQ(lines.size(), 4u) << out_.str();  // Header + the 3 trials of the front.
  EXPECT_THAT(lines[0], HasSubstr("NUMBER"));
  EXPECT_THAT(lines[0], HasSubstr("val_accuracy"));
  EXPECT_THAT(lines[0], HasSubstr("latency_ms"));
  EXPECT_THAT(lines[1], ::testing::StartsWith("4 "));
  EXPECT_THAT(lines[1], HasSubstr("0.95"));
  EXPECT_THAT(lines[1], HasSubstr("90"));
  EXPECT_THAT(lines[2], ::testing::StartsWith("1 "));
  EXPECT_THAT(lines[3], ::testing::StartsWith("0 "));
  EXPECT_THAT(lines[3], HasSubstr("10"));

  // -n caps the front.
  out_.str("");
  ASSERT_TRUE(BestTrialsCommand(ctx_, "mo", 1).ok());
  EXPECT_EQ(OutputLines(out_.str()).size(), 2u);

  // JSON carries every objective's value.
  out_.str("");
  ctx_.format = OutputFormat::kJson;
  ASSERT_TRUE(BestTrialsCommand(ctx_, "mo", 0).ok());
  nlohmann::json best = nlohmann::json::parse(out_.str());
  ASSERT_EQ(best.size(), 3u);
  EXPECT_EQ(best[0]["number"], 4);
  EXPECT_EQ(best[0]["objective_values"], nlohmann::json::array({0.95, 90.0}));
}

TEST_F(MultiObjectiveCliTest, TrialsAndStudyShowTheObjectivesAndInfeasibleTrials) {
  RunStudy();
  ASSERT_TRUE(ListTrialsCommand(ctx_, "mo").ok());
  std::vector<std::string> lines = OutputLines(out_.str());
  ASSERT_EQ(lines.size(), 6u) << out_.str();
  EXPECT_THAT(lines[0], HasSubstr("latency_ms"));
  EXPECT_THAT(lines[4], HasSubstr("INFEASIBLE"));

  out_.str("");
  ASSERT_TRUE(ShowStudyCommand(ctx_, "mo").ok());
  EXPECT_THAT(out_.str(), HasSubstr("objectives: val_accuracy (max), latency_ms (min)"));
  EXPECT_THAT(out_.str(), HasSubstr("constraints: memory_gb <= 4"));
  EXPECT_THAT(out_.str(), HasSubstr("INFEASIBLE=1"));

  // The infeasible trial says why.
  grpc::ClientContext context;
  v1::ListTrialsRequest request;
  request.set_study("mo");
  v1::ListTrialsResponse response;
  ASSERT_TRUE(studies_->ListTrials(&context, request, &response).ok());
  EXPECT_EQ(response.trials(3).state(), v1::TRIAL_STATE_INFEASIBLE);
  EXPECT_EQ(response.trials(3).failure_reason(),
            "constraint violated: memory_gb = 8 is above max 4");
  EXPECT_THAT(response.trials(3).objective_values(), ElementsAre(0.99, 1.0));
}

TEST_F(MultiObjectiveCliTest, SingleObjectiveSamplersAreRefusedForSeveralObjectives) {
  std::string yaml = kTwoObjectiveStudy;
  yaml.replace(yaml.find("{type: nsga2, population_size: 4, seed: 1}"),
               std::string("{type: nsga2, population_size: 4, seed: 1}").size(), "{type: tpe}");
  grpc::Status status = Create(yaml);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("sampler.type"));
  EXPECT_THAT(status.error_message(), HasSubstr("nsga2"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("internal")));
}

}  // namespace
}  // namespace vernier
