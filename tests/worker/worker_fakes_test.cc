// Worker with a fake for every side effect: gRPC's generated mock stub plays
// the coordinator, FakeTrialLauncher the trial processes and FakeClock the
// time. The races between reports, answers, heartbeats, Drain(), Shutdown()
// and pbt restarts are set up step by step, so each test runs in
// milliseconds and means the same on every run. The service tier
// (worker_test.cc) runs the same loop against real gRPC and real processes.
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/test/mock_stream.h"
#include "gtest/gtest.h"
#include "tests/testing/service_mocks.h"
#include "tests/worker/fake_trial_launcher.h"
#include "tests/worker/test_util.h"
#include "worker/worker.h"

namespace vernier::worker {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using testing::ExitCode;
using testing::FakeTrialLauncher;
using testing::FakeTrialProcess;
using testing::FakeTrialScript;
using testing::FinishedExit;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing::Report;
using ::testing::Return;
using ::testing::SetArgPointee;

// Bounds a wait for another thread; never a timing check.
constexpr absl::Duration kPatience = testing::kFakePatience;

// Distinct periods, so that a wait on the fake clock is known by its deadline.
constexpr absl::Duration kHeartbeat = absl::Seconds(7);
constexpr absl::Duration kRetryBackoff = absl::Seconds(3);
constexpr absl::Duration kIdleBackoff = absl::Hours(1);
constexpr absl::Duration kDrainTimeout = absl::Seconds(30);
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

// How the fake coordinator answers one report.
using Answer =
    std::function<grpc::Status(const v1::ReportProgressRequest&, v1::ReportProgressResponse*)>;

grpc::Status Reply(v1::ReportProgressResponse* response, v1::TrialAction action) {
  response->set_action(action);
  return grpc::Status::OK;
}

// Answers `action` to the report of `step`, CONTINUE to the others.
Answer AnswerAtStep(int64_t step, v1::TrialAction action) {
  return [=](const v1::ReportProgressRequest& request, v1::ReportProgressResponse* response) {
    return Reply(response,
                 request.measurement().step() == step ? action : v1::TRIAL_ACTION_CONTINUE);
  };
}

// EXPLOIT from trial 5's checkpoint at step 2, with {"x": 9}.
Answer ExploitAtStep(int64_t step) {
  return [=](const v1::ReportProgressRequest& request, v1::ReportProgressResponse* response) {
    if (request.measurement().step() != step) return Reply(response, v1::TRIAL_ACTION_CONTINUE);
    response->mutable_exploit()->set_donor_trial(5);
    response->mutable_exploit()->set_donor_step(2);
    (*response->mutable_exploit()->mutable_params())["x"].set_int_value(9);
    return Reply(response, v1::TRIAL_ACTION_EXPLOIT);
  };
}

class WorkerFakesTest : public ::testing::Test {
 protected:
  WorkerFakesTest() {
    ON_CALL(stub_, RegisterWorker(_, _, _))
        .WillByDefault([](grpc::ClientContext*, const v1::RegisterWorkerRequest&,
                          v1::RegisterWorkerResponse* response) {
          response->set_worker_id("worker-1");
          response->set_lease_seconds(60);
          return grpc::Status::OK;
        });
    ON_CALL(stub_, AcquireTrial(_, _, _))
        .WillByDefault([this](grpc::ClientContext*, const v1::AcquireTrialRequest&,
                              v1::AcquireTrialResponse* response) { return Acquire(response); });
    ON_CALL(stub_, ReportProgress(_, _, _))
        .WillByDefault([this](grpc::ClientContext*, const v1::ReportProgressRequest& request,
                              v1::ReportProgressResponse* response) {
          return ReportProgress(request, response);
        });
    ON_CALL(stub_, CompleteTrial(_, _, _))
        .WillByDefault([this](grpc::ClientContext*, const v1::CompleteTrialRequest& request,
                              v1::CompleteTrialResponse*) { return Complete(request); });
    ON_CALL(stub_, ReleaseTrial(_, _, _))
        .WillByDefault([this](grpc::ClientContext*, const v1::ReleaseTrialRequest& request,
                              v1::ReleaseTrialResponse*) {
          absl::MutexLock lock(&mu_);
          released_.push_back(request.lease().trial_number());
          return grpc::Status::OK;
        });
    ON_CALL(stub_, Heartbeat(_, _, _))
        .WillByDefault([this](grpc::ClientContext*, const v1::HeartbeatRequest& request,
                              v1::HeartbeatResponse* response) {
          absl::MutexLock lock(&mu_);
          ++heartbeats_;
          if (lose_leases_) *response->mutable_lost() = request.leases();
          return grpc::Status::OK;
        });
  }

