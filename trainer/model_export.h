// Saving a trained model of trainer/models.h as TorchScript, and measuring
// what a user pays to run it (parameters, file size, latency).
//
// libtorch's C++ frontend cannot trace or script a torch::nn::Module, so the
// export builds a torch::jit::Module by hand: the model's parameters and
// buffers become its attributes (copied to the CPU, so the file loads on any
// machine), and forward() is TorchScript source generated from the model's
// options that computes what the C++ model computes in eval mode (no
// dropout). The file loads with torch.jit.load (Python) and torch::jit::load
// (C++); forward takes the tensor the trainer feeds the model (float images
// or features, int64 token ids; see trainer/model_manifest.h) and returns the
// same [N, outputs], up to float rounding.
//
// Internal to trainer/: ExportTorchScript and MeasureLatencyMs let libtorch
// exceptions through, as trainer/training.h does; RunTrial is the edge.
//
// Thread-safety: not thread-safe for one model; a model must be used by one
// thread at a time.
#ifndef VERNIER_TRAINER_MODEL_EXPORT_H_
#define VERNIER_TRAINER_MODEL_EXPORT_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/models.h"

namespace vernier {

// Returns `model` (built by MakeModel(options, shape)) as a serialized
// TorchScript module: the bytes of a model.pt file. Leaves `model` unchanged.
// Returns INVALID_ARGUMENT for an options.model it cannot export (none of
// MakeModel's), INTERNAL when the generated TorchScript does not compile (a
// bug here, with the source in the message).
absl::StatusOr<std::string> ExportTorchScript(NetImpl& model, const ModelOptions& options,
                                              const ModelShape& shape);

// The number of trainable values in `model` (sum of its parameters' sizes).
int64_t CountParameters(torch::nn::Module& model);

// Returns the median wall time, in milliseconds, of `runs` forward passes of
// `model` over `example` (a batch of one example on the model's device) in
// eval mode without gradients, after `warmup` passes that are not timed;
// each pass waits for the device (CUDA synchronisation) before its clock
// stops. Restores the model's training mode. REQUIRES: runs >= 1.
double MeasureLatencyMs(NetImpl& model, const torch::Tensor& example, int warmup, int runs);

}  // namespace vernier

#endif  // VERNIER_TRAINER_MODEL_EXPORT_H_
