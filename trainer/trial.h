// One trial of the built-in trainer, start to end: pick device and threads,
// load the data set, split it, build the model, train with per-epoch progress,
// and evaluate on the test set. The library's only entry point for running
// training; it is also the edge where libtorch exceptions become a Status, so
// no exception leaves it. Torch-free header.
//
// Thread-safety: not thread-safe. It sets process-wide libtorch state (seed,
// intra-op thread count), so run one trial per process, as vernier-train does.
#ifndef VERNIER_TRAINER_TRIAL_H_
#define VERNIER_TRAINER_TRIAL_H_

#include <cstdio>

#include "absl/status/statusor.h"
#include "common/trial_protocol.h"
#include "trainer/options.h"
#include "trainer/progress.h"

namespace vernier {

// The trial program's environment, read by the caller (main) so that the
// library does not read globals.
struct TrialEnvironment {
  const char* device = nullptr;       // Value of VERNIER_DEVICE; nullptr when unset.
  const char* num_threads = nullptr;  // Value of VERNIER_NUM_THREADS; nullptr when unset.
  std::FILE* log = nullptr;           // Short human-readable lines; nullptr for none.
};

// Runs the trial `options` describe, calling `sink` after every epoch (a false
// answer ends training early). Returns the final metrics: "val_accuracy" and
// "val_loss" of the last epoch run, "test_accuracy" and "test_loss".
// Errors: INVALID_ARGUMENT for bad environment values or a split that leaves no
// training images; FAILED_PRECONDITION when VERNIER_DEVICE=cuda but CUDA is not
// available; the data loading errors of LoadDataset (NOT_FOUND, DATA_LOSS,
// INVALID_ARGUMENT, each naming the file); RESOURCE_EXHAUSTED when memory runs
// out; INTERNAL for any other libtorch error.
absl::StatusOr<MetricMap> RunTrial(const TrainOptions& options, const TrialEnvironment& env,
                                   ProgressSink& sink);

}  // namespace vernier

#endif  // VERNIER_TRAINER_TRIAL_H_
