// Trial logs over real gRPC on loopback, shipped by the worker's own
// LogShipper: what a worker ships is read back with GetTrialLog, followed
// while the trial runs, kept across a server restart, and refused without a
// lease or by a server that keeps no logs.
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "worker/log_shipper.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

constexpr char kLoggedStudy[] = R"(
name: s
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2}
trainer: {command: [/bin/true]}
)";

void AppendTo(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

// What a GetTrialLog stream brought.
struct Streamed {
  grpc::Status status;
  std::string text;
  std::vector<v1::TrialLogChunk> chunks;
};

class LogServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    grpc::ClientContext context;
    v1::CreateStudyRequest create;
    create.set_spec_yaml(kLoggedStudy);
    v1::Study study;
    ASSERT_TRUE(studies_->CreateStudy(&context, create, &study).ok());
    grpc::ClientContext acquire_context;
    v1::AcquireTrialRequest request;
    request.set_worker_id("w");
    request.set_slot("cpu");
    v1::AcquireTrialResponse response;
    ASSERT_TRUE(workers_->AcquireTrial(&acquire_context, request, &response).ok());
    ASSERT_TRUE(response.has_lease());
    lease_ = response.lease();
  }

  std::unique_ptr<worker::LogShipper> Shipper() {
    worker::LogShipperOptions options;
    options.interval = absl::Milliseconds(10);
    return std::make_unique<worker::LogShipper>(options, workers_.get(), "w", lease_);
  }

  Streamed Read(int32_t attempt = 0, int64_t offset = 0, bool follow = false,
                const std::string& study = "s") {
    grpc::ClientContext context;
    v1::GetTrialLogRequest request;
    request.set_study(study);
    request.set_trial(0);
    request.set_attempt(attempt);
    request.set_offset(offset);
    request.set_follow(follow);
    auto reader = studies_->GetTrialLog(&context, request);
    Streamed streamed;
    v1::TrialLogChunk chunk;
    while (reader->Read(&chunk)) {
      streamed.text += chunk.data();
      streamed.chunks.push_back(chunk);
    }
    streamed.status = reader->Finish();
    return streamed;
  }

  grpc::Status Complete() {
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = lease_;
    request.set_state(v1::TRIAL_STATE_FAILED);
    request.set_failure_reason("exit code 1");
    v1::CompleteTrialResponse response;
    return workers_->CompleteTrial(&context, request, &response);
  }

  v1::TrialLease lease_;
};

TEST_F(LogServiceTest, WhatTheWorkerShipsIsReadBackAndSurvivesARestart) {
  const std::filesystem::path log = dir_ / "trial.log";
  AppendTo(log, "epoch 1\n");
  {
    auto shipper = Shipper();
    shipper->Follow(log.string());
    AppendTo(log, "epoch 2\n");
    shipper->Finish();
    EXPECT_EQ(shipper->acknowledged(), 16);
  }
  Streamed read = Read();
  ASSERT_TRUE(read.status.ok()) << read.status.error_message();
  EXPECT_EQ(read.text, "epoch 1\nepoch 2\n");
  ASSERT_FALSE(read.chunks.empty());
  EXPECT_EQ(read.chunks[0].attempt(), 1);
  EXPECT_EQ(read.chunks[0].cut_bytes(), 0);
  EXPECT_EQ(Read(1, 8).text, "epoch 2\n");

  runner_.reset();
  StartServer();
  EXPECT_EQ(Read(1).text, "epoch 1\nepoch 2\n");
}

TEST_F(LogServiceTest, AnAttemptsLogIsItsFilesOneAfterAnother) {
  AppendTo(dir_ / "first.log", "before the exploit\n");
  AppendTo(dir_ / "second.log", "after it\n");
  auto shipper = Shipper();
  shipper->Follow((dir_ / "first.log").string());
  shipper->Follow((dir_ / "second.log").string());
  shipper->Finish();
  EXPECT_EQ(Read().text, "before the exploit\nafter it\n");
}

TEST_F(LogServiceTest, FollowingEndsOnceTheTrialEndedAndItsOutputIsSent) {
  const std::filesystem::path log = dir_ / "trial.log";
  AppendTo(log, "starting\n");
  auto shipper = Shipper();
  shipper->Follow(log.string());
  Streamed followed;
  std::thread reader([&] { followed = Read(0, 0, /*follow=*/true); });
  AppendTo(log, "Traceback: boom\n");
  shipper->Finish();
  ASSERT_TRUE(Complete().ok());
  reader.join();
  ASSERT_TRUE(followed.status.ok()) << followed.status.error_message();
  EXPECT_EQ(followed.text, "starting\nTraceback: boom\n");

  grpc::ClientContext context;
  v1::GetTrialRequest request;
  request.set_study("s");
  request.set_number(0);
  v1::Trial trial;
  ASSERT_TRUE(studies_->GetTrial(&context, request, &trial).ok());
  EXPECT_EQ(trial.failure_reason(), "exit code 1 (full log: vernier logs s 0 --attempt 1)");
}

TEST_F(LogServiceTest, AppendsWithoutTheLeaseAreAbortedAndReadsNameWhatIsMissing) {
  grpc::ClientContext context;
  v1::AppendTrialLogRequest request;
  request.set_worker_id("w");
  *request.mutable_lease() = lease_;
  request.mutable_lease()->set_attempt(2);
  request.set_data("x");
  v1::AppendTrialLogResponse response;
  EXPECT_EQ(workers_->AppendTrialLog(&context, request, &response).error_code(),
            grpc::StatusCode::ABORTED);

  Streamed unknown_study = Read(0, 0, false, "nope");
  EXPECT_EQ(unknown_study.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown_study.status.error_message(), HasSubstr("nope"));
  Streamed unknown_attempt = Read(5);
  EXPECT_EQ(unknown_attempt.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown_attempt.status.error_message(), HasSubstr("no attempt 5"));
}

TEST_F(LogServiceTest, AServerOnAnInMemoryDatabaseKeepsNoLogs) {
  ServerOptions options;
  options.db_path = ":memory:";
  options.listen = "127.0.0.1:0";
  options.auth.insecure = true;
  auto runner = ServerRunner::Start(options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*runner)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::StudyService::NewStub(channel);
  grpc::ClientContext context;
  v1::GetTrialLogRequest request;
  request.set_study("s");
  auto reader = stub->GetTrialLog(&context, request);
  v1::TrialLogChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("keeps no logs (in-memory database)"));
}

}  // namespace
}  // namespace vernier
