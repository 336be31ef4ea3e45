// vernier-server's Prometheus metrics (docs/metrics.md lists them).
//
// ServerMetrics holds every metric and is fed from three places, each behind a
// narrow hook so that only this file knows Prometheus:
//   - a gRPC server interceptor counts and times every call, of every service
//     (StudyService, WorkerService, health), with the code it ended with;
//   - the coordinator (CoordinatorObserver: suggestion times, expired leases)
//     and the SQLite store (SqliteStudyStoreObserver: commit and fsync
//     times) tell it what happens in passing;
//   - what the coordinator can answer at any time (trials by study and state,
//     studies by state, active leases, connected workers) is read from it at
//     each scrape, so it is never stale and costs nothing between scrapes.
// MetricsEndpoint serves them over HTTP at /metrics in Prometheus's text
// format.
//
// Thread-safety: ServerMetrics is thread-safe once WatchCoordinator has been
// called (or when it is never called). MetricsEndpoint is thread-safe.
#ifndef VERNIER_SERVER_SERVICE_METRICS_H_
#define VERNIER_SERVER_SERVICE_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/coordinator/coordinator.h"
#include "server/coordinator/coordinator_observer.h"
#include "server/storage/sqlite_study_store.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace vernier {

class ServerMetrics : public CoordinatorObserver, public SqliteStudyStoreObserver {
 public:
  ServerMetrics();
  ~ServerMetrics() override;
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // From now on each scrape also reads `coordinator` (borrowed: it must stay
  // alive while these metrics are served). Call once, before serving.
  void WatchCoordinator(Coordinator* coordinator);

  // For ServerBuilder::experimental().SetInterceptorCreators(): counts and
  // times every call of the server built with it. The factory borrows this
  // object, which must outlive that server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcInterceptorFactory();

  // What a scrape collects: the metrics fed in passing, and those read from
  // the coordinator at scrape time. The pointers live as long as this object.
  std::vector<std::weak_ptr<prometheus::Collectable>> Collectables() const;

  // CoordinatorObserver.
  void SuggestionMade(absl::string_view sampler, absl::Duration elapsed) override;
  void LeaseExpired(absl::string_view study, bool retried) override;

  // SqliteStudyStoreObserver.
  void Committed(absl::Duration elapsed) override;
  void Synced(absl::Duration elapsed) override;

  // One call of `method_path` ("/package.Service/Method", as gRPC names it)
  // ended with `code` after `elapsed`. The interceptor calls this; public for
  // tests. A path that is not a method of this server is counted as
  // service "unknown", method "unknown", so clients cannot create series.
  void RecordRpc(absl::string_view method_path, grpc::StatusCode code, absl::Duration elapsed);

 private:
  class RpcInterceptorFactory;
  class CoordinatorCollector;
  // The labels and latency histogram of one method of this server.
  struct Method {
    std::string service;
    std::string method;
    prometheus::Histogram* duration = nullptr;  // Owned by rpc_duration_.
  };

  // Fills methods_ with every method of the services vernier-server serves.
  void AddKnownMethods();
  const Method& MethodOf(absl::string_view method_path) const;

  // Constant after construction (the families and methods_ are thread-safe
  // to use, and never change shape after the constructor).
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& lease_expiries_;
  prometheus::Family<prometheus::Counter>& trial_retries_;
  prometheus::Family<prometheus::Histogram>& suggest_duration_;
  prometheus::Histogram& store_commit_;
  prometheus::Histogram& store_sync_;
  // Keyed by "/package.Service/Method"; unknown_method_ for anything else.
  std::map<std::string, Method, std::less<>> methods_;
  Method unknown_method_;

  // Set once by WatchCoordinator, before serving.
  std::shared_ptr<CoordinatorCollector> coordinator_collector_;
};

// An HTTP listener that serves /metrics. Serves nothing until Serve() is
// called.
class MetricsEndpoint {
 public:
  // Listens on `listen`: "host:port" with a numeric IPv4 address, "[v6]:port",
  // or a bare port for every interface; port 0 picks a free one. Returns
  // INVALID_ARGUMENT for an empty address and UNAVAILABLE, naming it, when it
  // cannot be bound (in use, invalid).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& listen);
  ~MetricsEndpoint();

  // Adds `collectable` to what /metrics answers. It may go away at any time
  // (a weak pointer); a scrape then leaves it out.
  void Serve(const std::weak_ptr<prometheus::Collectable>& collectable);

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port);

  const std::unique_ptr<prometheus::Exposer> exposer_;
  const int port_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_SERVICE_METRICS_H_
