#include "trainer/training.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/builtin_trainer.h"
#include "nlohmann/json.hpp"
#include "trainer/foreach_optimizers.h"
#include "trainer/metrics.h"

namespace vernier {
namespace {

namespace F = torch::nn::functional;

// Offset of the per-epoch seed of torch's global generators from that of the
// data order's generator (any constant far from the epoch counts works).
constexpr uint64_t kGlobalRngStream = 0x9E3779B97F4A7C15u;

// Examples per forward pass in evaluation: bounds memory, not a tuning knob.
constexpr int64_t kEvalBatch = 1024;

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// bf16 autocast for the scope's forward passes, on CUDA only (CPU autocast is
// a different switch, which we never turn on).
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool on) : on_(on) {
    if (!on_) return;
    previous_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
    at::autocast::increment_nesting();
  }
  ~Bf16Autocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_enabled(previous_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool on_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

int64_t Product(const std::vector<int64_t>& shape) {
  int64_t product = 1;
  for (int64_t dim : shape) product *= dim;
  return product;
}

// Checks one split's buffers against the data set's shape.
absl::Status CheckSplit(const LoadedData& data, const ExampleSet& split, const char* name) {
  const int64_t values = split.count * Product(data.example_shape);
  size_t held = 0;
  switch (data.input) {
    case InputKind::kImageBytes:
      held = split.image_bytes.size();
      break;
    case InputKind::kFloat:
      held = split.floats.size();
      break;
    case InputKind::kTokens:
      held = split.tokens.size();
      break;
  }
  const size_t answers =
      data.task == TaskKind::kClassification ? split.labels.size() : split.targets.size();
  if (static_cast<int64_t>(held) != values || static_cast<int64_t>(answers) != split.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", name, " split holds ", held, " input values and ", answers,
                     " labels/targets for ", split.count, " examples"));
  }
  return absl::OkStatus();
}

DeviceSplit SplitToDevice(const LoadedData& data, const ExampleSet& split, torch::Device device) {
  std::vector<int64_t> shape = {split.count};
  shape.insert(shape.end(), data.example_shape.begin(), data.example_shape.end());
  // from_blob only borrows the buffers (never written through); the .to()
  // calls copy, so the results own their storage. Image bytes go to the
  // device first (4x less traffic than floats).
  DeviceSplit out;
  switch (data.input) {
    case InputKind::kImageBytes:
      out.inputs =
          torch::from_blob(const_cast<uint8_t*>(split.image_bytes.data()), shape, torch::kUInt8)
              .to(device)
              .to(torch::kFloat32)
              .div_(255.0);
      break;
    case InputKind::kFloat:
      out.inputs = torch::from_blob(const_cast<float*>(split.floats.data()), shape, torch::kFloat32)
                       .to(device, /*non_blocking=*/false, /*copy=*/true);
      break;
    case InputKind::kTokens:
      out.inputs = torch::from_blob(const_cast<int64_t*>(split.tokens.data()), shape, torch::kInt64)
                       .to(device, /*non_blocking=*/false, /*copy=*/true);
      break;
  }
  if (data.task == TaskKind::kClassification) {
    out.targets =
        torch::from_blob(const_cast<int64_t*>(split.labels.data()), {split.count}, torch::kInt64)
            .to(device, /*non_blocking=*/false, /*copy=*/true);
  } else {
    out.targets =
        torch::from_blob(const_cast<float*>(split.targets.data()), {split.count}, torch::kFloat32)
            .to(device, /*non_blocking=*/false, /*copy=*/true);
  }
  return out;
}

// The smoothed one-hot target distribution of cross-entropy with label
// smoothing: (1 - s) on the label plus s / K everywhere.
torch::Tensor SmoothedTargets(const torch::Tensor& labels, int num_classes, double smoothing,
                              torch::ScalarType dtype) {
  return F::one_hot(labels, num_classes).to(dtype) * (1 - smoothing) + smoothing / num_classes;
}

