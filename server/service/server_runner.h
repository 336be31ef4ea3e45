// ServerRunner: a whole coordinator process in one object — the SQLite store,
// the Coordinator, the gRPC server with StudyService, WorkerService and the
// health-check service, a thread that expires leases, and optionally the
// Prometheus metrics endpoint (metrics.h). Used by
// vernier-server, by `vernier run` (embedded mode) and by service tests.
//
// Thread-safety: Start and Shutdown must be called from one thread; the
// running server is thread-safe.
#ifndef VERNIER_SERVER_SERVICE_SERVER_RUNNER_H_
#define VERNIER_SERVER_SERVICE_SERVER_RUNNER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/coordinator/coordinator.h"
#include "server/service/auth.h"
#include "server/service/services.h"
#include "server/storage/artifact_store.h"
#include "server/storage/log_store.h"
#include "server/storage/sqlite_study_store.h"
#include "server/storage/study_store.h"

namespace vernier {

class MetricsEndpoint;  // server/service/metrics.h
class ServerMetrics;

// TLS for the listening port. Empty cert_file: plain text.
struct TlsServerOptions {
  std::string cert_file;  // PEM certificate chain of the server.
  std::string key_file;   // PEM private key of cert_file.
  // PEM CA bundle; when set, every client must present a certificate signed
  // by it (mutual TLS), and connections without one are refused.
  std::string client_ca_file;
};

struct ServerOptions {
  std::string db_path;                     // SQLite file; created when missing.
  std::string listen = "127.0.0.1:50051";  // host:port; port 0 picks a free one.
  // Bearer tokens (see auth.h). Start refuses options with neither tokens nor
  // `insecure`, so a server is never left open by accident.
  AuthOptions auth;
  TlsServerOptions tls;
  CoordinatorOptions coordinator;
  // Where trial checkpoints are kept (pbt); empty: db_path + ".checkpoints".
  std::string checkpoint_dir;
  // Where the trials' logs are kept (server/storage/log_store.h); empty:
  // db_path + ".logs". An in-memory database keeps none.
  std::string log_dir;
  // Where the trials' artifacts are kept (LocalArtifactStore); empty:
  // db_path + ".artifacts". An in-memory database keeps none.
  std::string artifact_dir;
  // The last bytes of each trial attempt's log that are kept.
  int64_t max_log_bytes = kDefaultMaxLogBytes;
  // How often expired leases are collected when no worker call does it.
  absl::Duration expiry_interval = absl::Seconds(1);
  // SqliteStudyStore::Options::group_commit: concurrent calls share one WAL
  // fsync. Off: each write is synced on its own (as before group commit).
  // Either way every acknowledged write is on disk; only the speed differs.
  bool group_commit = true;
  // Where /metrics is served over HTTP (MetricsEndpoint::Start: "host:port",
  // port 0 picks a free one); empty: no metrics are kept or served.
  std::string metrics_listen;
};

class ServerRunner {
 public:
  // Opens the database, loads every study and starts serving. Errors:
  // ValidateAuthOptions's (FAILED_PRECONDITION without tokens or `insecure`);
  // INVALID_ARGUMENT / NOT_FOUND naming the TLS flag and file that cannot be
  // used; the store's (a path that cannot be opened, a newer schema); or
  // UNAVAILABLE when the address (or metrics_listen) cannot be bound.
  static absl::StatusOr<std::unique_ptr<ServerRunner>> Start(const ServerOptions& options);

  ~ServerRunner();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // The port /metrics is served on; 0 without metrics_listen.
  int metrics_port() const;
  Coordinator& coordinator() { return *coordinator_; }

  // The graceful stop: leases no more trials (AcquireTrial answers "no
  // trial"), ends the WatchStudy streams (UNAVAILABLE), stops taking new
  // calls, lets in-flight calls finish (up to `grace`, then cancels them),
  // stops the expiry thread and checkpoints the database so that its -wal
  // file is empty (errors are logged; the WAL is still replayed on the next
  // start). The database stays open, and /metrics served, until the runner
  // is destroyed.
  // Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown() is called from another thread.
  void Wait();

 private:
  ServerRunner() = default;
  void ExpireLoop(absl::Duration interval);

  // Null without metrics_listen. First: the store, the coordinator and the
  // gRPC server tell it what happens, so it outlives them.
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<SqliteStudyStore> store_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<LogStore> logs_;  // Before coordinator_, which borrows it.
  // The same.
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<StudyServiceImpl> study_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  // The services actually registered: the ones above behind the token check.
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<AuthStudyService> auth_study_service_;
  std::unique_ptr<AuthWorkerService> auth_worker_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stopping_;
  std::thread expiry_thread_;
  bool shut_down_ = false;
  // Last, so destroyed first: its HTTP threads read the coordinator.
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_SERVICE_SERVER_RUNNER_H_
