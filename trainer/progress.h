// How the training loop tells its caller about progress, and how the caller
// answers "stop": an interface, so the trial program can write trial-protocol
// reports while tests and other callers record or stop as they like.
//
// Thread-safety: the loop calls a sink from the thread that runs it, one call
// at a time; implementations need no locking of their own for that.
#ifndef VERNIER_TRAINER_PROGRESS_H_
#define VERNIER_TRAINER_PROGRESS_H_

#include <string>

#include "common/trial_protocol.h"

namespace vernier {

// What one finished epoch produced.
struct EpochSummary {
  int epoch = 0;          // 1 for the first epoch.
  int num_epochs = 0;     // Planned epochs.
  double train_loss = 0;  // Mean data loss over the epoch's batches (no penalty).
  MetricMap val_metrics;  // "val_accuracy" (0..1) and "val_loss" (mean cross-entropy).
  double seconds = 0;     // Wall time of the epoch, validation included.
};

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;

  // Called after each epoch. Returns true to go on training, false to stop
  // after this epoch (the trial still ends with its test evaluation).
  virtual bool OnEpoch(const EpochSummary& summary) = 0;

  // Called after a checkpoint of `epoch` was written, complete, to the
  // directory `dir`, before that epoch's OnEpoch. Default: nothing.
  virtual void OnCheckpoint(int /*epoch*/, const std::string& /*dir*/) {}
};

}  // namespace vernier

#endif  // VERNIER_TRAINER_PROGRESS_H_