// Class ids [N] (classification) or target-unit values [N] (regression).
torch::Tensor Predictions(const torch::Tensor& outputs, const Objective& objective,
                          const DeviceData& info) {
  if (objective.task == TaskKind::kRegression) {
    return outputs.select(1, 0).to(torch::kFloat32) * info.target_std + info.target_mean;
  }
  if (objective.loss == LossKind::kBce) return outputs.select(1, 0).gt(0).to(torch::kInt64);
  return outputs.argmax(1);
}

// The checkpoint file of early stopping's best weights (SaveCheckpoint).
constexpr char kEarlyStoppingFile[] = "early_stopping.pt";

// A metric value as JSON: a number, or "nan", "inf", "-inf" (JSON has no
// such numbers, and a diverged run's first loss can be one).
nlohmann::json NumberToJson(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// The inverse of NumberToJson; throws nlohmann::json::exception for anything
// else.
double NumberFromJson(const nlohmann::json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text == "nan") return std::nan("");
    if (text == "inf") return INFINITY;
    if (text == "-inf") return -INFINITY;
  }
  return value.get<double>();
}

template <typename T>
std::vector<T> ToVector(const torch::Tensor& tensor) {
  const torch::Tensor host = tensor.to(torch::kCPU).contiguous();
  return std::vector<T>(host.data_ptr<T>(), host.data_ptr<T>() + host.numel());
}

}  // namespace

DeviceSplit DeviceSplit::Slice(int64_t begin, int64_t count) const {
  return {inputs.narrow(0, begin, count), targets.narrow(0, begin, count)};
}

absl::StatusOr<DeviceData> ToDevice(const LoadedData& data, torch::Device device) {
  for (int64_t dim : data.example_shape) {
    if (dim < 1) return absl::InvalidArgumentError("the data's examples have an empty dimension");
  }
  if (data.train.count < 1) return absl::InvalidArgumentError("the training split is empty");
  for (auto [split, name] : {std::pair{&data.train, "training"}, std::pair{&data.val, "validation"},
                             std::pair{&data.test, "test"}}) {
    const absl::Status status = CheckSplit(data, *split, name);
    if (!status.ok()) return status;
  }
  DeviceData out;
  out.task = data.task;
  out.input = data.input;
  out.example_shape = data.example_shape;
  out.num_classes = data.num_classes;
  out.vocab_size = data.vocab_size;
  out.train = SplitToDevice(data, data.train, device);
  out.val = SplitToDevice(data, data.val, device);
  out.test = SplitToDevice(data, data.test, device);
  if (data.input == InputKind::kImageBytes) {
    // Statistics of the training images only; applied to every split.
    const double mean = out.train.inputs.mean().item<double>();
    double std = out.train.size() > 1 ? out.train.inputs.std().item<double>() : 1.0;
    if (!(std > 1e-12)) std = 1;
    for (DeviceSplit* split : {&out.train, &out.val, &out.test}) {
      split->inputs.sub_(mean).div_(std);
    }
  }
  if (data.task == TaskKind::kRegression) {
    out.target_mean = out.train.targets.mean().item<double>();
    out.target_std = out.train.size() > 1 ? out.train.targets.std().item<double>() : 1.0;
    if (!(out.target_std > 1e-12)) out.target_std = 1;
    for (DeviceSplit* split : {&out.train, &out.val, &out.test}) {
      split->targets.sub_(out.target_mean).div_(out.target_std);
    }
  }
  return out;
}

int64_t Objective::outputs() const {
  if (task == TaskKind::kRegression || loss == LossKind::kBce) return 1;
  return num_classes;
}

