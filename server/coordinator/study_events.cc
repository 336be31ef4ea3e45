#include "server/coordinator/study_events.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace vernier {

std::vector<StudyEvent> EventsOfChange(const ChangeNote& note,
                                       const std::vector<TrialRecord>& trials,
                                       const std::vector<ObjectiveSpec>& objectives,
                                       absl::Time time) {
  std::vector<StudyEvent> events;
  events.reserve(note.measurements.size() + note.trials.size() + 1);
  for (const auto& [number, measurement] : note.measurements) {
    StudyEvent& event = events.emplace_back();
    event.time = time;
    event.kind = StudyEventKind::kMeasurement;
    event.trial_number = number;
    event.measurement = measurement;
  }
  for (const auto& [number, before] : note.trials) {
    StudyEvent& event = events.emplace_back();
    event.time = time;
    event.kind = before ? StudyEventKind::kTrialChanged : StudyEventKind::kTrialCreated;
    event.trial = ListedOf(trials[number], objectives, /*omit_intermediate=*/true);
    event.trial_number = number;
    if (before) event.previous_state = *before;
  }
  if (note.study_state) {
    StudyEvent& event = events.emplace_back();
    event.time = time;
    event.kind = StudyEventKind::kStudyStateChanged;
    event.study_state = note.study_state->first;
    event.study_state_reason = note.study_state->second;
  }
  return events;
}

StudyEventLog::StudyEventLog(int64_t capacity) : capacity_(capacity) {}

int64_t StudyEventLog::Publish(StudyEvent event) {
  // Made before the lock is taken; the event it replaces is freed after the
  // lock is released (declared before it, destroyed after it).
  auto shared = std::make_shared<StudyEvent>(std::move(event));
  std::shared_ptr<const StudyEvent> replaced;
  absl::MutexLock lock(&mu_);
  shared->sequence = ++last_;
  if (static_cast<int64_t>(ring_.size()) < capacity_) {
    ring_.push_back(std::move(shared));
  } else {
    replaced = std::exchange(ring_[(last_ - 1) % capacity_], std::move(shared));
  }
  published_.SignalAll();
  return last_;
}

int64_t StudyEventLog::last_sequence() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_;
}

int StudyEventLog::watchers() const {
  absl::ReaderMutexLock lock(&mu_);
  return watchers_;
}

void StudyEventLog::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  published_.SignalAll();
}

void StudyEventLog::CountWatcher(int delta) {
  absl::MutexLock lock(&mu_);
  watchers_ += delta;
}

StudyEventLog::Batch StudyEventLog::ReadAfter(int64_t after, size_t max) const {
  absl::ReaderMutexLock lock(&mu_);
  Batch batch;
  batch.last_sequence = last_;
  batch.closed = closed_;
  const int64_t oldest = last_ - static_cast<int64_t>(ring_.size()) + 1;
  if (after + 1 < oldest) {
    batch.dropped = true;
    return batch;
  }
  for (int64_t sequence = after + 1; sequence <= last_ && batch.events.size() < max; ++sequence) {
    batch.events.push_back(ring_[(sequence - 1) % capacity_]);
  }
  return batch;
}

void StudyEventLog::WaitAfter(int64_t after, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (last_ <= after && !closed_) {
    if (published_.WaitWithDeadline(&mu_, deadline)) return;  // Timed out.
  }
}

absl::StatusOr<StudyEventLog::Beginning> StudyEventLog::Begin(const WatchStart& start,
                                                              absl::string_view incarnation) const {
  const int64_t last = last_sequence();
  if (start.after_sequence < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("after_sequence: must be >= 0, got ", start.after_sequence));
  }
  if (start.after_sequence == 0) return Beginning{last, ResyncReason::kStart};
  if (start.incarnation != incarnation) return Beginning{last, ResyncReason::kNewIncarnation};
  if (start.after_sequence > last) {
    return absl::InvalidArgumentError(absl::StrCat("after_sequence: ", start.after_sequence,
                                                   " is beyond the study's last event (", last,
                                                   ") on this server"));
  }
  // Events no longer held are found by the first read.
  return Beginning{start.after_sequence, std::nullopt};
}

absl::Status StudyEventLog::Watch(const WatchStart& start, absl::string_view incarnation,
                                  Clock& clock, const StudyEventReader& reader,
                                  absl::Duration poll) {
  CountWatcher(+1);
  absl::Cleanup uncount = [this] { CountWatcher(-1); };
  const auto gone = [] { return absl::CancelledError("the watcher went away"); };
  // A resync the watch makes: the events up to `last` are in what the
  // watcher reads next.
  const auto resync = [&](ResyncReason reason, int64_t last) {
    StudyEvent event;
    event.sequence = last;
    event.time = clock.Now();
    event.resync_reason = reason;
    return reader.send(event);
  };
  ASSIGN_OR_RETURN(const Beginning beginning, Begin(start, incarnation));
  int64_t after = beginning.after;
  if (beginning.resync && !resync(*beginning.resync, after)) return gone();
  while (true) {
    if (reader.cancelled()) return gone();
    Batch batch = ReadAfter(after, kWatchBatch);
    if (batch.closed) {
      return absl::UnavailableError(
          absl::StrCat("the server is stopping; watch again to resume after sequence ", after));
    }
    if (batch.dropped) {
      // Fell behind the ring: skip to the newest event.
      after = batch.last_sequence;
      if (!resync(ResyncReason::kEventsDropped, after)) return gone();
      continue;
    }
    if (batch.events.empty()) {
      WaitAfter(after, poll);
      continue;
    }
    if (reader.before_send) reader.before_send();
    for (const std::shared_ptr<const StudyEvent>& event : batch.events) {
      if (!reader.send(*event)) return gone();
      after = event->sequence;
    }
  }
}

}  // namespace vernier