  ~WorkerFakesTest() override {
    if (run_thread_.joinable()) StopWorker();
  }

  // Queues trial `number` for AcquireTrial.
  void AddTrial(int64_t number) {
    v1::AcquireTrialResponse response;
    v1::TrialLease* lease = response.mutable_lease();
    lease->set_study("study");
    lease->set_trial_number(number);
    lease->set_attempt(1);
    (*response.mutable_trial()->mutable_params())["x"].set_int_value(number);
    response.add_command("trial-program");
    response.set_stop_grace_seconds(5);
    absl::MutexLock lock(&mu_);
    leases_.push_back(response);
  }

  // Makes the last queued trial a second attempt that resumes after `step`.
  void SetResumeStep(int64_t step) {
    absl::MutexLock lock(&mu_);
    leases_.back().mutable_lease()->set_attempt(2);
    leases_.back().set_resume_step(step);
  }

  // The next reports are answered by `answer` (CONTINUE until set). Set it
  // before the worker runs.
  void set_answer(Answer answer) {
    absl::MutexLock lock(&mu_);
    answer_ = std::move(answer);
  }
  // The next `n` ReportProgress / every CompleteTrial answer UNAVAILABLE.
  void FailReports(int n) {
    absl::MutexLock lock(&mu_);
    failing_reports_ = n;
  }
  void FailEveryCompletion() {
    absl::MutexLock lock(&mu_);
    fail_completions_ = true;
  }
  // From now on every Heartbeat lists every lease it gets as lost.
  void LoseLeases() {
    absl::MutexLock lock(&mu_);
    lose_leases_ = true;
  }

  void StartWorker() {
    WorkerOptions options;
    options.name = "test-worker";
    SlotOptions slot_options;
    slot_options.cpu_slots = 1;
    options.slots = BuildSlots(slot_options).value();
    options.work_dir = dir_.path() + "/work";
    options.trainer_path = "vernier-train";
    options.heartbeat_interval = kHeartbeat;
    options.idle_backoff_initial = kIdleBackoff;
    options.idle_backoff_max = kIdleBackoff;
    options.retry_backoff_initial = kRetryBackoff;
    options.retry_backoff_max = kRetryBackoff;
    options.drain_timeout = kDrainTimeout;
    options.shutdown_complete_timeout = kShutdownGrace;
    options.clock = &clock_;
    options.log = [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      log_.emplace_back(line);
    };
    worker_ = std::make_unique<Worker>(std::move(options), &stub_, &launcher_);
    run_thread_ = std::thread([this] {
      run_status_ = worker_->Run();
      run_returned_.Notify();
    });
  }

  // Waits for Run() to return (after Shutdown(), Drain(), or an end the test
  // brought about). If it does not, fails, then shuts the worker down, lets
  // the coordinator answer and moves the clock until it does.
  void JoinWorker() {
    if (!run_returned_.WaitForNotificationWithTimeout(kPatience)) {
      ADD_FAILURE() << "Run() did not return";
      worker_->Shutdown();
      {
        absl::MutexLock lock(&mu_);
        failing_reports_ = 0;
        fail_completions_ = false;
      }
      while (!run_returned_.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
        clock_.Advance(absl::Hours(1));
      }
    }
    run_thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_;
  }
  void StopWorker() {
    worker_->Shutdown();
    JoinWorker();
  }