absl::StatusOr<Objective> ChooseObjective(const std::string& loss, double label_smoothing,
                                          const DeviceData& data) {
  Objective objective;
  objective.task = data.task;
  objective.num_classes = data.num_classes;
  objective.label_smoothing = label_smoothing;
  const bool classes = data.task == TaskKind::kClassification;
  if (classes && data.num_classes < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("classification needs at least 2 classes, the data has ", data.num_classes));
  }
  if (loss == "auto") {
    objective.loss = classes ? LossKind::kCrossEntropy : LossKind::kMse;
  } else if (loss == "cross_entropy" || loss == "kl_div" || loss == "bce") {
    if (!classes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "loss ", loss, " needs a classification task, but the data has regression targets"));
    }
    if (loss == "bce" && data.num_classes != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("loss bce needs exactly 2 classes, the data has ", data.num_classes));
    }
    objective.loss = loss == "bce"      ? LossKind::kBce
                     : loss == "kl_div" ? LossKind::kKlDiv
                                        : LossKind::kCrossEntropy;
  } else if (loss == "mse") {
    if (classes) {
      return absl::InvalidArgumentError(
          "loss mse needs a regression task, but the data has class labels");
    }
    objective.loss = LossKind::kMse;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown loss \"", loss, "\""));
  }
  return objective;
}

torch::Tensor DataLoss(const torch::Tensor& outputs, const torch::Tensor& targets,
                       const Objective& objective, bool sum) {
  const torch::Tensor logits = outputs.to(torch::kFloat32);
  torch::Tensor per_example;
  switch (objective.loss) {
    case LossKind::kCrossEntropy: {
      auto options = F::CrossEntropyFuncOptions().label_smoothing(objective.label_smoothing);
      if (sum) return F::cross_entropy(logits, targets, options.reduction(torch::kSum));
      return F::cross_entropy(logits, targets, options);
    }
    case LossKind::kBce:
      per_example = F::binary_cross_entropy_with_logits(
          logits.select(1, 0), targets.to(torch::kFloat32),
          F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
      break;
    case LossKind::kKlDiv:
      per_example = F::kl_div(F::log_softmax(logits, 1),
                              SmoothedTargets(targets, objective.num_classes,
                                              objective.label_smoothing, torch::kFloat32),
                              F::KLDivFuncOptions().reduction(torch::kNone))
                        .sum(1);
      break;
    case LossKind::kMse:
      per_example = (logits.select(1, 0) - targets).square();
      break;
  }
  return sum ? per_example.sum() : per_example.mean();
}

absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> MakeOptimizer(
    const TrainOptions& options, std::vector<torch::Tensor> parameters) {
  namespace optim = torch::optim;
  const std::string& name = options.optimizer;
  if (name == "gd" || name == "sgd") {
    return std::make_unique<ForeachSgd>(
        std::move(parameters), optim::SGDOptions(options.lr).weight_decay(options.weight_decay));
  }
  if (name == "momentum") {
    return std::make_unique<ForeachSgd>(std::move(parameters),
                                        optim::SGDOptions(options.lr)
                                            .momentum(options.momentum)
                                            .nesterov(options.nesterov)
                                            .weight_decay(options.weight_decay));
  }
  if (name == "adam" || name == "adamw") {
    const std::tuple<double, double> betas{options.beta1, options.beta2};
    if (name == "adam") {
      return std::make_unique<ForeachAdam>(std::move(parameters),
                                           optim::AdamOptions(options.lr)
                                               .betas(betas)
                                               .eps(options.eps)
                                               .weight_decay(options.weight_decay));
    }
    return std::make_unique<ForeachAdamW>(std::move(parameters),
                                          optim::AdamWOptions(options.lr)
                                              .betas(betas)
                                              .eps(options.eps)
                                              .weight_decay(options.weight_decay));
  }
  if (name == "rmsprop") {
    return std::make_unique<optim::RMSprop>(std::move(parameters),
                                            optim::RMSpropOptions(options.lr)
                                                .eps(options.eps)
                                                .momentum(options.momentum)
                                                .weight_decay(options.weight_decay));
  }
  if (name == "adagrad") {
    return std::make_unique<optim::Adagrad>(
        std::move(parameters),
        optim::AdagradOptions(options.lr).eps(options.eps).weight_decay(options.weight_decay));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown optimizer \"", name,
                   "\" (expected one of: gd, sgd, momentum, adam, adamw, rmsprop, adagrad)"));
}

