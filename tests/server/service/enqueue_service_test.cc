// Service tier of warm start: EnqueueTrial and `warm_start` over real
// loopback gRPC against the real server (SQLite file), including a restart.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"

namespace vernier {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kEnqueueStudy[] = R"(
name: svc
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
  batch: {type: categorical, values: [32, 64]}
budget: {max_trials: 3, parallel: 3}
trainer: {command: [python3, trial.py]}
)";

v1::ParameterValue Int(int64_t value) {
  v1::ParameterValue out;
  out.set_int_value(value);
  return out;
}

v1::ParameterValue Text(const std::string& value) {
  v1::ParameterValue out;
  out.set_string_value(value);
  return out;
}

class EnqueueServiceTest : public InProcessServerTest {
 protected:
  grpc::Status Create(const std::string& spec, v1::Study* study) {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(spec);
    return studies_->CreateStudy(&context, request, study);
  }

  grpc::Status Enqueue(const std::string& study,
                       const std::map<std::string, v1::ParameterValue>& params, v1::Trial* trial) {
    grpc::ClientContext context;
    v1::EnqueueTrialRequest request;
    request.set_study(study);
    request.mutable_params()->insert(params.begin(), params.end());
    return studies_->EnqueueTrial(&context, request, trial);
  }

  v1::AcquireTrialResponse Acquire() {
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id("w");
    request.set_slot("cpu");
    v1::AcquireTrialResponse response;
    EXPECT_TRUE(workers_->AcquireTrial(&context, request, &response).ok());
    return response;
  }

  std::vector<v1::Trial> Trials(const std::string& study) {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study(study);
    v1::ListTrialsResponse response;
    EXPECT_TRUE(studies_->ListTrials(&context, request, &response).ok());
    return {response.trials().begin(), response.trials().end()};
  }
};

TEST_F(EnqueueServiceTest, EnqueuedTrialIsConvertedStoredAndLeasedFirst) {
  v1::Study study;
  ASSERT_TRUE(Create(kEnqueueStudy, &study).ok());
  v1::Trial trial;
  // An int for a float parameter, a string spelling a categorical number.
  grpc::Status status = Enqueue("svc", {{"x", Int(1)}, {"batch", Text("64")}}, &trial);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(trial.number(), 0);
  EXPECT_EQ(trial.state(), v1::TRIAL_STATE_WAITING);
  EXPECT_EQ(trial.origin(), "enqueued");
  EXPECT_EQ(trial.params().at("x").double_value(), 1.0);
  EXPECT_EQ(trial.params().at("batch").int_value(), 64);

  runner_.reset();
  StartServer();  // A restart keeps it, still WAITING.
  ASSERT_EQ(Trials("svc").size(), 1);
  EXPECT_EQ(Trials("svc")[0].state(), v1::TRIAL_STATE_WAITING);
  v1::AcquireTrialResponse acquired = Acquire();
  ASSERT_TRUE(acquired.has_lease());
  EXPECT_EQ(acquired.lease().trial_number(), 0);
  EXPECT_EQ(acquired.trial().params().at("x").double_value(), 1.0);
}

TEST_F(EnqueueServiceTest, ErrorsHaveTheRightCodesAndNameTheProblem) {
  v1::Study study;
  ASSERT_TRUE(Create(kEnqueueStudy, &study).ok());
  v1::Trial trial;
  grpc::Status status = Enqueue("svc", {{"x", Int(7)}}, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), AllOf(HasSubstr("params.x"), HasSubstr("7")));
  status = Enqueue("svc", {{"batch", Text("48")}}, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("params.batch"));
  status = Enqueue("svc", {{"x", v1::ParameterValue()}}, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Enqueue("", {}, &trial).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Enqueue("ghost", {}, &trial).error_code(), grpc::StatusCode::NOT_FOUND);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Enqueue("svc", {}, &trial).ok());
  status = Enqueue("svc", {}, &trial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("budget.max_trials"));
  EXPECT_EQ(Trials("svc").size(), 3);
}

TEST_F(EnqueueServiceTest, WarmStartCopiesAreMarkedAndTheNoteCountsThem) {
  v1::Study study;
  ASSERT_TRUE(Create(kEnqueueStudy, &study).ok());
  v1::Trial trial;
  ASSERT_TRUE(Enqueue("svc", {{"x", Int(1)}}, &trial).ok());
  v1::AcquireTrialResponse acquired = Acquire();
  ASSERT_TRUE(acquired.has_lease());
  {
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = acquired.lease();
    request.set_state(v1::TRIAL_STATE_COMPLETE);
    (*request.mutable_final_metrics())["loss"] = 0.5;
    v1::CompleteTrialResponse response;
    ASSERT_TRUE(workers_->CompleteTrial(&context, request, &response).ok());
  }
  std::string next = kEnqueueStudy;
  next.replace(next.find("name: svc"), 9, "name: next");
  v1::Study unknown;
  grpc::Status status = Create(next + "warm_start: {study: nope}\n", &unknown);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("warm_start.study"));

  v1::Study created;
  status = Create(next + "warm_start: {study: svc}\n", &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(created.note(), HasSubstr("copied 1 COMPLETE trials of study \"svc\""));
  std::vector<v1::Trial> copies = Trials("next");
  ASSERT_EQ(copies.size(), 1);
  EXPECT_EQ(copies[0].state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_EQ(copies[0].origin(), "warm_start:svc#0");
  EXPECT_EQ(copies[0].objective_value(), 0.5);
}

}  // namespace
}  // namespace vernier