  // The `index`-th process the worker started.
  FakeTrialProcess* Process(size_t index) {
    FakeTrialProcess* process = launcher_.AwaitProcess(index);
    EXPECT_NE(process, nullptr) << "process " << index << " never started";
    return process;
  }

  // Lets one heartbeat go out and its answer be handled: the heartbeat
  // thread is asleep again afterwards.
  bool Beat() {
    if (!clock_.AwaitWaiter(clock_.Now() + kHeartbeat)) return false;
    clock_.Advance(kHeartbeat);
    return clock_.AwaitWaiter(clock_.Now() + kHeartbeat);
  }

  // Waits until `done` holds, with mu_ held; false after kPatience.
  bool WaitFor(const std::function<bool()>& done) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done), kPatience);
  }
  bool WaitForLog(absl::string_view text) {
    return WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (const std::string& line : log_) {
        if (absl::StrContains(line, text)) return true;
      }
      return false;
    });
  }
  bool Logged(absl::string_view text) {
    absl::MutexLock lock(&mu_);
    for (const std::string& line : log_) {
      if (absl::StrContains(line, text)) return true;
    }
    return false;
  }

  std::vector<v1::CompleteTrialRequest> completions() {
    absl::MutexLock lock(&mu_);
    return completions_;
  }
  int complete_attempts() {
    absl::MutexLock lock(&mu_);
    return complete_attempts_;
  }
  std::vector<int64_t> steps() {
    absl::MutexLock lock(&mu_);
    return steps_;
  }
  std::vector<int64_t> released() {
    absl::MutexLock lock(&mu_);
    return released_;
  }
  int acquires() {
    absl::MutexLock lock(&mu_);
    return acquires_;
  }

  ::vernier::testing::TempDir dir_;
  FakeClock clock_;
  FakeTrialLauncher launcher_;
  ::testing::NiceMock<v1::MockWorkerServiceStub> stub_;
  std::unique_ptr<Worker> worker_;
  std::thread run_thread_;
  absl::Notification run_returned_;
  absl::Status run_status_;

 private:
  grpc::Status Acquire(v1::AcquireTrialResponse* response) {
    absl::MutexLock lock(&mu_);
    ++acquires_;
    if (!leases_.empty()) {
      *response = leases_.front();
      leases_.pop_front();
    }
    return grpc::Status::OK;
  }

  // Runs the answer without mu_ held: it may wait for other threads.
  grpc::Status ReportProgress(const v1::ReportProgressRequest& request,
                              v1::ReportProgressResponse* response) {
    Answer answer;
    {
      absl::MutexLock lock(&mu_);
      if (failing_reports_ > 0) {
        --failing_reports_;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try later");
      }
      steps_.push_back(request.measurement().step());
      answer = answer_;
    }
    if (!answer) return Reply(response, v1::TRIAL_ACTION_CONTINUE);
    return answer(request, response);
  }

  grpc::Status Complete(const v1::CompleteTrialRequest& request) {
    absl::MutexLock lock(&mu_);
    ++complete_attempts_;
    if (fail_completions_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try later");
    completions_.push_back(request);
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  std::deque<v1::AcquireTrialResponse> leases_ ABSL_GUARDED_BY(mu_);
  Answer answer_ ABSL_GUARDED_BY(mu_);
  int failing_reports_ ABSL_GUARDED_BY(mu_) = 0;
  bool fail_completions_ ABSL_GUARDED_BY(mu_) = false;
  bool lose_leases_ ABSL_GUARDED_BY(mu_) = false;
  int acquires_ ABSL_GUARDED_BY(mu_) = 0;
  // Steps of the reports answered (not UNAVAILABLE), in order.
  std::vector<int64_t> steps_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::CompleteTrialRequest> completions_ ABSL_GUARDED_BY(mu_);
  int complete_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int64_t> released_ ABSL_GUARDED_BY(mu_);
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);

 protected:
  // For WaitFor conditions, which run with mu_ held.
  size_t completions_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return completions_.size(); }
  int complete_attempts_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return complete_attempts_; }
  int acquires_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return acquires_; }
};

