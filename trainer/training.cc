#include "trainer/training.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

namespace F = torch::nn::functional;

// Images per forward pass in evaluation: bounds memory, not a tuning knob.
constexpr int64_t kEvalBatch = 1024;

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TensorDataset TensorDataset::Slice(int64_t begin, int64_t count) const {
  return {images.narrow(0, begin, count), labels.narrow(0, begin, count)};
}

TensorDataset ToTensors(const LabeledImages& data, torch::Device device) {
  // from_blob only borrows the buffers (never written through). The bytes go
  // to the device first (4x less traffic than floats); the dtype conversions
  // then copy, so the results own their storage.
  auto* pixels = const_cast<uint8_t*>(data.pixels.data());
  auto* labels = const_cast<uint8_t*>(data.labels.data());
  TensorDataset out;
  out.images = torch::from_blob(pixels, {data.count, 1, data.rows, data.cols}, torch::kUInt8)
                   .to(device)
                   .to(torch::kFloat32)
                   .div_(255.0);
  out.labels = torch::from_blob(labels, {data.count}, torch::kUInt8).to(device).to(torch::kInt64);
  return out;
}

PixelStats ComputePixelStats(const torch::Tensor& images) {
  PixelStats stats;
  stats.mean = images.mean().item<double>();
  stats.std = images.std().item<double>();
  if (!(stats.std > 1e-12)) stats.std = 1;
  return stats;
}

void Standardize(const PixelStats& stats, const torch::Tensor& images) {
  images.sub_(stats.mean).div_(stats.std);
}

absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> MakeOptimizer(
    const TrainOptions& options, std::vector<torch::Tensor> parameters) {
  if (options.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                               torch::optim::SGDOptions(options.lr));
  }
  if (options.optimizer == "momentum") {
    return std::make_unique<torch::optim::SGD>(
        std::move(parameters), torch::optim::SGDOptions(options.lr).momentum(options.momentum));
  }
  if (options.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(std::move(parameters),
                                                torch::optim::AdamOptions(options.lr));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown optimizer \"", options.optimizer,
                                                 "\" (expected one of: sgd, momentum, adam)"));
}

torch::Tensor WeightPenalty(const torch::nn::Module& module, double l1, double l2) {
  torch::Tensor penalty;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!EndsWith(item.key(), "weight")) continue;
    const torch::Tensor& weight = item.value();
    if (!penalty.defined()) penalty = torch::zeros({}, weight.options());
    if (l1 != 0) penalty = penalty + l1 * weight.abs().sum();
    if (l2 != 0) penalty = penalty + l2 * weight.square().sum();
  }
  if (!penalty.defined()) penalty = torch::zeros({});
  return penalty;
}

double TrainEpoch(Cnn& model, torch::optim::Optimizer& optimizer, const TensorDataset& train,
                  const TrainOptions& options, at::Generator& generator) {
  model->train();
  const int64_t n = train.size();
  const torch::Tensor order =
      torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64))
          .to(train.images.device());
  const bool penalised = options.l1 != 0 || options.l2 != 0;
  // Summed on the device so that the loop never waits for a loss value.
  torch::Tensor loss_sum = torch::zeros({}, train.images.options());
  for (int64_t begin = 0; begin < n; begin += options.batch_size) {
    const int64_t count = std::min(options.batch_size, n - begin);
    const torch::Tensor index = order.narrow(0, begin, count);
    const torch::Tensor images = train.images.index_select(0, index);
    const torch::Tensor labels = train.labels.index_select(0, index);
    optimizer.zero_grad();
    torch::Tensor loss = F::cross_entropy(model->forward(images), labels);
    loss_sum += loss.detach() * static_cast<double>(count);
    if (penalised) loss = loss + WeightPenalty(*model, options.l1, options.l2);
    loss.backward();
    optimizer.step();
  }
  return loss_sum.item<double>() / static_cast<double>(n);
}

Evaluation Evaluate(Cnn& model, const TensorDataset& data) {
  torch::NoGradGuard no_grad;
  model->eval();
  torch::Tensor loss_sum = torch::zeros({}, data.images.options());
  torch::Tensor correct = torch::zeros({}, data.labels.options());
  const int64_t n = data.size();
  for (int64_t begin = 0; begin < n; begin += kEvalBatch) {
    const TensorDataset batch = data.Slice(begin, std::min(kEvalBatch, n - begin));
    const torch::Tensor logits = model->forward(batch.images);
    loss_sum +=
        F::cross_entropy(logits, batch.labels, F::CrossEntropyFuncOptions().reduction(torch::kSum));
    correct += logits.argmax(1).eq(batch.labels).sum();
  }
  model->train();
  Evaluation result;
  result.accuracy = correct.item<double>() / static_cast<double>(n);
  result.loss = loss_sum.item<double>() / static_cast<double>(n);
  return result;
}

MetricMap Train(Cnn& model, torch::optim::Optimizer& optimizer, const TensorDataset& train,
                const TensorDataset& val, const TrainOptions& options, ProgressSink& sink) {
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  MetricMap val_metrics;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    EpochSummary summary;
    summary.epoch = epoch;
    summary.num_epochs = options.epochs;
    summary.train_loss = TrainEpoch(model, optimizer, train, options, generator);
    const Evaluation val_eval = Evaluate(model, val);
    val_metrics = {{"val_accuracy", val_eval.accuracy}, {"val_loss", val_eval.loss}};
    summary.val_metrics = val_metrics;
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!sink.OnEpoch(summary) || !std::isfinite(summary.train_loss)) break;
  }
  return val_metrics;
}

}  // namespace vernier
