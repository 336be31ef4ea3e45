// vernier-server's Prometheus metrics, service tier: the real server
// (ServerRunner: SQLite file, coordinator, gRPC) with --metrics-listen on a
// port-0 listener, driven through the generated stubs; /metrics fetched over
// HTTP and its samples checked against what the test did.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/server_runner.h"
#include "tests/metrics/metrics_text.h"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::vernier::testing::HttpGet;
using ::vernier::testing::Sample;

// Trials the test asks for and tells itself.
constexpr char kAskedStudy[] = R"(
name: asked
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
sampler: {type: random}
budget: {max_trials: 10}
trainer: {external: true}
)";

// Trials a (pretend) worker leases.
constexpr char kLeasedStudy[] = R"(
name: leased
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
budget: {max_trials: 3, max_retries: 1}
trainer: {command: [python3, trial.py]}
)";

constexpr char kStudyService[] = "vernier.v1.StudyService";
constexpr char kWorkerService[] = "vernier.v1.WorkerService";

class ServerMetricsTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    RestartWithMetrics();
  }

  // The fixture's server has no metrics: replace it by one that has, with
  // leases short enough to expire during a test.
  void RestartWithMetrics() {
    runner_.reset();  // It holds the database file exclusively.
    StartServer([](ServerOptions& options) {
      options.metrics_listen = "127.0.0.1:0";
      options.coordinator.lease = absl::Milliseconds(300);
      options.expiry_interval = absl::Milliseconds(50);
    });
    ASSERT_GT(runner_->metrics_port(), 0);
  }

  // /metrics now; fails the test when it cannot be fetched.
  std::string Scrape() {
    std::optional<std::string> text = HttpGet(runner_->metrics_port(), "/metrics");
    EXPECT_TRUE(text.has_value()) << "GET /metrics on port " << runner_->metrics_port();
    return text.value_or("");
  }

  grpc::Status GetStudy(const std::string& name) {
    grpc::ClientContext context;
    v1::GetStudyRequest request;
    request.set_name(name);
    v1::Study study;
    return studies_->GetStudy(&context, request, &study);
  }

  std::string RegisterWorker() {
    grpc::ClientContext context;
    v1::RegisterWorkerRequest request;
    request.set_name("metrics-test");
    v1::RegisterWorkerResponse response;
    EXPECT_TRUE(workers_->RegisterWorker(&context, request, &response).ok());
    return response.worker_id();
  }

  v1::AcquireTrialResponse Acquire(const std::string& worker_id) {
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id(worker_id);
    request.set_slot("cpu");
    v1::AcquireTrialResponse response;
    EXPECT_TRUE(workers_->AcquireTrial(&context, request, &response).ok());
    return response;
  }

  // Scrapes until `name{labels}` equals `value` (metrics fed by a background
  // thread, such as lease expiry) or 10 s passed; returns the last scrape.
  std::string ScrapeUntil(const std::string& name, const std::map<std::string, std::string>& labels,
                          double value) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string text = Scrape();
    while (Sample(text, name, labels) != value && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      text = Scrape();
    }
    return text;
  }
};

TEST_F(ServerMetricsTest, TrialsByStudyAndStateAreWhatTheTestMade) {
  CreateStudy(kAskedStudy);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(AskTrial("asked").number(), i);
  TellTrial("asked", 0, 0.5);
  TellTrial("asked", 1, 0.5);
  TellTrial("asked", 2, std::nullopt);  // FAILED
  // Trial 3 is still RUNNING.

  const std::string text = Scrape();
  auto trials = [&](const std::string& state) {
    return Sample(text, "vernier_trials", {{"study", "asked"}, {"state", state}});
  };
  EXPECT_THAT(trials("COMPLETE"), Optional(2.0)) << text;
  EXPECT_THAT(trials("FAILED"), Optional(1.0));
  EXPECT_THAT(trials("RUNNING"), Optional(1.0));
  // States without trials are there as zeros, so that a query finds them.
  EXPECT_THAT(trials("WAITING"), Optional(0.0));
  EXPECT_THAT(trials("PRUNED"), Optional(0.0));
  EXPECT_THAT(trials("INFEASIBLE"), Optional(0.0));
  EXPECT_THAT(Sample(text, "vernier_studies", {{"state", "ACTIVE"}}), Optional(1.0));
  EXPECT_THAT(Sample(text, "vernier_studies", {{"state", "COMPLETED"}}), Optional(0.0));
  // Each Ask created a new trial from the sampler.
  EXPECT_THAT(Sample(text, "vernier_sampler_suggest_seconds_count", {{"sampler", "random"}}),
              Optional(4.0));
  // Asked trials hold no lease.
  EXPECT_THAT(Sample(text, "vernier_active_leases"), Optional(0.0));
  // Every acknowledged write went through a timed commit: the study, four
  // asks and three tells at least.
  EXPECT_GE(Sample(text, "vernier_store_commit_seconds_count").value_or(0), 8) << text;
  EXPECT_GE(Sample(text, "vernier_store_sync_seconds_count").value_or(0), 1) << text;
}

