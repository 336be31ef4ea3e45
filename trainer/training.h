// The training loop of the built-in trainer and its parts: data as device
// tensors, loss, optimizers, learning-rate schedule, L1/L2 penalty, one epoch,
// evaluation with metrics, early stopping and checkpoints.
//
// Internal to trainer/: these functions let libtorch exceptions (c10::Error)
// through. RunTrial (trainer/trial.h) is the edge that turns them into a
// Status; only it and tests call in here.
//
// Thread-safety: functions touch only their arguments (and libtorch's default
// generator, for dropout and augmentation), but a module, optimizer or
// generator must be used by one thread at a time.
#ifndef VERNIER_TRAINER_TRAINING_H_
#define VERNIER_TRAINER_TRAINING_H_

#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/trial_protocol.h"
#include "trainer/augment.h"
#include "trainer/data.h"
#include "trainer/models.h"
#include "trainer/options.h"
#include "trainer/progress.h"

namespace vernier {

// One split on the training device: inputs [N, ...] (float images or
// features, int64 tokens) and targets [N] (int64 class ids, or float
// regression targets, standardised; see DeviceData). Copies share storage.
struct DeviceSplit {
  torch::Tensor inputs;
  torch::Tensor targets;

  int64_t size() const { return targets.size(0); }
  // Returns rows [begin, begin + count) as views, without copying.
  // REQUIRES: 0 <= begin, begin + count <= size().
  DeviceSplit Slice(int64_t begin, int64_t count) const;
};

// A whole data set on the training device, for the whole trial.
struct DeviceData {
  TaskKind task = TaskKind::kClassification;
  InputKind input = InputKind::kImageBytes;
  std::vector<int64_t> example_shape;
  int num_classes = 0;
  int64_t vocab_size = 0;
  // Regression targets are trained on as (y - target_mean) / target_std (the
  // training targets' statistics); metrics are reported in the original units.
  double target_mean = 0;
  double target_std = 1;
  DeviceSplit train;
  DeviceSplit val;
  DeviceSplit test;
};

// Copies `data` to `device`, one copy per buffer: image bytes become floats
// standardised with the training images' pixel mean and std (a std of 0
// counts as 1), features stay as loaded, tokens become int64. Returns
// INVALID_ARGUMENT when a split's buffer does not hold count * prod(shape)
// values or lacks its labels or targets, or the training split is empty.
absl::StatusOr<DeviceData> ToDevice(const LoadedData& data, torch::Device device);

enum class LossKind { kCrossEntropy, kBce, kMse, kKlDiv };

// The loss and what it needs to know about the task.
struct Objective {
  TaskKind task = TaskKind::kClassification;
  LossKind loss = LossKind::kCrossEntropy;
  int num_classes = 0;
  double label_smoothing = 0;

