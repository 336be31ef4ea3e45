// Study events: the ring of one study's events (order, resume, overflow and
// resync, many watchers, a publisher that never waits), and the events the
// coordinator publishes as trials are created, report and end, and as the
// study changes state.
#include "server/coordinator/study_events.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/server/storage/faulty_study_store.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::vernier::testing::IsOk;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

constexpr char kIncarnation[] = "incarnation-1";
// A bound on a hung test, never a timing check: each wait ends as soon as
// what it waits for has happened.
constexpr absl::Duration kPatience = absl::Seconds(60);

// One watch on its own thread, and what it was sent.
class Watching {
 public:
  using Watch = std::function<absl::Status(const StudyEventReader&)>;

  explicit Watching(Watch watch) {
    reader_.send = [this](const StudyEvent& event) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
      return !stop_;
    };
    reader_.cancelled = [this] {
      absl::MutexLock lock(&mu_);
      return stop_;
    };
    thread_ = std::thread([this, watch = std::move(watch)] {
      const absl::Status status = watch(reader_);
      absl::MutexLock lock(&mu_);
      status_ = status;
      ended_ = true;
    });
  }
  ~Watching() { Stop().IgnoreError(); }

  // The events sent, once there are at least `n` (or kPatience ran out).
  std::vector<StudyEvent> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    wanted_ = n;
    mu_.AwaitWithTimeout(absl::Condition(this, &Watching::HasWanted), kPatience);
    return events_;
  }
  // How the watch ended, once it ended by itself.
  absl::Status WaitEnd() {
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), kPatience)) {
        return absl::DeadlineExceededError("the watch did not end");
      }
    }
    thread_.join();
    absl::MutexLock lock(&mu_);
    return status_;
  }
  // Cancels the watch; how it ended.
  absl::Status Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  bool HasWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= wanted_; }

  StudyEventReader reader_;
  mutable absl::Mutex mu_;
  std::vector<StudyEvent> events_ ABSL_GUARDED_BY(mu_);
  size_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

std::vector<int64_t> Sequences(const std::vector<StudyEvent>& events) {
  std::vector<int64_t> sequences;
  for (const StudyEvent& event : events) sequences.push_back(event.sequence);
  return sequences;
}

std::vector<StudyEventKind> Kinds(const std::vector<StudyEvent>& events) {
  std::vector<StudyEventKind> kinds;
  for (const StudyEvent& event : events) kinds.push_back(event.kind);
  return kinds;
}

bool StrictlyIncreasing(const std::vector<StudyEvent>& events) {
  for (size_t i = 1; i < events.size(); ++i) {
    if (events[i].sequence <= events[i - 1].sequence) return false;
  }
  return true;
}

// A measurement of trial 0 at `step`.
StudyEvent MeasurementEvent(int64_t step) {
  StudyEvent event;
  event.kind = StudyEventKind::kMeasurement;
  event.measurement.step = step;
  return event;
}

// ---- The ring ----

class StudyEventLogTest : public ::testing::Test {
 protected:
  // A watch of log_ from `after`, polling often (it only makes cancelled
  // watches end sooner).
  Watching::Watch WatchFrom(int64_t after, std::string incarnation = kIncarnation) {
    return [this, after, incarnation](const StudyEventReader& reader) {
      return log_->Watch(WatchStart{after, incarnation}, kIncarnation, clock_, reader,
                         absl::Milliseconds(5));
    };
  }
  // Publishes measurements at steps from, ..., to.
  void PublishSteps(int64_t from, int64_t to) {
    for (int64_t step = from; step <= to; ++step) log_->Publish(MeasurementEvent(step));
  }

  FakeClock clock_;
  std::unique_ptr<StudyEventLog> log_ = std::make_unique<StudyEventLog>(/*capacity=*/100);
};

TEST_F(StudyEventLogTest, PublishNumbersEventsFromOneInOrder) {
  EXPECT_EQ(log_->last_sequence(), 0);
  EXPECT_EQ(log_->Publish(MeasurementEvent(1)), 1);
  EXPECT_EQ(log_->Publish(MeasurementEvent(2)), 2);
  EXPECT_EQ(log_->Publish(MeasurementEvent(3)), 3);
  EXPECT_EQ(log_->last_sequence(), 3);
}