double LearningRateFactor(const TrainOptions& options, int epoch) {
  if (epoch < options.warmup_epochs) {
    return static_cast<double>(epoch + 1) / static_cast<double>(options.warmup_epochs + 1);
  }
  const int t = epoch - options.warmup_epochs;
  if (options.schedule == "step") {
    return std::pow(options.gamma, t / std::max(1, options.step_size));
  }
  if (options.schedule == "cosine") {
    const int span = std::max(1, options.epochs - options.warmup_epochs);
    return 0.5 * (1 + std::cos(M_PI * static_cast<double>(t) / static_cast<double>(span)));
  }
  return 1.0;
}

void SetLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    group.options().set_lr(lr);
  }
}

std::vector<torch::Tensor> PenalisedWeights(const torch::nn::Module& module) {
  std::vector<torch::Tensor> weights;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (EndsWith(item.key(), "weight")) weights.push_back(item.value());
  }
  return weights;
}

torch::Tensor WeightPenalty(const torch::nn::Module& module, double l1, double l2) {
  torch::Tensor penalty;
  for (const torch::Tensor& weight : PenalisedWeights(module)) {
    if (!penalty.defined()) penalty = torch::zeros({}, weight.options());
    if (l1 != 0) penalty = penalty + l1 * weight.abs().sum();
    if (l2 != 0) penalty = penalty + l2 * weight.square().sum();
  }
  if (!penalty.defined()) penalty = torch::zeros({});
  return penalty;
}

void AddWeightPenaltyGradients(const std::vector<torch::Tensor>& weights, double l1, double l2) {
  if (l1 == 0 && l2 == 0) return;
  torch::NoGradGuard no_grad;
  for (torch::Tensor weight : weights) {
    torch::Tensor& gradient = weight.mutable_grad();
    if (!gradient.defined()) gradient = torch::zeros_like(weight);
    if (l1 != 0) gradient.add_(weight.sign(), l1);
    if (l2 != 0) gradient.add_(weight, 2 * l2);
  }
}

void ClearGradients(const std::vector<torch::Tensor>& parameters) {
  for (torch::Tensor parameter : parameters) parameter.mutable_grad().reset();
}

double TrainEpoch(NetImpl& model, torch::optim::Optimizer& optimizer, const DeviceSplit& train,
                  const Objective& objective, const TrainOptions& options,
                  const AugmentOptions& augment, bool bf16, at::Generator& generator) {
  model.train();
  const int64_t n = train.size();
  const int64_t batch_size = options.optimizer == "gd" ? n : std::min(options.batch_size, n);
  const torch::Device device = train.inputs.device();
  const torch::Tensor order =
      torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64)).to(device);
  const bool augmented = augment.enabled() && train.inputs.dim() == 4;
  const std::vector<torch::Tensor> parameters = model.parameters();
  const std::vector<torch::Tensor> penalised = PenalisedWeights(model);
  // Batches are gathered into these two buffers, allocated once per epoch;
  // the last, smaller batch is a view of their first rows.
  std::vector<int64_t> input_shape = train.inputs.sizes().vec();
  input_shape[0] = batch_size;
  torch::Tensor input_buffer = torch::empty(input_shape, train.inputs.options());
  torch::Tensor target_buffer = torch::empty({batch_size}, train.targets.options());
  // Summed on the device so that the loop never waits for a loss value.
  torch::Tensor loss_sum = torch::zeros({}, train.inputs.options().dtype(torch::kFloat32));
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t count = std::min(batch_size, n - begin);
    const torch::Tensor index = order.narrow(0, begin, count);
    torch::Tensor inputs = input_buffer.narrow(0, 0, count);
    torch::Tensor targets = target_buffer.narrow(0, 0, count);
    torch::index_select_out(inputs, train.inputs, 0, index);
    torch::index_select_out(targets, train.targets, 0, index);
    if (augmented) inputs = AugmentImages(inputs, augment);
    ClearGradients(parameters);
    torch::Tensor loss;
    {
      Bf16Autocast autocast(bf16);
      loss = DataLoss(model.forward(inputs), targets, objective);
    }
    loss_sum += loss.detach() * static_cast<double>(count);
    loss.backward();
    AddWeightPenaltyGradients(penalised, options.l1, options.l2);
    if (options.clip_norm > 0) torch::nn::utils::clip_grad_norm_(parameters, options.clip_norm);
    optimizer.step();
  }
  return loss_sum.item<double>() / static_cast<double>(n);
}

