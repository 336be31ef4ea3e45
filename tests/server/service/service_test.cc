// Service tier: the real server (ServerRunner: SQLite file, coordinator, gRPC)
// on a loopback port, driven through the generated stubs.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/service/server_runner.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

constexpr char kStudy[] = R"(
name: svc
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
budget: {max_trials: 3, parallel: 3}
trainer: {command: [python3, trial.py]}
)";

class ServiceTest : public InProcessServerTest {
 protected:
  grpc::Status Create(const std::string& spec, v1::Study* study) {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(spec);
    return studies_->CreateStudy(&context, request, study);
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

  grpc::Status Complete(const std::string& worker_id, const v1::TrialLease& lease,
                        v1::TrialState state, double loss) {
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker_id);
    *request.mutable_lease() = lease;
    request.set_state(state);
    (*request.mutable_final_metrics())["loss"] = loss;
    v1::CompleteTrialResponse response;
    return workers_->CompleteTrial(&context, request, &response);
  }

  grpc::Status Backup(const std::string& path, v1::BackupDatabaseResponse* response) {
    grpc::ClientContext context;
    v1::BackupDatabaseRequest request;
    request.set_path(path);
    return studies_->BackupDatabase(&context, request, response);
  }
};

TEST_F(ServiceTest, InvalidSpecIsInvalidArgumentNamingTheField) {
  v1::Study study;
  std::string bad = kStudy;
  bad.replace(bad.find("low: -2"), 7, "low: 5");
  grpc::Status status = Create(bad, &study);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("params.x"));
  EXPECT_EQ(Create("", &study).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServiceTest, UnknownStudyIsNotFound) {
  grpc::ClientContext c1, c2, c3;
  v1::GetStudyRequest get;
  get.set_name("ghost");
  v1::Study study;
  EXPECT_EQ(studies_->GetStudy(&c1, get, &study).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListTrialsRequest list;
  list.set_study("ghost");
  v1::ListTrialsResponse trials;
  EXPECT_EQ(studies_->ListTrials(&c2, list, &trials).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetBestTrialsRequest best;
  best.set_study("ghost");
  v1::GetBestTrialsResponse best_response;
  EXPECT_EQ(studies_->GetBestTrials(&c3, best, &best_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, WorkerFlowReachesBestTrials) {
  v1::Study study;
  ASSERT_TRUE(Create(kStudy, &study).ok());
  grpc::ClientContext register_context;
  v1::RegisterWorkerRequest reg;
  reg.set_name("t");
  reg.add_slots("cpu");
  v1::RegisterWorkerResponse registration;
  ASSERT_TRUE(workers_->RegisterWorker(&register_context, reg, &registration).ok());
  const std::string id = registration.worker_id();
  EXPECT_GT(registration.lease_seconds(), 0);

  const double losses[] = {0.5, 0.1, 0.9};
  for (double loss : losses) {
    v1::AcquireTrialResponse trial = Acquire(id);
    ASSERT_TRUE(trial.has_lease());
    EXPECT_EQ(trial.command(0), "python3");
    EXPECT_EQ(trial.trial().params().count("x"), 1u);
    grpc::ClientContext progress_context;
    v1::ReportProgressRequest progress;
    progress.set_worker_id(id);
    *progress.mutable_lease() = trial.lease();
    progress.mutable_measurement()->set_step(1);
    (*progress.mutable_measurement()->mutable_metrics())["loss"] = loss + 1;
    v1::ReportProgressResponse answer;
    ASSERT_TRUE(workers_->ReportProgress(&progress_context, progress, &answer).ok());
    EXPECT_EQ(answer.action(), v1::TRIAL_ACTION_CONTINUE);
    ASSERT_TRUE(Complete(id, trial.lease(), v1::TRIAL_STATE_COMPLETE, loss).ok());
  }
  EXPECT_FALSE(Acquire(id).has_lease());

  grpc::ClientContext best_context;
  v1::GetBestTrialsRequest best;
  best.set_study("svc");
  best.set_count(2);
  v1::GetBestTrialsResponse response;
  ASSERT_TRUE(studies_->GetBestTrials(&best_context, best, &response).ok());
  ASSERT_EQ(response.trials_size(), 2);
  EXPECT_EQ(response.trials(0).number(), 1);
  EXPECT_DOUBLE_EQ(response.trials(0).objective_value(), 0.1);
  EXPECT_EQ(response.trials(0).intermediate_size(), 1);
  EXPECT_EQ(response.trials(1).number(), 0);

  grpc::ClientContext study_context;
  v1::GetStudyRequest get;
  get.set_name("svc");
  ASSERT_TRUE(studies_->GetStudy(&study_context, get, &study).ok());
  EXPECT_EQ(study.state(), v1::STUDY_STATE_COMPLETED);
  EXPECT_EQ(study.trial_counts().at("COMPLETE"), 3);
}

TEST_F(ServiceTest, AcquiredTrialsCarryTheStudysTensorBoardDirectory) {
  v1::Study study;
  ASSERT_TRUE(Create(std::string(kStudy) + "tracking: {tensorboard: /shared/tb}\n", &study).ok());
  EXPECT_EQ(study.spec().tracking().tensorboard_dir(), "/shared/tb");
  grpc::ClientContext register_context;
  v1::RegisterWorkerRequest reg;
  reg.set_name("t");
  reg.add_slots("cpu");
  v1::RegisterWorkerResponse registration;
  ASSERT_TRUE(workers_->RegisterWorker(&register_context, reg, &registration).ok());
  v1::AcquireTrialResponse trial = Acquire(registration.worker_id());
  ASSERT_TRUE(trial.has_lease());
  EXPECT_EQ(trial.tensorboard_dir(), "/shared/tb");
}

TEST_F(ServiceTest, WorkerCannotReportNonFinalStateOrMissingLease) {
  v1::Study study;
  ASSERT_TRUE(Create(kStudy, &study).ok());
  v1::AcquireTrialResponse trial = Acquire("w");
  grpc::Status status = Complete("w", trial.lease(), v1::TRIAL_STATE_RUNNING, 0);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("state"));
  grpc::ClientContext context;
  v1::ReportProgressRequest progress;
  progress.set_worker_id("w");
  v1::ReportProgressResponse answer;
  EXPECT_EQ(workers_->ReportProgress(&context, progress, &answer).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Another worker's completion of this lease is refused.
  EXPECT_EQ(Complete("intruder", trial.lease(), v1::TRIAL_STATE_COMPLETE, 0).error_code(),
            grpc::StatusCode::ABORTED);
}

TEST_F(ServiceTest, RestartOnSameDatabaseKeepsStudiesAndLeases) {
  v1::Study study;
  ASSERT_TRUE(Create(kStudy, &study).ok());
  v1::AcquireTrialResponse first = Acquire("w");
  ASSERT_TRUE(Complete("w", first.lease(), v1::TRIAL_STATE_COMPLETE, 0.3).ok());
  v1::AcquireTrialResponse second = Acquire("w");

  runner_.reset();
  StartServer();

  grpc::ClientContext context;
  v1::ListTrialsRequest list;
  list.set_study("svc");
  v1::ListTrialsResponse trials;
  ASSERT_TRUE(studies_->ListTrials(&context, list, &trials).ok());
  ASSERT_EQ(trials.trials_size(), 2);
  EXPECT_EQ(trials.trials(0).state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_EQ(trials.trials(1).state(), v1::TRIAL_STATE_RUNNING);
  // The worker that held trial 1 before the restart can still finish it.
  EXPECT_TRUE(Complete("w", second.lease(), v1::TRIAL_STATE_COMPLETE, 0.2).ok());
  EXPECT_EQ(Acquire("w").lease().trial_number(), 2);
}

TEST_F(ServiceTest, SecondServerOnTheSameDatabaseIsRefused) {
  ServerOptions options;
  options.db_path = (dir_ / "vernier.db").string();
  options.listen = "127.0.0.1:0";
  options.auth.insecure = true;
  auto second = ServerRunner::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("vernier.db"));
}

TEST_F(ServiceTest, ReleasedTrialGoesBackToTheQueue) {
  v1::Study study;
  ASSERT_TRUE(Create(kStudy, &study).ok());
  v1::AcquireTrialResponse trial = Acquire("w");
  grpc::ClientContext context;
  v1::ReleaseTrialRequest release;
  release.set_worker_id("w");
  *release.mutable_lease() = trial.lease();
  v1::ReleaseTrialResponse response;
  ASSERT_TRUE(workers_->ReleaseTrial(&context, release, &response).ok());
  grpc::ClientContext again;
  EXPECT_EQ(workers_->ReleaseTrial(&again, release, &response).error_code(),
            grpc::StatusCode::ABORTED);
  grpc::ClientContext missing;
  EXPECT_EQ(workers_->ReleaseTrial(&missing, v1::ReleaseTrialRequest(), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::AcquireTrialResponse next = Acquire("other");
  EXPECT_EQ(next.lease().trial_number(), 0);
  EXPECT_EQ(next.trial().retries(), 0);
}

TEST_F(ServiceTest, BackupDuringWritesHoldsAConsistentCopy) {
  v1::Study study;
  std::string spec = kStudy;
  spec.replace(spec.find("max_trials: 3"), 13, "max_trials: 400");
  ASSERT_TRUE(Create(spec, &study).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done) {
      v1::AcquireTrialResponse trial = Acquire("w");
      if (!trial.has_lease()) break;
      Complete("w", trial.lease(), v1::TRIAL_STATE_COMPLETE, 0.5);
    }
  });
  std::vector<std::string> backups;
  for (int i = 0; i < 3; ++i) {
    const std::string path = (dir_ / ("backup" + std::to_string(i) + ".db")).string();
    v1::BackupDatabaseResponse response;
    grpc::Status status = Backup(path, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.bytes(), static_cast<int64_t>(std::filesystem::file_size(path)));
    backups.push_back(path);
  }
  done = true;
  writer.join();

  for (const std::string& path : backups) {
    auto copy = SqliteStudyStore::Open(path);
    ASSERT_TRUE(copy.ok()) << copy.status();
    auto stored = (*copy)->LoadAll();
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(stored->size(), 1u);
    EXPECT_EQ((*stored)[0].study.name, "svc");
    // A snapshot between writes: trials 0..n-1, each COMPLETE or RUNNING.
    for (size_t i = 0; i < (*stored)[0].trials.size(); ++i) {
      const TrialRecord& trial = (*stored)[0].trials[i];
      EXPECT_EQ(trial.number, static_cast<int64_t>(i));
      EXPECT_TRUE(trial.state == TrialState::kComplete || trial.state == TrialState::kRunning);
    }
  }
  // The last copy has everything the live database had when it was taken;
  // a copy taken now has everything.
  const std::string final_path = (dir_ / "final.db").string();
  v1::BackupDatabaseResponse response;
  ASSERT_TRUE(Backup(final_path, &response).ok());
  grpc::ClientContext list_context;
  v1::ListTrialsRequest list;
  list.set_study("svc");
  v1::ListTrialsResponse live;
  ASSERT_TRUE(studies_->ListTrials(&list_context, list, &live).ok());
  auto copy = SqliteStudyStore::Open(final_path);
  ASSERT_TRUE(copy.ok());
  auto stored = (*copy)->LoadAll();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ((*stored)[0].trials.size(), static_cast<size_t>(live.trials_size()));
  for (int i = 0; i < live.trials_size(); ++i) {
    EXPECT_EQ(static_cast<int>((*stored)[0].trials[i].state),
              static_cast<int>(live.trials(i).state()));
  }
}

TEST_F(ServiceTest, BackupRefusesBadPathsAndNeverOverwrites) {
  v1::BackupDatabaseResponse response;
  grpc::Status relative = Backup("relative.db", &response);
  EXPECT_EQ(relative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(relative.error_message(), HasSubstr("relative.db"));
  const std::string missing_dir = (dir_ / "no" / "such" / "b.db").string();
  grpc::Status missing = Backup(missing_dir, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(missing.error_message(), HasSubstr(missing_dir));
  EXPECT_EQ(Backup("", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::string taken = (dir_ / "vernier.db").string();
  const auto size = std::filesystem::file_size(taken);
  EXPECT_EQ(Backup(taken, &response).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(std::filesystem::file_size(taken), size);
}

TEST_F(ServiceTest, ShutdownStopsLeasingAndLeavesAnEmptyWal) {
  v1::Study study;
  ASSERT_TRUE(Create(kStudy, &study).ok());
  v1::AcquireTrialResponse first = Acquire("w");
  ASSERT_TRUE(Complete("w", first.lease(), v1::TRIAL_STATE_COMPLETE, 0.3).ok());
  runner_->coordinator().StopLeasing();  // What Shutdown() does first.
  EXPECT_FALSE(Acquire("w").has_lease());
  const std::filesystem::path wal = dir_ / "vernier.db-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_GT(std::filesystem::file_size(wal), 0u);

  runner_->Shutdown(absl::Seconds(1));
  EXPECT_TRUE(!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0);
  runner_.reset();
  auto store = SqliteStudyStore::Open((dir_ / "vernier.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  auto stored = (*store)->LoadAll();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ((*stored)[0].trials.size(), 1u);
  EXPECT_EQ((*stored)[0].trials[0].state, TrialState::kComplete);
}

}  // namespace
}  // namespace vernier
