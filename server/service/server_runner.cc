#include "server/service/server_runner.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/storage/sqlite_study_store.h"

namespace vernier {
namespace {

// Study files and trial lists are small; this bounds what a client can make
// the server parse or buffer.
constexpr int kMaxMessageBytes = 16 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(const ServerOptions& options) {
  std::unique_ptr<ServerRunner> runner(new ServerRunner());
  // Exclusive: a second coordinator on the same file would hand out the same
  // trial numbers, so it must fail to open instead.
  SqliteStudyStore::Options store_options;
  store_options.exclusive_lock = true;
  ASSIGN_OR_RETURN(runner->store_, SqliteStudyStore::Open(options.db_path, store_options));
  runner->clock_ = std::make_unique<RealClock>();
  ASSIGN_OR_RETURN(
      runner->coordinator_,
      Coordinator::Create(runner->store_.get(), runner->clock_.get(), options.coordinator));
  runner->study_service_ = std::make_unique<StudyServiceImpl>(runner->coordinator_.get());
  runner->worker_service_ = std::make_unique<WorkerServiceImpl>(runner->coordinator_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &runner->port_);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(runner->study_service_.get());
  builder.RegisterService(runner->worker_service_.get());
  runner->server_ = builder.BuildAndStart();
  if (runner->server_ == nullptr || runner->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or invalid)"));
  }
  runner->expiry_thread_ = std::thread(
      [r = runner.get(), interval = options.expiry_interval] { r->ExpireLoop(interval); });
  return runner;
}

void ServerRunner::ExpireLoop(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    absl::Status status = coordinator_->ExpireLeases();
    if (!status.ok()) std::cerr << "vernier-server: expiring leases: " << status << "\n";
  }
}

void ServerRunner::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (coordinator_ != nullptr) coordinator_->StopLeasing();
  // Start() may have failed before the server was built.
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoSeconds(grace));
  }
  stopping_.Notify();
  if (expiry_thread_.joinable()) expiry_thread_.join();
  if (store_ != nullptr) {
    absl::Status status = store_->Checkpoint();
    if (!status.ok()) std::cerr << "vernier-server: checkpointing the database: " << status << "\n";
  }
}

void ServerRunner::Wait() { server_->Wait(); }

ServerRunner::~ServerRunner() { Shutdown(absl::ZeroDuration()); }

}  // namespace vernier
