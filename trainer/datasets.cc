#include "trainer/datasets.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

constexpr int kFashionMnistClasses = 10;
constexpr int64_t kFashionMnistSide = 28;

absl::Status CheckImageSize(const LabeledImages& images, const std::string& path) {
  if (images.rows == kFashionMnistSide && images.cols == kFashionMnistSide) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": images are ", images.rows, "x", images.cols, ", expected 28x28"));
}

absl::StatusOr<LabeledImages> LoadMnistPart(const std::string& dir, const std::string& prefix) {
  ASSIGN_OR_RETURN(std::string images_path, FindIdxFile(dir, prefix + "-images-idx3-ubyte"));
  ASSIGN_OR_RETURN(std::string labels_path, FindIdxFile(dir, prefix + "-labels-idx1-ubyte"));
  ASSIGN_OR_RETURN(LabeledImages part, ReadIdxPair(images_path, labels_path, kFashionMnistClasses));
  RETURN_IF_ERROR(CheckImageSize(part, images_path));
  return part;
}

}  // namespace

absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name) {
  const std::filesystem::path base = std::filesystem::path(dir) / name;
  const std::string gz = base.string() + ".gz";
  std::error_code error;
  if (std::filesystem::exists(gz, error)) return gz;
  if (std::filesystem::exists(base, error)) return base.string();
  return absl::NotFoundError(
      absl::StrCat(gz, ": no such file (nor ", base.string(), "); check data_dir"));
}

absl::StatusOr<Dataset> LoadDataset(const std::string& dataset, const std::string& data_dir) {
  if (dataset != "fashion-mnist") {
    return absl::InvalidArgumentError(absl::StrCat("unknown dataset \"", dataset, "\""));
  }
  Dataset out;
  out.num_classes = kFashionMnistClasses;
  ASSIGN_OR_RETURN(out.train, LoadMnistPart(data_dir, "train"));
  ASSIGN_OR_RETURN(out.test, LoadMnistPart(data_dir, "t10k"));
  return out;
}

absl::StatusOr<SplitPlan> PlanSplit(int64_t total, double val_fraction, int64_t train_subset) {
  SplitPlan plan;
  plan.val_count = std::max<int64_t>(1, std::llround(static_cast<double>(total) * val_fraction));
  const int64_t available = total - plan.val_count;
  if (available < 1) {
    return absl::InvalidArgumentError(absl::StrCat("val_fraction ", val_fraction, " of ", total,
                                                   " images leaves none for training"));
  }
  if (train_subset > available) {
    return absl::InvalidArgumentError(absl::StrCat(
        "train_subset ", train_subset, " is more than the ", available,
        " training images left after holding out ", plan.val_count, " for validation"));
  }
  plan.train_count = train_subset > 0 ? train_subset : available;
  plan.val_begin = total - plan.val_count;
  return plan;
}

absl::StatusOr<IndexSplit> ShuffleSplit(int64_t total, double test_fraction, double val_fraction,
                                        int64_t train_subset, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(total, 0)));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  // Our own Fisher-Yates: std::shuffle's use of the generator differs between
  // standard libraries, and the split must not.
  std::mt19937_64 rng(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  const int64_t test_count =
      std::max<int64_t>(1, std::llround(static_cast<double>(total) * test_fraction));
  const int64_t val_count =
      std::max<int64_t>(1, std::llround(static_cast<double>(total - test_count) * val_fraction));
  const int64_t available = total - test_count - val_count;
  if (available < 1) {
    return absl::InvalidArgumentError(absl::StrCat("test_fraction ", test_fraction,
                                                   " and val_fraction ", val_fraction, " of ",
                                                   total, " examples leave none for training"));
  }
  if (train_subset > available) {
    return absl::InvalidArgumentError(
        absl::StrCat("train_subset ", train_subset, " is more than the ", available,
                     " training examples left after holding out ", test_count, " for test and ",
                     val_count, " for validation"));
  }
  const int64_t train_count = train_subset > 0 ? train_subset : available;
  IndexSplit split;
  split.test.assign(order.begin(), order.begin() + test_count);
  split.val.assign(order.begin() + test_count, order.begin() + test_count + val_count);
  split.train.assign(order.begin() + test_count + val_count,
                     order.begin() + test_count + val_count + train_count);
  for (std::vector<int64_t>* part : {&split.train, &split.val, &split.test}) {
    std::sort(part->begin(), part->end());
  }
  return split;
}

absl::Status CheckEveryClassPresent(const std::vector<int64_t>& labels,
                                    const std::vector<std::string>& class_names,
                                    const std::string& source) {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int64_t label : labels) {
    if (label >= 0 && label < static_cast<int64_t>(counts.size())) ++counts[label];
  }
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": class ", k, " (\"", class_names[k],
                                                     "\") has no examples in the ", labels.size(),
                                                     " training examples"));
    }
  }
  return absl::OkStatus();
}

}  // namespace vernier