// A script: these reports, then this exit at once.
FakeTrialScript Finished(std::vector<TrialReport> reports, MetricMap final_metrics) {
  FakeTrialScript script;
  script.reports = std::move(reports);
  script.exit = FinishedExit(std::move(final_metrics));
  return script;
}

// A script: these reports, then running until stopped (or, with
// `ignore_stop`, until the test ends it).
FakeTrialScript Running(std::vector<TrialReport> reports, bool ignore_stop = false) {
  FakeTrialScript script;
  script.reports = std::move(reports);
  script.ignore_stop = ignore_stop;
  return script;
}

TEST_F(WorkerFakesTest, RelaysReportsInOrderAndCompletesTheTrial) {
  AddTrial(0);
  launcher_.AddScript(Finished({Report(0), Report(1), Report(2)}, {{"accuracy", 0.9}}));
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  const v1::CompleteTrialRequest done = completions()[0];
  EXPECT_EQ(done.state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(done.final_metrics(), ElementsAre(Pair("accuracy", 0.9)));
  EXPECT_EQ(done.worker_id(), "worker-1");
  EXPECT_THAT(steps(), ElementsAre(0, 1, 2));
  const TrialSpec spec = launcher_.spec(0);
  EXPECT_THAT(spec.argv, ElementsAre("trial-program"));
  EXPECT_EQ(spec.params_json, R"({"x":0})");
  EXPECT_EQ(spec.study, "study");
  EXPECT_TRUE(std::filesystem::is_directory(spec.trial_dir)) << spec.trial_dir;
  EXPECT_EQ(spec.stop_grace, absl::Seconds(5));
}

TEST_F(WorkerFakesTest, StopAnswerStopsTheTrialAndReportsItPruned) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0), Report(1), Report(2), Report(3)}));
  set_answer(AnswerAtStep(1, v1::TRIAL_ACTION_STOP));
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_TRUE(Process(0)->stop_requested());
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_PRUNED);
  EXPECT_THAT(completions()[0].final_metrics(), IsEmpty());
  EXPECT_THAT(steps(), ElementsAre(0, 1));  // Nothing relayed after STOP.
}

TEST_F(WorkerFakesTest, TrialThatCompletesOnItsOwnAfterStopIsStillPruned) {
  AddTrial(0);
  // It has written everything and ended before the worker reads step 1.
  launcher_.AddScript(Finished({Report(0), Report(1), Report(2)}, {{"accuracy", 0.9}}));
  set_answer(AnswerAtStep(1, v1::TRIAL_ACTION_STOP));
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_FALSE(Process(0)->stop_requested());  // Nothing was left to stop.
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_PRUNED);
  EXPECT_THAT(steps(), ElementsAre(0, 1));
}

TEST_F(WorkerFakesTest, AbortedReportStopsAndDropsTheTrial) {
  AddTrial(0);
  AddTrial(1);
  launcher_.AddScript(Running({Report(0), Report(1), Report(2)}));
  launcher_.AddScript(Finished({}, {{"accuracy", 0.5}}));
  set_answer([](const v1::ReportProgressRequest& request, v1::ReportProgressResponse* response) {
    if (request.lease().trial_number() == 0) return grpc::Status(grpc::StatusCode::ABORTED, "");
    return Reply(response, v1::TRIAL_ACTION_CONTINUE);
  });
  EXPECT_CALL(stub_, ReleaseTrial(_, _, _)).Times(0);
  StartWorker();
  // One slot: once #1 is complete, #0 has been handled.
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_TRUE(Process(0)->stop_requested());
  EXPECT_EQ(completions()[0].lease().trial_number(), 1);
  EXPECT_THAT(steps(), ElementsAre(0));  // Nothing relayed after ABORTED.
  EXPECT_TRUE(Logged("study#0 (attempt 1): dropped, its lease is gone"));
}

