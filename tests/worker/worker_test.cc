// Service tier: the pull loop against a real in-process gRPC server (a small
// WorkerService written here) and real trial processes (shell scripts). The
// races between a trial's reports, its end and the ways it is stopped are
// tested step by step, with fakes, in worker_fakes_test.cc.
#include "worker/worker.h"

#include <signal.h>

#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"
#include "vernier/v1/worker_service.grpc.pb.h"
#include "worker/posix_trial_launcher.h"

namespace vernier::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// Generous: waits end as soon as the condition holds; this only bounds a hang.
constexpr absl::Duration kWorkerPatience = absl::Seconds(30);

// A trial the fake coordinator hands out, and how it treats it.
struct TrialPlan {
  int64_t number = 0;
  std::vector<std::string> command;
  double time_limit_seconds = 0;
  // Answer STOP to the report of this step (-1: never).
  int64_t stop_at_step = -1;
  // Answer ABORTED to every report.
  bool abort_reports = false;
  // List the lease as lost in every Heartbeat.
  bool lose_in_heartbeat = false;
};

struct Completion {
  int64_t number = 0;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  std::map<std::string, double> final_metrics;
  std::string failure_reason;
  std::string worker_id;
};

// A WorkerService that hands out the planned trials in order and records what
// the worker tells it.
class FakeWorkerService final : public v1::WorkerService::Service {
 public:
  // Worker ids are "<id_prefix>-<n>" for the n-th registration.
  explicit FakeWorkerService(std::string id_prefix) : id_prefix_(std::move(id_prefix)) {}