TEST_F(StudyEventLogTest, ANewWatcherStartsWithAResyncAtTheLastEventThenGetsTheNewOnes) {
  PublishSteps(1, 2);
  Watching watching(WatchFrom(0));
  std::vector<StudyEvent> first = watching.WaitFor(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].kind, StudyEventKind::kResync);
  EXPECT_EQ(first[0].resync_reason, ResyncReason::kStart);
  EXPECT_EQ(first[0].sequence, 2);
  EXPECT_EQ(first[0].time, clock_.Now());

  PublishSteps(3, 4);
  std::vector<StudyEvent> events = watching.WaitFor(3);
  EXPECT_THAT(Sequences(events), ElementsAre(2, 3, 4));
  EXPECT_EQ(events[1].measurement.step, 3);
  EXPECT_EQ(events[2].measurement.step, 4);
  EXPECT_THAT(watching.Stop(), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(StudyEventLogTest, ResumingReplaysExactlyTheEventsAfterTheSequence) {
  PublishSteps(1, 5);
  Watching watching(WatchFrom(2));
  std::vector<StudyEvent> events = watching.WaitFor(3);
  EXPECT_THAT(Sequences(events), ElementsAre(3, 4, 5));
  EXPECT_THAT(Kinds(events), Each(StudyEventKind::kMeasurement));
  PublishSteps(6, 6);
  EXPECT_THAT(Sequences(watching.WaitFor(4)), ElementsAre(3, 4, 5, 6));
}

TEST_F(StudyEventLogTest, ResumingAtTheLastEventWaitsForTheNextOne) {
  PublishSteps(1, 3);
  Watching watching(WatchFrom(3));
  PublishSteps(4, 4);
  EXPECT_THAT(Sequences(watching.WaitFor(1)), ElementsAre(4));
}

TEST_F(StudyEventLogTest, AnotherIncarnationGetsAResyncFirst) {
  PublishSteps(1, 5);
  Watching watching(WatchFrom(2, "an-older-server"));
  std::vector<StudyEvent> events = watching.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, StudyEventKind::kResync);
  EXPECT_EQ(events[0].resync_reason, ResyncReason::kNewIncarnation);
  EXPECT_EQ(events[0].sequence, 5);
  PublishSteps(6, 6);
  EXPECT_THAT(Sequences(watching.WaitFor(2)), ElementsAre(5, 6));
}

TEST_F(StudyEventLogTest, ResumingAfterEventsNoLongerHeldGetsAResyncAtTheLastEvent) {
  log_ = std::make_unique<StudyEventLog>(/*capacity=*/3);
  PublishSteps(1, 5);  // Holds 3, 4, 5.
  {
    Watching watching(WatchFrom(1));  // 2 is gone.
    std::vector<StudyEvent> events = watching.WaitFor(1);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, StudyEventKind::kResync);
    EXPECT_EQ(events[0].resync_reason, ResyncReason::kEventsDropped);
    EXPECT_EQ(events[0].sequence, 5);
  }
  Watching watching(WatchFrom(2));  // Everything after 2 is held.
  std::vector<StudyEvent> events = watching.WaitFor(3);
  EXPECT_THAT(Sequences(events), ElementsAre(3, 4, 5));
  EXPECT_THAT(Kinds(events), Each(StudyEventKind::kMeasurement));
}

