// WorkerObserver: what a Worker tells whoever counts its trials (the
// Prometheus metrics of vernier-worker, worker/worker_metrics.h). A narrow
// hook, so that the pull loop stays free of any metrics library.
//
// Thread-safety: implementations must be thread-safe; each slot's thread
// calls them. They must be quick and must not call the Worker.
#ifndef VERNIER_WORKER_WORKER_OBSERVER_H_
#define VERNIER_WORKER_WORKER_OBSERVER_H_

namespace vernier::worker {

// How a trial left its slot.
enum class TrialEnding {
  kComplete,  // Reported COMPLETE.
  kPruned,    // Reported PRUNED (the coordinator said stop).
  kFailed,    // Reported FAILED (crash, time limit, bad output, start failure).
  kReleased,  // Handed back unfinished (drain), to run again elsewhere.
  kDropped,   // Left without a word: its lease was lost, or the worker shut down.
};

// "COMPLETE", "PRUNED", "FAILED", "RELEASED", "DROPPED".
inline const char* TrialEndingName(TrialEnding ending) {
  switch (ending) {
    case TrialEnding::kComplete:
      return "COMPLETE";
    case TrialEnding::kPruned:
      return "PRUNED";
    case TrialEnding::kFailed:
      return "FAILED";
    case TrialEnding::kReleased:
      return "RELEASED";
    case TrialEnding::kDropped:
      return "DROPPED";
  }
  return "DROPPED";
}

class WorkerObserver {
 public:
  virtual ~WorkerObserver() = default;
  // A slot leased a trial and is busy from now until TrialEnded.
  virtual void TrialStarted() = 0;
  // The trial of a slot ended as `ending`; the slot is idle again.
  virtual void TrialEnded(TrialEnding ending) = 0;
};

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_WORKER_OBSERVER_H_