  // Width of the model's output layer: 1 for regression and bce, else
  // num_classes.
  int64_t outputs() const;
};

// Returns the objective for parameter `loss` ("auto", "cross_entropy", "bce",
// "mse", "kl_div") on `data`. Returns INVALID_ARGUMENT naming loss and the
// task when they do not fit: mse on classes, a classification loss on
// regression targets, bce with other than two classes.
absl::StatusOr<Objective> ChooseObjective(const std::string& loss, double label_smoothing,
                                          const DeviceData& data);

// Returns the mean loss of model outputs [N, outputs()] against `targets`
// (summed instead when `sum`):
//   cross_entropy  softmax cross-entropy with label smoothing;
//   bce            sigmoid binary cross-entropy of output 0 against class 1;
//   kl_div         KL(smoothed one-hot || softmax(outputs)): the same gradient
//                  as cross_entropy, a value smaller by the targets' entropy;
//   mse            mean squared error of output 0.
torch::Tensor DataLoss(const torch::Tensor& outputs, const torch::Tensor& targets,
                       const Objective& objective, bool sum = false);

// Returns the optimizer options.optimizer names over `parameters`, with
// options.lr, and torch's semantics (torch::optim::*):
//   "gd", "sgd"  w -= lr * g                   (gd: TrainEpoch uses one batch)
//   "momentum"   b = momentum * b + g; w -= lr * b, or w -= lr * (g + momentum * b)
//                with nesterov
//   "adam"       betas (beta1, beta2), eps; weight_decay coupled (added to g)
//   "adamw"      as adam, weight_decay decoupled: w -= lr * weight_decay * w
//   "rmsprop"    alpha 0.99, eps, momentum
//   "adagrad"    eps
// weight_decay is torch's coupled decay for every optimizer but adamw.
// sgd, gd, momentum, adam and adamw step with foreach_optimizers.h (the same
// arithmetic in fewer kernel launches).
// Returns INVALID_ARGUMENT for any other name.
absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> MakeOptimizer(
    const TrainOptions& options, std::vector<torch::Tensor> parameters);

// Returns the factor by which the learning rate of epoch `epoch` (0-based) is
// multiplied: a linear warm-up, factor (epoch + 1) / (warmup_epochs + 1) while
// epoch < warmup_epochs, then the schedule over the t = epoch - warmup_epochs
// epochs after it: constant 1; step gamma^floor(t / step_size); cosine
// (1 + cos(pi * t / T)) / 2 with T = epochs - warmup_epochs.
double LearningRateFactor(const TrainOptions& options, int epoch);

// Sets the learning rate of every parameter group of `optimizer` to `lr`.
void SetLearningRate(torch::optim::Optimizer& optimizer, double lr);

// The parameters of `module` that the L1/L2 penalty applies to: those whose
// names end in "weight" (biases are not penalised).
std::vector<torch::Tensor> PenalisedWeights(const torch::nn::Module& module);

// Returns l1 * sum(|w|) + l2 * sum(w^2) over PenalisedWeights(module), as a
// scalar tensor on the parameters' device; a zero scalar without graph when
// both are 0.
torch::Tensor WeightPenalty(const torch::nn::Module& module, double l1, double l2);

// Adds the gradient of the penalty over `weights` (PenalisedWeights of a
// module), l1 * sign(w) + 2 * l2 * w, to each one's gradient (creating it
// where missing). The same update as backpropagating WeightPenalty, in 3
// kernels per weight instead of about 16 (see TrainEpoch).
void AddWeightPenaltyGradients(const std::vector<torch::Tensor>& weights, double l1, double l2);

// Sets the gradients of `parameters` to undefined (torch's zero_grad with
// set_to_none): backward then writes fresh gradients instead of adding to
// zeroed ones, and no kernel runs to zero them.
void ClearGradients(const std::vector<torch::Tensor>& parameters);

// Trains `model` for one pass over `train` in batches of options.batch_size
// (all of it for optimizer "gd"; the last batch may be smaller), in the order
// of a permutation drawn from `generator` (a CPU generator). Per batch: the
// augmentation of `augment` (images only), the gradient of DataLoss +
// WeightPenalty (the penalty's part added by AddWeightPenaltyGradients: the
// step is launch-bound for small models on a GPU, and the penalty through
// autograd was a third of the kernels), gradient clipping to
// options.clip_norm (0 = off), one optimizer step; in
// bf16 autocast when `bf16` (CUDA only). Returns the mean data loss over the
// pass, without the penalty.
double TrainEpoch(NetImpl& model, torch::optim::Optimizer& optimizer, const DeviceSplit& train,
                  const Objective& objective, const TrainOptions& options,
                  const AugmentOptions& augment, bool bf16, at::Generator& generator);

// Returns the metrics of `model` on `data`, each named prefix + "_" + name:
//   classification: loss, accuracy, precision_macro, recall_macro, f1_macro,
//                   and for two classes precision, recall, f1 (class 1 positive);
//   regression:     loss (standardised units), mse, rmse, mae (target units).
// In eval mode and without gradients; leaves the model in train mode. When
// `confusion` is not null it receives the confusion matrix (classification).
MetricMap Evaluate(NetImpl& model, const DeviceSplit& data, const DeviceData& info,
                   const Objective& objective, const std::string& prefix, bool bf16,
                   std::vector<std::vector<int64_t>>* confusion = nullptr);

// A copy of a module's parameters and buffers, to restore later.
std::vector<torch::Tensor> SnapshotState(torch::nn::Module& module);
// REQUIRES: `state` came from SnapshotState of a module of the same structure.
void RestoreState(torch::nn::Module& module, const std::vector<torch::Tensor>& state);

// Where early stopping stands after some epochs: what a resumed run needs to
// stop, and to restore the best weights, exactly as the uninterrupted run.
struct EarlyStoppingState {
  std::string metric;  // The watched metric; a state of another one is not continued.
  int epochs = 0;      // Epochs recorded (Update calls).
  int best_epoch = 0;  // 1-based among them; 0 before any Update.
  double best = 0;     // The watched metric's value at best_epoch.
  std::vector<torch::Tensor> best_weights;  // SnapshotState at best_epoch.
};

// Early stopping inside a trial: watches one validation metric, remembers the
// weights of the best epoch, and says when `patience` epochs passed without an
// improvement of more than min_delta.
class EarlyStopping {
 public:
  // patience 0 turns stopping off (the best weights are still remembered).
  EarlyStopping(std::string metric, int patience, double min_delta);

  // Records an epoch's validation metrics and the model's weights if they are
  // the best so far. Returns true when training should stop.
  // REQUIRES: `metrics` holds the watched metric.
  bool Update(const MetricMap& metrics, torch::nn::Module& model);

