// The worker's LogShipper against a small WorkerService written here (over
// real gRPC on loopback) that stores appends as the coordinator does and can
// be unreachable, forget a tail or refuse the lease.
#include "worker/log_shipper.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// Generous: waits end as soon as the condition holds; this only bounds a hang.
constexpr absl::Duration kPatience = absl::Seconds(30);

class FakeLogService final : public v1::WorkerService::Service {
 public:
  grpc::Status AppendTrialLog(grpc::ServerContext*, const v1::AppendTrialLogRequest* request,
                              v1::AppendTrialLogResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    largest_ = std::max(largest_, request->data().size());
    if (unavailable_ > 0) {
      --unavailable_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down for a moment");
    }
    if (abort_) return grpc::Status(grpc::StatusCode::ABORTED, "the lease is gone");
    const int64_t end = static_cast<int64_t>(log_.size());
    const int64_t offset = request->offset();
    const std::string& data = request->data();
    if (offset <= end && offset + static_cast<int64_t>(data.size()) > end) {
      log_ += data.substr(static_cast<size_t>(end - offset));
    }
    response->set_next_offset(static_cast<int64_t>(log_.size()));
    return grpc::Status::OK;
  }

  std::string log() const {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  // Waits until the stored log equals `expected`; returns whether it did.
  bool WaitForLog(const std::string& expected) const {
    absl::MutexLock lock(&mu_);
    auto equal = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return log_ == expected; };
    return mu_.AwaitWithTimeout(absl::Condition(&equal), kPatience);
  }
  void Forget(size_t keep) {
    absl::MutexLock lock(&mu_);
    log_.resize(keep);
  }
  void Unavailable(int calls) {
    absl::MutexLock lock(&mu_);
    unavailable_ = calls;
  }
  void Abort() {
    absl::MutexLock lock(&mu_);
    abort_ = true;
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  size_t largest() const {
    absl::MutexLock lock(&mu_);
    return largest_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
  int unavailable_ ABSL_GUARDED_BY(mu_) = 0;
  bool abort_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  size_t largest_ ABSL_GUARDED_BY(mu_) = 0;
};

class LogShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::WorkerService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    lease_.set_study("s");
    lease_.set_trial_number(3);
    lease_.set_attempt(1);
    options_.interval = absl::Milliseconds(10);
    options_.finish_patience = kPatience;
    options_.log = [this](absl::string_view line) {
      absl::MutexLock lock(&log_mu_);
      lines_.emplace_back(line);
    };
  }
  void TearDown() override { server_->Shutdown(); }

  void Write(const std::string& text) {
    std::ofstream(path_, std::ios::app | std::ios::binary) << text;
    written_ += text;
  }

  std::unique_ptr<LogShipper> Start() {
    auto shipper = std::make_unique<LogShipper>(options_, stub_.get(), "w", lease_);
    shipper->Follow(path_);
    return shipper;
  }

  ::vernier::testing::TempDir dir_;
  const std::string path_ = dir_.File("trial.log");
  std::string written_;
  FakeLogService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  v1::TrialLease lease_;
  LogShipperOptions options_;
  absl::Mutex log_mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(LogShipperTest, ShipsWhileTheTrialRunsNotOnlyAtTheEnd) {
  auto shipper = Start();
  Write("epoch 1\n");
  EXPECT_TRUE(service_.WaitForLog("epoch 1\n"));
  Write("epoch 2\n");
  EXPECT_TRUE(service_.WaitForLog(written_));
  shipper->Finish();
  EXPECT_EQ(shipper->acknowledged(), 16);
}

TEST_F(LogShipperTest, FinishSendsTheRestAtOnce) {
  options_.interval = absl::Hours(1);  // Only Finish() ships.
  auto shipper = Start();
  Write("the whole output\n");
  shipper->Finish();
  EXPECT_EQ(service_.log(), written_);
}

TEST_F(LogShipperTest, ReadsAndSendsAtMostMaxReadBytesPerCall) {
  options_.max_read_bytes = 100;
  Write(std::string(1050, 'x'));
  auto shipper = Start();
  shipper->Finish();
  EXPECT_EQ(service_.log(), written_);
  EXPECT_LE(service_.largest(), 100u);
  EXPECT_GE(service_.calls(), 11);
}

TEST_F(LogShipperTest, RetriesWhileTheCoordinatorCannotAnswer) {
  service_.Unavailable(3);
  Write("kept\n");
  auto shipper = Start();
  shipper->Finish();
  EXPECT_EQ(service_.log(), written_);
}

TEST_F(LogShipperTest, SendsAgainWhatTheCoordinatorLost) {
  auto shipper = Start();
  Write("0123456789");
  ASSERT_TRUE(service_.WaitForLog(written_));
  service_.Forget(3);  // A crash of the server's machine lost the tail.
  Write("abc");
  shipper->Finish();
  EXPECT_EQ(service_.log(), written_);
}

TEST_F(LogShipperTest, StopsForGoodWhenTheLeaseIsGone) {
  service_.Abort();
  auto shipper = Start();
  Write("one\n");
  Write("two\n");
  shipper->Finish();
  EXPECT_EQ(service_.calls(), 1);
  absl::MutexLock lock(&log_mu_);
  ASSERT_THAT(lines_, SizeIs(1));
  EXPECT_THAT(lines_[0], HasSubstr("no longer sent"));
}

TEST_F(LogShipperTest, AMissingFileShipsNothingAndFinishReturns) {
  auto shipper = Start();
  shipper->Finish();
  EXPECT_EQ(service_.calls(), 0);
}

}  // namespace
}  // namespace vernier::worker
