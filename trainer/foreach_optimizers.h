// SGD (with or without momentum), Adam and AdamW whose step() updates all the
// parameters of a group with torch's multi-tensor `_foreach_*` operations.
//
// Why: torch::optim's C++ optimizers launch several kernels per parameter
// tensor per step (Adam: eight). For the small models a tuning study trains,
// on a GPU shared by several trials, those launches rather than the arithmetic
// bound the step time; a foreach operation updates every tensor of the group
// in one launch (on CUDA; on the CPU it loops, at no extra cost).
//
// Each class derives from the torch::optim class of the same name and keeps
// its state in the same places (the per-parameter state map, same keys and
// fields), so save() / load() and checkpoints are interchangeable with the
// torch class, and the arithmetic is the torch class's, term by term. A step
// falls back to the torch class's own step() where the foreach form would
// differ: AMSGrad, sparse gradients, or parameters of one group at different
// step counts (only after some parameters went without gradients).
#ifndef VERNIER_TRAINER_FOREACH_OPTIMIZERS_H_
#define VERNIER_TRAINER_FOREACH_OPTIMIZERS_H_

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace vernier {

class ForeachSgd : public torch::optim::SGD {
 public:
  ForeachSgd(std::vector<torch::Tensor> parameters, torch::optim::SGDOptions options)
      : torch::optim::SGD(std::move(parameters), std::move(options)) {}

  torch::Tensor step(LossClosure closure = nullptr) override;
};

class ForeachAdam : public torch::optim::Adam {
 public:
  ForeachAdam(std::vector<torch::Tensor> parameters, torch::optim::AdamOptions options)
      : torch::optim::Adam(std::move(parameters), std::move(options)) {}

  torch::Tensor step(LossClosure closure = nullptr) override;
};

class ForeachAdamW : public torch::optim::AdamW {
 public:
  ForeachAdamW(std::vector<torch::Tensor> parameters, torch::optim::AdamWOptions options)
      : torch::optim::AdamW(std::move(parameters), std::move(options)) {}

  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace vernier

#endif  // VERNIER_TRAINER_FOREACH_OPTIMIZERS_H_
