#include "worker/trial_lifecycle.h"

namespace vernier::worker {
namespace {

// kPruned outranks kLeaseLost: a STOP answer explains why the lease ended.
int Rank(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return 0;
    case StopReason::kExploit:
      return 1;
    case StopReason::kHandBack:
      return 2;
    case StopReason::kShutdown:
      return 3;
    case StopReason::kLeaseLost:
      return 4;
    case StopReason::kPruned:
      return 5;
  }
  return 0;
}

StopReason Stronger(StopReason current, StopReason incoming) {
  return Rank(incoming) > Rank(current) ? incoming : current;
}

bool IsVerdict(TrialEvent event) {
  switch (event) {
    case TrialEvent::kReportContinue:
    case TrialEvent::kReportStop:
    case TrialEvent::kReportExploit:
    case TrialEvent::kReportLeaseLost:
    case TrialEvent::kReportUnreachable:
      return true;
    default:
      return false;
  }
}

// The reason a stop event brings in `phase`; kNone for the other events.
StopReason ReasonOf(TrialEvent event, TrialPhase phase) {
  switch (event) {
    case TrialEvent::kReportStop:
      return StopReason::kPruned;
    case TrialEvent::kReportExploit:
      return StopReason::kExploit;
    case TrialEvent::kReportLeaseLost:
    case TrialEvent::kHeartbeatLeaseLost:
      return StopReason::kLeaseLost;
    case TrialEvent::kReportUnreachable:
    case TrialEvent::kShutdown:
      return StopReason::kShutdown;
    case TrialEvent::kDrainTimeUp:
      return StopReason::kHandBack;
    case TrialEvent::kDrainBegun:
      // Only a trial not started yet is handed back at once; the others
      // may finish until kDrainTimeUp.
      return phase == TrialPhase::kLeased ? StopReason::kHandBack : StopReason::kNone;
    default:
      return StopReason::kNone;
  }
}

TrialTransition Stay(const TrialLifecycle& state) { return {state, TrialAction::kNone}; }

TrialTransition End(StopReason reason, TrialAction action) {
  return {{TrialPhase::kEnded, reason}, action};
}

// A stop before the process exists is only recorded; a running process is
// asked to stop; a stopping one may get a stronger reason.
TrialTransition OnStop(const TrialLifecycle& state, TrialEvent event) {
  if (IsVerdict(event) && state.phase != TrialPhase::kRunning &&
      state.phase != TrialPhase::kStopping) {
    return Stay(state);
  }
  const StopReason reason = ReasonOf(event, state.phase);
  if (reason == StopReason::kNone) return Stay(state);
  const StopReason stronger = Stronger(state.reason, reason);
  if (state.phase == TrialPhase::kRunning) {
    return {{TrialPhase::kStopping, stronger}, TrialAction::kStopProcess};
  }
  return Stay({state.phase, stronger});
}

// The trial directory (or the donor's checkpoint) is ready: start, unless a
// stop came first.
TrialTransition OnPrepared(const TrialLifecycle& state) {
  if (state.phase != TrialPhase::kLeased && state.phase != TrialPhase::kRestarting) {
    return Stay(state);
  }
  switch (state.reason) {
    case StopReason::kNone:
      return {{TrialPhase::kStarting, StopReason::kNone}, TrialAction::kStart};
    case StopReason::kHandBack:
      return End(state.reason, TrialAction::kRelease);
    default:
      return End(state.reason, TrialAction::kDrop);
  }
}

TrialTransition OnStartFailed(const TrialLifecycle& state) {
  if (state.phase != TrialPhase::kLeased && state.phase != TrialPhase::kStarting &&
      state.phase != TrialPhase::kRestarting) {
    return Stay(state);
  }
  return End(state.reason, state.reason == StopReason::kLeaseLost ? TrialAction::kDrop
                                                                  : TrialAction::kCompleteFailed);
}

TrialTransition OnStarted(const TrialLifecycle& state) {
  if (state.phase != TrialPhase::kStarting) return Stay(state);
  if (state.reason == StopReason::kNone) {
    return {{TrialPhase::kRunning, StopReason::kNone}, TrialAction::kNone};
  }
  return {{TrialPhase::kStopping, state.reason}, TrialAction::kStopProcess};
}

// `after_stop`: Stop() was asked before the process ended. A process that
// ended on its own first has a result worth sending even if a shutdown or
// the end of a drain was about to stop it.
TrialTransition OnExited(const TrialLifecycle& state, bool after_stop) {
  if (state.phase == TrialPhase::kRunning) {
    return End(StopReason::kNone, TrialAction::kCompleteWithExit);
  }
  if (state.phase != TrialPhase::kStopping) return Stay(state);
  switch (state.reason) {
    case StopReason::kPruned:
      return End(state.reason, TrialAction::kCompletePruned);
    case StopReason::kExploit:
      return {{TrialPhase::kRestarting, StopReason::kNone}, TrialAction::kRestart};
    case StopReason::kLeaseLost:
      return End(state.reason, TrialAction::kDrop);
    case StopReason::kShutdown:
      return End(state.reason, after_stop ? TrialAction::kDrop : TrialAction::kCompleteWithExit);
    case StopReason::kHandBack:
      return End(state.reason, after_stop ? TrialAction::kRelease : TrialAction::kCompleteWithExit);
    case StopReason::kNone:
      break;
  }
  return End(state.reason, TrialAction::kCompleteWithExit);
}

}  // namespace

