// The built-in trainer's settings for one trial, read from the trial's
// parameter file (a flat JSON object) through the shared parameter table
// (common/builtin_trainer.h), plus the environment settings of the trial
// protocol that pick threads and device.
//
// Thread-safety: plain data and pure functions (LoadTrainOptions reads a file);
// all thread-safe.
#ifndef VERNIER_TRAINER_OPTIONS_H_
#define VERNIER_TRAINER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "trainer/data.h"

namespace vernier {

// One field per entry of BuiltinTrainerParams(); the defaults live in that
// table, not here.
struct TrainOptions {
  std::string model;
  std::string dataset;
  std::string data_dir;
  int epochs = 0;
  int64_t train_subset = 0;  // 0 = every training image left after the split.
  double val_fraction = 0;
  std::string optimizer;  // "sgd", "momentum" or "adam".
  double lr = 0;
  double momentum = 0;
  int64_t batch_size = 0;
  double dropout = 0;
  double l1 = 0;
  double l2 = 0;
  uint64_t seed = 0;
  int num_threads = 0;  // 0 = decided by ResolveNumThreads.
  // Every data parameter (dataset, data_dir, data_file, test_fraction, ...,
  // standardize), as LoadData takes them. dataset, data_dir, train_subset and
  // val_fraction are also in the fields above.
  DataOptions data;

  // Model (see trainer/models.h for what each size means).
  std::string activation;
  double leaky_slope = 0;
  int conv_blocks = 0;
  int64_t channels = 0;
  int64_t kernel_size = 0;
  std::string pooling;
  bool batch_norm = false;
  int64_t units = 0;
  int layers = 0;
  std::string rnn_cell;
  int64_t hidden_size = 0;
  bool bidirectional = false;
  int64_t embedding_dim = 0;
  int64_t d_model = 0;
  int64_t heads = 0;
  int64_t ff_units = 0;
  std::string positional;
  std::string token_pooling;
  // Optimizer, schedule, loss and regularisation (see trainer/training.h).
  bool nesterov = false;
  double beta1 = 0;
  double beta2 = 0;
  double eps = 0;
  double weight_decay = 0;
  std::string schedule;
  int step_size = 0;
  double gamma = 0;
  int warmup_epochs = 0;
  std::string loss;
  double label_smoothing = 0;
  double clip_norm = 0;
  std::string early_stop_metric;
  int patience = 0;  // 0 = no early stopping.
  double min_delta = 0;
  std::string precision;
  int checkpoint_every = 0;  // Epochs; 0 = no checkpoints.
  std::string resume_from;   // A checkpoint directory; "" = start fresh.
  // Train on the training and validation data for exactly `epochs`, without
  // early stopping, measuring each epoch on the test split (see Train).
  bool refit = false;
  // Image augmentation (see trainer/augment.h).
  double aug_flip = 0;
  double aug_rotation = 0;
  double aug_scale = 0;
  int64_t aug_crop = 0;
  int64_t aug_cutout = 0;
  double aug_prob = 0;
};

// Returns the options for `params`, a JSON object of parameter name -> value;
// names it leaves out take the table's defaults. Returns INVALID_ARGUMENT when
// `params` is not an object, names a parameter the table lacks (the message
// names the key), or holds a value CheckBuiltinValue rejects. Error messages
// start with `source` (e.g. the file name).
absl::StatusOr<TrainOptions> TrainOptionsFromJson(const nlohmann::json& params,
                                                  absl::string_view source);

// Reads and parses the parameter file at `path`. Returns NOT_FOUND if it cannot
// be opened, INVALID_ARGUMENT if it is not JSON or TrainOptionsFromJson rejects
// it; messages name `path`.
absl::StatusOr<TrainOptions> LoadTrainOptions(const std::string& path);

// Returns the intra-op thread count: `num_threads_param` when > 0, else the
// value of VERNIER_NUM_THREADS (`env_value`, nullptr when unset) when it is set,
// else 1. Returns INVALID_ARGUMENT if the environment value is not an integer
// in [1, 1024].
absl::StatusOr<int> ResolveNumThreads(int num_threads_param, const char* env_value);

enum class DeviceRequest {
  kAuto,  // CUDA when available, else CPU.
  kCpu,
  kCuda,  // CUDA or fail.
};

// Parses VERNIER_DEVICE (`env_value`, nullptr or "" when unset): "cpu",
// "cuda" or unset. Returns INVALID_ARGUMENT for anything else.
absl::StatusOr<DeviceRequest> ParseDeviceRequest(const char* env_value);

}  // namespace vernier

#endif  // VERNIER_TRAINER_OPTIONS_H_
