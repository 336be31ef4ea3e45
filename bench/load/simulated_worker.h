// SimulatedWorker: one simulated vernier-worker of the load generator, run on
// its own thread over a gRPC channel it may share with others. It registers,
// then loops AcquireTrial, `steps` x ReportProgress, CompleteTrial until the
// end time, and records every call's latency and error and every write and
// lease in its WorkerStats (the ledger of ledger.h).
//
// Faults it lives through:
//  - Churn: at random times (a Poisson process of rate `deaths_per_minute`,
//    drawn from its own seeded generator) the worker "dies" as a killed
//    process would: the answer of the call in flight is dropped (that write is
//    unacknowledged), the lease it holds is abandoned (no further call names
//    it, so it expires on the server), and after a pause it comes back as a
//    new worker (RegisterWorker again, a new worker id).
//  - Server restarts: a call answered UNAVAILABLE or DEADLINE_EXCEEDED (one
//    in flight when the server was killed, or, with wait_for_ready false, any
//    call while it is down) is retried (the same request, so the same write)
//    with jittered exponential backoff until the end time. ABORTED (the lease is no longer held)
//    ends the trial for this worker; any other error ends it too and is counted.
//
// Thread-safety: Run() on one thread; stats() once Run() has returned.
#ifndef VERNIER_BENCH_LOAD_SIMULATED_WORKER_H_
#define VERNIER_BENCH_LOAD_SIMULATED_WORKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/load/ledger.h"
#include "grpcpp/grpcpp.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier::load {

enum Rpc { kRegister, kAcquire, kReport, kComplete, kRpcCount };
inline constexpr const char* kRpcNames[kRpcCount] = {"RegisterWorker", "AcquireTrial",
                                                     "ReportProgress", "CompleteTrial"};

struct WorkerOptions {
  int steps = 5;                                           // ReportProgress calls per trial
  absl::Duration idle = absl::Milliseconds(20);            // wait when no trial is ready
  double deaths_per_minute = 0;                            // this worker's churn rate; 0: none
  absl::Duration rebirth_pause = absl::Milliseconds(500);  // mean pause from death to return
  absl::Duration call_deadline = absl::Seconds(30);
  absl::Duration max_backoff = absl::Seconds(1);  // between retries of one call
  // Calls wait for a channel that is (re)connecting instead of failing at
  // once. vernier-worker's calls fail fast; so do these with false, and then
  // after a server restart gRPC 1.51's channels keep failing for about 5 s
  // after the server is back (measured; bench/README.md).
  bool wait_for_ready = true;
  uint64_t seed = 1;  // with the worker's index
};

// What one worker saw; Merge() sums workers.
struct WorkerStats {
  int64_t tries[kRpcCount] = {};  // Every call made, retries included.
  // Latency of the calls answered OK, in microseconds: of the try that was
  // answered, and from the first try of the call (retries and backoff
  // included).
  std::vector<double> latency_us[kRpcCount];
  std::vector<double> settled_us[kRpcCount];
  std::map<std::string, int64_t> errors;              // "RPC CODE" -> count
  std::map<std::string, std::string> error_examples;  // "RPC CODE" -> a message
  int64_t locked = 0;                                 // errors that say "database is locked"
  int64_t retries = 0;  // tries repeated after UNAVAILABLE / DEADLINE_EXCEEDED
  int64_t deaths = 0;
  int64_t deaths_holding_lease = 0;  // leases lost to churn
  int64_t registrations = 0;         // RegisterWorker answered OK
  std::vector<Write> writes;
  std::vector<Grant> grants;

  void Merge(WorkerStats&& other);
};

class SimulatedWorker {
 public:
  // `channel` is shared; `end` is when Run() returns (a call in flight then
  // finishes first).
  SimulatedWorker(int index, const std::shared_ptr<grpc::Channel>& channel,
                  const WorkerOptions& options, absl::Time end);

  void Run();
  WorkerStats& stats() { return stats_; }

 private:
  // How one call ended, retries included.
  enum class Outcome {
    kOk,
    kFailed,  // An error that retrying does not cure (counted).
    kDied,    // The worker died during the call or its backoff.
    kEnded,   // The end time came while retrying.
  };

  // Makes the call made by `call` (given a fresh ClientContext each try),
  // retrying UNAVAILABLE and DEADLINE_EXCEEDED; records tries, latency and
  // errors.
  template <typename Call>
  Outcome Make(Rpc rpc, Call call);
  // Registers under a new name; on kFailed the name serves as the id (the
  // server accepts unknown ids).
  Outcome Register();
  // Leases one trial and runs it; kFailed also when no trial was ready.
  Outcome RunOneTrial();
  // Sends one write of the leased trial; records it in the ledger.
  Outcome Report(const v1::TrialLease& lease, int32_t step, v1::ReportProgressResponse* answer);
  Outcome Complete(const v1::TrialLease& lease);
  // After a death: counts it, waits the pause, forgets the identity. The
  // call that was in flight counted the lease the worker held, if any.
  void Die();
  absl::Time NextDeath(absl::Time now);
  absl::Duration Backoff(int tries);
  void CountError(Rpc rpc, const grpc::Status& status);

  // Constant after construction.
  const int index_;
  const std::unique_ptr<v1::WorkerService::Stub> stub_;
  const WorkerOptions options_;
  const absl::Time end_;

  std::mt19937_64 random_;
  absl::Time death_at_ = absl::InfiniteFuture();
  int generation_ = 0;     // Lives so far.
  std::string worker_id_;  // Empty: not registered in this life.
  WorkerStats stats_;
};

}  // namespace vernier::load

#endif  // VERNIER_BENCH_LOAD_SIMULATED_WORKER_H_