  void AddTrial(TrialPlan plan) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(plan));
  }
  // The next `n` ReportProgress / CompleteTrial calls answer UNAVAILABLE.
  void FailReports(int n) {
    absl::MutexLock lock(&mu_);
    failing_reports_ = n;
  }
  void FailCompletions(int n) {
    absl::MutexLock lock(&mu_);
    failing_completions_ = n;
  }
  // Forgets every registered worker, like a restarted coordinator.
  void ForgetWorkers() {
    absl::MutexLock lock(&mu_);
    workers_.clear();
  }

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++registrations_;
    slots_.assign(request->slots().begin(), request->slots().end());
    const std::string id = absl::StrCat(id_prefix_, "-", registrations_);
    workers_.insert(id);
    response->set_worker_id(id);
    response->set_lease_seconds(60);
    response->set_heartbeat_seconds(1);
    return grpc::Status::OK;
  }

  grpc::Status AcquireTrial(grpc::ServerContext*, const v1::AcquireTrialRequest* request,
                            v1::AcquireTrialResponse* response) override {
    absl::MutexLock lock(&mu_);
    if (workers_.count(request->worker_id()) == 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown worker");
    }
    if (queue_.empty()) return grpc::Status::OK;
    const TrialPlan plan = queue_.front();
    queue_.pop_front();
    plans_[plan.number] = plan;
    v1::TrialLease* lease = response->mutable_lease();
    lease->set_study("study");
    lease->set_trial_number(plan.number);
    lease->set_attempt(1);
    (*response->mutable_trial()->mutable_params())["trial"].set_int_value(plan.number);
    for (const std::string& arg : plan.command) response->add_command(arg);
    response->set_time_limit_seconds(plan.time_limit_seconds);
    response->set_stop_grace_seconds(5);
    return grpc::Status::OK;
  }

  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override {
    absl::MutexLock lock(&mu_);
    if (failing_reports_ > 0) {
      --failing_reports_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try later");
    }
    const int64_t number = request->lease().trial_number();
    const int64_t step = request->measurement().step();
    steps_[number].push_back(step);
    const TrialPlan& plan = plans_[number];
    if (plan.abort_reports) return grpc::Status(grpc::StatusCode::ABORTED, "lease lost");
    if (step != plan.stop_at_step) {
      response->set_action(v1::TRIAL_ACTION_CONTINUE);
      return grpc::Status::OK;
    }
    // Like the real coordinator: the trial ends (PRUNED) with the answer, so
    // its lease is lost from now on, yet CompleteTrial(PRUNED) is welcome.
    stopped_.insert(number);
    response->set_action(v1::TRIAL_ACTION_STOP);
    return grpc::Status::OK;
  }

  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest* request,
                             v1::CompleteTrialResponse*) override {
    absl::MutexLock lock(&mu_);
    if (failing_completions_ > 0) {
      --failing_completions_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try later");
    }
    Completion completion;
    completion.number = request->lease().trial_number();
    completion.state = request->state();
    completion.final_metrics.insert(request->final_metrics().begin(),
                                    request->final_metrics().end());
    completion.failure_reason = request->failure_reason();
    completion.worker_id = request->worker_id();
    completions_.push_back(completion);
    return grpc::Status::OK;
  }

  grpc::Status ReleaseTrial(grpc::ServerContext*, const v1::ReleaseTrialRequest* request,
                            v1::ReleaseTrialResponse*) override {
    absl::MutexLock lock(&mu_);
    released_.push_back(request->lease().trial_number());
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++heartbeats_;
    heartbeat_leases_[request->worker_id()] += request->leases_size();
    for (const v1::TrialLease& lease : request->leases()) {
      if (plans_[lease.trial_number()].lose_in_heartbeat || stopped_.count(lease.trial_number())) {
        *response->add_lost() = lease;
      }
    }
    return grpc::Status::OK;
  }

  // Waits until `done` holds; false after kWorkerPatience. `done` runs with the lock
  // held, which the analysis cannot see: such lambdas opt out of it.
  bool WaitFor(const std::function<bool()>& done) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done), kWorkerPatience);
  }
  bool WaitForCompletions(size_t n) {
    return WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_.size() >= n; });
  }

  // Trial numbers handed back with ReleaseTrial, in call order.
  std::vector<int64_t> released() {
    absl::MutexLock lock(&mu_);
    return released_;
  }
  size_t queued() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

  std::vector<Completion> completions() {
    absl::MutexLock lock(&mu_);
    return completions_;
  }
  std::map<int64_t, std::vector<int64_t>> steps() {
    absl::MutexLock lock(&mu_);
    return steps_;
  }
  int registrations() {
    absl::MutexLock lock(&mu_);
    return registrations_;
  }
  std::map<std::string, int> heartbeat_leases() {
    absl::MutexLock lock(&mu_);
    return heartbeat_leases_;
  }
  // For WaitFor conditions, which run with the lock held.
  int registrations_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return registrations_; }
  bool heartbeat_seen_locked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return heartbeat_leases_.count(id) > 0;
  }
  int heartbeats() {
    absl::MutexLock lock(&mu_);
    return heartbeats_;
  }
  std::vector<std::string> slots() {
    absl::MutexLock lock(&mu_);
    return slots_;
  }

 private:
  const std::string id_prefix_;
  absl::Mutex mu_;
  std::deque<TrialPlan> queue_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, TrialPlan> plans_ ABSL_GUARDED_BY(mu_);
  // Trials answered STOP.
  std::set<int64_t> stopped_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> slots_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::vector<int64_t>> steps_ ABSL_GUARDED_BY(mu_);
  std::vector<Completion> completions_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> released_ ABSL_GUARDED_BY(mu_);
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  // Worker id -> leases sent in its heartbeats, summed.
  std::map<std::string, int> heartbeat_leases_ ABSL_GUARDED_BY(mu_);
  int failing_reports_ ABSL_GUARDED_BY(mu_) = 0;
  int failing_completions_ ABSL_GUARDED_BY(mu_) = 0;
};

// Three steps, then a final result.
constexpr char kGoodTrial[] = R"(#!/bin/sh
for step in 0 1 2; do
  echo "{\"step\": $step, \"metrics\": {\"loss\": 1.$step}}" >&3
