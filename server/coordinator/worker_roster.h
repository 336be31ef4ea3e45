// WorkerRoster: which workers have called the coordinator lately, on its
// injected clock, and the slots they offered. The coordinator keeps no
// registry of workers (leases are checked against the stored trial, so a
// restarted server accepts workers registered with its predecessor); this
// only answers "how many workers are connected", for metrics, and "which
// slots are there, busy or free", for the reasons trials wait. A live worker calls at least once
// per heartbeat interval (heartbeats, or AcquireTrial while idle), so a window of the lease length
// counts every live worker and forgets a dead one once its leases would have expired.
//
// Thread-safety: thread-safe (one internal mutex, never held while calling
// out).
#ifndef VERNIER_SERVER_COORDINATOR_WORKER_ROSTER_H_
#define VERNIER_SERVER_COORDINATOR_WORKER_ROSTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/logic/placement.h"

namespace vernier {

class WorkerRoster {
 public:
  // `clock` must outlive the roster. A worker counts as connected for
  // `window` after its last call.
  WorkerRoster(Clock* clock, absl::Duration window) : clock_(clock), window_(window) {}

  // `worker_id` called now.
  void Seen(const std::string& worker_id) ABSL_LOCKS_EXCLUDED(mu_);
  // How many distinct workers called within the window. Forgets the others.
  int64_t Connected() ABSL_LOCKS_EXCLUDED(mu_);

  // Slot `index` of `worker_id`, which offers `slot`, asked for a trial now:
  // it is free until SlotLeased. Call Seen() too.
  void SlotAsked(const std::string& worker_id, int32_t index, const SlotDescription& slot)
      ABSL_LOCKS_EXCLUDED(mu_);
  // That slot was handed a trial: busy until it asks again.
  void SlotLeased(const std::string& worker_id, int32_t index) ABSL_LOCKS_EXCLUDED(mu_);
  // Every slot of the workers that called within the window, as last seen.
  // Forgets the others.
  std::vector<SeenSlot> Slots() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ForgetSilentLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const absl::Duration window_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> last_call_ ABSL_GUARDED_BY(mu_);
  // Worker -> slot index -> the slot. A worker's slots go with it.
  absl::flat_hash_map<std::string, absl::flat_hash_map<int32_t, SeenSlot>> slots_
      ABSL_GUARDED_BY(mu_);
  // When silent workers were last forgotten: Seen() forgets them at most once
  // per window, so the map stays as small as the workers of one window even
  // when Connected() is never asked.
  absl::Time last_forget_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_WORKER_ROSTER_H_
