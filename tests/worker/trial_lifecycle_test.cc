// The trial lifecycle's transition function: every event in every reachable
// state against one table, the invariants every transition keeps, and the
// races the worker meets, as event sequences.
#include "worker/trial_lifecycle.h"

#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::worker {
namespace {

using ::testing::ElementsAre;
using A = TrialAction;
using E = TrialEvent;
using P = TrialPhase;
using R = StopReason;

constexpr TrialLifecycle S(P phase, R reason = R::kNone) { return {phase, reason}; }

const std::vector<E>& AllEvents() {
  static const std::vector<E> events = {
      E::kPrepared,        E::kStartFailed,        E::kStarted,
      E::kReportContinue,  E::kReportStop,         E::kReportExploit,
      E::kReportLeaseLost, E::kReportUnreachable,  E::kExited,
      E::kExitedAfterStop, E::kHeartbeatLeaseLost, E::kShutdown,
      E::kDrainBegun,      E::kDrainTimeUp};
  return events;
}

// Every state a trial can be in.
const std::vector<TrialLifecycle>& ReachableStates() {
  static const std::vector<TrialLifecycle> states = {
      S(P::kLeased),
      S(P::kLeased, R::kHandBack),
      S(P::kLeased, R::kShutdown),
      S(P::kLeased, R::kLeaseLost),
      S(P::kStarting),
      S(P::kStarting, R::kHandBack),
      S(P::kStarting, R::kShutdown),
      S(P::kStarting, R::kLeaseLost),
      S(P::kRunning),
      S(P::kStopping, R::kExploit),
      S(P::kStopping, R::kHandBack),
      S(P::kStopping, R::kShutdown),
      S(P::kStopping, R::kPruned),
      S(P::kStopping, R::kLeaseLost),
      S(P::kRestarting),
      S(P::kRestarting, R::kHandBack),
      S(P::kRestarting, R::kShutdown),
      S(P::kRestarting, R::kLeaseLost),
      S(P::kEnded),
      S(P::kEnded, R::kHandBack),
      S(P::kEnded, R::kShutdown),
      S(P::kEnded, R::kPruned),
      S(P::kEnded, R::kLeaseLost),
  };
  return states;
}

struct Row {
  TrialLifecycle from;
  E event;
  TrialLifecycle to;
  A action;
};

// Every transition that changes something. Any (state, event) pair missing
// here must leave the state as it is and ask for nothing.
const std::vector<Row>& Table() {
  static const std::vector<Row> rows = {
      // Leased: a stop is only recorded; kPrepared acts on it.
      {S(P::kLeased), E::kPrepared, S(P::kStarting), A::kStart},
      {S(P::kLeased), E::kStartFailed, S(P::kEnded), A::kCompleteFailed},
      {S(P::kLeased), E::kHeartbeatLeaseLost, S(P::kLeased, R::kLeaseLost), A::kNone},
      {S(P::kLeased), E::kShutdown, S(P::kLeased, R::kShutdown), A::kNone},
      {S(P::kLeased), E::kDrainBegun, S(P::kLeased, R::kHandBack), A::kNone},
      {S(P::kLeased), E::kDrainTimeUp, S(P::kLeased, R::kHandBack), A::kNone},
      {S(P::kLeased, R::kHandBack), E::kPrepared, S(P::kEnded, R::kHandBack), A::kRelease},
      {S(P::kLeased, R::kHandBack), E::kStartFailed, S(P::kEnded, R::kHandBack),
       A::kCompleteFailed},
      {S(P::kLeased, R::kHandBack), E::kHeartbeatLeaseLost, S(P::kLeased, R::kLeaseLost), A::kNone},
      {S(P::kLeased, R::kHandBack), E::kShutdown, S(P::kLeased, R::kShutdown), A::kNone},
      {S(P::kLeased, R::kShutdown), E::kPrepared, S(P::kEnded, R::kShutdown), A::kDrop},
      {S(P::kLeased, R::kShutdown), E::kStartFailed, S(P::kEnded, R::kShutdown),
       A::kCompleteFailed},
      {S(P::kLeased, R::kShutdown), E::kHeartbeatLeaseLost, S(P::kLeased, R::kLeaseLost), A::kNone},
      {S(P::kLeased, R::kLeaseLost), E::kPrepared, S(P::kEnded, R::kLeaseLost), A::kDrop},
      {S(P::kLeased, R::kLeaseLost), E::kStartFailed, S(P::kEnded, R::kLeaseLost), A::kDrop},

      // Starting: a stop is recorded, then acted on once the process exists.
      {S(P::kStarting), E::kStarted, S(P::kRunning), A::kNone},
      {S(P::kStarting), E::kStartFailed, S(P::kEnded), A::kCompleteFailed},
      {S(P::kStarting), E::kHeartbeatLeaseLost, S(P::kStarting, R::kLeaseLost), A::kNone},
      {S(P::kStarting), E::kShutdown, S(P::kStarting, R::kShutdown), A::kNone},
      {S(P::kStarting), E::kDrainTimeUp, S(P::kStarting, R::kHandBack), A::kNone},
      {S(P::kStarting, R::kHandBack), E::kStarted, S(P::kStopping, R::kHandBack), A::kStopProcess},
      {S(P::kStarting, R::kHandBack), E::kStartFailed, S(P::kEnded, R::kHandBack),
       A::kCompleteFailed},
      {S(P::kStarting, R::kHandBack), E::kHeartbeatLeaseLost, S(P::kStarting, R::kLeaseLost),
       A::kNone},
      {S(P::kStarting, R::kHandBack), E::kShutdown, S(P::kStarting, R::kShutdown), A::kNone},
      {S(P::kStarting, R::kShutdown), E::kStarted, S(P::kStopping, R::kShutdown), A::kStopProcess},
      {S(P::kStarting, R::kShutdown), E::kStartFailed, S(P::kEnded, R::kShutdown),
       A::kCompleteFailed},
      {S(P::kStarting, R::kShutdown), E::kHeartbeatLeaseLost, S(P::kStarting, R::kLeaseLost),
       A::kNone},
      {S(P::kStarting, R::kLeaseLost), E::kStarted, S(P::kStopping, R::kLeaseLost),
       A::kStopProcess},
      {S(P::kStarting, R::kLeaseLost), E::kStartFailed, S(P::kEnded, R::kLeaseLost), A::kDrop},

      // Running: any stop stops the process.
      {S(P::kRunning), E::kReportStop, S(P::kStopping, R::kPruned), A::kStopProcess},
      {S(P::kRunning), E::kReportExploit, S(P::kStopping, R::kExploit), A::kStopProcess},
      {S(P::kRunning), E::kReportLeaseLost, S(P::kStopping, R::kLeaseLost), A::kStopProcess},
      {S(P::kRunning), E::kReportUnreachable, S(P::kStopping, R::kShutdown), A::kStopProcess},
      {S(P::kRunning), E::kHeartbeatLeaseLost, S(P::kStopping, R::kLeaseLost), A::kStopProcess},
      {S(P::kRunning), E::kShutdown, S(P::kStopping, R::kShutdown), A::kStopProcess},
      {S(P::kRunning), E::kDrainTimeUp, S(P::kStopping, R::kHandBack), A::kStopProcess},
      {S(P::kRunning), E::kExited, S(P::kEnded), A::kCompleteWithExit},
      {S(P::kRunning), E::kExitedAfterStop, S(P::kEnded), A::kCompleteWithExit},

      // Stopping: a stronger reason replaces the one it stops for; the exit
      // decides the end.
      {S(P::kStopping, R::kExploit), E::kReportStop, S(P::kStopping, R::kPruned), A::kNone},
      {S(P::kStopping, R::kExploit), E::kReportLeaseLost, S(P::kStopping, R::kLeaseLost), A::kNone},
      {S(P::kStopping, R::kExploit), E::kReportUnreachable, S(P::kStopping, R::kShutdown),
       A::kNone},
      {S(P::kStopping, R::kExploit), E::kHeartbeatLeaseLost, S(P::kStopping, R::kLeaseLost),
       A::kNone},
      {S(P::kStopping, R::kExploit), E::kShutdown, S(P::kStopping, R::kShutdown), A::kNone},
      {S(P::kStopping, R::kExploit), E::kDrainTimeUp, S(P::kStopping, R::kHandBack), A::kNone},
      {S(P::kStopping, R::kExploit), E::kExited, S(P::kRestarting), A::kRestart},
      {S(P::kStopping, R::kExploit), E::kExitedAfterStop, S(P::kRestarting), A::kRestart},
      {S(P::kStopping, R::kHandBack), E::kReportStop, S(P::kStopping, R::kPruned), A::kNone},
      {S(P::kStopping, R::kHandBack), E::kReportLeaseLost, S(P::kStopping, R::kLeaseLost),
       A::kNone},
      {S(P::kStopping, R::kHandBack), E::kReportUnreachable, S(P::kStopping, R::kShutdown),
       A::kNone},
      {S(P::kStopping, R::kHandBack), E::kHeartbeatLeaseLost, S(P::kStopping, R::kLeaseLost),
       A::kNone},
      {S(P::kStopping, R::kHandBack), E::kShutdown, S(P::kStopping, R::kShutdown), A::kNone},
      {S(P::kStopping, R::kHandBack), E::kExited, S(P::kEnded, R::kHandBack), A::kCompleteWithExit},
      {S(P::kStopping, R::kHandBack), E::kExitedAfterStop, S(P::kEnded, R::kHandBack), A::kRelease},
      {S(P::kStopping, R::kShutdown), E::kReportStop, S(P::kStopping, R::kPruned), A::kNone},
      {S(P::kStopping, R::kShutdown), E::kReportLeaseLost, S(P::kStopping, R::kLeaseLost),
       A::kNone},
      {S(P::kStopping, R::kShutdown), E::kHeartbeatLeaseLost, S(P::kStopping, R::kLeaseLost),
       A::kNone},
      {S(P::kStopping, R::kShutdown), E::kExited, S(P::kEnded, R::kShutdown), A::kCompleteWithExit},
      {S(P::kStopping, R::kShutdown), E::kExitedAfterStop, S(P::kEnded, R::kShutdown), A::kDrop},
      {S(P::kStopping, R::kPruned), E::kExited, S(P::kEnded, R::kPruned), A::kCompletePruned},
      {S(P::kStopping, R::kPruned), E::kExitedAfterStop, S(P::kEnded, R::kPruned),
       A::kCompletePruned},
      {S(P::kStopping, R::kLeaseLost), E::kReportStop, S(P::kStopping, R::kPruned), A::kNone},
      {S(P::kStopping, R::kLeaseLost), E::kExited, S(P::kEnded, R::kLeaseLost), A::kDrop},
      {S(P::kStopping, R::kLeaseLost), E::kExitedAfterStop, S(P::kEnded, R::kLeaseLost), A::kDrop},

      // Restarting (pbt): like kLeased, except that a drain that begins now
      // does not hand back a trial that was already running.
      {S(P::kRestarting), E::kPrepared, S(P::kStarting), A::kStart},
      {S(P::kRestarting), E::kStartFailed, S(P::kEnded), A::kCompleteFailed},
      {S(P::kRestarting), E::kHeartbeatLeaseLost, S(P::kRestarting, R::kLeaseLost), A::kNone},
      {S(P::kRestarting), E::kShutdown, S(P::kRestarting, R::kShutdown), A::kNone},
      {S(P::kRestarting), E::kDrainTimeUp, S(P::kRestarting, R::kHandBack), A::kNone},
      {S(P::kRestarting, R::kHandBack), E::kPrepared, S(P::kEnded, R::kHandBack), A::kRelease},
      {S(P::kRestarting, R::kHandBack), E::kStartFailed, S(P::kEnded, R::kHandBack),
       A::kCompleteFailed},
      {S(P::kRestarting, R::kHandBack), E::kHeartbeatLeaseLost, S(P::kRestarting, R::kLeaseLost),
       A::kNone},
      {S(P::kRestarting, R::kHandBack), E::kShutdown, S(P::kRestarting, R::kShutdown), A::kNone},
      {S(P::kRestarting, R::kShutdown), E::kPrepared, S(P::kEnded, R::kShutdown), A::kDrop},
      {S(P::kRestarting, R::kShutdown), E::kStartFailed, S(P::kEnded, R::kShutdown),
       A::kCompleteFailed},
      {S(P::kRestarting, R::kShutdown), E::kHeartbeatLeaseLost, S(P::kRestarting, R::kLeaseLost),
       A::kNone},
      {S(P::kRestarting, R::kLeaseLost), E::kPrepared, S(P::kEnded, R::kLeaseLost), A::kDrop},
      {S(P::kRestarting, R::kLeaseLost), E::kStartFailed, S(P::kEnded, R::kLeaseLost), A::kDrop},
  };
  return rows;
}

std::string Describe(const TrialLifecycle& state, E event) {
  std::ostringstream out;
  out << state << " + " << TrialEventName(event);
  return out.str();
}

using Key = std::tuple<P, R, E>;

TEST(TrialLifecycleTest, EveryEventInEveryStateFollowsTheTable) {
  std::map<Key, const Row*> table;
  for (const Row& row : Table()) {
    const bool inserted =
        table.emplace(Key{row.from.phase, row.from.reason, row.event}, &row).second;
    EXPECT_TRUE(inserted) << "listed twice: " << Describe(row.from, row.event);
  }
  size_t checked = 0;
  for (const TrialLifecycle& state : ReachableStates()) {
    for (E event : AllEvents()) {
      const TrialTransition got = NextTrialState(state, event);
      const auto it = table.find(Key{state.phase, state.reason, event});
      const TrialLifecycle want_state = it == table.end() ? state : it->second->to;
      const A want_action = it == table.end() ? A::kNone : it->second->action;
      EXPECT_EQ(got.next, want_state) << Describe(state, event);
      EXPECT_EQ(TrialActionName(got.action), TrialActionName(want_action))
          << Describe(state, event);
      if (it != table.end()) ++checked;
    }
  }
  EXPECT_EQ(checked, Table().size()) << "the table lists a state that is not reachable";
}

TEST(TrialLifecycleTest, EveryTransitionLeadsToAReachableState) {
  for (const TrialLifecycle& state : ReachableStates()) {
    for (E event : AllEvents()) {
      const TrialLifecycle next = NextTrialState(state, event).next;
      bool reachable = false;
      for (const TrialLifecycle& known : ReachableStates()) reachable |= known == next;
      EXPECT_TRUE(reachable) << Describe(state, event) << " -> " << next;
    }
  }
}

bool IsEnd(A action) {
  switch (action) {
    case A::kCompleteWithExit:
    case A::kCompletePruned:
    case A::kCompleteFailed:
    case A::kDrop:
    case A::kRelease:
      return true;
    default:
      return false;
  }
}

TEST(TrialLifecycleTest, AnEndIsGivenExactlyWhenTheTrialEnds) {
  for (const TrialLifecycle& state : ReachableStates()) {
    for (E event : AllEvents()) {
      const TrialTransition t = NextTrialState(state, event);
      const bool ends = state.phase != P::kEnded && t.next.phase == P::kEnded;
      EXPECT_EQ(IsEnd(t.action), ends) << Describe(state, event);
    }
  }
}

// Those events come from other threads (heartbeat, Drain(), Shutdown()),
// which can only stop a process; everything else is the slot thread's to do.
TEST(TrialLifecycleTest, EventsFromOtherThreadsAtMostStopTheProcess) {
  for (const TrialLifecycle& state : ReachableStates()) {
    for (E event : {E::kHeartbeatLeaseLost, E::kShutdown, E::kDrainBegun, E::kDrainTimeUp}) {
      const A action = NextTrialState(state, event).action;
      EXPECT_TRUE(action == A::kNone || action == A::kStopProcess)
          << Describe(state, event) << " -> " << TrialActionName(action);
    }
  }
}

TEST(TrialLifecycleTest, OnlyARunningTrialRelaysItsReports) {
  for (const TrialLifecycle& state : ReachableStates()) {
    EXPECT_EQ(RelaysReports(state), state.phase == P::kRunning) << state;
  }
}

// Applies `events` from `start`; returns the actions given, and the last state
// in `*end`.
std::vector<A> Apply(TrialLifecycle start, const std::vector<E>& events,
                     TrialLifecycle* end = nullptr) {
  std::vector<A> actions;
  TrialLifecycle state = start;
  for (E event : events) {
    const TrialTransition t = NextTrialState(state, event);
    state = t.next;
    actions.push_back(t.action);
  }
  if (end != nullptr) *end = state;
  return actions;
}

std::vector<A> FromLease(const std::vector<E>& events) { return Apply(S(P::kLeased), events); }

TEST(TrialLifecycleTest, TrialThatFinishesIsCompletedWithItsExit) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportContinue, E::kExited}),
              ElementsAre(A::kStart, A::kNone, A::kNone, A::kCompleteWithExit));
}

