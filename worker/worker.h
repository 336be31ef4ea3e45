// Worker: the pull loop of vernier-worker. It registers its slots with the
// coordinator, then runs one loop per slot: lease a trial (AcquireTrial), start
// it through a TrialLauncher, relay each intermediate report (ReportProgress)
// and obey the answer, and report how it ended (CompleteTrial). A heartbeat
// thread renews the leases and stops the trials whose lease is lost. How each
// trial ends, whatever races, is decided by its TrialLifecycle
// (worker/trial_lifecycle.h); this class feeds it events and does what it
// says. All waits are on options.clock.
//
// Failure handling:
//   - UNAVAILABLE / DEADLINE_EXCEEDED: the call is retried with backoff, so a
//     restarted coordinator is picked up again. Reports of one trial keep their
//     order (a report is retried before the next is sent); CompleteTrial is
//     retried until the coordinator answers (and, after Shutdown(), for at most
//     shutdown_complete_timeout).
//   - ABORTED (or a lease listed as lost by Heartbeat): the lease is gone; the
//     trial is stopped and dropped without CompleteTrial, and what it still
//     reports is not relayed.
//   - NOT_FOUND from AcquireTrial: the coordinator forgot this worker; the
//     worker registers again. A trial keeps using the worker id it was leased
//     under (the coordinator checks leases against it), so a new registration
//     never disturbs the trials already running. NOT_FOUND from a call about a
//     trial means the trial is gone: it is dropped like ABORTED.
//   - A trial that crashes, hangs, floods its channels or cannot be started is
//     a FAILED trial, never a worker crash.
//
// Thread-safety: Run() is called once, from one thread; Shutdown() and
// worker_id() may be called from any thread at any time.
#ifndef VERNIER_WORKER_WORKER_H_
#define VERNIER_WORKER_WORKER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "vernier/v1/worker_service.grpc.pb.h"
#include "worker/slots.h"
#include "worker/tensorboard_writer.h"
#include "worker/trial_launcher.h"
#include "worker/trial_lifecycle.h"
#include "worker/trial_outcome.h"
#include "worker/worker_observer.h"

namespace vernier::worker {

struct WorkerOptions {
  // Sent with RegisterWorker, e.g. the host name.
  std::string name;
  // The slots to run (see BuildSlots); one trial at a time in each.
  std::vector<Slot> slots;
  // Trial directories are created under it (see MakeTrialDir).
  std::string work_dir;
  // The program run when a trial's command is empty: the built-in trainer.
  std::string trainer_path;
  // Relative paths in a trial's command are resolved against it, and a
  // missing program file fails the trial before it starts
  // (worker/trial_command.h). Empty: commands run as the study gives them.
  std::string code_dir;

  // Deadline of every RPC.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Wait when no trial is ready: starts here, doubles up to the max, and goes
  // back to the start once a trial is leased.
  absl::Duration idle_backoff_initial = absl::Milliseconds(200);
  absl::Duration idle_backoff_max = absl::Seconds(2);
  // Wait between retries of a call the coordinator could not answer.
  absl::Duration retry_backoff_initial = absl::Milliseconds(200);
  absl::Duration retry_backoff_max = absl::Seconds(2);
  // Heartbeat period. Zero: the coordinator's heartbeat_seconds (or a third of
  // its lease_seconds, or 10 s when it gives neither).
  absl::Duration heartbeat_interval = absl::ZeroDuration();
  // SIGTERM-to-SIGKILL grace when the coordinator gives none.
  absl::Duration default_stop_grace = absl::Seconds(5);
  // After Shutdown(), how long the results of finished trials are still
  // retried before they are given up.
  absl::Duration shutdown_complete_timeout = absl::Seconds(5);
  // After Drain(), how long running trials may take to finish before they are
  // stopped and handed back with ReleaseTrial.
  absl::Duration drain_timeout = absl::Seconds(30);
  // Deadline of a checkpoint upload or download (pbt).
  absl::Duration checkpoint_timeout = absl::Minutes(5);
  // Deadline of one attempt to upload a trial's artifacts.
  absl::Duration artifact_timeout = absl::Minutes(30);
  // Receives one line per event worth logging (no newline). Empty: stderr,
  // with a timestamp.
  std::function<void(absl::string_view)> log;
  // What the worker's waits are measured on: heartbeats, backoff, the drain
  // timeout and the shutdown grace (RPC deadlines are gRPC's, on the wall
  // clock). Borrowed; must outlive the Worker. Null: the wall clock.
  Clock* clock = nullptr;
  // Told when each slot starts and ends a trial (metrics). Borrowed; must
  // outlive the Worker. Null: no one is told.
  WorkerObserver* observer = nullptr;
};

class Worker {
 public:
  // `stub` and `launcher` are borrowed; they must outlive the Worker and be
  // safe to use from several threads (generated stubs are).
  Worker(WorkerOptions options, v1::WorkerService::StubInterface* stub, TrialLauncher* launcher);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  // REQUIRES: Run() is not running.
  ~Worker();

