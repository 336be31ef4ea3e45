#include "trainer/trial.h"

#include <torch/torch.h>

#include <memory>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/data.h"
#include "trainer/models.h"
#include "trainer/training.h"

namespace vernier {
namespace {

absl::StatusOr<torch::Device> ChooseDevice(DeviceRequest request) {
  if (request == DeviceRequest::kCpu) return torch::Device(torch::kCPU);
  if (torch::cuda::is_available()) return torch::Device(torch::kCUDA, 0);
  if (request == DeviceRequest::kCuda) {
    return absl::FailedPreconditionError(
        "VERNIER_DEVICE=cuda, but this libtorch build has no CUDA or no GPU is visible");
  }
  return torch::Device(torch::kCPU);
}

ModelOptions ModelOptionsOf(const TrainOptions& options) {
  ModelOptions model;
  model.model = options.model;
  model.activation = options.activation;
  model.leaky_slope = options.leaky_slope;
  model.dropout = options.dropout;
  model.conv_blocks = options.conv_blocks;
  model.channels = options.channels;
  model.kernel_size = options.kernel_size;
  model.pooling = options.pooling;
  model.batch_norm = options.batch_norm;
  model.units = options.units;
  model.layers = options.layers;
  model.rnn_cell = options.rnn_cell;
  model.hidden_size = options.hidden_size;
  model.bidirectional = options.bidirectional;
  model.embedding_dim = options.embedding_dim;
  model.d_model = options.d_model;
  model.heads = options.heads;
  model.ff_units = options.ff_units;
  model.positional = options.positional;
  model.token_pooling = options.token_pooling;
  return model;
}

// Returns INVALID_ARGUMENT unless Evaluate reports early_stop_metric for this
// task (checked only when early stopping is on).
absl::Status CheckEarlyStopMetric(const TrainOptions& options, const Objective& objective) {
  if (options.patience == 0) return absl::OkStatus();
  const std::string& metric = options.early_stop_metric;
  const bool regression_metric = metric == "val_mse" || metric == "val_rmse" || metric == "val_mae";
  const bool binary_metric =
      metric == "val_precision" || metric == "val_recall" || metric == "val_f1";
  bool fits = true;
  if (objective.task == TaskKind::kRegression) {
    fits = metric == "val_loss" || regression_metric;
  } else if (regression_metric) {
    fits = false;
  } else if (binary_metric) {
    fits = objective.num_classes == 2;
  }
  if (fits) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "early_stop_metric ", metric, " is not reported for this data (",
      objective.task == TaskKind::kRegression ? "regression"
                                              : absl::StrCat(objective.num_classes, " classes"),
      ")"));
}

void LogConfusion(std::FILE* log, const std::vector<std::vector<int64_t>>& confusion) {
  if (log == nullptr || confusion.empty()) return;
  absl::FPrintF(log, "test confusion matrix (rows: true class, columns: predicted): %s\n",
                nlohmann::json(confusion).dump());
}

absl::StatusOr<MetricMap> RunTrialOrThrow(const TrainOptions& options, const TrialEnvironment& env,
                                          ProgressSink& sink) {
  ASSIGN_OR_RETURN(DeviceRequest request, ParseDeviceRequest(env.device));
  ASSIGN_OR_RETURN(torch::Device device, ChooseDevice(request));
  ASSIGN_OR_RETURN(int threads, ResolveNumThreads(options.num_threads, env.num_threads));
  TrainRun run;
  run.log = env.log;
  if (options.checkpoint_every > 0) {
    if (env.trial_dir == nullptr || *env.trial_dir == '\0') {
      return absl::InvalidArgumentError(
          "checkpoint_every > 0 needs a trial directory in VERNIER_TRIAL_DIR");
    }
    run.checkpoint_dir = absl::StrCat(env.trial_dir, "/checkpoint");
  }
  torch::set_num_threads(threads);
  torch::manual_seed(options.seed);
  if (env.log != nullptr) {
    absl::FPrintF(env.log, "device %s, %d intra-op thread(s), seed %d\n", device.str(), threads,
                  options.seed);
  }
  if (options.precision == "bf16") {
    run.bf16 = device.is_cuda();
    if (!run.bf16 && env.log != nullptr) {
      absl::FPrintF(env.log, "precision bf16 ignored: autocast is for CUDA; training in fp32\n");
    }
  }

  ASSIGN_OR_RETURN(LoadedData loaded, LoadData(options.data));
  ASSIGN_OR_RETURN(DeviceData data, ToDevice(loaded, device));
  if (env.log != nullptr) {
    absl::FPrintF(env.log, "%s on %s: %d train / %d val / %d test examples\n", options.model,
                  options.dataset, data.train.size(), data.val.size(), data.test.size());
  }
  loaded = LoadedData();  // The host copy is no longer needed.
  ASSIGN_OR_RETURN(Objective objective,
                   ChooseObjective(options.loss, options.label_smoothing, data));
  RETURN_IF_ERROR(CheckEarlyStopMetric(options, objective));
  ModelShape shape;
  shape.input = data.input;
  shape.example_shape = data.example_shape;
  shape.vocab_size = data.vocab_size;
  shape.outputs = objective.outputs();
  ASSIGN_OR_RETURN(Net model, MakeModel(ModelOptionsOf(options), shape));
  model->to(device);
  ASSIGN_OR_RETURN(std::unique_ptr<torch::optim::Optimizer> optimizer,
                   MakeOptimizer(options, model->parameters()));
  if (!options.resume_from.empty()) {
    ASSIGN_OR_RETURN(int epoch, LoadCheckpoint(options.resume_from, *model, *optimizer, device));
    run.first_epoch = epoch + 1;
    if (env.log != nullptr) {
      absl::FPrintF(env.log, "resumed from %s at epoch %d\n", options.resume_from, epoch);
    }
  }
  ASSIGN_OR_RETURN(MetricMap metrics,
                   Train(*model, *optimizer, data, objective, options, run, sink));
  if (metrics.empty()) {  // Resumed at or after the last epoch: nothing trained.
    metrics = Evaluate(*model, data.val, data, objective, "val", run.bf16);
  }
  std::vector<std::vector<int64_t>> confusion;
  for (const auto& [name, value] :
       Evaluate(*model, data.test, data, objective, "test", run.bf16, &confusion)) {
    metrics[name] = value;
  }
  LogConfusion(env.log, confusion);
  return metrics;
}

}  // namespace

absl::StatusOr<MetricMap> RunTrial(const TrainOptions& options, const TrialEnvironment& env,
                                   ProgressSink& sink) {
  try {
    return RunTrialOrThrow(options, env, sink);
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory: ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("libtorch: ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

}  // namespace vernier