TEST(TrialLifecycleTest, TrialThatExitsOnItsOwnAfterStopIsPruned) {
  // The contract is PRUNED after STOP, even if the trial completed meanwhile.
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportStop, E::kExited}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kCompletePruned));
}

TEST(TrialLifecycleTest, StopAnswerThenLeaseListedLostIsStillPruned) {
  // The coordinator ends the trial as it answers STOP, so the next heartbeat
  // lists its lease as lost: expected, not a loss.
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportStop, E::kHeartbeatLeaseLost,
                         E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kCompletePruned));
}

TEST(TrialLifecycleTest, LeaseListedLostWhileTheStopAnswerIsReadIsStillPruned) {
  // The heartbeat's answer can overtake the slot thread reading STOP; the
  // lease was lost because the trial was pruned.
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kHeartbeatLeaseLost, E::kReportStop,
                         E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kCompletePruned));
}

TEST(TrialLifecycleTest, ShutdownDuringStartStopsTheNewProcessAndDropsIt) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kShutdown, E::kStarted, E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kDrop));
}

TEST(TrialLifecycleTest, ShutdownDuringStartOfAProcessThatEndsFirstReportsIt) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kShutdown, E::kStarted, E::kExited}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kCompleteWithExit));
}

TEST(TrialLifecycleTest, ShutdownOrLeaseLostBeforeTheStartDropsWithoutStarting) {
  EXPECT_THAT(FromLease({E::kShutdown, E::kPrepared}), ElementsAre(A::kNone, A::kDrop));
  EXPECT_THAT(FromLease({E::kHeartbeatLeaseLost, E::kPrepared}), ElementsAre(A::kNone, A::kDrop));
}

