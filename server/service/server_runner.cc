#include "server/service/server_runner.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/service/metrics.h"
#include "server/storage/sqlite_study_store.h"

namespace vernier {
namespace {

// Study files and trial lists are small; this bounds what a client can make
// the server parse or buffer. A larger request is refused by gRPC with
// RESOURCE_EXHAUSTED before any handler sees it.
constexpr int kMaxMessageBytes = 16 << 20;

// gRPC's synchronous server ends a polling thread after its call when more
// than MAX_POLLERS (default 2) others are polling, and starts a new one when
// the next call arrives: with many concurrent clients that is a thread
// created and destroyed per call (bench/asktell: a quarter of the server's
// CPU time with 32 clients). Idle pollers cost a blocked thread each, so
// keeping this many lets a burst of calls reuse them. It bounds idle threads
// only, not concurrency.
constexpr int kMaxIdlePollers = 64;

// The shortest interval between a client's keepalive pings that the server
// accepts without data flowing (workers ping every 5 s).
constexpr int kMinClientPingIntervalMs = 4000;

// Plain text, or TLS (mutual when a client CA is given) from PEM files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsServerOptions& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadSecretFile("--tls-cert", tls.cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadSecretFile("--tls-key", tls.key_file));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadSecretFile("--tls-client-ca", tls.client_ca_file));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(const ServerOptions& options) {
  // Configuration first: a server that would be open by accident, or whose
  // certificate cannot be read, must not even open the database.
  RETURN_IF_ERROR(ValidateAuthOptions(options.auth));
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeServerCredentials(options.tls));
  std::unique_ptr<ServerRunner> runner(new ServerRunner());
  if (!options.metrics_listen.empty()) {
    // Before the database: a metrics address that cannot be bound is a
    // configuration error like the others above.
    ASSIGN_OR_RETURN(runner->metrics_endpoint_, MetricsEndpoint::Start(options.metrics_listen));
    runner->metrics_ = std::make_unique<ServerMetrics>();
  }
  // Exclusive: a second coordinator on the same file would hand out the same
  // trial numbers, so it must fail to open instead.
  SqliteStudyStore::Options store_options;
  store_options.exclusive_lock = true;
  // Concurrent calls share one WAL fsync; every service method waits for it
  // before answering (services.cc), so acknowledged writes stay durable.
  store_options.group_commit = options.group_commit;
  store_options.observer = runner->metrics_.get();
  ASSIGN_OR_RETURN(runner->store_, SqliteStudyStore::Open(options.db_path, store_options));
  runner->clock_ = std::make_unique<RealClock>();
  // pbt checkpoints live beside the database; an in-memory database has none
  // (the checkpoint RPCs then answer FAILED_PRECONDITION).
  const std::string checkpoint_dir = !options.checkpoint_dir.empty() ? options.checkpoint_dir
                                     : options.db_path == ":memory:"
                                         ? ""
                                         : options.db_path + ".checkpoints";
  if (!checkpoint_dir.empty()) {
    ASSIGN_OR_RETURN(runner->checkpoints_, CheckpointStore::Open(checkpoint_dir));
  }
  // Trial logs too; an in-memory database keeps none (the log RPCs then
  // answer FAILED_PRECONDITION).
  const std::string log_dir = !options.log_dir.empty()        ? options.log_dir
                              : options.db_path == ":memory:" ? ""
                                                              : options.db_path + ".logs";
  CoordinatorOptions coordinator_options = options.coordinator;
  if (runner->metrics_ != nullptr) coordinator_options.observer = runner->metrics_.get();
  if (!log_dir.empty()) {
    ASSIGN_OR_RETURN(runner->logs_, LogStore::Open(log_dir, options.max_log_bytes));
    coordinator_options.logs = runner->logs_.get();
  }
  // And the trials' artifacts: none for an in-memory database (workers then
  // upload none, and the artifact RPCs answer FAILED_PRECONDITION).
  const std::string artifact_dir = !options.artifact_dir.empty()   ? options.artifact_dir
                                   : options.db_path == ":memory:" ? ""
                                                                   : options.db_path + ".artifacts";
  if (!artifact_dir.empty()) {
    ASSIGN_OR_RETURN(runner->artifacts_, LocalArtifactStore::Open(artifact_dir));
    coordinator_options.artifacts = runner->artifacts_.get();
  }
  ASSIGN_OR_RETURN(runner->coordinator_,
                   Coordinator::Create(runner->store_.get(), runner->clock_.get(),
                                       coordinator_options, runner->checkpoints_.get()));
  runner->study_service_ = std::make_unique<StudyServiceImpl>(runner->coordinator_.get());
  runner->worker_service_ = std::make_unique<WorkerServiceImpl>(runner->coordinator_.get());
  runner->authorizer_ = std::make_unique<Authorizer>(options.auth);
  runner->auth_study_service_ =
      std::make_unique<AuthStudyService>(runner->authorizer_.get(), runner->study_service_.get());
  runner->auth_worker_service_ =
      std::make_unique<AuthWorkerService>(runner->authorizer_.get(), runner->worker_service_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &runner->port_);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // Workers ping every 5 s to notice dead connections (worker/main.cc);
  // without this the server would answer their pings with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinClientPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(runner->auth_study_service_.get());
  builder.RegisterService(runner->auth_worker_service_.get());
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxIdlePollers);
  if (runner->metrics_ != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(runner->metrics_->NewRpcInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  runner->server_ = builder.BuildAndStart();
  if (runner->server_ == nullptr || runner->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or invalid)"));
  }
  if (runner->metrics_ != nullptr) {
    runner->metrics_->WatchCoordinator(runner->coordinator_.get());
    for (const auto& collectable : runner->metrics_->Collectables()) {
      runner->metrics_endpoint_->Serve(collectable);
    }
  }
  runner->expiry_thread_ = std::thread(
      [r = runner.get(), interval = options.expiry_interval] { r->ExpireLoop(interval); });
  return runner;
}

void ServerRunner::ExpireLoop(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    absl::Status status = coordinator_->ExpireLeases();
    if (!status.ok()) std::cerr << "vernier-server: expiring leases: " << status << "\n";
    coordinator_->RestStudiesThatAreOver();
    coordinator_->WaitDurable();  // Nobody waits for these writes; sync them now anyway.
  }
}

void ServerRunner::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (coordinator_ != nullptr) {
    coordinator_->StopLeasing();
    // Open WatchStudy streams never end by themselves: end them now, so that
    // the in-flight calls below are done long before `grace`.
    coordinator_->EndWatches();
  }
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

int ServerRunner::metrics_port() const {
  return metrics_endpoint_ == nullptr ? 0 : metrics_endpoint_->port();
}

ServerRunner::~ServerRunner() { Shutdown(absl::ZeroDuration()); }

}  // namespace vernier
