#include "trainer/datasets.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

constexpr int kFashionMnistClasses = 10;
constexpr int64_t kFashionMnistSide = 28;

// Returns `dir`/`name`.gz if it exists, else `dir`/`name` if that exists, else
// NOT_FOUND naming the .gz file.
absl::StatusOr<std::string> FindIdxFile(const std::string& dir, const std::string& name) {
  const std::filesystem::path base = std::filesystem::path(dir) / name;
  const std::string gz = base.string() + ".gz";
  std::error_code error;
  if (std::filesystem::exists(gz, error)) return gz;
  if (std::filesystem::exists(base, error)) return base.string();
  return absl::NotFoundError(
      absl::StrCat(gz, ": no such file (nor ", base.string(), "); check data_dir"));
}

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

}  // namespace vernier