TrialTransition NextTrialState(const TrialLifecycle& state, TrialEvent event) {
  if (state.phase == TrialPhase::kEnded) return Stay(state);
  switch (event) {
    case TrialEvent::kPrepared:
      return OnPrepared(state);
    case TrialEvent::kStartFailed:
      return OnStartFailed(state);
    case TrialEvent::kStarted:
      return OnStarted(state);
    case TrialEvent::kExited:
      return OnExited(state, /*after_stop=*/false);
    case TrialEvent::kExitedAfterStop:
      return OnExited(state, /*after_stop=*/true);
    default:
      return OnStop(state, event);
  }
}

bool RelaysReports(const TrialLifecycle& state) { return state.phase == TrialPhase::kRunning; }

absl::string_view TrialPhaseName(TrialPhase phase) {
  switch (phase) {
    case TrialPhase::kLeased:
      return "kLeased";
    case TrialPhase::kStarting:
      return "kStarting";
    case TrialPhase::kRunning:
      return "kRunning";
    case TrialPhase::kStopping:
      return "kStopping";
    case TrialPhase::kRestarting:
      return "kRestarting";
    case TrialPhase::kEnded:
      return "kEnded";
  }
  return "?";
}

absl::string_view StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "kNone";
    case StopReason::kExploit:
      return "kExploit";
    case StopReason::kHandBack:
      return "kHandBack";
    case StopReason::kShutdown:
      return "kShutdown";
    case StopReason::kPruned:
      return "kPruned";
    case StopReason::kLeaseLost:
      return "kLeaseLost";
  }
  return "?";
}

absl::string_view TrialEventName(TrialEvent event) {
  switch (event) {
    case TrialEvent::kPrepared:
      return "kPrepared";
    case TrialEvent::kStartFailed:
      return "kStartFailed";
    case TrialEvent::kStarted:
      return "kStarted";
    case TrialEvent::kReportContinue:
      return "kReportContinue";
    case TrialEvent::kReportStop:
      return "kReportStop";
    case TrialEvent::kReportExploit:
      return "kReportExploit";
    case TrialEvent::kReportLeaseLost:
      return "kReportLeaseLost";
    case TrialEvent::kReportUnreachable:
      return "kReportUnreachable";
    case TrialEvent::kExited:
      return "kExited";
    case TrialEvent::kExitedAfterStop:
      return "kExitedAfterStop";
    case TrialEvent::kHeartbeatLeaseLost:
      return "kHeartbeatLeaseLost";
    case TrialEvent::kShutdown:
      return "kShutdown";
    case TrialEvent::kDrainBegun:
      return "kDrainBegun";
    case TrialEvent::kDrainTimeUp:
      return "kDrainTimeUp";
  }
  return "?";
}

absl::string_view TrialActionName(TrialAction action) {
  switch (action) {
    case TrialAction::kNone:
      return "kNone";
    case TrialAction::kStart:
      return "kStart";
    case TrialAction::kStopProcess:
      return "kStopProcess";
    case TrialAction::kRestart:
      return "kRestart";
    case TrialAction::kCompleteWithExit:
      return "kCompleteWithExit";
    case TrialAction::kCompletePruned:
      return "kCompletePruned";
    case TrialAction::kCompleteFailed:
      return "kCompleteFailed";
    case TrialAction::kDrop:
      return "kDrop";
    case TrialAction::kRelease:
      return "kRelease";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, const TrialLifecycle& state) {
  return out << "{" << TrialPhaseName(state.phase) << ", " << StopReasonName(state.reason) << "}";
}

}  // namespace vernier::worker
