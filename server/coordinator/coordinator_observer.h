// CoordinatorObserver: the events of the coordinator that nothing in it reads
// back but an operator wants counted (vernier-server's Prometheus metrics,
// server/service/metrics.h). A narrow hook, so that the coordinator stays
// free of any metrics library: what it can answer at any time (trials by
// state, active leases, connected workers) is asked of it instead, and only
// what happens in passing comes through here.
//
// Thread-safety: implementations must be thread-safe. Methods are called on
// the thread doing the work, possibly with a study's lock held: they must be
// quick, must not block, and must not call back into the coordinator.
#ifndef VERNIER_SERVER_COORDINATOR_COORDINATOR_OBSERVER_H_
#define VERNIER_SERVER_COORDINATOR_COORDINATOR_OBSERVER_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace vernier {

class CoordinatorObserver {
 public:
  virtual ~CoordinatorObserver() = default;

  // A sampler of type `sampler` (SamplerSpec::type(): "tpe", "random", ...)
  // computed the parameters of a new trial in `elapsed` (wall time, the
  // snapshot of the history included).
  virtual void SuggestionMade(absl::string_view /*sampler*/, absl::Duration /*elapsed*/) {}

  // The lease of a trial of `study` expired and the trial was taken back from
  // its worker (stored): `retried` when it went back to WAITING for another
  // attempt, false when its retries were spent and it ended FAILED.
  virtual void LeaseExpired(absl::string_view /*study*/, bool /*retried*/) {}
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_COORDINATOR_OBSERVER_H_