done
echo '{"final": true, "metrics": {"accuracy": 0.9}}' >&3
)";

// Reports forever; only a stop ends it. Writes its pid to the trial dir.
constexpr char kEndlessTrial[] = R"(#!/bin/sh
echo $$ > "$VERNIER_TRIAL_DIR/pid"
i=0
while true; do
  echo "{\"step\": $i, \"metrics\": {\"loss\": 1}}" >&3
  i=$((i+1))
  sleep 0.02
done
)";

// Like kEndlessTrial, but takes a while to stop (several heartbeats).
constexpr char kSlowToStopTrial[] = R"(#!/bin/sh
echo $$ > "$VERNIER_TRIAL_DIR/pid"
trap 'sleep 0.3; exit 0' TERM
i=0
while true; do
  echo "{\"step\": $i, \"metrics\": {\"loss\": 1}}" >&3
  i=$((i+1))
  sleep 0.02
done
)";

// Never reports; only a stop ends it.
constexpr char kQuietTrial[] = R"(#!/bin/sh
echo $$ > "$VERNIER_TRIAL_DIR/pid"
while true; do sleep 1; done
)";

TrialPlan Plan(int64_t number, std::vector<std::string> command) {
  TrialPlan plan;
  plan.number = number;
  plan.command = std::move(command);
  return plan;
}

// Waits for a file named "go" in its trial dir, then reports a final result.
constexpr char kWaitForGoTrial[] = R"(#!/bin/sh
echo $$ > "$VERNIER_TRIAL_DIR/pid"
while [ ! -f "$VERNIER_TRIAL_DIR/go" ]; do sleep 0.01; done
echo '{"final": true, "metrics": {"accuracy": 0.5}}' >&3
)";

class WorkerTest : public ::testing::Test {
 protected:
  ~WorkerTest() override {
    if (run_thread_.joinable()) StopWorker();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }

