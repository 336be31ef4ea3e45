// Study events: the ordered feed of what changes in one study (trials
// created and changed, measurements, the study's state), kept in memory for
// the watchers of WatchStudy.
//
// StudyEventLog is a bounded ring of the study's last events under its own
// small lock. The Study publishes each change once it is committed, with its
// own lock held, so sequence numbers follow commit order; publishing is O(1)
// (a pointer moved into the ring, the oldest one dropped) and never waits on
// a watcher. Each watcher reads the ring at its own pace, copying shared
// pointers out under the log's lock and sending them with no lock held; one
// that falls behind the ring's oldest event is told to resync and skips to
// the newest. So a slow or stuck watcher costs memory it holds on to, never
// the study's time.
//
// Thread-safety: StudyEventLog is thread-safe. The free functions are pure.
#ifndef VERNIER_SERVER_COORDINATOR_STUDY_EVENTS_H_
#define VERNIER_SERVER_COORDINATOR_STUDY_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/coordinator/trial_page.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The most events a study keeps for watchers to resume from.
inline constexpr int64_t kStudyEventsKept = 10000;
// How often a watcher with nothing to send looks whether its reader went
// away (a new event wakes it at once).
inline constexpr absl::Duration kWatchPoll = absl::Milliseconds(250);
// The most events a watcher copies out of the ring at once.
inline constexpr size_t kWatchBatch = 256;

enum class StudyEventKind {
  kResync,             // Read the study again (see ResyncReason).
  kTrialCreated,       // `trial` is new.
  kTrialChanged,       // `trial` changed; `previous_state` is its state before.
  kMeasurement,        // Trial `trial_number` reported `measurement`.
  kStudyStateChanged,  // The study is `study_state` now, for `study_state_reason`.
};

enum class ResyncReason {
  kStart,           // A new watcher (after_sequence 0).
  kNewIncarnation,  // The watcher's sequence is of another server process.
  kEventsDropped,   // Events after the watcher's sequence are no longer held.
  kStudyReloaded,   // The study was read back from the store after a failed write.
};

// One change of a study. Only the fields of its kind are meaningful.
struct StudyEvent {
  int64_t sequence = 0;  // Set by StudyEventLog::Publish.
  absl::Time time = absl::UnixEpoch();
  StudyEventKind kind = StudyEventKind::kResync;
  ResyncReason resync_reason = ResyncReason::kStart;
  // kTrialCreated, kTrialChanged: the trial as committed, without its
  // intermediate values, with its objective values.
  ListedTrial trial;
  TrialState previous_state = TrialState::kWaiting;
  int64_t trial_number = 0;
  Measurement measurement;
  StudyState study_state = StudyState::kActive;
  std::string study_state_reason;
};

// What one change of a study's trials is, noted before it is committed (the
// change itself moves into the store), so that it can be described after.
struct ChangeNote {
  // Each trial of the change: its number and its state before (nullopt: a
  // new trial).
  std::vector<std::pair<int64_t, std::optional<TrialState>>> trials;
  std::vector<std::pair<int64_t, Measurement>> measurements;
  std::optional<std::pair<StudyState, std::string>> study_state;
};

// The events of a change described by `note`, once committed: its
// measurements, then its trials (created or changed), then the study's
// state, stamped `time`. `trials` are the study's trials after the commit
// and `objectives` its objectives.
// REQUIRES: every number in `note` is that of one of `trials`.
std::vector<StudyEvent> EventsOfChange(const ChangeNote& note,
                                       const std::vector<TrialRecord>& trials,
                                       const std::vector<ObjectiveSpec>& objectives,
                                       absl::Time time);

// Where a watch starts (WatchStudy's request).
struct WatchStart {
  // 0: from now on; else the sequence of the last event the watcher has.
  int64_t after_sequence = 0;
  // The incarnation after_sequence came from.
  std::string incarnation;
};

