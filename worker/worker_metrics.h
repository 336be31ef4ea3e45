// vernier-worker's Prometheus metrics (docs/metrics.md lists them): its slots,
// busy and idle, and the trials it ran by how they ended. Fed through
// WorkerObserver; served over HTTP at /metrics by WorkerMetricsEndpoint.
//
// Thread-safety: thread-safe.
#ifndef VERNIER_WORKER_WORKER_METRICS_H_
#define VERNIER_WORKER_WORKER_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "worker/worker_observer.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace vernier::worker {

class WorkerMetrics : public WorkerObserver {
 public:
  // For a worker with `slots` slots, all idle.
  explicit WorkerMetrics(int slots);

  // WorkerObserver.
  void TrialStarted() override;
  void TrialEnded(TrialEnding ending) override;

  // What a scrape collects; lives as long as this object.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& slots_;
  prometheus::Gauge& busy_;
  prometheus::Gauge& idle_;
  prometheus::Family<prometheus::Counter>& trials_;
};

// An HTTP listener serving `metrics` at /metrics.
class WorkerMetricsEndpoint {
 public:
  // Listens on `listen` ("host:port" with a numeric address, or a bare port;
  // port 0 picks a free one) and serves `metrics` (borrowed; must outlive the
  // endpoint). UNAVAILABLE naming the address when it cannot be bound;
  // INVALID_ARGUMENT when it is empty.
  static absl::StatusOr<std::unique_ptr<WorkerMetricsEndpoint>> Start(const std::string& listen,
                                                                      WorkerMetrics* metrics);
  ~WorkerMetricsEndpoint();

  // The port actually bound.
  int port() const { return port_; }

 private:
  WorkerMetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port);

  const std::unique_ptr<prometheus::Exposer> exposer_;
  const int port_;
};

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_WORKER_METRICS_H_
