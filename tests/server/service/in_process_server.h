// A test fixture with a real coordinator in the test process: ServerRunner on
// a loopback port over a temporary SQLite file, and stubs for both services.
// Shared by the service tier and the client tests.
#ifndef VERNIER_TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_
#define VERNIER_TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/service/server_runner.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {

class InProcessServerTest : public ::testing::Test {
 protected:
  // A fresh directory per test (its database lives there), and a server.
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vernier_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    StartServer();
  }
  void TearDown() override {
    runner_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)starts the server on dir_/vernier.db and reconnects the stubs;
  // `adjust`, when given, changes the options first.
  void StartServer(const std::function<void(ServerOptions&)>& adjust = nullptr) {
    ServerOptions options;
    options.db_path = (dir_ / "vernier.db").string();
    options.listen = "127.0.0.1:0";
    // Authentication has its own tests (tests/security); here it is off.
    options.auth.insecure = true;
    if (adjust) adjust(options);
    auto runner = ServerRunner::Start(options);
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(runner_->port()),
                                   grpc::InsecureChannelCredentials());
    studies_ = v1::StudyService::NewStub(channel_);
    workers_ = v1::WorkerService::NewStub(channel_);
  }

  // StudyService calls for tests that drive a study themselves, as a client
  // of ask/tell would. Each expects success: a failed call fails the test
  // (and AskTrial then returns an empty trial).
  void CreateStudy(const std::string& spec_yaml) {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(spec_yaml);
    v1::Study study;
    const grpc::Status status = studies_->CreateStudy(&context, request, &study);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::Study GetStudy(const std::string& name) {
    grpc::ClientContext context;
    v1::GetStudyRequest request;
    request.set_name(name);
    v1::Study study;
    const grpc::Status status = studies_->GetStudy(&context, request, &study);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return study;
  }
  v1::Trial AskTrial(const std::string& study) {
    grpc::ClientContext context;
    v1::AskRequest request;
    request.set_study(study);
    v1::AskResponse response;
    const grpc::Status status = studies_->Ask(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.trial();
  }
  // The objective's intermediate `value` of trial `trial` at `step`.
  void ReportValue(const std::string& study, int64_t trial, int64_t step, double value) {
    grpc::ClientContext context;
    v1::ReportRequest request;
    request.set_study(study);
    request.set_trial_number(trial);
    request.set_step(step);
    request.set_value(value);
    v1::ReportResponse response;
    const grpc::Status status = studies_->Report(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  // Ends trial `trial`: COMPLETE with `value`, or FAILED without one.
  void TellTrial(const std::string& study, int64_t trial, std::optional<double> value) {
    grpc::ClientContext context;
    v1::TellRequest request;
    request.set_study(study);
    request.set_trial_number(trial);
    request.set_state(value ? v1::TRIAL_STATE_COMPLETE : v1::TRIAL_STATE_FAILED);
    if (value) request.set_value(*value);
    v1::TellResponse response;
    const grpc::Status status = studies_->Tell(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  std::filesystem::path dir_;
  std::unique_ptr<ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::StudyService::Stub> studies_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

}  // namespace vernier

#endif  // VERNIER_TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_