TEST_F(WorkerFakesTest, LeaseLostByHeartbeatStopsAndDropsTheTrialAndRelaysNoMore) {
  AddTrial(0);
  launcher_.AddScript(Running({}, /*ignore_stop=*/true));
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  EXPECT_CALL(stub_, ReleaseTrial(_, _, _)).Times(0);
  StartWorker();
  FakeTrialProcess* process = Process(0);
  LoseLeases();
  ASSERT_TRUE(Beat());
  // Stopped by the heartbeat thread, or by the slot's if it was still
  // starting the process.
  ASSERT_TRUE(process->AwaitStopRequested());
  process->AddReport(Report(4));  // Written while it stops: drained, not relayed.
  ASSERT_TRUE(process->AwaitReportsTaken());
  process->Exit(ExitCode(0));
  ASSERT_TRUE(WaitForLog("dropped, its lease is gone"));
  StopWorker();
  EXPECT_THAT(steps(), IsEmpty());
  EXPECT_TRUE(Logged("the coordinator says the lease is lost"));
}

TEST_F(WorkerFakesTest, LeaseListedLostWhileAStopAnswerIsInFlightIsStillPruned) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}));
  set_answer([this](const v1::ReportProgressRequest&, v1::ReportProgressResponse* response) {
    // The coordinator pruned the trial as it answered: a heartbeat while the
    // answer travels lists the lease as lost; then the answer, STOP, arrives.
    LoseLeases();
    EXPECT_TRUE(Beat());
    return Reply(response, v1::TRIAL_ACTION_STOP);
  });
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_TRUE(Process(0)->stop_requested());
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_PRUNED);
  EXPECT_FALSE(Logged("dropped, its lease is gone"));
}

TEST_F(WorkerFakesTest, LeaseListedLostAfterStopIsStillReportedPruned) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}, /*ignore_stop=*/true));
  set_answer(AnswerAtStep(0, v1::TRIAL_ACTION_STOP));
  StartWorker();
  FakeTrialProcess* process = Process(0);
  ASSERT_TRUE(process->AwaitStopRequested());
  // The coordinator ended the trial as it answered STOP, so its lease is
  // listed as lost: expected, not a loss.
  LoseLeases();
  ASSERT_TRUE(Beat());
  process->Exit(ExitCode(0));
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_PRUNED);
  EXPECT_FALSE(Logged("the coordinator says the lease is lost"));
}

TEST_F(WorkerFakesTest, ShutdownStopsTheRunningTrialWithoutReportingIt) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}));
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  EXPECT_CALL(stub_, ReleaseTrial(_, _, _)).Times(0);
  StartWorker();
  FakeTrialProcess* process = Process(0);
  ASSERT_TRUE(process->AwaitReportsTaken());
  StopWorker();
  EXPECT_TRUE(process->stop_requested());
  EXPECT_THAT(steps(), ElementsAre(0));
  EXPECT_TRUE(Logged("left behind by the shutdown"));
}

TEST_F(WorkerFakesTest, ShutdownDuringTheStartStopsTheNewProcessAndDropsIt) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0), Report(1)}));
  launcher_.set_on_start([this](size_t) { worker_->Shutdown(); });
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  EXPECT_CALL(stub_, ReleaseTrial(_, _, _)).Times(0);
  StartWorker();
  JoinWorker();
  EXPECT_TRUE(Process(0)->stop_requested());
  EXPECT_THAT(steps(), IsEmpty());  // A stopping trial's reports are not relayed.
}