  void StartServer(FakeWorkerService* service, int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    if (stub_ == nullptr) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
      channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                           grpc::InsecureChannelCredentials(), args);
      stub_ = v1::WorkerService::NewStub(channel_);
    }
  }

  void StopServer() {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    server_->Wait();
    server_.reset();
  }

  WorkerOptions Options(int cpu_slots = 1) {
    WorkerOptions options;
    options.name = "test-worker";
    SlotOptions slot_options;
    slot_options.cpu_slots = cpu_slots;
    options.slots = BuildSlots(slot_options).value();
    options.work_dir = dir_.path() + "/work";
    options.trainer_path = Script(kGoodTrial).back();
    options.rpc_timeout = absl::Seconds(10);
    options.idle_backoff_initial = absl::Milliseconds(5);
    options.idle_backoff_max = absl::Milliseconds(50);
    options.retry_backoff_initial = absl::Milliseconds(5);
    options.retry_backoff_max = absl::Milliseconds(50);
    options.heartbeat_interval = absl::Milliseconds(50);
    options.log = [this](absl::string_view line) {
      absl::MutexLock lock(&log_mu_);
      log_.emplace_back(line);
    };
    return options;
  }

  void StartWorker(WorkerOptions options) {
    worker_ = std::make_unique<Worker>(std::move(options), stub_.get(), &launcher_);
    run_thread_ = std::thread([this] { run_status_ = worker_->Run(); });
  }

  void StopWorker() {
    worker_->Shutdown();
    run_thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_;
  }

  // Writes `text` as a script; returns the command that runs it.
  std::vector<std::string> Script(const std::string& text) {
    const std::string path = absl::StrCat(dir_.path(), "/script-", ++scripts_, ".sh");
    test_util::WriteScript(path, text);
    return {"/bin/sh", path};
  }

  // The pid an endless or quiet trial wrote in its directory.
  pid_t TrialPid(int64_t number) {
    const std::string text = test_util::WaitForFile(
        absl::StrCat(dir_.path(), "/work/study/trial-", number, "-attempt-1/pid"));
    return text.empty() ? -1 : std::stoi(text);
  }

  ::vernier::testing::TempDir dir_;
  int scripts_ = 0;
  // Outlive the server and the worker (destroyed after them).
  FakeWorkerService service_{"worker"};
  FakeWorkerService restarted_{"restarted"};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  PosixTrialLauncher launcher_;
  // For the tests that set WorkerOptions::clock; outlives worker_.
  FakeClock clock_;
  std::unique_ptr<Worker> worker_;
  std::thread run_thread_;
  absl::Status run_status_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(WorkerTest, RunsCompletePrunedAndAbortedTrials) {
  service_.AddTrial(Plan(0, Script(kGoodTrial)));
  TrialPlan pruned = Plan(1, Script(kSlowToStopTrial));
  pruned.stop_at_step = 2;
  service_.AddTrial(pruned);
  TrialPlan aborted = Plan(2, Script(kEndlessTrial));
  aborted.abort_reports = true;
  service_.AddTrial(aborted);
  service_.AddTrial(Plan(3, Script(kGoodTrial)));
  StartServer(&service_);
  StartWorker(Options());
  // One slot runs the trials in order, so once #3 is complete the aborted #2
  // has been handled too.
  ASSERT_TRUE(service_.WaitForCompletions(3));
  StopWorker();

  const std::vector<Completion> completions = service_.completions();
  ASSERT_EQ(completions.size(), 3u);
  EXPECT_EQ(completions[0].number, 0);
  EXPECT_EQ(completions[0].state, v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(completions[0].final_metrics, ElementsAre(Pair("accuracy", 0.9)));
  EXPECT_EQ(completions[0].worker_id, "worker-1");
  EXPECT_EQ(completions[1].number, 1);
  EXPECT_EQ(completions[1].state, v1::TRIAL_STATE_PRUNED);
  EXPECT_THAT(completions[1].final_metrics, IsEmpty());
  EXPECT_EQ(completions[2].number, 3);  // Nothing for the aborted #2.
  EXPECT_EQ(completions[2].state, v1::TRIAL_STATE_COMPLETE);

  const std::map<int64_t, std::vector<int64_t>> steps = service_.steps();
  EXPECT_THAT(steps.at(0), ElementsAre(0, 1, 2));
  EXPECT_THAT(steps.at(1), ElementsAre(0, 1, 2));  // Nothing relayed after STOP.
  EXPECT_THAT(steps.at(2), ElementsAre(0));        // Nothing relayed after ABORTED.
  EXPECT_THAT(steps.at(3), ElementsAre(0, 1, 2));
  EXPECT_TRUE(test_util::WaitUntilGone(TrialPid(1)));
  EXPECT_TRUE(test_util::WaitUntilGone(TrialPid(2)));
  EXPECT_THAT(service_.slots(), ElementsAre("cpu"));
}

TEST_F(WorkerTest, TwoSlotsRunTrialsConcurrentlyAndKeepEachTrialsOrder) {
  for (int i = 0; i < 4; ++i) service_.AddTrial(Plan(i, Script(kGoodTrial)));
  StartServer(&service_);
  StartWorker(Options(/*cpu_slots=*/2));
  ASSERT_TRUE(service_.WaitForCompletions(4));
  StopWorker();
  for (const Completion& completion : service_.completions()) {
    EXPECT_EQ(completion.state, v1::TRIAL_STATE_COMPLETE) << completion.failure_reason;
  }
  for (const auto& [number, steps] : service_.steps()) {
    EXPECT_THAT(steps, ElementsAre(0, 1, 2)) << "trial " << number;
  }
  EXPECT_THAT(service_.slots(), ElementsAre("cpu", "cpu"));
}

TEST_F(WorkerTest, UnavailableCallsAreRetriedInOrderAndNothingIsLost) {
  service_.FailReports(3);
  service_.FailCompletions(3);
  service_.AddTrial(Plan(0, Script(kGoodTrial)));
  StartServer(&service_);
  StartWorker(Options());
  ASSERT_TRUE(service_.WaitForCompletions(1));
  StopWorker();
  ASSERT_EQ(service_.completions().size(), 1u);
  EXPECT_EQ(service_.completions()[0].state, v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(service_.steps().at(0), ElementsAre(0, 1, 2));
}

TEST_F(WorkerTest, HeartbeatLostLeaseStopsAndDropsTheTrial) {
  TrialPlan lost = Plan(0, Script(kQuietTrial));
  lost.lose_in_heartbeat = true;
  service_.AddTrial(lost);
  service_.AddTrial(Plan(1, Script(kGoodTrial)));
  StartServer(&service_);
  StartWorker(Options());
  ASSERT_TRUE(service_.WaitForCompletions(1));
  StopWorker();
  ASSERT_EQ(service_.completions().size(), 1u);
  EXPECT_EQ(service_.completions()[0].number, 1);
  EXPECT_TRUE(test_util::WaitUntilGone(TrialPid(0)));
  EXPECT_GT(service_.heartbeats(), 0);
}

TEST_F(WorkerTest, FailingTrialsAreReportedAndTheTrainerRunsWhenNoCommand) {
  TrialPlan slow = Plan(0, Script(kEndlessTrial));
  slow.time_limit_seconds = 0.2;
  service_.AddTrial(slow);
  service_.AddTrial(Plan(1, {"/nonexistent/vernier-program"}));
  service_.AddTrial(Plan(2, Script("#!/bin/sh\necho 'Segfault!' >&2\nexit 139\n")));
  service_.AddTrial(Plan(3, {}));  // Empty command: the built-in trainer.
  StartServer(&service_);
  StartWorker(Options());
  ASSERT_TRUE(service_.WaitForCompletions(4));
  StopWorker();
  const std::vector<Completion> completions = service_.completions();
  ASSERT_EQ(completions.size(), 4u);
  EXPECT_EQ(completions[0].state, v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(completions[0].failure_reason, "time limit of 0.2 s exceeded");
  EXPECT_EQ(completions[1].state, v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(completions[1].failure_reason, HasSubstr("cannot start the trial"));
  EXPECT_EQ(completions[2].state, v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(completions[2].failure_reason, HasSubstr("exited with code 139"));
  EXPECT_THAT(completions[2].failure_reason, HasSubstr("Segfault!"));
  EXPECT_EQ(completions[3].state, v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(completions[3].final_metrics, ElementsAre(Pair("accuracy", 0.9)));
}

TEST_F(WorkerTest, ShutdownStopsRunningTrialsWithoutReportingThem) {
  service_.AddTrial(Plan(0, Script(kEndlessTrial)));
  StartServer(&service_);
  StartWorker(Options());
  const pid_t pid = TrialPid(0);
  ASSERT_GT(pid, 0);
  StopWorker();
  EXPECT_TRUE(test_util::WaitUntilGone(pid));
  EXPECT_THAT(service_.completions(), IsEmpty());
}

TEST_F(WorkerTest, ForgottenWorkerRegistersAgain) {
  StartServer(&service_);
  StartWorker(Options());
  ASSERT_TRUE(service_.WaitFor(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return service_.registrations_locked() > 0; }));
  service_.ForgetWorkers();
  service_.AddTrial(Plan(0, Script(kGoodTrial)));
  ASSERT_TRUE(service_.WaitForCompletions(1));
  StopWorker();
  EXPECT_EQ(service_.registrations(), 2);
  EXPECT_EQ(service_.completions()[0].worker_id, "worker-2");
  EXPECT_EQ(service_.completions()[0].state, v1::TRIAL_STATE_COMPLETE);
}

TEST_F(WorkerTest, NewRegistrationDoesNotDisturbRunningTrials) {
  service_.AddTrial(Plan(0, Script(kWaitForGoTrial)));
  StartServer(&service_);
  StartWorker(Options(/*cpu_slots=*/2));
  ASSERT_GT(TrialPid(0), 0);
  // The idle slot's next AcquireTrial gets NOT_FOUND and registers again.
  service_.ForgetWorkers();
  ASSERT_TRUE(service_.WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return service_.registrations_locked() == 2 && service_.heartbeat_seen_locked("worker-2");
  }));
  std::ofstream(absl::StrCat(dir_.path(), "/work/study/trial-0-attempt-1/go")).put('\n');
  ASSERT_TRUE(service_.WaitForCompletions(1));
  StopWorker();
  // The trial is still reported under the id it was leased with.
  EXPECT_EQ(service_.completions()[0].worker_id, "worker-1");
  EXPECT_EQ(service_.completions()[0].state, v1::TRIAL_STATE_COMPLETE);
  EXPECT_GT(service_.heartbeat_leases()["worker-1"], 0);
  EXPECT_EQ(service_.heartbeat_leases()["worker-2"], 0);
}

TEST_F(WorkerTest, RestartedServerIsPickedUpAgain) {
  StartServer(&service_);
  StartWorker(Options());
  ASSERT_TRUE(service_.WaitFor(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return service_.registrations_locked() > 0; }));
  const int port = port_;
  StopServer();
  // The worker keeps asking while nobody listens; a new coordinator on the
  // same address that has never heard of it gets a registration and work.
  restarted_.AddTrial(Plan(0, Script(kGoodTrial)));
  StartServer(&restarted_, port);
  ASSERT_TRUE(restarted_.WaitForCompletions(1));
  StopWorker();
  EXPECT_EQ(restarted_.registrations(), 1);
  EXPECT_EQ(restarted_.completions()[0].worker_id, "restarted-1");
  EXPECT_EQ(restarted_.completions()[0].state, v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(restarted_.steps().at(0), ElementsAre(0, 1, 2));
}

TEST_F(WorkerTest, RunRejectsOptionsWithoutSlots) {
  StartServer(&service_);
  WorkerOptions options = Options();
  options.slots.clear();
  Worker worker(std::move(options), stub_.get(), &launcher_);
  EXPECT_EQ(worker.Run().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WorkerTest, DrainLetsARunningTrialFinishAndLeasesNoMore) {
  service_.AddTrial(Plan(0, Script(kWaitForGoTrial)));
  service_.AddTrial(Plan(1, Script(kGoodTrial)));
  StartServer(&service_);
  WorkerOptions options = Options();
  options.drain_timeout = absl::Seconds(30);
  StartWorker(std::move(options));
  ASSERT_GT(TrialPid(0), 0);
  worker_->Drain();
  std::ofstream(absl::StrCat(dir_.path(), "/work/study/trial-0-attempt-1/go")).put('\n');
  run_thread_.join();
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  const std::vector<Completion> done = service_.completions();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].number, 0);
  EXPECT_EQ(done[0].state, v1::TRIAL_STATE_COMPLETE);
  EXPECT_TRUE(service_.released().empty());
  EXPECT_EQ(service_.queued(), 1u);  // Trial 1 was never leased.
}

TEST_F(WorkerTest, DrainHandsBackTrialsStillRunningAtTheDeadline) {
  service_.AddTrial(Plan(0, Script(kQuietTrial)));
  StartServer(&service_);
  WorkerOptions options = Options();
  options.drain_timeout = absl::Milliseconds(200);
  options.clock = &clock_;  // The deadline comes when the test says.
  StartWorker(std::move(options));
  const pid_t pid = TrialPid(0);
  ASSERT_GT(pid, 0);
  worker_->Drain();
  ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + absl::Milliseconds(200)));
  clock_.Advance(absl::Milliseconds(200));
  run_thread_.join();
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  EXPECT_EQ(service_.released(), std::vector<int64_t>{0});
  EXPECT_TRUE(service_.completions().empty());
  EXPECT_NE(::kill(pid, 0), 0);  // The trial process is gone.
}

}  // namespace
}  // namespace vernier::worker
