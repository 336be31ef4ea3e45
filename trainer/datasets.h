// The data sets the built-in trainer knows, and how a training file is split
// into the images a trial trains on and the images it validates on. Torch-free:
// images come back as byte buffers (see trainer/idx.h).
//
// Thread-safety: pure functions (LoadDataset reads files); thread-safe.
#ifndef VERNIER_TRAINER_DATASETS_H_
#define VERNIER_TRAINER_DATASETS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/idx.h"

namespace vernier {

// Returns `dir`/`name`.gz if it exists, else `dir`/`name` if that exists, else
// NOT_FOUND naming the .gz file.
absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name);

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

// Which examples of a data set without a separate test file go to each split,
// as ascending example indices.
struct IndexSplit {
  std::vector<int64_t> train;
  std::vector<int64_t> val;
  std::vector<int64_t> test;
};

// Returns a seeded random split of `total` examples: the indices are shuffled
// (Fisher-Yates over a std::mt19937_64 seeded with `seed`, the same on every
// platform), the first round(total * test_fraction) go to test, the next
// round(rest * val_fraction) to validation, and the others, or the first
// `train_subset` of them when it is > 0, to training. Test and validation get
// at least one example each. The split depends only on its arguments, so every
// trial of a study with the same data_seed sees the same examples.
// Returns INVALID_ARGUMENT when no example is left for training or
// `train_subset` exceeds the examples left.
absl::StatusOr<IndexSplit> ShuffleSplit(int64_t total, double test_fraction, double val_fraction,
                                        int64_t train_subset, uint64_t seed);

// Returns INVALID_ARGUMENT, naming `source` and the class, when a class in
// [0, class_names.size()) has no example among the training `labels`.
absl::Status CheckEveryClassPresent(const std::vector<int64_t>& labels,
                                    const std::vector<std::string>& class_names,
                                    const std::string& source);

}  // namespace vernier

#endif  // VERNIER_TRAINER_DATASETS_H_
