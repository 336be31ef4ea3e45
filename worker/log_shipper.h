// LogShipper: sends the output of one leased trial attempt to the coordinator
// (AppendTrialLog) while it runs, so that `vernier logs` can show it and it
// outlives this worker. The attempt's log is its trial.log files one after
// another (a pbt exploit restarts the program in a fresh trial directory);
// offsets are positions in that concatenation.
//
// A thread of its own reads what is new about once per `interval` (at most
// max_read_bytes per call, so memory stays bounded whatever the trial
// prints) and sends it; the slot's thread, which relays the trial's reports,
// never waits for it except in Finish(). The coordinator answers where its
// copy ends and the shipper goes on from there, so a call that failed or
// whose answer was lost is simply sent again, and a coordinator that lost a
// tail gets it again. While the coordinator cannot be reached (UNAVAILABLE,
// DEADLINE_EXCEEDED) the next tick tries again; any other refusal (the lease
// is gone, the server keeps no logs, an old server) stops the shipping for
// good, logged once.
//
// Thread-safety: Follow() and Finish() are called from one thread (the
// slot's); the shipper's own thread makes every RPC.
#ifndef VERNIER_WORKER_LOG_SHIPPER_H_
#define VERNIER_WORKER_LOG_SHIPPER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier::worker {

struct LogShipperOptions {
  // Time between two looks at the log files.
  absl::Duration interval = absl::Seconds(1);
  // The most bytes read and sent in one call.
  size_t max_read_bytes = 256 * 1024;
  // The most bytes sent per tick, so that a trial that prints faster than
  // the link carries cannot keep the thread from noticing Finish().
  int64_t max_tick_bytes = int64_t{4} << 20;
  // Deadline of each call.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // After Finish(): how long the rest is retried while the coordinator
  // cannot be reached, before it is given up.
  absl::Duration finish_patience = absl::Seconds(10);
  // Receives one line per event worth logging (no newline).
  std::function<void(absl::string_view)> log;
  // What the waits are measured on. Borrowed; must outlive the shipper. Null:
  // the wall clock.
  Clock* clock = nullptr;
};

class LogShipper {
 public:
  // Starts the shipping thread for the attempt behind `lease`, held by
  // `worker_id`. `stub` is borrowed and must outlive the shipper.
  LogShipper(LogShipperOptions options, v1::WorkerService::StubInterface* stub,
             std::string worker_id, v1::TrialLease lease);
  LogShipper(const LogShipper&) = delete;
  LogShipper& operator=(const LogShipper&) = delete;
  // Finish(), if it was not called.
  ~LogShipper();

  // From now on the attempt's log goes on in `path` (which may not exist
  // yet). REQUIRES: the program that wrote the previous file has ended, so
  // that file is whole.
  void Follow(const std::string& path) ABSL_LOCKS_EXCLUDED(mu_);

  // Sends what remains of every file (retrying while the coordinator cannot
  // be reached, for at most finish_patience), then stops the thread.
  // Returns once done. Idempotent.
  void Finish() ABSL_LOCKS_EXCLUDED(mu_);

  // How much of the log the coordinator has acknowledged.
  int64_t acknowledged() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One file of the attempt's log; its first byte is at `base`.
  struct File {
    std::string path;
    int64_t base = 0;
  };
  // What one round of sending came to.
  enum class Round { kCaughtUp, kMore, kUnreachable, kStopped };

  void Loop();
  // Sends what is new, at most max_tick_bytes unless `all`.
  Round Ship(bool all);
  // Reads at most max_read_bytes of the log from `offset`; empty at the end.
  std::string ReadAt(int64_t offset) const ABSL_LOCKS_EXCLUDED(mu_);
  void Log(absl::string_view line) const;

  // Constant after construction.
  const LogShipperOptions options_;
  v1::WorkerService::StubInterface* const stub_;
  const std::string worker_id_;
  const v1::TrialLease lease_;
  RealClock real_clock_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  std::vector<File> files_ ABSL_GUARDED_BY(mu_);
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t acknowledged_ ABSL_GUARDED_BY(mu_) = 0;

  // The shipping thread's own.
  bool stopped_ = false;  // Refused for good: send nothing more.
  bool joined_ = false;   // Finish() has run (the slot's thread only).

  std::thread thread_;  // Last: starts once everything above exists.
};

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_LOG_SHIPPER_H_