MetricMap Evaluate(NetImpl& model, const DeviceSplit& data, const DeviceData& info,
                   const Objective& objective, const std::string& prefix, bool bf16,
                   std::vector<std::vector<int64_t>>* confusion) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t n = data.size();
  torch::Tensor loss_sum = torch::zeros({}, data.inputs.options().dtype(torch::kFloat32));
  std::vector<torch::Tensor> predictions;
  for (int64_t begin = 0; begin < n; begin += kEvalBatch) {
    const DeviceSplit batch = data.Slice(begin, std::min(kEvalBatch, n - begin));
    torch::Tensor outputs;
    {
      Bf16Autocast autocast(bf16);
      outputs = model.forward(batch.inputs);
    }
    loss_sum += DataLoss(outputs, batch.targets, objective, /*sum=*/true);
    predictions.push_back(Predictions(outputs, objective, info));
  }
  model.train();
  MetricMap metrics;
  auto put = [&](const std::string& name, double value) { metrics[prefix + "_" + name] = value; };
  if (n == 0) return metrics;
  put("loss", loss_sum.item<double>() / static_cast<double>(n));
  const torch::Tensor predicted = torch::cat(predictions);
  if (objective.task == TaskKind::kRegression) {
    const torch::Tensor targets = data.targets * info.target_std + info.target_mean;
    absl::StatusOr<RegressionMetrics> regression =
        ComputeRegressionMetrics(ToVector<float>(predicted), ToVector<float>(targets));
    if (regression.ok()) {
      put("mse", regression->mse);
      put("rmse", regression->rmse);
      put("mae", regression->mae);
    }
    return metrics;
  }
  absl::StatusOr<ClassificationMetrics> classes = ComputeClassificationMetrics(
      ToVector<int64_t>(predicted), ToVector<int64_t>(data.targets), objective.num_classes);
  if (!classes.ok()) return metrics;  // Only for labels outside the classes: ToDevice's inputs.
  put("accuracy", classes->accuracy);
  put("precision_macro", classes->macro_precision);
  put("recall_macro", classes->macro_recall);
  put("f1_macro", classes->macro_f1);
  if (objective.num_classes == 2) {
    put("precision", classes->binary_precision);
    put("recall", classes->binary_recall);
    put("f1", classes->binary_f1);
  }
  if (confusion != nullptr) *confusion = classes->confusion;
  return metrics;
}

std::vector<torch::Tensor> SnapshotState(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const torch::Tensor& tensor : module.parameters()) state.push_back(tensor.detach().clone());
  for (const torch::Tensor& tensor : module.buffers()) state.push_back(tensor.detach().clone());
  return state;
}

void RestoreState(torch::nn::Module& module, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (torch::Tensor& tensor : module.parameters()) tensor.copy_(state.at(i++));
  for (torch::Tensor& tensor : module.buffers()) tensor.copy_(state.at(i++));
}

EarlyStopping::EarlyStopping(std::string metric, int patience, double min_delta)
    : patience_(patience), min_delta_(min_delta) {
  state_.metric = std::move(metric);
}

bool EarlyStopping::Update(const MetricMap& metrics, torch::nn::Module& model) {
  ++state_.epochs;
  const double value = metrics.at(state_.metric);
  const double gain =
      BuiltinMetricLowerIsBetter(state_.metric) ? state_.best - value : value - state_.best;
  if (state_.best_epoch == 0 || gain > min_delta_) {
    state_.best = value;
    state_.best_epoch = state_.epochs;
    state_.best_weights = SnapshotState(model);
  }
  return ShouldStop();
}

bool EarlyStopping::ShouldStop() const {
  return patience_ > 0 && state_.best_epoch > 0 && state_.epochs - state_.best_epoch >= patience_;
}

void EarlyStopping::RestoreBest(torch::nn::Module& model) const {
  if (!state_.best_weights.empty()) RestoreState(model, state_.best_weights);
}

void EarlyStopping::Restore(EarlyStoppingState state) { state_ = std::move(state); }