TEST_F(ServerMetricsTest, RpcsAreCountedByMethodAndCode) {
  CreateStudy(kAskedStudy);
  EXPECT_EQ(GetStudy("asked").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(GetStudy("no-such-study").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetStudy("no-such-study").error_code(), grpc::StatusCode::NOT_FOUND);
  RegisterWorker();

  const std::string text = Scrape();
  auto rpcs = [&](const char* service, const char* method, const char* code) {
    return Sample(text, "vernier_rpcs_total",
                  {{"service", service}, {"method", method}, {"code", code}});
  };
  EXPECT_THAT(rpcs(kStudyService, "CreateStudy", "OK"), Optional(1.0)) << text;
  EXPECT_THAT(rpcs(kStudyService, "GetStudy", "OK"), Optional(1.0));
  EXPECT_THAT(rpcs(kStudyService, "GetStudy", "NOT_FOUND"), Optional(2.0));
  EXPECT_THAT(rpcs(kWorkerService, "RegisterWorker", "OK"), Optional(1.0));
  // Latency is by method, whatever the code: three GetStudy calls.
  EXPECT_THAT(Sample(text, "vernier_rpc_duration_seconds_count",
                     {{"service", kStudyService}, {"method", "GetStudy"}}),
              Optional(3.0));
  // Every method of the server has its histogram from the start.
  EXPECT_THAT(Sample(text, "vernier_rpc_duration_seconds_count",
                     {{"service", kStudyService}, {"method", "StopStudy"}}),
              Optional(0.0));
  EXPECT_THAT(text, HasSubstr("# HELP vernier_rpcs_total "));
}

TEST_F(ServerMetricsTest, LeasesWorkersAndExpiriesAreCounted) {
  CreateStudy(kLeasedStudy);
  const std::string worker = RegisterWorker();
  const v1::AcquireTrialResponse acquired = Acquire(worker);
  ASSERT_TRUE(acquired.has_lease());

  std::string text = Scrape();
  EXPECT_THAT(Sample(text, "vernier_active_leases"), Optional(1.0)) << text;
  EXPECT_THAT(Sample(text, "vernier_workers_connected"), Optional(1.0));
  EXPECT_THAT(Sample(text, "vernier_worker_registrations_total"), Optional(1.0));
  EXPECT_THAT(Sample(text, "vernier_trials", {{"study", "leased"}, {"state", "RUNNING"}}),
              Optional(1.0));

  // The worker goes silent: the lease expires (300 ms), and the trial is
  // queued again (max_retries 1), then, leased and lost once more, FAILED.
  text = ScrapeUntil("vernier_lease_expiries_total", {{"study", "leased"}}, 1);
  EXPECT_THAT(Sample(text, "vernier_lease_expiries_total", {{"study", "leased"}}), Optional(1.0))
      << text;
  EXPECT_THAT(Sample(text, "vernier_trial_retries_total", {{"study", "leased"}}), Optional(1.0));
  EXPECT_THAT(Sample(text, "vernier_active_leases"), Optional(0.0));
  EXPECT_THAT(Sample(text, "vernier_trials", {{"study", "leased"}, {"state", "WAITING"}}),
              Optional(1.0));

  ASSERT_TRUE(Acquire(worker).has_lease());
  text = ScrapeUntil("vernier_lease_expiries_total", {{"study", "leased"}}, 2);
  EXPECT_THAT(Sample(text, "vernier_lease_expiries_total", {{"study", "leased"}}), Optional(2.0))
      << text;
  EXPECT_THAT(Sample(text, "vernier_trial_retries_total", {{"study", "leased"}}), Optional(1.0));
  EXPECT_THAT(Sample(text, "vernier_trials", {{"study", "leased"}, {"state", "FAILED"}}),
              Optional(1.0));
}

TEST_F(ServerMetricsTest, MetricsAddressInUseIsRefused) {
  ServerOptions options;
  options.db_path = (dir_ / "other.db").string();
  options.listen = "127.0.0.1:0";
  options.auth.insecure = true;
  options.metrics_listen = "127.0.0.1:" + std::to_string(runner_->metrics_port());
  const absl::StatusOr<std::unique_ptr<ServerRunner>> second = ServerRunner::Start(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("--metrics-listen"));
}

// No metrics_listen (the default): no listener, nothing kept.
class NoMetricsTest : public InProcessServerTest {};

TEST_F(NoMetricsTest, WithoutTheFlagNothingListens) { EXPECT_EQ(runner_->metrics_port(), 0); }

}  // namespace
}  // namespace vernier