  // Registers, then runs the slot loops and the heartbeat until Shutdown().
  // Returns OK after Shutdown(); INVALID_ARGUMENT when the options have no
  // slot or no work_dir; the coordinator's error when it refuses the
  // registration with a code retrying cannot fix (INVALID_ARGUMENT,
  // UNIMPLEMENTED, PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION).
  // Registration is retried on any other error until Shutdown() or Drain().
  absl::Status Run();

  // Stops leasing trials and stops the running ones (SIGTERM, grace, SIGKILL)
  // without reporting them: their leases expire and the coordinator hands them
  // out again. Results of trials that had already ended are still sent. Makes
  // Run() return. Returns at once; callable before or during Run().
  void Shutdown();

  // The graceful stop: leases no more trials and lets the running ones finish
  // and report as usual for up to options.drain_timeout (heartbeats go on);
  // trials still running then are stopped and handed back with ReleaseTrial,
  // so the coordinator runs them again without spending a retry (a trial
  // leased but not started yet is handed back at once). Run() returns OK once
  // every slot is idle. Shutdown() during a drain cuts it short. Returns at
  // once; callable before or during Run().
  void Drain();

  // The id the coordinator gave this worker; empty before registration.
  std::string worker_id() const;

 private:
  // How long a call is retried while the coordinator cannot answer.
  enum class Retry { kOnce, kUntilShutdown, kUntilShutdownGrace };

  // A trial a slot is running; in active_ from lease to end. Every event
  // about it goes through its lifecycle (see ApplyLocked).
  struct ActiveTrial {
    v1::TrialLease lease;
    // The worker id the lease was acquired with; every call about the trial
    // uses it.
    std::string worker_id;
    // Owned by the slot's thread; null unless a process of the trial runs.
    TrialProcess* process = nullptr;
    TrialLifecycle lifecycle;
  };

  // How a trial ended: one of TrialLifecycle's end actions and, for the
  // kComplete* ones, the result to report.
  struct TrialEnd {
    TrialAction action = TrialAction::kDrop;
    TrialOutcome outcome;
  };

  using Rpc = std::function<grpc::Status(grpc::ClientContext* context)>;

  // Calls RegisterWorker until it succeeds, fails for good, Shutdown() or
  // Drain().
  grpc::Status Register();
  // Registers again unless another thread already replaced `stale_id`.
  // Returns true when there is a newer id to use.
  bool Reregister(const std::string& stale_id);
  // Makes the call with a fresh deadline per attempt, retrying UNAVAILABLE
  // and DEADLINE_EXCEEDED as `retry` says. Returns the last status.
  grpc::Status Call(absl::string_view what, Retry retry, const Rpc& rpc);
  // Sets the deadline of one RPC attempt.
  void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) const;

  void SlotLoop(size_t slot_index);
  // Beats until Shutdown(); logs when beats start failing and when they are
  // answered again (once each), so a worker cut off from the coordinator
  // says so even while its trials report nothing.
  void HeartbeatLoop();
  // One beat per worker id; the first failed call's status, else OK.
  grpc::Status SendHeartbeat();

