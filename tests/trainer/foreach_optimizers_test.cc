#include "trainer/foreach_optimizers.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "trainer/training.h"

namespace vernier {
namespace {

namespace optim = torch::optim;

using MakeFn = std::function<std::unique_ptr<optim::Optimizer>(std::vector<torch::Tensor>)>;

// Three parameter tensors of different shapes, the same values for every call.
std::vector<torch::Tensor> Parameters() {
  torch::manual_seed(3);
  return {torch::randn({4, 3}).requires_grad_(), torch::randn({3}).requires_grad_(),
          torch::randn({2, 2, 2}).requires_grad_()};
}

// A loss whose gradient differs per element and per step.
torch::Tensor Loss(const std::vector<torch::Tensor>& parameters, int step) {
  torch::Tensor loss = torch::zeros({});
  for (size_t i = 0; i < parameters.size(); ++i) {
    const double scale = 1.0 + 0.5 * static_cast<double>(i) + 0.1 * step;
    loss = loss + (scale * parameters[i].pow(2)).sum() + parameters[i].sin().sum();
  }
  return loss;
}

// Runs `steps` steps; parameter 1 gets no gradient in the steps listed in
// `skip_second` (its Adam step count then falls behind the others').
std::vector<torch::Tensor> StepsOf(const MakeFn& make, int steps,
                                   const std::vector<int>& skip_second = {}) {
  std::vector<torch::Tensor> parameters = Parameters();
  std::unique_ptr<optim::Optimizer> optimizer = make(parameters);
  for (int step = 0; step < steps; ++step) {
    ClearGradients(parameters);
    std::vector<torch::Tensor> used = parameters;
    if (std::find(skip_second.begin(), skip_second.end(), step) != skip_second.end()) {
      used.erase(used.begin() + 1);
    }
    Loss(used, step).backward();
    optimizer->step();
  }
  return parameters;
}

void ExpectSame(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& want,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(torch::allclose(got[i], want[i], /*rtol=*/1e-6, /*atol=*/1e-7))
        << what << " parameter " << i << "\n"
        << got[i] << "\n"
        << want[i];
    // And the optimizer moved it: a no-op step would also "match" at step 0.
    EXPECT_FALSE(torch::equal(got[i], Parameters()[i])) << what << " parameter " << i;
  }
}

template <typename Optimizer, typename Options>
MakeFn Maker(const Options& options) {
  return [options](std::vector<torch::Tensor> parameters) {
    return std::make_unique<Optimizer>(std::move(parameters), options);
  };
}

TEST(ForeachOptimizerTest, SgdVariantsMatchTorch) {
  const std::vector<optim::SGDOptions> variants = {
      optim::SGDOptions(0.05),
      optim::SGDOptions(0.05).weight_decay(0.1),
      optim::SGDOptions(0.05).momentum(0.9),
      optim::SGDOptions(0.05).momentum(0.8).dampening(0.3).weight_decay(0.01),
      optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(0.01),
  };
  for (size_t v = 0; v < variants.size(); ++v) {
    ExpectSame(StepsOf(Maker<ForeachSgd>(variants[v]), 6),
               StepsOf(Maker<optim::SGD>(variants[v]), 6), "sgd variant " + std::to_string(v));
    ExpectSame(StepsOf(Maker<ForeachSgd>(variants[v]), 6, {0, 3}),
               StepsOf(Maker<optim::SGD>(variants[v]), 6, {0, 3}),
               "sgd variant with skipped gradients " + std::to_string(v));
  }
}

TEST(ForeachOptimizerTest, AdamAndAdamwMatchTorch) {
  const auto adam = optim::AdamOptions(0.01).betas({0.8, 0.95}).eps(1e-4).weight_decay(0.05);
  const auto adamw = optim::AdamWOptions(0.01).betas({0.8, 0.95}).eps(1e-4).weight_decay(0.05);
  ExpectSame(StepsOf(Maker<ForeachAdam>(adam), 7), StepsOf(Maker<optim::Adam>(adam), 7), "adam");
  ExpectSame(StepsOf(Maker<ForeachAdamW>(adamw), 7), StepsOf(Maker<optim::AdamW>(adamw), 7),
             "adamw");
  // Parameter 1 skips steps 2 and 4: the step counts differ from then on, and
  // the torch step (the fallback) must carry on from the foreach state.
  ExpectSame(StepsOf(Maker<ForeachAdam>(adam), 7, {2, 4}),
             StepsOf(Maker<optim::Adam>(adam), 7, {2, 4}), "adam, skipped gradients");
  ExpectSame(StepsOf(Maker<ForeachAdamW>(adamw), 7, {0}),
             StepsOf(Maker<optim::AdamW>(adamw), 7, {0}), "adamw, skipped first gradient");
  // AMSGrad is left to torch.
  const auto amsgrad = optim::AdamOptions(0.01).amsgrad(true);
  ExpectSame(StepsOf(Maker<ForeachAdam>(amsgrad), 5), StepsOf(Maker<optim::Adam>(amsgrad), 5),
             "amsgrad");
}

// The state lives where torch keeps it: a ForeachAdam saved mid-run and loaded
// into a torch Adam (a checkpoint written by one, read by the other) continues
// exactly as an uninterrupted torch Adam.
TEST(ForeachOptimizerTest, StateIsInterchangeableWithTorchs) {
  const auto options = optim::AdamOptions(0.02).betas({0.7, 0.9});
  const std::vector<torch::Tensor> want = StepsOf(Maker<optim::Adam>(options), 6);

  std::vector<torch::Tensor> parameters = Parameters();
  ForeachAdam first(parameters, options);
  for (int step = 0; step < 3; ++step) {
    ClearGradients(parameters);
    Loss(parameters, step).backward();
    first.step();
  }
  std::ostringstream saved;
  {
    torch::serialize::OutputArchive archive;
    first.save(archive);
    archive.save_to(saved);
  }
  optim::Adam second(parameters, options);
  {
    std::istringstream in(saved.str());
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    second.load(archive);
  }
  for (int step = 3; step < 6; ++step) {
    ClearGradients(parameters);
    Loss(parameters, step).backward();
    second.step();
  }
  ExpectSame(parameters, want, "foreach then torch");
}

}  // namespace
}  // namespace vernier
