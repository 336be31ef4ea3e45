#include "worker/worker_metrics.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"

namespace vernier::worker {

WorkerMetrics::WorkerMetrics(int slots)
    : registry_(std::make_shared<prometheus::Registry>()),
      slots_(prometheus::BuildGauge()
                 .Name("vernier_worker_slots")
                 .Help("This worker's trial slots, by state: busy (a trial leased, from lease to "
                       "its end) or idle.")
                 .Register(*registry_)),
      busy_(slots_.Add({{"state", "busy"}})),
      idle_(slots_.Add({{"state", "idle"}})),
      trials_(prometheus::BuildCounter()
                  .Name("vernier_worker_trials_total")
                  .Help("Trials this worker ran, by how they ended: COMPLETE, PRUNED, FAILED, "
                        "RELEASED (handed back unfinished) or DROPPED (lease lost, or shut "
                        "down).")
                  .Register(*registry_)) {
  idle_.Set(slots);
  // Every outcome from the start, so that a rate over it is defined before
  // the first trial of each kind ends.
  for (TrialEnding ending : {TrialEnding::kComplete, TrialEnding::kPruned, TrialEnding::kFailed,
                             TrialEnding::kReleased, TrialEnding::kDropped}) {
    trials_.Add({{"outcome", TrialEndingName(ending)}});
  }
}

void WorkerMetrics::TrialStarted() {
  busy_.Increment();
  idle_.Decrement();
}

void WorkerMetrics::TrialEnded(TrialEnding ending) {
  trials_.Add({{"outcome", TrialEndingName(ending)}}).Increment();
  busy_.Decrement();
  idle_.Increment();
}

absl::StatusOr<std::unique_ptr<WorkerMetricsEndpoint>> WorkerMetricsEndpoint::Start(
    const std::string& listen, WorkerMetrics* metrics) {
  if (listen.empty()) return absl::InvalidArgumentError("--metrics-listen: empty address");
  std::unique_ptr<prometheus::Exposer> exposer;
  // prometheus-cpp (civetweb) throws when it cannot listen; no exception
  // leaves this module.
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception&) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", listen, ": cannot listen (address in use or invalid)"));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("--metrics-listen ", listen, ": no port bound"));
  }
  exposer->RegisterCollectable(metrics->registry());
  return std::unique_ptr<WorkerMetricsEndpoint>(
      new WorkerMetricsEndpoint(std::move(exposer), ports.front()));
}

WorkerMetricsEndpoint::WorkerMetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

// Stops the HTTP thread (the Exposer's destructor joins it).
WorkerMetricsEndpoint::~WorkerMetricsEndpoint() = default;

}  // namespace vernier::worker