TEST(TrialLifecycleTest, DrainBeforeTheStartHandsBackWithoutStarting) {
  EXPECT_THAT(FromLease({E::kDrainBegun, E::kPrepared}), ElementsAre(A::kNone, A::kRelease));
}

TEST(TrialLifecycleTest, DrainBegunOnceStartingLetsTheTrialFinish) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kDrainBegun, E::kStarted, E::kExited}),
              ElementsAre(A::kStart, A::kNone, A::kNone, A::kCompleteWithExit));
}

TEST(TrialLifecycleTest, DrainTimeUpHandsBackAStoppedTrial) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kDrainTimeUp, E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kRelease));
}

TEST(TrialLifecycleTest, TrialThatEndsBeforeTheDrainStopReachesItIsCompleted) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kDrainTimeUp, E::kExited}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kCompleteWithExit));
}

TEST(TrialLifecycleTest, ExploitRestartsTheTrialInTheSameLease) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportExploit, E::kExitedAfterStop,
                         E::kPrepared, E::kStarted, E::kExited}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kRestart, A::kStart, A::kNone,
                          A::kCompleteWithExit));
}

TEST(TrialLifecycleTest, DrainTimeUpWhileAnExploitStopIsPendingHandsBack) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportExploit, E::kDrainTimeUp,
                         E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kRelease));
}

