// The training loop of the built-in trainer and its parts: data as device
// tensors, the optimizers, the L1/L2 penalty, one epoch, evaluation.
//
// Internal to trainer/: these functions let libtorch exceptions (c10::Error)
// through. RunTrial (trainer/trial.h) is the edge that turns them into a
// Status; only it and tests call in here.
//
// Thread-safety: functions touch only their arguments, but a module, optimizer
// or generator must be used by one thread at a time.
#ifndef VERNIER_TRAINER_TRAINING_H_
#define VERNIER_TRAINER_TRAINING_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/trial_protocol.h"
#include "trainer/idx.h"
#include "trainer/model.h"
#include "trainer/options.h"
#include "trainer/progress.h"

namespace vernier {

// Labelled images on one device: images float [N, 1, rows, cols], labels
// int64 [N]. Copies share storage (tensors are handles).
struct TensorDataset {
  torch::Tensor images;
  torch::Tensor labels;

  int64_t size() const { return labels.size(0); }
  // Returns rows [begin, begin + count) as views, without copying.
  // REQUIRES: 0 <= begin, begin + count <= size().
  TensorDataset Slice(int64_t begin, int64_t count) const;
};

// Returns `data` on `device`, pixels scaled to [0, 1]. One copy per tensor;
// the tensors do not refer to `data` afterwards.
TensorDataset ToTensors(const LabeledImages& data, torch::Device device);

// Mean and standard deviation of `images`' pixels (a std of 0 becomes 1, so
// standardising never divides by zero).
struct PixelStats {
  double mean = 0;
  double std = 1;
};
PixelStats ComputePixelStats(const torch::Tensor& images);

// Standardises `images` in place (all views of its storage see it):
// x = (x - mean) / std.
void Standardize(const PixelStats& stats, const torch::Tensor& images);

// Returns the optimizer options.optimizer names over `parameters`:
//   "sgd"      w -= lr * g
//   "momentum" b = momentum * b + g; w -= lr * b   (torch SGD, no dampening)
//   "adam"     torch Adam (betas 0.9, 0.999; eps 1e-8), no weight decay.
// Returns INVALID_ARGUMENT for any other name.
absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> MakeOptimizer(
    const TrainOptions& options, std::vector<torch::Tensor> parameters);

// Returns l1 * sum(|w|) + l2 * sum(w^2) over the parameters of `module` whose
// names end in "weight" (biases are not penalised), as a scalar tensor on the
// parameters' device; a zero scalar without graph when both are 0.
torch::Tensor WeightPenalty(const torch::nn::Module& module, double l1, double l2);

// Trains `model` for one pass over `train` in batches of `batch_size` (the
// last one may be smaller), in the order of a permutation drawn from
// `generator` (a CPU generator). The loss per batch is the mean cross-entropy
// plus WeightPenalty. Returns the mean cross-entropy over the pass, without
// the penalty.
double TrainEpoch(Cnn& model, torch::optim::Optimizer& optimizer, const TensorDataset& train,
                  const TrainOptions& options, at::Generator& generator);

struct Evaluation {
  double accuracy = 0;  // Share of images classified right, 0..1.
  double loss = 0;      // Mean cross-entropy.
};

// Returns accuracy and loss of `model` on `data`, in eval mode and without
// gradients; leaves the model in train mode.
Evaluation Evaluate(Cnn& model, const TensorDataset& data);

// Runs up to options.epochs epochs of TrainEpoch, evaluating on `val` after
// each and calling `sink`. Stops early when the sink answers false or the
// training loss is not finite (the run diverged). Returns the validation
// metrics of the last epoch run ("val_accuracy", "val_loss").
// REQUIRES: options.epochs >= 1; `optimizer` was made over model's parameters.
MetricMap Train(Cnn& model, torch::optim::Optimizer& optimizer, const TensorDataset& train,
                const TensorDataset& val, const TrainOptions& options, ProgressSink& sink);

}  // namespace vernier

#endif  // VERNIER_TRAINER_TRAINING_H_