TEST_F(WorkerFakesTest, ShutdownWhileLeasingDropsTheTrialWithoutStartingIt) {
  AddTrial(0);
  ON_CALL(stub_, AcquireTrial(_, _, _))
      .WillByDefault([this](grpc::ClientContext*, const v1::AcquireTrialRequest&,
                            v1::AcquireTrialResponse* response) {
        worker_->Shutdown();  // Arrives while the lease is on its way.
        response->mutable_lease()->set_study("study");
        return grpc::Status::OK;
      });
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  EXPECT_CALL(stub_, ReleaseTrial(_, _, _)).Times(0);
  StartWorker();
  JoinWorker();
  EXPECT_EQ(launcher_.starts(), 0u);
}

TEST_F(WorkerFakesTest, DrainWhileLeasingHandsTheTrialBackWithoutStartingIt) {
  ON_CALL(stub_, AcquireTrial(_, _, _))
      .WillByDefault([this](grpc::ClientContext*, const v1::AcquireTrialRequest&,
                            v1::AcquireTrialResponse* response) {
        worker_->Drain();
        response->mutable_lease()->set_study("study");
        response->mutable_lease()->set_trial_number(3);
        return grpc::Status::OK;
      });
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  StartWorker();
  JoinWorker();  // No clock advance needed: nothing runs.
  EXPECT_EQ(launcher_.starts(), 0u);
  EXPECT_THAT(released(), ElementsAre(3));
}

TEST_F(WorkerFakesTest, DrainOfAnIdleWorkerReturnsAtOnce) {
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return acquires_locked() > 0; }));
  ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + kIdleBackoff));
  worker_->Drain();
  JoinWorker();  // Not after the idle backoff: the fake clock never moved.
  EXPECT_EQ(acquires(), 1);
}

TEST_F(WorkerFakesTest, DrainLetsTheRunningTrialFinishAndLeasesNoMore) {
  AddTrial(0);
  AddTrial(1);
  launcher_.AddScript(Running({}, /*ignore_stop=*/true));
  StartWorker();
  FakeTrialProcess* process = Process(0);
  worker_->Drain();
  process->AddReport(Report(0));  // Still relayed while draining.
  ASSERT_TRUE(process->AwaitReportsTaken());
  process->Exit(FinishedExit({{"accuracy", 0.5}}));
  JoinWorker();
  EXPECT_FALSE(process->stop_requested());
  ASSERT_EQ(completions().size(), 1u);
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(steps(), ElementsAre(0));
  EXPECT_THAT(released(), IsEmpty());
  EXPECT_EQ(acquires(), 1);  // Trial 1 was never leased.
}

TEST_F(WorkerFakesTest, DrainTimeUpStopsTheTrialAndHandsItBack) {
  AddTrial(0);
  launcher_.AddScript(Running({}));
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  StartWorker();
  FakeTrialProcess* process = Process(0);
  worker_->Drain();
  const absl::Time deadline = clock_.Now() + kDrainTimeout;
  ASSERT_TRUE(clock_.AwaitWaiter(deadline));
  clock_.Advance(kDrainTimeout - absl::Seconds(1));
  ASSERT_TRUE(clock_.AwaitWaiter(deadline));  // Not yet.
  EXPECT_FALSE(process->stop_requested());
  clock_.Advance(absl::Seconds(1));
  JoinWorker();
  EXPECT_TRUE(process->stop_requested());
  EXPECT_THAT(released(), ElementsAre(0));
  EXPECT_TRUE(Logged("drain time is up; stopping it"));
}

TEST_F(WorkerFakesTest, DrainTimeUpWhileAnExploitRestartIsPendingHandsTheTrialBack) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}, /*ignore_stop=*/true));
  set_answer(ExploitAtStep(0));
  EXPECT_CALL(stub_, DownloadCheckpointRaw(_, _)).Times(0);
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  StartWorker();
  FakeTrialProcess* process = Process(0);
  ASSERT_TRUE(process->AwaitStopRequested());  // Stopping for the exploit.
  worker_->Drain();
  ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + kDrainTimeout));
  clock_.Advance(kDrainTimeout);
  ASSERT_TRUE(WaitForLog("drain time is up"));
  process->Exit(ExitCode(0));
  JoinWorker();
  EXPECT_EQ(launcher_.starts(), 1u);
  EXPECT_THAT(released(), ElementsAre(0));
}

