// LeaseTable: which worker holds each leased trial, under which attempt, and
// until when, on the coordinator's injected clock.
//
// The table mirrors the trials that are RUNNING on a worker (asked trials
// have no lease): StudyState::Commit grants a lease when a trial starts
// running there and releases it when the trial leaves RUNNING, under the
// study's lock. Heartbeats read and renew the table alone, so they never wait
// for a study's lock (nor for a slow suggestion or a store write).
//
// Thread-safety: thread-safe (one internal mutex, never held while calling
// out). Lock order: a study's lock may be held when calling in, never the
// other way round.
#ifndef VERNIER_SERVER_COORDINATOR_LEASE_TABLE_H_
#define VERNIER_SERVER_COORDINATOR_LEASE_TABLE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace vernier {

// Identifies one lease of one trial.
struct LeaseKey {
  std::string study;
  int64_t trial_number = 0;
  int32_t attempt = 0;

  friend bool operator==(const LeaseKey& a, const LeaseKey& b) {
    return a.study == b.study && a.trial_number == b.trial_number && a.attempt == b.attempt;
  }
};

class LeaseTable {
 public:
  // `clock` must outlive the table; `length` is how long a lease lasts
  // without a renewal.
  LeaseTable(Clock* clock, absl::Duration length) : clock_(clock), length_(length) {}

  // `worker_id` holds `lease` from now for the lease length (replacing any
  // lease of the same trial).
  void Grant(const LeaseKey& lease, const std::string& worker_id);
  // The trial is no longer leased.
  void Release(const std::string& study, int64_t trial_number);
  // Extends `lease` by the lease length from now when `worker_id` holds it
  // and it has not expired; returns whether it did.
  bool Renew(const LeaseKey& lease, const std::string& worker_id);

  // The leases whose deadline has passed, oldest trial first within a study.
  // They stay in the table until released: the caller requeues each trial
  // under its study's lock, after checking IsExpired again.
  std::vector<LeaseKey> Expired() const;
  // Whether `lease` is in the table and its deadline has passed.
  bool IsExpired(const LeaseKey& lease) const;
  // How many trials are leased now, expired leases not yet taken back
  // included.
  int64_t Count() const;

  absl::Duration length() const { return length_; }

 private:
  struct Holder {
    std::string worker_id;
    int32_t attempt = 0;
    absl::Time deadline;
  };
  using Key = std::pair<std::string, int64_t>;  // (study, trial number).

  Clock* const clock_;
  const absl::Duration length_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Holder> leases_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_LEASE_TABLE_H_
