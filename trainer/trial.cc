#include "trainer/trial.h"

#include <torch/torch.h>

#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "trainer/datasets.h"
#include "trainer/model.h"
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

// The trial's three image sets on the training device, standardised with the
// training images' statistics.
struct DeviceData {
  TensorDataset train;
  TensorDataset val;
  TensorDataset test;
};

absl::StatusOr<DeviceData> PrepareData(const TrainOptions& options, torch::Device device,
                                       std::FILE* log) {
  ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(options.dataset, options.data_dir));
  ASSIGN_OR_RETURN(SplitPlan plan,
                   PlanSplit(dataset.train.count, options.val_fraction, options.train_subset));
  const TensorDataset whole_train = ToTensors(dataset.train, device);
  DeviceData data;
  data.train = whole_train.Slice(0, plan.train_count);
  data.val = whole_train.Slice(plan.val_begin, plan.val_count);
  data.test = ToTensors(dataset.test, device);
  // Statistics of the training images only; applied to everything, in place
  // (train and val are views of one tensor, standardised once).
  const PixelStats stats = ComputePixelStats(data.train.images);
  Standardize(stats, whole_train.images);
  Standardize(stats, data.test.images);
  if (log != nullptr) {
    absl::FPrintF(log, "%s on %s: %d train / %d val / %d test images\n", options.model,
                  options.dataset, plan.train_count, plan.val_count, data.test.size());
  }
  return data;
}

absl::StatusOr<MetricMap> RunTrialOrThrow(const TrainOptions& options, const TrialEnvironment& env,
                                          ProgressSink& sink) {
  ASSIGN_OR_RETURN(DeviceRequest request, ParseDeviceRequest(env.device));
  ASSIGN_OR_RETURN(torch::Device device, ChooseDevice(request));
  ASSIGN_OR_RETURN(int threads, ResolveNumThreads(options.num_threads, env.num_threads));
  torch::set_num_threads(threads);
  torch::manual_seed(options.seed);
  if (env.log != nullptr) {
    absl::FPrintF(env.log, "device %s, %d intra-op thread(s), seed %d\n", device.str(), threads,
                  options.seed);
  }
  ASSIGN_OR_RETURN(DeviceData data, PrepareData(options, device, env.log));

  Cnn model(options.dropout);
  model->to(device);
  ASSIGN_OR_RETURN(std::unique_ptr<torch::optim::Optimizer> optimizer,
                   MakeOptimizer(options, model->parameters()));
  MetricMap metrics = Train(model, *optimizer, data.train, data.val, options, sink);
  const Evaluation test = Evaluate(model, data.test);
  metrics["test_accuracy"] = test.accuracy;
  metrics["test_loss"] = test.loss;
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
