// The lifecycle of one leased trial on a worker, as a pure transition
// function: the phase a trial is in, the events that move it, and the action
// the worker must take for each. worker.cc feeds the events (from the slot's
// own thread, the heartbeat thread, Drain() and Shutdown()) and carries out
// the actions; every decision about how a trial ends is made here.
//
//   kLeased     --kPrepared-->         kStarting  (kEnded if a stop came first)
//   kStarting   --kStarted-->          kRunning   (kStopping if a stop came first)
//   kRunning    --a stop-->            kStopping
//   kRunning    --kExited-->           kEnded
//   kStopping   --kExited[AfterStop]-> kEnded, or kRestarting for a pbt exploit
//   kRestarting --kPrepared-->         kStarting  (kEnded if a stop came first)
//   kLeased, kStarting, kRestarting --kStartFailed--> kEnded
//
// A "stop" is an event with a StopReason: the coordinator's answer to a
// relayed report (STOP, EXPLOIT, the lease is gone, no answer while shutting
// down), a lease the heartbeat lists as lost, Shutdown(), or the end of a
// drain. Before the process runs a stop is only recorded (the slot's thread
// acts on it at kPrepared); while it runs the process is asked to stop and
// its remaining reports are drained without being relayed. When several stops
// arrive, the stronger reason stands (see StopReason).
//
// How a trial ends (TrialAction), by the reason it was stopped for:
//   none, it exited on its own      -> kCompleteWithExit (DecideOutcome)
//   kPruned (STOP)                  -> kCompletePruned, however the process ended
//   kExploit (pbt)                  -> kRestart, then kStart again in the same lease
//   kLeaseLost                      -> kDrop
//   kShutdown                       -> kDrop if it was stopped, else its result
//   kHandBack (drain)               -> kRelease if it was stopped, else its result
//   could not start (or restart)    -> kCompleteFailed, or kDrop if the lease is lost
//
// Thread-safety: pure functions, thread-safe. The caller serialises the
// events of one trial (worker.cc applies them under its mutex).
#ifndef VERNIER_WORKER_TRIAL_LIFECYCLE_H_
#define VERNIER_WORKER_TRIAL_LIFECYCLE_H_

#include <ostream>

#include "absl/strings/string_view.h"

namespace vernier::worker {

enum class TrialPhase {
  // Leased; the worker prepares the trial directory and the command.
  kLeased,
  // TrialLauncher::Start() is running.
  kStarting,
  // The process runs and its reports are relayed.
  kRunning,
  // The process was asked to stop; what it still reports is drained.
  kStopping,
  // pbt: the process ended for an exploit; the worker fetches the donor's
  // checkpoint to start the trial again.
  kRestarting,
  // Final: the trial's end action has been given.
  kEnded,
};

// Why a trial is being stopped, weakest first. A stronger reason replaces a
// weaker one. kPruned is the strongest: the coordinator ends the trial as it
// answers STOP, so its heartbeats list the lease as lost from then on, and a
// heartbeat may say so before the slot's thread has read the STOP answer.
// STOP is only answered to the worker holding that attempt, so it explains the
// lost lease, and CompleteTrial(PRUNED) is accepted as a retry.
enum class StopReason {
  kNone,
  // pbt: restart from another trial's checkpoint once the process ended.
  kExploit,
  // The drain ran out of time (or began before the start): hand it back.
  kHandBack,
  // Shutdown(), or the coordinator was unreachable while shutting down: let
  // the lease expire.
  kShutdown,
  // The lease is gone (ABORTED or NOT_FOUND, or lost per Heartbeat).
  kLeaseLost,
  // The coordinator answered STOP: the trial is PRUNED.
  kPruned,
};

enum class TrialEvent {
  // From the slot's own thread, in the trial's order:
  // The trial directory and command are ready (or, pbt, the donor's
  // checkpoint is fetched).
  kPrepared,
  // The trial could not be started: no trial directory, the launcher failed,
  // or (pbt) the donor's checkpoint could not be fetched.
  kStartFailed,
  // TrialLauncher::Start() returned a process.
  kStarted,
  // The coordinator's answer to a relayed report.
  kReportContinue,
  kReportStop,
  kReportExploit,
  kReportLeaseLost,
  // No answer, given up because the worker is shutting down.
  kReportUnreachable,
  // The process ended; Stop() was not asked before it ended.
  kExited,
  // The process ended after Stop() was asked (TrialExit::stop_requested).
  kExitedAfterStop,

  // From other threads, at any time:
  // Heartbeat listed the trial's lease as lost.
  kHeartbeatLeaseLost,
  // Shutdown() was called.
  kShutdown,
  // Drain() was called: a trial not started yet is handed back.
  kDrainBegun,
  // The drain timeout passed with the trial still running.
  kDrainTimeUp,
};

// What the worker must do after a transition.
enum class TrialAction {
  // Nothing now.
  kNone,
  // Call TrialLauncher::Start(), then send kStarted or kStartFailed.
  kStart,
  // Call TrialProcess::Stop() (idempotent) and keep draining its reports.
  kStopProcess,
  // pbt: fetch the donor's checkpoint, then send kPrepared or kStartFailed.
  kRestart,
  // The end; exactly one of these is given per trial, always on the slot's
  // thread (from kPrepared, kStartFailed or an exit):
  // CompleteTrial with the outcome DecideOutcome gives for the exit.
  kCompleteWithExit,
  // CompleteTrial(PRUNED): the coordinator answered STOP.
  kCompletePruned,
  // CompleteTrial(FAILED) with the reason the trial could not be started.
  kCompleteFailed,
  // Forget the trial without a word: the lease is gone, or left to expire.
  kDrop,
  // ReleaseTrial: hand the trial back unfinished.
  kRelease,
};

struct TrialLifecycle {
  TrialPhase phase = TrialPhase::kLeased;
  // kNone in kRunning; set in kStopping; recorded in kLeased, kStarting and
  // kRestarting; in kEnded, the reason it ended for.
  StopReason reason = StopReason::kNone;

  friend bool operator==(const TrialLifecycle& a, const TrialLifecycle& b) {
    return a.phase == b.phase && a.reason == b.reason;
  }
  friend bool operator!=(const TrialLifecycle& a, const TrialLifecycle& b) { return !(a == b); }
};

struct TrialTransition {
  TrialLifecycle next;
  TrialAction action = TrialAction::kNone;
};

// Returns the state after `event` and what to do. An event that means nothing
// in the current phase (a report verdict before the start, anything once
// kEnded, kDrainBegun once started) leaves the state as it is, with kNone.
TrialTransition NextTrialState(const TrialLifecycle& state, TrialEvent event);

// True while the trial's reports are relayed to the coordinator (kRunning).
// Reports written while stopping are drained and dropped.
bool RelaysReports(const TrialLifecycle& state);

// Names for logs and test messages, e.g. "kRunning".
absl::string_view TrialPhaseName(TrialPhase phase);
absl::string_view StopReasonName(StopReason reason);
absl::string_view TrialEventName(TrialEvent event);
absl::string_view TrialActionName(TrialAction action);
std::ostream& operator<<(std::ostream& out, const TrialLifecycle& state);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_TRIAL_LIFECYCLE_H_
