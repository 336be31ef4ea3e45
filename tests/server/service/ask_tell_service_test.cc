// Ask/Tell through the real server (ServerRunner: SQLite file with group
// commit, coordinator, gRPC) on a loopback port: codes, concurrency, restart.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

constexpr char kAskTellStudy[] = R"(
name: at
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
sampler: {type: tpe, n_startup_trials: 5}
budget: {max_trials: 60, parallel: 1}
trainer: {external: true}
)";

class AskTellServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(kAskTellStudy);
    v1::Study study;
    ASSERT_TRUE(studies_->CreateStudy(&context, request, &study).ok());
  }

  grpc::Status Ask(v1::AskResponse* response, const std::string& study = "at") {
    grpc::ClientContext context;
    v1::AskRequest request;
    request.set_study(study);
    return studies_->Ask(&context, request, response);
  }

  grpc::Status Tell(int64_t trial, v1::TrialState state, std::optional<double> value,
                    v1::TellResponse* response) {
    grpc::ClientContext context;
    v1::TellRequest request;
    request.set_study("at");
    request.set_trial_number(trial);
    request.set_state(state);
    if (value) request.set_value(*value);
    return studies_->Tell(&context, request, response);
  }

  std::vector<v1::Trial> Trials() {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study("at");
    v1::ListTrialsResponse response;
    EXPECT_TRUE(studies_->ListTrials(&context, request, &response).ok());
    return {response.trials().begin(), response.trials().end()};
  }
};

TEST_F(AskTellServiceTest, AskThenTellRoundTrip) {
  v1::AskResponse asked;
  ASSERT_TRUE(Ask(&asked).ok());
  EXPECT_EQ(asked.trial().number(), 0);
  EXPECT_EQ(asked.trial().state(), v1::TRIAL_STATE_RUNNING);
  ASSERT_EQ(asked.trial().params().count("x"), 1u);
  v1::TellResponse told;
  ASSERT_TRUE(Tell(0, v1::TRIAL_STATE_COMPLETE, 0.25, &told).ok());
  EXPECT_EQ(told.trial().state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_DOUBLE_EQ(told.trial().objective_value(), 0.25);
}

TEST_F(AskTellServiceTest, ErrorsHaveTheRightCodes) {
  v1::AskResponse asked;
  EXPECT_EQ(Ask(&asked, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Ask(&asked, "nope").error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Ask(&asked).ok());
  v1::TellResponse told;
  EXPECT_EQ(Tell(5, v1::TRIAL_STATE_COMPLETE, 1.0, &told).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Tell(0, v1::TRIAL_STATE_WAITING, 1.0, &told).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status no_value = Tell(0, v1::TRIAL_STATE_COMPLETE, std::nullopt, &told);
  EXPECT_EQ(no_value.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_value.error_message(), HasSubstr("loss"));
  ASSERT_TRUE(Tell(0, v1::TRIAL_STATE_FAILED, std::nullopt, &told).ok());
  grpc::Status again = Tell(0, v1::TRIAL_STATE_COMPLETE, 1.0, &told);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(again.error_message(), HasSubstr("trial 0 of study \"at\" is FAILED"));
}

// Many clients at once (the group commit shares WAL syncs among them): every
// trial number is handed out once, every told result is stored, and all of it
// is still there after a restart.
TEST_F(AskTellServiceTest, ConcurrentClientsLoseNothingAcrossARestart) {
  constexpr int kClients = 8;
  constexpr int kPerClient = 6;
  std::vector<std::vector<int64_t>> numbers(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([this, c, &numbers] {
      for (int i = 0; i < kPerClient; ++i) {
        v1::AskResponse asked;
        grpc::Status status = Ask(&asked);
        EXPECT_TRUE(status.ok()) << status.error_message();
        if (!status.ok()) return;
        v1::TellResponse told;
        const double x = asked.trial().params().at("x").double_value();
        status = Tell(asked.trial().number(), v1::TRIAL_STATE_COMPLETE, x * x, &told);
        EXPECT_TRUE(status.ok()) << status.error_message();
        numbers[c].push_back(asked.trial().number());
      }
    });
  }
  for (std::thread& client : clients) client.join();
  std::set<int64_t> distinct;
  for (const auto& per_client : numbers) distinct.insert(per_client.begin(), per_client.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kClients * kPerClient));

  runner_.reset();
  StartServer();  // A new server on the same file.
  std::vector<v1::Trial> trials = Trials();
  ASSERT_EQ(trials.size(), static_cast<size_t>(kClients * kPerClient));
  for (const v1::Trial& trial : trials) {
    EXPECT_EQ(trial.state(), v1::TRIAL_STATE_COMPLETE) << trial.number();
    const double x = trial.params().at("x").double_value();
    EXPECT_DOUBLE_EQ(trial.final_metrics().at("loss"), x * x);
  }
}

}  // namespace
}  // namespace vernier