TEST(TrialLifecycleTest, DrainTimeUpWhileFetchingTheDonorHandsBackWithoutRestart) {
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kReportExploit, E::kExitedAfterStop, E::kDrainTimeUp,
                 E::kPrepared}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kRestart, A::kNone, A::kRelease));
}

TEST(TrialLifecycleTest, ShutdownWhileAnExploitIsPendingDrops) {
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kReportExploit, E::kShutdown, E::kExitedAfterStop}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kDrop));
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportExploit, E::kExitedAfterStop,
                         E::kShutdown, E::kPrepared}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kRestart, A::kNone, A::kDrop));
}

TEST(TrialLifecycleTest, DonorThatCannotBeFetchedFailsTheTrial) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportExploit, E::kExitedAfterStop,
                         E::kStartFailed}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kRestart, A::kCompleteFailed));
}

TEST(TrialLifecycleTest, StopAnsweredAfterShutdownOrDrainTimeUpIsPruned) {
  // The coordinator ended the trial when it answered: PRUNED beats both.
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kShutdown, E::kReportStop, E::kExitedAfterStop}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kCompletePruned));
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kDrainTimeUp, E::kReportStop, E::kExitedAfterStop}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kCompletePruned));
}

TEST(TrialLifecycleTest, ShutdownAfterStopStillReportsPruned) {
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kReportStop, E::kShutdown, E::kExitedAfterStop}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kCompletePruned));
}

