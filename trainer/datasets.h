// The data sets the built-in trainer knows, and how a training file is split
// into the images a trial trains on and the images it validates on. Torch-free:
// images come back as byte buffers (see trainer/idx.h).
//
// Thread-safety: pure functions (LoadDataset reads files); thread-safe.
#ifndef VERNIER_TRAINER_DATASETS_H_
#define VERNIER_TRAINER_DATASETS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/idx.h"

namespace vernier {

// A data set's training and test parts, both of images `rows` x `cols`.
struct Dataset {
  LabeledImages train;
  LabeledImages test;
  int num_classes = 0;
};

// Returns `dataset` ("fashion-mnist": the four MNIST-format IDX files, each
// either as <name>.gz or as <name>) read from `data_dir`. Returns NOT_FOUND
// naming the missing file, INVALID_ARGUMENT for an unknown dataset or images
// that are not 28x28, and the errors of ReadIdxPair.
absl::StatusOr<Dataset> LoadDataset(const std::string& dataset, const std::string& data_dir);

// Which images of a training file of `total` images a trial uses: images
// [0, train_count) for training and the last val_count images for validation.
// The split does not depend on the seed, so every trial of a study validates on
// the same images.
struct SplitPlan {
  int64_t train_count = 0;
  int64_t val_begin = 0;
  int64_t val_count = 0;
};

// Returns the split for `total` images: val_count = round(total *
// val_fraction), at least 1; train_count = `train_subset`, or all the others
// when it is 0. Returns INVALID_ARGUMENT when no image is left for training or
// `train_subset` exceeds the images left.
absl::StatusOr<SplitPlan> PlanSplit(int64_t total, double val_fraction, int64_t train_subset);

}  // namespace vernier

#endif  // VERNIER_TRAINER_DATASETS_H_