// What StudyEventLog::Watch talks to.
struct StudyEventReader {
  // Takes one event; false: the reader went away.
  std::function<bool(const StudyEvent& event)> send;
  // Whether the reader went away; asked between reads.
  std::function<bool()> cancelled;
  // Called before each batch of events is sent (may be empty): the
  // coordinator waits there until the changes they describe are durable.
  std::function<void()> before_send;
};

class StudyEventLog {
 public:
  // Keeps the last `capacity` events. REQUIRES: capacity >= 1.
  explicit StudyEventLog(int64_t capacity = kStudyEventsKept);
  StudyEventLog(const StudyEventLog&) = delete;
  StudyEventLog& operator=(const StudyEventLog&) = delete;

  // Appends `event` as the study's next event (its sequence is set here: one
  // more than the last) and wakes the watchers waiting for it. Returns its
  // sequence. O(1) amortised in the events held (waking is one
  // CondVar::SignalAll, which queues the waiting watchers and returns). It
  // never waits on a watcher, only for the log's lock, which a watcher holds
  // while it copies at most kWatchBatch pointers.
  int64_t Publish(StudyEvent event) ABSL_LOCKS_EXCLUDED(mu_);

  // The last event's sequence; 0 before the first.
  int64_t last_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  // How many Watch calls are running.
  int watchers() const ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every Watch, running or to come, with UNAVAILABLE (the server is
  // stopping). Publish still works. Irreversible.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // Sends the study's events to `reader` until it goes away or the log is
  // closed, from `start`: the events after start.after_sequence that are
  // held, then each new one as it is published. A kResync event (sequence:
  // the last event's, time: `clock`'s now) comes first instead when
  // after_sequence is 0 (kStart), when start.incarnation is not
  // `incarnation` (kNewIncarnation), or when an event after it is no longer
  // held (kEventsDropped); and mid-stream when the reader fell behind the
  // ring (kEventsDropped): the watch then goes on after the last event.
  // Returns CANCELLED when the reader went away; UNAVAILABLE once closed;
  // INVALID_ARGUMENT naming after_sequence when it is negative, or beyond
  // the last event on this incarnation. Calls `reader` from this thread only,
  // with no lock held.
  absl::Status Watch(const WatchStart& start, absl::string_view incarnation, Clock& clock,
                     const StudyEventReader& reader, absl::Duration poll = kWatchPoll)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Events after `after`, at most `max` of them, in order.
  struct Batch {
    std::vector<std::shared_ptr<const StudyEvent>> events;
    // An event after `after` is no longer held: nothing was copied.
    bool dropped = false;
    int64_t last_sequence = 0;
    bool closed = false;
  };
  Batch ReadAfter(int64_t after, size_t max) const ABSL_LOCKS_EXCLUDED(mu_);
  // Returns once an event after `after` is held, the log is closed, or
  // `timeout` (real time) has passed.
  void WaitAfter(int64_t after, absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);
  // Where a watch begins: the sequence it goes on after, and the resync to
  // send first, if any.
  struct Beginning {
    int64_t after = 0;
    std::optional<ResyncReason> resync;
  };
  // Watch's beginning for `start`, or INVALID_ARGUMENT.
  absl::StatusOr<Beginning> Begin(const WatchStart& start, absl::string_view incarnation) const
      ABSL_LOCKS_EXCLUDED(mu_);
  void CountWatcher(int delta) ABSL_LOCKS_EXCLUDED(mu_);

  const int64_t capacity_;

  mutable absl::Mutex mu_;
  mutable absl::CondVar published_;  // Signalled on Publish and Close.
  // Event `s` is ring_[(s - 1) % capacity_] while held: the ring fills up,
  // then each new event replaces the oldest.
  std::vector<std::shared_ptr<const StudyEvent>> ring_ ABSL_GUARDED_BY(mu_);
  int64_t last_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int watchers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_STUDY_EVENTS_H_