TEST(TrialLifecycleTest, ShutdownDuringADrainDrops) {
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kDrainTimeUp, E::kShutdown, E::kExitedAfterStop}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kDrop));
}

TEST(TrialLifecycleTest, LeaseLostBeatsShutdownAndDrain) {
  // Even a trial that then ends on its own: its result has nowhere to go.
  EXPECT_THAT(
      FromLease({E::kPrepared, E::kStarted, E::kShutdown, E::kHeartbeatLeaseLost, E::kExited}),
      ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kDrop));
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kDrainTimeUp, E::kReportLeaseLost,
                         E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kNone, A::kDrop));
}

TEST(TrialLifecycleTest, UnreachableCoordinatorWhileShuttingDownDrops) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStarted, E::kReportUnreachable, E::kExitedAfterStop}),
              ElementsAre(A::kStart, A::kNone, A::kStopProcess, A::kDrop));
}

TEST(TrialLifecycleTest, StartFailureIsReportedUnlessTheLeaseIsLost) {
  EXPECT_THAT(FromLease({E::kPrepared, E::kStartFailed}),
              ElementsAre(A::kStart, A::kCompleteFailed));
  EXPECT_THAT(FromLease({E::kPrepared, E::kShutdown, E::kStartFailed}),
              ElementsAre(A::kStart, A::kNone, A::kCompleteFailed));
  EXPECT_THAT(FromLease({E::kPrepared, E::kHeartbeatLeaseLost, E::kStartFailed}),
              ElementsAre(A::kStart, A::kNone, A::kDrop));
}

TEST(TrialLifecycleTest, NothingHappensOnceEnded) {
  TrialLifecycle end;
  EXPECT_THAT(
      Apply(S(P::kLeased),
            {E::kPrepared, E::kStarted, E::kExited, E::kShutdown, E::kReportStop, E::kExited},
            &end),
      ElementsAre(A::kStart, A::kNone, A::kCompleteWithExit, A::kNone, A::kNone, A::kNone));
  EXPECT_EQ(end, S(P::kEnded));
}

TEST(TrialLifecycleTest, NamesAreTheEnumeratorNames) {
  EXPECT_EQ(TrialPhaseName(P::kRestarting), "kRestarting");
  EXPECT_EQ(StopReasonName(R::kHandBack), "kHandBack");
  EXPECT_EQ(TrialEventName(E::kExitedAfterStop), "kExitedAfterStop");
  EXPECT_EQ(TrialActionName(A::kCompletePruned), "kCompletePruned");
  std::ostringstream out;
  out << S(P::kStopping, R::kPruned);
  EXPECT_EQ(out.str(), "{kStopping, kPruned}");
}

}  // namespace
}  // namespace vernier::worker
