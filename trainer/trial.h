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
  const char* trial_dir = nullptr;    // Value of VERNIER_TRIAL_DIR; nullptr when unset.
  // Value of VERNIER_ARTIFACT_DIR; nullptr when unset. The trained model is
  // saved to <it>/model/ (else <trial_dir>/artifacts/model/; with neither, not
  // saved, but its size and latency are still reported).
  const char* artifact_dir = nullptr;
  // The parameter file the options came from, for the model's manifest;
  // nullptr: the manifest's params hold no file values, only defaults.
  const char* params_file = nullptr;
  std::FILE* log = nullptr;  // Short human-readable lines; nullptr for none.
};

// Runs the trial `options` describe, calling `sink` after every epoch (a false
// answer ends training early). Returns the final metrics: the validation
// metrics of the epoch whose weights the model ends with (the best one under
// early stopping) and the same metrics on the test set, "test_*" (see
// Evaluate in trainer/training.h for the names), and the model's cost:
// "params" (trainable values), "model_bytes" (its TorchScript file) and
// "latency_ms" (median forward time of a batch of one example on the trial's
// device). The model is saved as in trainer/model_manifest.h (see
// TrialEnvironment::artifact_dir). The test confusion matrix goes
// to env.log as one JSON line, since a MetricMap holds numbers only.
// With checkpoint_every > 0 it writes $VERNIER_TRIAL_DIR/checkpoint/ every so
// many epochs; with resume_from it starts from that checkpoint's epoch + 1.
// precision bf16 autocasts on CUDA and is ignored (with a log line) on the CPU,
// so that one study can run on CPU and GPU workers alike.
// Errors: INVALID_ARGUMENT for bad environment values, a split that leaves no
// training examples, a model, loss or early-stopping metric that does not fit
// the data (naming the parameters), or checkpoint_every without a trial
// directory; FAILED_PRECONDITION when VERNIER_DEVICE=cuda but CUDA is not
// available; the data loading errors (NOT_FOUND, DATA_LOSS, INVALID_ARGUMENT,
// each naming the file) and those of LoadCheckpoint/SaveCheckpoint;
// RESOURCE_EXHAUSTED when memory runs out; INTERNAL for any other libtorch
// error.
absl::StatusOr<MetricMap> RunTrial(const TrainOptions& options, const TrialEnvironment& env,
                                   ProgressSink& sink);

}  // namespace vernier

#endif  // VERNIER_TRAINER_TRIAL_H_
