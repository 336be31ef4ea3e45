#include "trainer/trial.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/data.h"
#include "trainer/model_export.h"
#include "trainer/model_manifest.h"
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

// Forwards to another sink and remembers each epoch's validation metrics, so
// that the trial knows which epoch's weights the model ends with.
class RecordingSink : public ProgressSink {
 public:
  explicit RecordingSink(ProgressSink& next) : next_(next) {}
  bool OnEpoch(const EpochSummary& summary) override {
    epochs_.emplace_back(summary.epoch, summary.val_metrics);
    return next_.OnEpoch(summary);
  }
  void OnCheckpoint(int epoch, const std::string& dir) override { next_.OnCheckpoint(epoch, dir); }

  // The last epoch whose validation metrics are exactly `final_val` (Train
  // returns those of the epoch it keeps); 0 when none is (e.g. the best epoch
  // came before a resume).
  int EpochOf(const MetricMap& final_val) const {
    for (auto it = epochs_.rbegin(); it != epochs_.rend(); ++it) {
      if (it->second == final_val) return it->first;
    }
    return 0;
  }

 private:
  ProgressSink& next_;
  std::vector<std::pair<int, MetricMap>> epochs_;
};

// The image statistics ToDevice standardises with, (byte / 255 - mean) /
// std over the training pixels, here in double from a byte histogram (the
// trainer's float32 values agree to ~1e-6).
ImageInput ImageStatistics(const std::vector<uint8_t>& bytes) {
  ImageInput image;
  std::vector<double> counts(256, 0.0);
  for (uint8_t byte : bytes) counts[byte] += 1;
  const double n = static_cast<double>(bytes.size());
  if (n < 1) return image;
  double sum = 0;
  for (int v = 0; v < 256; ++v) sum += counts[v] * (v / 255.0);
  image.mean = sum / n;
  double squares = 0;
  for (int v = 0; v < 256; ++v) squares += counts[v] * std::pow(v / 255.0 - image.mean, 2);
  image.std = n > 1 ? std::sqrt(squares / (n - 1)) : 1.0;
  if (!(image.std > 1e-12)) image.std = 1;
  return image;
}

// The trial's parameters, each parameter of the table with its default where
// the file leaves it out. Unreadable files were refused before training.
nlohmann::json EffectiveParams(const char* params_file) {
  nlohmann::json given = nlohmann::json::object();
  if (params_file != nullptr) {
    std::ifstream in(params_file);
    given = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!given.is_object()) given = nlohmann::json::object();
  }
  for (const BuiltinParam& param : BuiltinTrainerParams()) {
    if (!given.contains(param.name)) given[param.name] = param.default_value;
  }
  return given;
}

// The sizes of `options` that shape a model of its kind.
nlohmann::json Architecture(const ModelOptions& o) {
  nlohmann::json a = {{"activation", o.activation}};
  if (o.activation == "leaky_relu") a["leaky_slope"] = o.leaky_slope;
  if (o.model == "cnn") {
    a.update({{"conv_blocks", o.conv_blocks},
              {"channels", o.channels},
              {"kernel_size", o.kernel_size},
              {"pooling", o.pooling},
              {"batch_norm", o.batch_norm},
              {"units", o.units}});
  } else if (o.model == "mlp") {
    a.update({{"layers", o.layers}, {"units", o.units}});
  } else if (o.model == "rnn") {
    a.update({{"rnn_cell", o.rnn_cell},
              {"layers", o.layers},
              {"hidden_size", o.hidden_size},
              {"bidirectional", o.bidirectional},
              {"embedding_dim", o.embedding_dim}});
  } else {
    a.update({{"layers", o.layers},
              {"d_model", o.d_model},
              {"heads", o.heads},
              {"ff_units", o.ff_units},
              {"positional", o.positional},
              {"token_pooling", o.token_pooling}});
  }
  return a;
}

// Where the model goes: $VERNIER_ARTIFACT_DIR/model, else
// $VERNIER_TRIAL_DIR/artifacts/model, else "" (not saved).
std::string ModelDir(const TrialEnvironment& env) {
  if (env.artifact_dir != nullptr && *env.artifact_dir != '\0') {
    return absl::StrCat(env.artifact_dir, "/model");
  }
  if (env.trial_dir != nullptr && *env.trial_dir != '\0') {
    return absl::StrCat(env.trial_dir, "/artifacts/model");
  }
  return "";
}