TEST_F(StudyEventLogTest, BadSequencesAreInvalidArguments) {
  PublishSteps(1, 2);
  const StudyEventReader reader{[](const StudyEvent&) { return false; }, [] { return true; },
                                nullptr};
  EXPECT_THAT(log_->Watch(WatchStart{-1, kIncarnation}, kIncarnation, clock_, reader),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after_sequence")));
  EXPECT_THAT(log_->Watch(WatchStart{3, kIncarnation}, kIncarnation, clock_, reader),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond")));
  // A sequence of another incarnation may be anything: it is resynced.
  EXPECT_THAT(log_->Watch(WatchStart{3, "other"}, kIncarnation, clock_, reader),
              StatusIs(absl::StatusCode::kCancelled));
}

// The publisher goes on while a watcher is stuck in send(); the watcher,
// once it moves again, is told that it missed events and skips to the
// newest. Were Publish to wait for a watcher, this test would hang.
TEST_F(StudyEventLogTest, AStuckWatcherNeverHoldsUpThePublisherAndSkipsAheadAfter) {
  log_ = std::make_unique<StudyEventLog>(/*capacity=*/4);
  absl::Notification stuck;
  absl::Notification release;
  absl::Mutex mu;
  std::vector<StudyEvent> received;
  const auto await_received = [&](size_t n) {
    std::pair<std::vector<StudyEvent>*, size_t> wanted(&received, n);
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(
                            +[](std::pair<std::vector<StudyEvent>*, size_t>* w) {
                              return w->first->size() >= w->second;
                            },
                            &wanted),
                        kPatience);
    return received.size() >= n;
  };
  std::atomic<bool> stop{false};
  StudyEventReader reader;
  reader.send = [&](const StudyEvent& event) {
    if (event.kind == StudyEventKind::kMeasurement && event.sequence == 1) {
      stuck.Notify();
      release.WaitForNotificationWithTimeout(kPatience);
    }
    absl::MutexLock lock(&mu);
    received.push_back(event);
    return true;
  };
  reader.cancelled = [&] { return stop.load(); };
  absl::Status status;
  std::thread watcher([&] {
    status = log_->Watch(WatchStart{0, ""}, kIncarnation, clock_, reader, absl::Milliseconds(5));
  });
  ASSERT_TRUE(await_received(1));  // Its resync: it is watching.
  PublishSteps(1, 1);
  ASSERT_TRUE(stuck.WaitForNotificationWithTimeout(kPatience));
  PublishSteps(2, 1000);  // Holds 997..1000; the watcher is still in send(1).
  release.Notify();
  ASSERT_TRUE(await_received(3));  // 1, then the resync.
  PublishSteps(1001, 1001);
  ASSERT_TRUE(await_received(4));
  stop = true;
  watcher.join();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled));
  absl::MutexLock lock(&mu);
  EXPECT_THAT(Sequences(received), ElementsAre(0, 1, 1000, 1001));
  EXPECT_THAT(Kinds(received), ElementsAre(StudyEventKind::kResync, StudyEventKind::kMeasurement,
                                           StudyEventKind::kResync, StudyEventKind::kMeasurement));
  EXPECT_EQ(received[2].resync_reason, ResyncReason::kEventsDropped);
}

TEST_F(StudyEventLogTest, ManyWatchersEachGetEveryEventInOrder) {
  constexpr int kWatchers = 16;
  constexpr int64_t kEvents = 2000;
  log_ = std::make_unique<StudyEventLog>(kStudyEventsKept);  // Holds them all.
  std::vector<std::unique_ptr<Watching>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.push_back(std::make_unique<Watching>(WatchFrom(0)));
    ASSERT_EQ(watchers.back()->WaitFor(1).size(), 1u);  // Its resync: it is watching.
  }
  // Two publishers at once, as two workers reporting.
  std::thread other([this] { PublishSteps(1, kEvents / 2); });
  PublishSteps(1, kEvents / 2);
  other.join();
  for (const auto& watching : watchers) {
    std::vector<StudyEvent> events = watching->WaitFor(kEvents + 1);
    ASSERT_EQ(events.size(), static_cast<size_t>(kEvents + 1));
    for (int64_t i = 0; i <= kEvents; ++i) ASSERT_EQ(events[i].sequence, i);
  }
  EXPECT_EQ(log_->watchers(), kWatchers);
  watchers.clear();
  EXPECT_EQ(log_->watchers(), 0);
}

