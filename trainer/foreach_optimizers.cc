#include "trainer/foreach_optimizers.h"

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>

namespace vernier {
namespace {

namespace optim = torch::optim;

// The key of a parameter in torch::optim::Optimizer::state(): libtorch 1.x
// keys by the TensorImpl address printed as text, 2.x by the address itself.
using StateMap = std::remove_reference_t<decltype(std::declval<optim::Optimizer&>().state())>;
using StateKey = StateMap::key_type;

// A template so that only the branch of this libtorch's key type compiles.
template <typename Key = StateKey>
Key KeyOf(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;  // As c10::guts::to_string prints the pointer.
    text << parameter.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// The parameters of `group` that have a gradient, and their gradients.
void ParametersWithGradients(const optim::OptimizerParamGroup& group,
                             std::vector<torch::Tensor>* parameters,
                             std::vector<torch::Tensor>* gradients) {
  for (const torch::Tensor& parameter : group.params()) {
    const torch::Tensor& gradient = parameter.grad();
    if (!gradient.defined()) continue;
    parameters->push_back(parameter);
    gradients->push_back(gradient);
  }
}

// torch's coupled weight decay: g + weight_decay * w, into new tensors (the
// gradients themselves are left as they are, as torch does).
std::vector<torch::Tensor> WithWeightDecay(const std::vector<torch::Tensor>& gradients,
                                           const std::vector<torch::Tensor>& parameters,
                                           double weight_decay) {
  if (weight_decay == 0) return gradients;
  return torch::_foreach_add(gradients, parameters, weight_decay);
}

// The Adam state of every parameter of `parameters`, created (zeros, step 0)
// where missing.
template <typename State>
void AdamStates(StateMap& state_map, const std::vector<torch::Tensor>& parameters,
                std::vector<State*>* states) {
  for (const torch::Tensor& parameter : parameters) {
    std::unique_ptr<optim::OptimizerParamState>& slot = state_map[KeyOf(parameter)];
    if (slot == nullptr) {
      auto state = std::make_unique<State>();
      state->step(0);
      state->exp_avg(torch::zeros_like(parameter, torch::MemoryFormat::Preserve));
      state->exp_avg_sq(torch::zeros_like(parameter, torch::MemoryFormat::Preserve));
      slot = std::move(state);
    }
    states->push_back(static_cast<State*>(slot.get()));
  }
}

// The Adam moment updates and the parameter update shared by Adam and AdamW,
// for parameters at one step count (already incremented to `step`):
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
//   w -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps).
template <typename State, typename Options>
void AdamUpdate(const std::vector<State*>& states, const std::vector<torch::Tensor>& gradients,
                std::vector<torch::Tensor>& parameters, const Options& options, int64_t step) {
  std::vector<torch::Tensor> exp_avgs, exp_avg_sqs;
  for (State* state : states) {
    exp_avgs.push_back(state->exp_avg());
    exp_avg_sqs.push_back(state->exp_avg_sq());
  }
  const auto [beta1, beta2] = options.betas();
  torch::_foreach_mul_(exp_avgs, beta1);
  torch::_foreach_add_(exp_avgs, gradients, 1 - beta1);
  torch::_foreach_mul_(exp_avg_sqs, beta2);
  torch::_foreach_addcmul_(exp_avg_sqs, gradients, gradients, 1 - beta2);
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  std::vector<torch::Tensor> denominators = torch::_foreach_sqrt(exp_avg_sqs);
  torch::_foreach_div_(denominators, std::sqrt(bias_correction2));
  torch::_foreach_add_(denominators, options.eps());
  torch::_foreach_addcdiv_(parameters, exp_avgs, denominators, -options.lr() / bias_correction1);
}

// One Adam or AdamW step over `group`, which passed CanStepAdamGroups.
template <typename State, typename Options>
void AdamGroupStep(StateMap& state_map, optim::OptimizerParamGroup& group, bool decoupled) {
  const auto& options = static_cast<const Options&>(group.options());
  std::vector<torch::Tensor> parameters, gradients;
  ParametersWithGradients(group, &parameters, &gradients);
  if (parameters.empty()) return;
  std::vector<State*> states;
  AdamStates(state_map, parameters, &states);
  const int64_t step = states.front()->step() + 1;
  for (State* state : states) state->step(step);
  if (decoupled) {
    if (options.weight_decay() != 0) {
      torch::_foreach_mul_(parameters, 1 - options.lr() * options.weight_decay());
    }
    AdamUpdate(states, gradients, parameters, options, step);
  } else {
    AdamUpdate(states, WithWeightDecay(gradients, parameters, options.weight_decay()), parameters,
               options, step);
  }
}

// Whether every group can take the foreach step: checked before any group
// changes, so that a fallback never steps a group twice.
template <typename Options>
bool NoAmsgrad(const std::vector<optim::OptimizerParamGroup>& groups) {
  for (const optim::OptimizerParamGroup& group : groups) {
    if (static_cast<const Options&>(group.options()).amsgrad()) return false;
  }
  return true;
}

bool HasSparseGradient(const std::vector<optim::OptimizerParamGroup>& groups) {
  for (const optim::OptimizerParamGroup& group : groups) {
    for (const torch::Tensor& parameter : group.params()) {
      if (parameter.grad().defined() && parameter.grad().is_sparse()) return true;
    }
  }
  return false;
}

// Whether the Adam states present for the parameters with gradients of each
// group agree on the step count (a missing state counts as step 0).
template <typename State>
bool AdamStepsAgree(StateMap& state_map, const std::vector<optim::OptimizerParamGroup>& groups) {
  for (const optim::OptimizerParamGroup& group : groups) {
    bool first = true;
    int64_t step = 0;
    for (const torch::Tensor& parameter : group.params()) {
      if (!parameter.grad().defined()) continue;
      const auto found = state_map.find(KeyOf(parameter));
      const int64_t this_step =
          found == state_map.end() ? 0 : static_cast<const State&>(*found->second).step();
      if (!first && this_step != step) return false;
      first = false;
      step = this_step;
    }
  }
  return true;
}

template <typename State, typename Options>
bool CanStepAdamGroups(StateMap& state_map, const std::vector<optim::OptimizerParamGroup>& groups) {
  return NoAmsgrad<Options>(groups) && !HasSparseGradient(groups) &&
         AdamStepsAgree<State>(state_map, groups);
}

// torch's SGD momentum over `updates` (the gradients with weight decay): the
// buffer b starts as the first update, then b = momentum b + (1 - dampening)
// u; returns the steps to take, b, or u + momentum b with Nesterov.
std::vector<torch::Tensor> MomentumUpdates(StateMap& state_map,
                                           const std::vector<torch::Tensor>& parameters,
                                           std::vector<torch::Tensor> updates,
                                           const optim::SGDOptions& options) {
  std::vector<torch::Tensor> buffers, old_buffers, old_updates;
  for (size_t i = 0; i < parameters.size(); ++i) {
    std::unique_ptr<optim::OptimizerParamState>& slot = state_map[KeyOf(parameters[i])];
    if (slot == nullptr) {
      auto state = std::make_unique<optim::SGDParamState>();
      state->momentum_buffer(torch::clone(updates[i]).detach());
      slot = std::move(state);
    } else {
      old_buffers.push_back(static_cast<optim::SGDParamState&>(*slot).momentum_buffer());
      old_updates.push_back(updates[i]);
    }
    buffers.push_back(static_cast<optim::SGDParamState&>(*slot).momentum_buffer());
  }
  if (!old_buffers.empty()) {
    torch::_foreach_mul_(old_buffers, options.momentum());
    torch::_foreach_add_(old_buffers, old_updates, 1 - options.dampening());
  }
  if (!options.nesterov()) return buffers;
  return torch::_foreach_add(updates, buffers, options.momentum());
}

// The closure's loss, with gradients enabled, as torch's optimizers do; an
// undefined tensor without a closure.
torch::Tensor LossOf(const optim::Optimizer::LossClosure& closure) {
  if (closure == nullptr) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

// One Adam or AdamW step over every group (which passed CanStepAdamGroups).
template <typename State, typename Options>
torch::Tensor AdamFamilyStep(StateMap& state_map, std::vector<optim::OptimizerParamGroup>& groups,
                             bool decoupled, const optim::Optimizer::LossClosure& closure) {
  torch::NoGradGuard no_grad;
  const torch::Tensor loss = LossOf(closure);
  for (optim::OptimizerParamGroup& group : groups) {
    AdamGroupStep<State, Options>(state_map, group, decoupled);
  }
  return loss;
}

}  // namespace

torch::Tensor ForeachSgd::step(LossClosure closure) {
  if (HasSparseGradient(param_groups_)) return optim::SGD::step(std::move(closure));
  torch::NoGradGuard no_grad;
  const torch::Tensor loss = LossOf(closure);
  for (optim::OptimizerParamGroup& group : param_groups_) {
    const auto& options = static_cast<const optim::SGDOptions&>(group.options());
    std::vector<torch::Tensor> parameters, gradients;
    ParametersWithGradients(group, &parameters, &gradients);
    if (parameters.empty()) continue;
    std::vector<torch::Tensor> updates =
        WithWeightDecay(gradients, parameters, options.weight_decay());
    if (options.momentum() != 0) {
      updates = MomentumUpdates(state_, parameters, std::move(updates), options);
    }
    torch::_foreach_add_(parameters, updates, -options.lr());
  }
  return loss;
}

torch::Tensor ForeachAdam::step(LossClosure closure) {
  if (!CanStepAdamGroups<optim::AdamParamState, optim::AdamOptions>(state_, param_groups_)) {
    return optim::Adam::step(std::move(closure));
  }
  return AdamFamilyStep<optim::AdamParamState, optim::AdamOptions>(state_, param_groups_,
                                                                   /*decoupled=*/false, closure);
}

torch::Tensor ForeachAdamW::step(LossClosure closure) {
  if (!CanStepAdamGroups<optim::AdamWParamState, optim::AdamWOptions>(state_, param_groups_)) {
    return optim::AdamW::step(std::move(closure));
  }
  return AdamFamilyStep<optim::AdamWParamState, optim::AdamWOptions>(state_, param_groups_,
                                                                     /*decoupled=*/true, closure);
}

}  // namespace vernier