absl::Status SaveCheckpoint(const std::string& dir, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, int epoch,
                            const EarlyStopping* early_stopping) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(dir, ": cannot create the checkpoint directory: ", error.message()));
  }
  // Writes with `write` to path + ".tmp", then renames over path.
  auto write_file = [&](const std::string& name,
                        const std::function<void(const std::string&)>& write) -> absl::Status {
    const std::string path = dir + "/" + name, temporary = path + ".tmp";
    try {
      write(temporary);
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat(path, ": cannot write: ", e.what_without_backtrace()));
    }
    std::filesystem::rename(temporary, path, error);
    if (error) return absl::InternalError(absl::StrCat(path, ": cannot write: ", error.message()));
    return absl::OkStatus();
  };
  absl::Status status = write_file("model.pt", [&](const std::string& path) {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to(path);
  });
  if (status.ok()) {
    status = write_file("optimizer.pt", [&](const std::string& path) {
      torch::serialize::OutputArchive archive;
      optimizer.save(archive);
      archive.save_to(path);
    });
  }
  nlohmann::json state = {{"epoch", epoch}};
  if (status.ok() && early_stopping != nullptr && early_stopping->best_epoch() > 0) {
    const EarlyStoppingState& stopping = early_stopping->state();
    status = write_file(kEarlyStoppingFile,
                        [&](const std::string& path) { torch::save(stopping.best_weights, path); });
    state["early_stopping"] = {{"metric", stopping.metric},
                               {"epochs", stopping.epochs},
                               {"best_epoch", stopping.best_epoch},
                               {"best", NumberToJson(stopping.best)}};
  }
  if (status.ok()) {
    status = write_file("state.json", [&](const std::string& path) {
      std::ofstream out(path, std::ios::trunc);
      out << state.dump() << "\n";
      out.close();
      if (!out) TORCH_CHECK(false, "write failed");
    });
  }
  return status;
}

namespace {

// Loads the optimizer's state (moments, buffers, step counts) from `archive`
// but keeps its settings: torch's load() also restores each group's options,
// which would give a trial that resumes from another trial's checkpoint (pbt's
// exploit) the donor's momentum, betas and weight decay instead of its own.
void LoadOptimizerState(torch::serialize::InputArchive& archive,
                        torch::optim::Optimizer& optimizer) {
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> settings;
  for (const torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    settings.push_back(group.options().clone());
  }
  optimizer.load(archive);
  std::vector<torch::optim::OptimizerParamGroup>& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size() && i < settings.size(); ++i) {
    groups[i].set_options(std::move(settings[i]));
  }
}

}  // namespace

absl::StatusOr<int> LoadCheckpoint(const std::string& dir, torch::nn::Module& model,
                                   torch::optim::Optimizer& optimizer, torch::Device device) {
  const std::string state_path = dir + "/state.json";
  std::ifstream in(state_path);
  if (!in) return absl::NotFoundError(absl::StrCat(state_path, ": cannot open the checkpoint"));
  int epoch = 0;
  try {
    const nlohmann::json state = nlohmann::json::parse(in);
    epoch = state.at("epoch").get<int>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(state_path, ": not a checkpoint state: ", e.what()));
  }
  if (epoch < 0) {
    return absl::InvalidArgumentError(absl::StrCat(state_path, ": negative epoch ", epoch));
  }
  for (const char* name : {"model.pt", "optimizer.pt"}) {
    const std::string path = dir + "/" + name;
    if (!std::filesystem::exists(path)) {
      return absl::NotFoundError(absl::StrCat(path, ": missing from the checkpoint"));
    }
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(path, device);
      if (std::string(name) == "model.pt") {
        model.load(archive);
      } else {
        LoadOptimizerState(archive, optimizer);
      }
    } catch (const c10::Error& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": does not fit this model and optimizer: ", e.what_without_backtrace()));
    }
  }
  return epoch;
}