TEST_F(StudyEventLogTest, ACancelledWatchEndsAndIsNoLongerCounted) {
  Watching watching(WatchFrom(0));
  ASSERT_EQ(watching.WaitFor(1).size(), 1u);
  EXPECT_EQ(log_->watchers(), 1);
  EXPECT_THAT(watching.Stop(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(log_->watchers(), 0);
}

TEST_F(StudyEventLogTest, CloseEndsEveryWatchWithUnavailable) {
  Watching first(WatchFrom(0));
  Watching second(WatchFrom(0));
  ASSERT_EQ(first.WaitFor(1).size(), 1u);
  ASSERT_EQ(second.WaitFor(1).size(), 1u);
  log_->Close();
  EXPECT_THAT(first.WaitEnd(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("stopping")));
  EXPECT_THAT(second.WaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(log_->Publish(MeasurementEvent(1)), 1);  // Publishing goes on.
  Watching late(WatchFrom(0));
  EXPECT_THAT(late.WaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(EventsOfChangeTest, MeasurementsThenTrialsThenTheStudysState) {
  const std::vector<ObjectiveSpec> objectives = {{"loss", Goal::kMinimize}};
  std::vector<TrialRecord> trials(2);
  trials[0].number = 0;
  trials[0].state = TrialState::kPruned;
  trials[0].params["x"] = 0.5;
  trials[0].intermediate = {{1, {{"loss", 0.7}}}, {2, {{"loss", 0.6}}}};
  trials[1].number = 1;
  trials[1].state = TrialState::kWaiting;
  ChangeNote note;
  note.measurements.emplace_back(0, Measurement{2, {{"loss", 0.6}}});
  note.trials.emplace_back(0, TrialState::kRunning);
  note.trials.emplace_back(1, std::nullopt);
  note.study_state.emplace(StudyState::kStopped, "stopped by a user");
  const absl::Time time = absl::FromUnixSeconds(1000);

  const std::vector<StudyEvent> events = EventsOfChange(note, trials, objectives, time);
  ASSERT_THAT(Kinds(events),
              ElementsAre(StudyEventKind::kMeasurement, StudyEventKind::kTrialChanged,
                          StudyEventKind::kTrialCreated, StudyEventKind::kStudyStateChanged));
  EXPECT_EQ(events[0].trial_number, 0);
  EXPECT_EQ(events[0].measurement, (Measurement{2, {{"loss", 0.6}}}));
  EXPECT_EQ(events[1].trial.trial.state, TrialState::kPruned);
  EXPECT_EQ(events[1].previous_state, TrialState::kRunning);
  // Without its curve, with the value found on it.
  EXPECT_TRUE(events[1].trial.trial.intermediate.empty());
  EXPECT_THAT(events[1].trial.objective_values, ElementsAre(Optional(0.6)));
  EXPECT_EQ(events[2].trial.trial.number, 1);
  EXPECT_EQ(events[3].study_state, StudyState::kStopped);
  EXPECT_EQ(events[3].study_state_reason, "stopped by a user");
  for (const StudyEvent& event : events) EXPECT_EQ(event.time, time);
}

// ---- What the coordinator publishes ----

constexpr char kWatchedStudy[] = R"(
name: s
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 10, parallel: 4, max_retries: 1}
trainer: {command: [python3, trial.py]}
)";

class CoordinatorEventsTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    options_.incarnation = kIncarnation;
    CoordinatorFixture::SetUp();
    ASSERT_THAT(Create(kWatchedStudy), IsOk());
  }

  // A watch of study `study` from `after` (0: from now).
  Watching::Watch WatchFrom(int64_t after, std::string study = "s") {
    return [this, after, study](const StudyEventReader& reader) {
      return coordinator_->WatchStudy(study, WatchStart{after, kIncarnation}, reader);
    };
  }

  Assignment Acquire(const std::string& worker) {
    auto assignment = coordinator_->AcquireTrial(worker, "cpu");
    EXPECT_TRUE(assignment.ok() && assignment->has_value()) << assignment.status();
    return assignment.ok() && assignment->has_value() ? **assignment : Assignment{};
  }
};

TEST_F(CoordinatorEventsTest, ATrialsLifeComesAsEventsInCommitOrder) {
  Watching watching(WatchFrom(0));
  ASSERT_EQ(watching.WaitFor(1).size(), 1u);  // The resync: watching from now.

  const Assignment a = Acquire("w1");
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(coordinator_->ReportProgress("w1", a.lease, {1, {{"loss", 0.5}}}), IsOk());
  clock_.Advance(absl::Seconds(10));
  ASSERT_THAT(
      coordinator_->CompleteTrial("w1", a.lease, TrialState::kComplete, {{"loss", 0.25}}, ""),
      IsOk());

  const std::vector<StudyEvent> events = watching.WaitFor(4);
  ASSERT_THAT(Kinds(events),
              ElementsAre(StudyEventKind::kResync, StudyEventKind::kTrialCreated,
                          StudyEventKind::kMeasurement, StudyEventKind::kTrialChanged));
  EXPECT_THAT(Sequences(events), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(events[0].resync_reason, ResyncReason::kStart);

  const TrialRecord& created = events[1].trial.trial;
  EXPECT_EQ(created.number, 0);
  EXPECT_EQ(created.state, TrialState::kRunning);
  EXPECT_EQ(created.worker_id, "w1");
  EXPECT_EQ(created.params, a.trial.params);

  EXPECT_EQ(events[2].trial_number, 0);
  EXPECT_EQ(events[2].measurement, (Measurement{1, {{"loss", 0.5}}}));
  EXPECT_EQ(events[2].time - events[1].time, absl::Seconds(10));

  const ListedTrial& ended = events[3].trial;
  EXPECT_EQ(ended.trial.state, TrialState::kComplete);
  EXPECT_EQ(events[3].previous_state, TrialState::kRunning);
  EXPECT_EQ(ended.trial.final_metrics, (MetricMap{{"loss", 0.25}}));
  EXPECT_THAT(ended.objective_values, ElementsAre(Optional(0.25)));
  EXPECT_TRUE(ended.trial.intermediate.empty());
}

TEST_F(CoordinatorEventsTest, StoppingPrunesAtTheNextReportAndTheEventsSaySo) {
  const Assignment a = Acquire("w1");
  Watching watching(WatchFrom(0));
  ASSERT_EQ(watching.WaitFor(1).size(), 1u);
  ASSERT_THAT(coordinator_->StopStudy("s"), IsOk());
  ASSERT_THAT(coordinator_->ReportProgress("w1", a.lease, {3, {{"loss", 0.5}}}),
              IsOkAndHolds(TrialAction::kStop));

  const std::vector<StudyEvent> events = watching.WaitFor(4);
  ASSERT_THAT(Kinds(events),
              ElementsAre(StudyEventKind::kResync, StudyEventKind::kStudyStateChanged,
                          StudyEventKind::kMeasurement, StudyEventKind::kTrialChanged));
  EXPECT_TRUE(StrictlyIncreasing(events));
  EXPECT_EQ(events[1].study_state, StudyState::kStopped);
  EXPECT_EQ(events[1].study_state_reason, "stopped by a user");
  EXPECT_EQ(events[2].measurement.step, 3);
  EXPECT_EQ(events[3].trial.trial.state, TrialState::kPruned);
  // A pruned trial keeps its last value.
  EXPECT_THAT(events[3].trial.objective_values, ElementsAre(Optional(0.5)));
}

TEST_F(CoordinatorEventsTest, AnEnqueuedTrialIsCreatedWaitingThenChangesToRunning) {
  Watching watching(WatchFrom(0));
  ASSERT_EQ(watching.WaitFor(1).size(), 1u);
  ASSERT_THAT(coordinator_->EnqueueTrial("s", {{"x", 0.25}}), IsOk());
  Acquire("w1");
  const std::vector<StudyEvent> events = watching.WaitFor(3);
  ASSERT_THAT(Kinds(events), ElementsAre(StudyEventKind::kResync, StudyEventKind::kTrialCreated,
                                         StudyEventKind::kTrialChanged));
  EXPECT_EQ(events[1].trial.trial.state, TrialState::kWaiting);
  EXPECT_EQ(events[1].trial.trial.origin, "enqueued");
  EXPECT_EQ(events[2].previous_state, TrialState::kWaiting);
  EXPECT_EQ(events[2].trial.trial.state, TrialState::kRunning);
}

TEST_F(CoordinatorEventsTest, ResumingReplaysTheMissedEventsAndTheBudgetsEndIsAnEvent) {
  ASSERT_THAT(Create(R"(
name: tiny
objective: {metric: loss, goal: minimize}
params: {x: {type: float, low: 0, high: 1}}
budget: {max_trials: 1}
trainer: {external: true}
)"),
              IsOk());
  ASSERT_THAT(coordinator_->Ask("tiny"), IsOk());
  ASSERT_THAT(coordinator_->Report("tiny", 0, 0.5, {1, {}}), IsOk());
  ASSERT_THAT(coordinator_->Tell("tiny", 0, TrialState::kComplete, 0.4, {}, ""), IsOk());
  // 1 created, 2 measurement, 3 complete, 4 the study COMPLETED.
  Watching watching(WatchFrom(1, "tiny"));
  const std::vector<StudyEvent> events = watching.WaitFor(3);
  EXPECT_THAT(Sequences(events), ElementsAre(2, 3, 4));
  EXPECT_THAT(Kinds(events),
              ElementsAre(StudyEventKind::kMeasurement, StudyEventKind::kTrialChanged,
                          StudyEventKind::kStudyStateChanged));
  EXPECT_EQ(events[2].study_state, StudyState::kCompleted);
}

TEST_F(CoordinatorEventsTest, AnUnknownStudyIsNotFound) {
  const StudyEventReader reader{[](const StudyEvent&) { return true; }, [] { return true; },
                                nullptr};
  EXPECT_THAT(coordinator_->WatchStudy("nope", WatchStart{}, reader),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(coordinator_->Watchers("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CoordinatorEventsTest, EndWatchesEndsOpenWatchesAndRefusesNewOnes) {
  Watching watching(WatchFrom(0));
  ASSERT_EQ(watching.WaitFor(1).size(), 1u);
  EXPECT_THAT(coordinator_->Watchers("s"), IsOkAndHolds(1));
  coordinator_->EndWatches();
  EXPECT_THAT(watching.WaitEnd(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(coordinator_->Watchers("s"), IsOkAndHolds(0));
  const StudyEventReader reader{[](const StudyEvent&) { return true; }, [] { return false; },
                                nullptr};
  EXPECT_THAT(coordinator_->WatchStudy("s", WatchStart{}, reader),
              StatusIs(absl::StatusCode::kUnavailable));
}

// The watcher reads with no study lock held: one stuck in send() holds up
// no worker.
TEST_F(CoordinatorEventsTest, AWatcherStuckInSendHoldsUpNoWorker) {
  const Assignment a = Acquire("w1");
  absl::Notification stuck;
  absl::Notification release;
  StudyEventReader reader;
  reader.send = [&](const StudyEvent& event) {
    if (event.kind == StudyEventKind::kMeasurement) {
      stuck.Notify();
      release.WaitForNotificationWithTimeout(kPatience);
      return false;
    }
    return true;
  };
  reader.cancelled = [] { return false; };
  std::thread watcher([&] { coordinator_->WatchStudy("s", WatchStart{}, reader).IgnoreError(); });
  // The watch may begin after the first report: report until it is stuck.
  int64_t step = 1;
  while (!stuck.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
    ASSERT_THAT(coordinator_->ReportProgress("w1", a.lease, {step++, {{"loss", 0.5}}}), IsOk());
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_THAT(coordinator_->ReportProgress("w1", a.lease, {step++, {{"loss", 0.5}}}), IsOk());
  }
  ASSERT_THAT(
      coordinator_->CompleteTrial("w1", a.lease, TrialState::kComplete, {{"loss", 0.4}}, ""),
      IsOk());
  release.Notify();
  watcher.join();
}

// An event never describes a change that is not committed: a refused write
// publishes none, and the study read back after it tells watchers to
// resync.
TEST(CoordinatorEventsFaultTest, AFailedWriteIsNeverAnEventAndTheReloadIsAResync) {
  MemoryStudyStore inner;
  FaultyStudyStore store(&inner);
  FakeClock clock;
  CoordinatorOptions options;
  options.incarnation = kIncarnation;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Coordinator> coordinator,
                       Coordinator::Create(&store, &clock, options));
  ASSERT_THAT(CreateStudyFromYaml(*coordinator, kWatchedStudy), IsOk());
  auto assignment = coordinator->AcquireTrial("w1", "cpu");
  ASSERT_TRUE(assignment.ok() && assignment->has_value());
  const LeaseKey lease = (*assignment)->lease;

  store.FailWrite(1, FaultyStudyStore::Fault::kRefused);
  EXPECT_FALSE(coordinator->ReportProgress("w1", lease, {1, {{"loss", 0.5}}}).ok());
  ASSERT_THAT(coordinator->ReportProgress("w1", lease, {2, {{"loss", 0.4}}}), IsOk());

  // 1: the trial created; then the reload's resync; then step 2 only.
  Watching watching([&](const StudyEventReader& reader) {
    return coordinator->WatchStudy("s", WatchStart{1, kIncarnation}, reader);
  });
  const std::vector<StudyEvent> events = watching.WaitFor(2);
  ASSERT_THAT(Kinds(events), ElementsAre(StudyEventKind::kResync, StudyEventKind::kMeasurement));
  EXPECT_EQ(events[0].resync_reason, ResyncReason::kStudyReloaded);
  EXPECT_EQ(events[1].measurement.step, 2);
  EXPECT_THAT(Sequences(events), ElementsAre(2, 3));
}

}  // namespace
}  // namespace vernier