  // Runs one leased trial from start to end, then reports it (CompleteTrial),
  // drops it or hands it back (ReleaseTrial), as its lifecycle says.
  void RunTrial(size_t slot_index, const std::string& id, const v1::AcquireTrialResponse& acquired);
  // Starts the trial's process, follows it, and starts it again for each pbt
  // exploit, until the trial's lifecycle gives its end.
  TrialEnd FollowTrial(size_t slot_index, const std::string& id,
                       const v1::AcquireTrialResponse& acquired);
  // The spec of the trial's first process, in a fresh trial directory.
  absl::StatusOr<TrialSpec> MakeSpec(size_t slot_index,
                                     const v1::AcquireTrialResponse& acquired) const;
  // Relays the reports of one started process while the lifecycle allows,
  // waits for its end and applies it. Returns the lifecycle's action; sets
  // *exit, and *exploit when the coordinator answered EXPLOIT. Each relayed
  // report also goes to `tensorboard` (borrowed for the call).
  TrialAction FollowProcess(size_t slot_index, const std::string& id,
                            const v1::AcquireTrialResponse& acquired, const TrialSpec& spec,
                            std::unique_ptr<TrialProcess> process, TrialExit* exit,
                            std::optional<v1::Exploit>* exploit, TrialTensorBoard* tensorboard);
  // kStartFailed: the end, with `what` and `status` as the failure reason.
  TrialEnd StartFailed(size_t slot_index, absl::string_view what, const absl::Status& status);
  // Relays one intermediate report. Returns the coordinator's answer as an
  // event (kReport*); with kReportExploit, `*exploit` says how.
  TrialEvent Relay(const std::string& id, const v1::TrialLease& lease, const TrialReport& report,
                   v1::Exploit* exploit);
  // pbt: copies the checkpoint a trial announced (a checkpoint report) out of
  // its way and uploads it; failures are logged, never fatal to the trial.
  void ShipCheckpoint(const std::string& id, const v1::TrialLease& lease, const TrialReport& report,
                      const std::string& trial_dir);
  // pbt: fetches the donor's checkpoint into a fresh trial directory and
  // points `spec` (the exploit's params over `settings_json`, with
  // resume_from, and trial_dir) at it. Returns the
  // failure to report when that is impossible.
  absl::Status PrepareExploit(const std::string& id, const v1::TrialLease& lease,
                              const v1::Exploit& exploit, const std::string& settings_json,
                              TrialSpec& spec);
  // A trial acquired with resume_step: fetches its own checkpoint at that
  // step into the trial directory and adds resume_from to spec.params_json.
  // When the fetch fails the trial starts from the beginning (logged).
  void PrepareResume(const std::string& id, const v1::AcquireTrialResponse& acquired,
                     TrialSpec& spec);
  // Downloads trial `donor`'s checkpoint at `step` into directory `into`;
  // the error names the checkpoint.
  absl::Status FetchCheckpoint(const std::string& id, const v1::TrialLease& lease, int64_t donor,
                               int64_t step, const std::string& into);
  // When the study keeps the trial's artifacts (max_artifact_bytes > 0):
  // uploads what it left in `artifact_dir` (worker/artifact_upload.h). A
  // trial over the limit, or whose files cannot be sent, ends FAILED with
  // the reason in `outcome` (an already FAILED one keeps its reason, with
  // this appended); a lost lease is left for Complete to find.
  void ShipArtifacts(const std::string& id, const v1::AcquireTrialResponse& acquired,
                     const std::string& artifact_dir, TrialOutcome& outcome);
  void Complete(const std::string& id, const v1::TrialLease& lease, const TrialOutcome& outcome);
  // Hands the trial back unfinished (ReleaseTrial), once: if that fails the
  // lease simply expires.
  void Release(const std::string& id, const v1::TrialLease& lease);
  // After Drain(): waits for the slots to go idle, at most drain_timeout,
  // then tells the trials still running that the time is up. Returns at once
  // on Shutdown().
  void DrainLoop();
  // Tells the trial holding `lost` (acquired as `id`) that its lease is lost.
  void DropLostLease(const std::string& id, const v1::TrialLease& lost);

  // Moves the trial of `slot_index` on by `event` and stops its process when
  // the transition says so. Returns the action left to the slot's thread.
  TrialAction Apply(size_t slot_index, TrialEvent event);
  TrialAction ApplyLocked(ActiveTrial& trial, TrialEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the trial of `slot_index` relays its reports now.
  bool Relaying(size_t slot_index) const;

  // Shutdown() or Drain() was called: lease nothing more.
  bool Stopping() const;
  // Sleeps for `d` on the clock or until Shutdown(); returns true when
  // shutting down.
  bool SleepUnlessShutdown(absl::Duration d);
  // Sleeps for `d` on the clock or until Shutdown() or Drain(); returns true
  // when stopping.
  bool SleepUnlessStopping(absl::Duration d);
  // Shutdown() was called longer than shutdown_complete_timeout ago.
  bool ShutdownGraceOver() const;
  absl::Duration HeartbeatInterval() const;
  void Log(absl::string_view line) const;

  // Constant after construction.
  const WorkerOptions options_;
  v1::WorkerService::StubInterface* const stub_;
  TrialLauncher* const launcher_;
  RealClock real_clock_;
  // options_.clock, or real_clock_.
  Clock* const clock_;

  // Serialises registrations; never held with mu_ taken first.
  absl::Mutex register_mu_;

  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time shutdown_time_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  absl::Duration server_heartbeat_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::map<size_t, ActiveTrial> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_WORKER_H_