// Writes `bytes` to `path` under a temporary name and renames it.
absl::Status WriteModelFile(const std::string& path, const std::string& bytes) {
  const std::string temp = path + ".tmp";
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  std::error_code error;
  if (out) std::filesystem::rename(temp, path, error);
  if (!out || error) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

void LogConfusion(std::FILE* log, const std::vector<std::vector<int64_t>>& confusion) {
  if (log == nullptr || confusion.empty()) return;
  absl::FPrintF(log, "test confusion matrix (rows: true class, columns: predicted): %s\n",
                nlohmann::json(confusion).dump());
}

// Exports the trained model, adds params, model_bytes and latency_ms to
// `metrics`, and, when there is a model directory, writes model.pt and the
// manifest there.
absl::Status SaveModel(NetImpl& model, const ModelOptions& model_options, const ModelShape& shape,
                       const Objective& objective, const DeviceData& data,
                       const TrialEnvironment& env, ModelManifest manifest, MetricMap& metrics) {
  ASSIGN_OR_RETURN(std::string bytes, ExportTorchScript(model, model_options, shape));
  manifest.parameter_count = CountParameters(model);
  metrics["params"] = static_cast<double>(manifest.parameter_count);
  metrics["model_bytes"] = static_cast<double>(bytes.size());
  metrics["latency_ms"] = MeasureLatencyMs(model, data.train.inputs.narrow(0, 0, 1),
                                           /*warmup=*/5, /*runs=*/20);
  const std::string dir = ModelDir(env);
  if (dir.empty()) return absl::OkStatus();
  manifest.model = model_options.model;
  manifest.architecture = Architecture(model_options);
  manifest.params = EffectiveParams(env.params_file);
  manifest.metrics = metrics;
  manifest.output_width = objective.outputs();
  if (objective.task == TaskKind::kRegression) {
    manifest.output = OutputKind::kScaledValue;
    manifest.target_mean = data.target_mean;
    manifest.target_std = data.target_std;
  } else {
    manifest.output =
        objective.loss == LossKind::kBce ? OutputKind::kBinaryLogit : OutputKind::kLogits;
  }
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": ", error.message()));
  RETURN_IF_ERROR(WriteModelFile(absl::StrCat(dir, "/", kModelFileName), bytes));
  RETURN_IF_ERROR(WriteModelManifest(dir, manifest));
  if (env.log != nullptr) {
    absl::FPrintF(env.log, "saved the model of epoch %d to %s (%d bytes, %d parameters)\n",
                  manifest.epoch, dir, bytes.size(), manifest.parameter_count);
  }
  return absl::OkStatus();
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
  // What the manifest needs from the host copy, which is then dropped.
  ModelManifest manifest;
  manifest.dataset = options.dataset;
  manifest.task = loaded.task;
  manifest.input = loaded.input;
  manifest.input_shape = loaded.example_shape;
  manifest.class_names = loaded.class_names;
  if (loaded.input == InputKind::kImageBytes) {
    manifest.image = ImageStatistics(loaded.train.image_bytes);
  }
  manifest.text.max_len = loaded.input == InputKind::kTokens ? loaded.example_shape[0] : 0;
  manifest.text.vocab_size = loaded.vocab_size;
  manifest.text.vocabulary = std::move(loaded.vocabulary);
  manifest.tabular = std::move(loaded.tabular);
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
  RecordingSink recording(sink);
  ASSIGN_OR_RETURN(MetricMap metrics,
                   Train(*model, *optimizer, data, objective, options, run, recording));
  manifest.epoch = recording.EpochOf(metrics);
  if (metrics.empty()) {  // Resumed at or after the last epoch: nothing trained.
    metrics = Evaluate(*model, data.val, data, objective, "val", run.bf16);
  }
  std::vector<std::vector<int64_t>> confusion;
  for (const auto& [name, value] :
       Evaluate(*model, data.test, data, objective, "test", run.bf16, &confusion)) {
    metrics[name] = value;
  }
  LogConfusion(env.log, confusion);
  RETURN_IF_ERROR(SaveModel(*model, ModelOptionsOf(options), shape, objective, data, env,
                            std::move(manifest), metrics));
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