// A reader of a one-file checkpoint, or of a stream that fails with `status`.
grpc::ClientReaderInterface<v1::CheckpointChunk>* CheckpointReader(grpc::Status status) {
  auto* reader = new grpc::testing::MockClientReader<v1::CheckpointChunk>();
  v1::CheckpointChunk chunk;
  chunk.set_file("model.pt");
  chunk.set_data("weights");
  if (status.ok()) {
    EXPECT_CALL(*reader, Read(_))
        .WillOnce(DoAll(SetArgPointee<0>(chunk), Return(true)))
        .WillOnce(Return(false));
  } else {
    EXPECT_CALL(*reader, Read(_)).WillOnce(Return(false));
  }
  EXPECT_CALL(*reader, Finish()).WillOnce(Return(status));
  return reader;
}

TEST_F(WorkerFakesTest, ExploitRestartsTheTrialFromTheDonorsCheckpoint) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}));
  launcher_.AddScript(Finished({Report(3)}, {{"accuracy", 0.7}}));
  set_answer(ExploitAtStep(0));
  EXPECT_CALL(stub_, DownloadCheckpointRaw(_, _))
      .WillOnce([](grpc::ClientContext*, const v1::DownloadCheckpointRequest& request) {
        EXPECT_EQ(request.donor_trial(), 5);
        EXPECT_EQ(request.donor_step(), 2);
        return CheckpointReader(grpc::Status::OK);
      });
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_TRUE(Process(0)->stop_requested());
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(completions()[0].final_metrics(), ElementsAre(Pair("accuracy", 0.7)));
  EXPECT_THAT(steps(), ElementsAre(0, 3));
  ASSERT_EQ(launcher_.starts(), 2u);
  const TrialSpec restarted = launcher_.spec(1);
  EXPECT_NE(restarted.trial_dir, launcher_.spec(0).trial_dir);
  const std::string checkpoint = restarted.trial_dir + "/resume-trial-5-step-2";
  EXPECT_EQ(restarted.params_json, absl::StrCat(R"({"resume_from":")", checkpoint, R"(","x":9})"));
  EXPECT_EQ(test_util::ReadFile(checkpoint + "/model.pt"), "weights");
}

TEST_F(WorkerFakesTest, ExploitWhoseCheckpointCannotBeFetchedFailsTheTrial) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}));
  set_answer(ExploitAtStep(0));
  ON_CALL(stub_, DownloadCheckpointRaw(_, _))
      .WillByDefault([](grpc::ClientContext*, const v1::DownloadCheckpointRequest&) {
        return CheckpointReader(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such checkpoint"));
      });
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_EQ(launcher_.starts(), 1u);
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(completions()[0].failure_reason(),
              HasSubstr("pbt exploit: cannot fetch the checkpoint of trial 5 at step 2"));
}

TEST_F(WorkerFakesTest, RetriedTrialResumesFromItsOwnCheckpoint) {
  AddTrial(0);
  SetResumeStep(4);
  launcher_.AddScript(Finished({Report(5)}, {{"accuracy", 0.8}}));
  EXPECT_CALL(stub_, DownloadCheckpointRaw(_, _))
      .WillOnce([](grpc::ClientContext*, const v1::DownloadCheckpointRequest& request) {
        EXPECT_EQ(request.donor_trial(), 0);  // Its own.
        EXPECT_EQ(request.donor_step(), 4);
        EXPECT_EQ(request.lease().attempt(), 2);
        return CheckpointReader(grpc::Status::OK);
      });
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_COMPLETE);
  ASSERT_EQ(launcher_.starts(), 1u);
  const TrialSpec started = launcher_.spec(0);
  const std::string checkpoint = started.trial_dir + "/resume-step-4";
  EXPECT_EQ(started.params_json, absl::StrCat(R"({"resume_from":")", checkpoint, R"(","x":0})"));
  EXPECT_EQ(test_util::ReadFile(checkpoint + "/model.pt"), "weights");
}