  // Whether the epochs recorded so far already call for a stop: true for a
  // run resumed from the checkpoint of the epoch that stopped it.
  bool ShouldStop() const;

  // Puts the best epoch's weights back into `model`; no-op before any Update.
  void RestoreBest(torch::nn::Module& model) const;
  int best_epoch() const { return state_.best_epoch; }  // 1-based; 0 before any Update.
  int epochs() const { return state_.epochs; }

  // The state to save with a checkpoint, and to continue from. The tensors
  // are shared, not copied: save them before the next Update.
  const EarlyStoppingState& state() const { return state_; }
  // Continues from `state` as if its epochs had been recorded here.
  // REQUIRES: state.metric is this object's metric; best_weights came from
  // SnapshotState of a module of the watched model's structure.
  void Restore(EarlyStoppingState state);

 private:
  int patience_;
  double min_delta_;
  EarlyStoppingState state_;
};

// Writes `dir`/model.pt, `dir`/optimizer.pt and then `dir`/state.json
// ({"epoch": epoch}), creating `dir`; each file is written under a temporary
// name and renamed, so a reader sees either the old or the new checkpoint.
// With `early_stopping` (not null, after at least one Update) it also writes
// the best weights to `dir`/early_stopping.pt and the rest of its state to
// state.json's "early_stopping" object, so that a resumed run continues it.
// Returns INTERNAL naming the file on failure.
absl::Status SaveCheckpoint(const std::string& dir, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, int epoch,
                            const EarlyStopping* early_stopping = nullptr);

// Loads a checkpoint SaveCheckpoint wrote into `model` and `optimizer` (which
// must have the checkpoint's structure), tensors onto `device`, and returns
// its epoch. The optimizer's settings (momentum, betas, eps, weight decay) stay
// its own: only its state comes from the checkpoint, so a trial resuming from
// another trial's checkpoint trains with its own parameters. Returns NOT_FOUND when a file is
// missing, INVALID_ARGUMENT (naming the file) when a file does not match.
absl::StatusOr<int> LoadCheckpoint(const std::string& dir, torch::nn::Module& model,
                                   torch::optim::Optimizer& optimizer, torch::Device device);

// Returns the early-stopping state saved with the checkpoint in `dir`, its
// best weights on `device`, or nullopt when it holds none (a checkpoint
// written without early stopping, or before early stopping was saved).
// Returns NOT_FOUND when state.json or early_stopping.pt is missing, and
// INVALID_ARGUMENT naming the file when state.json's "early_stopping" is
// malformed or the weights do not fit `model`'s parameters and buffers.
absl::StatusOr<std::optional<EarlyStoppingState>> LoadEarlyStoppingState(const std::string& dir,
                                                                         torch::nn::Module& model,
                                                                         torch::Device device);

// Where and how the training loop keeps checkpoints and logs.
struct TrainRun {
  int first_epoch = 1;         // > 1 when resuming from a checkpoint.
  std::string checkpoint_dir;  // Written every options.checkpoint_every epochs.
  bool bf16 = false;           // Autocast (CUDA only).
  std::FILE* log = nullptr;    // Short lines (early stopping); nullptr for none.
};

// Runs epochs run.first_epoch..options.epochs of TrainEpoch (learning rate
// options.lr * LearningRateFactor), evaluating on data.val after each and
// calling `sink`. Stops when the sink answers false, early stopping says so,
// or the training loss is not finite (the run diverged). With patience > 0
// the best epoch's weights are restored at the end. Returns the validation
// metrics of the epoch whose weights the model ends with, or an error from
// SaveCheckpoint or LoadEarlyStoppingState.
//
// Resuming (options.resume_from set, its model and optimizer already loaded,
// run.first_epoch after its epoch): the early-stopping state saved with that
// checkpoint is continued, so the resumed run stops, and restores the best
// weights, as the uninterrupted run would have; the learning rate, data order,
// dropout and augmentation depend on (seed, epoch) only. A checkpoint without
// that state (patience 0, or an older one) starts early stopping afresh.
//
// Refit (options.refit): trains on data.train and data.val together for every
// epoch up to options.epochs, with early stopping off, and evaluates each
// epoch on data.test instead (on data.val when the test split is empty, said
// in run.log); the metrics keep their "val_" names.
//
// REQUIRES: `optimizer` was made over model's parameters; the early-stopping
// metric is among Evaluate's metrics for this task.
absl::StatusOr<MetricMap> Train(NetImpl& model, torch::optim::Optimizer& optimizer,
                                const DeviceData& data, const Objective& objective,
                                const TrainOptions& options, const TrainRun& run,
                                ProgressSink& sink);

}  // namespace vernier

#endif  // VERNIER_TRAINER_TRAINING_H_