absl::StatusOr<std::optional<EarlyStoppingState>> LoadEarlyStoppingState(const std::string& dir,
                                                                         torch::nn::Module& model,
                                                                         torch::Device device) {
  const std::string state_path = dir + "/state.json";
  std::ifstream in(state_path);
  if (!in) return absl::NotFoundError(absl::StrCat(state_path, ": cannot open the checkpoint"));
  EarlyStoppingState state;
  try {
    const nlohmann::json saved = nlohmann::json::parse(in);
    if (!saved.contains("early_stopping")) return std::nullopt;
    const nlohmann::json& stopping = saved.at("early_stopping");
    state.metric = stopping.at("metric").get<std::string>();
    state.epochs = stopping.at("epochs").get<int>();
    state.best_epoch = stopping.at("best_epoch").get<int>();
    state.best = NumberFromJson(stopping.at("best"));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(state_path, ": not an early-stopping state: ", e.what()));
  }
  if (state.best_epoch < 1 || state.best_epoch > state.epochs) {
    return absl::InvalidArgumentError(absl::StrCat(state_path, ": early_stopping.best_epoch ",
                                                   state.best_epoch, " is not within its ",
                                                   state.epochs, " epochs"));
  }
  const std::string weights_path = absl::StrCat(dir, "/", kEarlyStoppingFile);
  if (!std::filesystem::exists(weights_path)) {
    return absl::NotFoundError(absl::StrCat(weights_path, ": missing from the checkpoint"));
  }
  try {
    torch::load(state.best_weights, weights_path, device);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(weights_path, ": cannot read: ", e.what_without_backtrace()));
  }
  // The weights must fit the model as SnapshotState lists its tensors.
  std::vector<torch::Tensor> expected = model.parameters();
  for (const torch::Tensor& buffer : model.buffers()) expected.push_back(buffer);
  bool fits = expected.size() == state.best_weights.size();
  for (size_t i = 0; fits && i < expected.size(); ++i) {
    fits = expected[i].sizes() == state.best_weights[i].sizes() &&
           expected[i].scalar_type() == state.best_weights[i].scalar_type();
  }
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat(
        weights_path, ": holds ", state.best_weights.size(),
        " tensors that do not fit this model's ", expected.size(), " parameters and buffers"));
  }
  return state;
}

namespace {

// Continues the early-stopping state saved with the checkpoint that
// options.resume_from names, when there is one for the same metric.
absl::Status ResumeEarlyStopping(const TrainOptions& options, const TrainRun& run,
                                 torch::nn::Module& model, torch::Device device,
                                 EarlyStopping& early_stopping) {
  absl::StatusOr<std::optional<EarlyStoppingState>> saved =
      LoadEarlyStoppingState(options.resume_from, model, device);
  if (!saved.ok()) return saved.status();
  if (!saved->has_value()) return absl::OkStatus();
  if ((*saved)->metric != options.early_stop_metric) {
    if (run.log != nullptr) {
      absl::FPrintF(
          run.log, "early stopping starts afresh: the checkpoint watched %s, this run watches %s\n",
          (*saved)->metric, options.early_stop_metric);
    }
    return absl::OkStatus();
  }
  early_stopping.Restore(std::move(**saved));
  return absl::OkStatus();
}

}  // namespace

namespace {

AugmentOptions AugmentOptionsOf(const TrainOptions& options) {
  AugmentOptions augment;
  augment.flip = options.aug_flip;
  augment.rotation = options.aug_rotation;
  augment.scale = options.aug_scale;
  augment.crop = options.aug_crop;
  augment.cutout = options.aug_cutout;
  augment.prob = options.aug_prob;
  return augment;
}

// What Train trains on and evaluates each epoch on.
struct EpochSplits {
  DeviceSplit train;
  DeviceSplit eval;
};

// The training and validation splits, or for a refit the two together and the
// test split (the validation split when there is no test split).
EpochSplits ChooseSplits(const DeviceData& data, const TrainOptions& options, std::FILE* log) {
  if (!options.refit) return {data.train, data.val};
  EpochSplits splits;
  splits.train.inputs = torch::cat({data.train.inputs, data.val.inputs});
  splits.train.targets = torch::cat({data.train.targets, data.val.targets});
  splits.eval = data.test.size() > 0 ? data.test : data.val;
  if (log != nullptr) {
    absl::FPrintF(log, "refit: training on %d train + %d val examples, %s\n", data.train.size(),
                  data.val.size(),
                  data.test.size() > 0
                      ? "val_* metrics measured on the test split"
                      : "no test split: val_* metrics measured on the validation examples, "
                        "which are trained on");
  }
  return splits;
}

}  // namespace

