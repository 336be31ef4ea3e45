// The checkpoint RPCs (pbt) over real gRPC on loopback, driven by the
// worker's own transfer code: multi-chunk files arrive intact, leases and
// names are checked, and the checkpoints survive a server restart.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "tests/testing/temp_dir.h"
#include "worker/checkpoint_transfer.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

constexpr char kPbtStudy[] = R"(
name: pop
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.01, high: 1}
pruner: {type: pbt, interval: 2}
budget: {max_trials: 2, parallel: 2}
trainer: {command: [/bin/true]}
)";

using ::vernier::testing::ReadFile;

class CheckpointServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    grpc::ClientContext context;
    v1::CreateStudyRequest create;
    create.set_spec_yaml(kPbtStudy);
    v1::Study study;
    ASSERT_TRUE(studies_->CreateStudy(&context, create, &study).ok());
    for (int i = 0; i < 2; ++i) {
      grpc::ClientContext acquire_context;
      v1::AcquireTrialRequest request;
      request.set_worker_id("w");
      request.set_slot("cpu");
      v1::AcquireTrialResponse response;
      ASSERT_TRUE(workers_->AcquireTrial(&acquire_context, request, &response).ok());
      ASSERT_TRUE(response.has_lease());
      EXPECT_TRUE(response.upload_checkpoints());
      leases_.push_back(response.lease());
    }
    // 2.5 chunks of model, so a file crosses chunk boundaries.
    model_.resize(worker::kCheckpointChunkBytes * 5 / 2);
    for (size_t i = 0; i < model_.size(); ++i) model_[i] = static_cast<char>(i * 7 % 251);
    std::filesystem::create_directories(dir_ / "ckpt");
    std::ofstream(dir_ / "ckpt" / "model.pt", std::ios::binary) << model_;
    std::ofstream(dir_ / "ckpt" / "state.json") << R"({"epoch": 2})";
  }

  grpc::Status Upload(const v1::TrialLease& lease, int64_t step) {
    return worker::UploadCheckpoint(workers_.get(), absl::Seconds(30), "w", lease, step,
                                    (dir_ / "ckpt").string());
  }

  grpc::Status Download(int64_t donor, int64_t step, const std::string& name) {
    return worker::DownloadCheckpoint(workers_.get(), absl::Seconds(30), "w", leases_[1], donor,
                                      step, (dir_ / name).string());
  }

  std::vector<v1::TrialLease> leases_;
  std::string model_;
};

TEST_F(CheckpointServiceTest, UploadedCheckpointDownloadsIntactAfterARestart) {
  ASSERT_TRUE(Upload(leases_[0], 2).ok());
  ASSERT_TRUE(Download(0, 2, "got").ok());
  EXPECT_EQ(ReadFile(dir_ / "got" / "model.pt"), model_);
  EXPECT_EQ(ReadFile(dir_ / "got" / "state.json"), R"({"epoch": 2})");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "vernier.db.checkpoints" / "study-pop" / "trial-0" /
                                      "step-2" / "model.pt"));

  runner_.reset();
  StartServer();  // The index is rebuilt from the files beside the database.
  ASSERT_TRUE(Download(0, 2, "again").ok());
  EXPECT_EQ(ReadFile(dir_ / "again" / "model.pt"), model_);
}

TEST_F(CheckpointServiceTest, RefusesUnknownCheckpointsLostLeasesAndBadNames) {
  grpc::Status missing = Download(0, 4, "none");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "none"));

  v1::TrialLease stale = leases_[0];
  stale.set_attempt(stale.attempt() + 1);
  EXPECT_EQ(Upload(stale, 2).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Download(0, 2, "none").error_code(), grpc::StatusCode::NOT_FOUND);  // Not stored.

  grpc::ClientContext context;
  v1::UploadCheckpointResponse response;
  auto writer = workers_->UploadCheckpoint(&context, &response);
  v1::UploadCheckpointRequest request;
  request.set_worker_id("w");
  *request.mutable_lease() = leases_[0];
  request.set_step(2);
  request.mutable_chunk()->set_file("../escape");
  request.mutable_chunk()->set_data("x");
  writer->Write(request);
  writer->WritesDone();
  grpc::Status bad = writer->Finish();
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("chunk.file"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "escape"));
}

}  // namespace
}  // namespace vernier