TEST_F(WorkerFakesTest, RetriedTrialWhoseCheckpointIsGoneStartsFromTheBeginning) {
  AddTrial(0);
  SetResumeStep(4);
  launcher_.AddScript(Finished({Report(1)}, {{"accuracy", 0.8}}));
  ON_CALL(stub_, DownloadCheckpointRaw(_, _))
      .WillByDefault([](grpc::ClientContext*, const v1::DownloadCheckpointRequest&) {
        return CheckpointReader(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such checkpoint"));
      });
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_COMPLETE);
  ASSERT_EQ(launcher_.starts(), 1u);
  EXPECT_EQ(launcher_.spec(0).params_json, R"({"x":0})");
}

TEST_F(WorkerFakesTest, ShutdownWhileAnExploitIsPendingDropsTheTrial) {
  AddTrial(0);
  launcher_.AddScript(Running({Report(0)}, /*ignore_stop=*/true));
  set_answer(ExploitAtStep(0));
  EXPECT_CALL(stub_, DownloadCheckpointRaw(_, _)).Times(0);
  EXPECT_CALL(stub_, CompleteTrial(_, _, _)).Times(0);
  StartWorker();
  FakeTrialProcess* process = Process(0);
  ASSERT_TRUE(process->AwaitStopRequested());
  worker_->Shutdown();
  process->Exit(ExitCode(0));
  JoinWorker();
  EXPECT_EQ(launcher_.starts(), 1u);
}

TEST_F(WorkerFakesTest, TrialThatCannotStartIsReportedFailed) {
  AddTrial(0);
  launcher_.AddScript({absl::NotFoundError("trial-program: not found")});
  StartWorker();
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(completions()[0].failure_reason(), "cannot start the trial: trial-program: not found");
}

TEST_F(WorkerFakesTest, UnavailableReportIsRetriedAfterTheBackoffOnTheClock) {
  AddTrial(0);
  launcher_.AddScript(Finished({Report(0), Report(1)}, {{"accuracy", 0.9}}));
  FailReports(2);
  StartWorker();
  for (int retry = 0; retry < 2; ++retry) {
    ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + kRetryBackoff)) << "retry " << retry;
    EXPECT_THAT(steps(), IsEmpty());
    clock_.Advance(kRetryBackoff);
  }
  ASSERT_TRUE(WaitFor([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return completions_locked() == 1; }));
  StopWorker();
  EXPECT_THAT(steps(), ElementsAre(0, 1));
  EXPECT_EQ(completions()[0].state(), v1::TRIAL_STATE_COMPLETE);
}

TEST_F(WorkerFakesTest, UnsentResultIsRetriedThenGivenUpAfterTheShutdownGrace) {
  AddTrial(0);
  launcher_.AddScript(Finished({}, {{"accuracy", 0.9}}));
  FailEveryCompletion();
  StartWorker();
  // Before Shutdown() the result is retried for as long as it takes.
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + kRetryBackoff)) << "attempt " << attempt;
    EXPECT_EQ(complete_attempts(), attempt);
    clock_.Advance(kRetryBackoff);
  }
  ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + kRetryBackoff));
  worker_->Shutdown();
  // Then for kShutdownGrace (5 s): a retry 3 s after Shutdown(), and one at
  // 6 s, after which it is given up.
  clock_.Advance(kRetryBackoff);
  ASSERT_TRUE(clock_.AwaitWaiter(clock_.Now() + kRetryBackoff));
  clock_.Advance(kRetryBackoff);
  JoinWorker();
  EXPECT_EQ(complete_attempts(), 6);
  EXPECT_THAT(completions(), IsEmpty());
  EXPECT_TRUE(Logged("COMPLETE; the coordinator did not take it"));
}

}  // namespace
}  // namespace vernier::worker