absl::StatusOr<MetricMap> Train(NetImpl& model, torch::optim::Optimizer& optimizer,
                                const DeviceData& data, const Objective& objective,
                                const TrainOptions& options, const TrainRun& run,
                                ProgressSink& sink) {
  const AugmentOptions augment = AugmentOptionsOf(options);
  const EpochSplits splits = ChooseSplits(data, options, run.log);
  // A refit trains for exactly options.epochs: no early stopping.
  const bool stopping_on = options.patience > 0 && !options.refit;
  EarlyStopping early_stopping(options.early_stop_metric, options.patience, options.min_delta);
  if (stopping_on && !options.resume_from.empty()) {
    const absl::Status resumed =
        ResumeEarlyStopping(options, run, model, data.train.inputs.device(), early_stopping);
    if (!resumed.ok()) return resumed;
  }
  // Early stopping counts the epochs it recorded; this maps them to epochs.
  const int epoch_offset = run.first_epoch - 1 - early_stopping.epochs();
  MetricMap val_metrics;
  // A run resumed from the checkpoint of the epoch that stopped it trains no more.
  const bool stopped_before = stopping_on && early_stopping.ShouldStop();
  if (stopped_before && run.log != nullptr) {
    absl::FPrintF(run.log,
                  "early stopping had stopped this run at its checkpoint: best %s at epoch %d\n",
                  options.early_stop_metric, early_stopping.best_epoch() + epoch_offset);
  }
  for (int epoch = run.first_epoch; epoch <= options.epochs && !stopped_before; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    SetLearningRate(optimizer, options.lr * LearningRateFactor(options, epoch - 1));
    // One generator per epoch, from (seed, epoch): a resumed run shuffles as
    // the uninterrupted one would have.
    at::Generator generator =
        at::detail::createCPUGenerator(options.seed * 1000003u + static_cast<uint64_t>(epoch));
    // Dropout and augmentation draw from torch's global generators: seeded
    // per epoch as well (another stream of the same seed), so that a resumed
    // run also drops and augments as the uninterrupted one.
    torch::manual_seed(options.seed * 1000003u + static_cast<uint64_t>(epoch) + kGlobalRngStream);
    EpochSummary summary;
    summary.epoch = epoch;
    summary.num_epochs = options.epochs;
    summary.train_loss = TrainEpoch(model, optimizer, splits.train, objective, options, augment,
                                    run.bf16, generator);
    val_metrics = Evaluate(model, splits.eval, data, objective, "val", run.bf16);
    summary.val_metrics = val_metrics;
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool stop_early = stopping_on && early_stopping.Update(val_metrics, model);
    if (options.checkpoint_every > 0 && !run.checkpoint_dir.empty() &&
        epoch % options.checkpoint_every == 0) {
      const absl::Status saved = SaveCheckpoint(run.checkpoint_dir, model, optimizer, epoch,
                                                stopping_on ? &early_stopping : nullptr);
      if (!saved.ok()) return saved;
      sink.OnCheckpoint(epoch, run.checkpoint_dir);
    }
    if (!sink.OnEpoch(summary) || !std::isfinite(summary.train_loss)) break;
    if (stop_early) {
      if (run.log != nullptr) {
        absl::FPrintF(run.log, "early stopping after epoch %d: best %s at epoch %d\n", epoch,
                      options.early_stop_metric, early_stopping.best_epoch() + epoch_offset);
      }
      break;
    }
  }
  if (stopping_on && early_stopping.best_epoch() > 0) {
    early_stopping.RestoreBest(model);
    val_metrics = Evaluate(model, splits.eval, data, objective, "val", run.bf16);
  }
  return val_metrics;
}

}  // namespace vernier
