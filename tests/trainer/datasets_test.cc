#include "trainer/datasets.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

TEST(LoadDatasetTest, ReadsGzipOrRawFiles) {
  for (bool gzip : {true, false}) {
    testing::TempDir dir;
    testing::WriteFashionMnistFiles(dir.path(), testing::MakeTinyImages(30, 1),
                                    testing::MakeTinyImages(20, 2), gzip);
    absl::StatusOr<Dataset> data = LoadDataset("fashion-mnist", dir.path());
    ASSERT_OK(data);
    EXPECT_EQ(data->num_classes, 10);
    EXPECT_EQ(data->train.count, 30);
    EXPECT_EQ(data->test.count, 20);
    EXPECT_EQ(data->train.rows, 28);
    EXPECT_EQ(data->test.labels, testing::MakeTinyImages(20, 2).labels);
  }
}

TEST(LoadDatasetTest, MissingFileIsNamed) {
  testing::TempDir dir;
  testing::WriteFashionMnistFiles(dir.path(), testing::MakeTinyImages(30, 1),
                                  testing::MakeTinyImages(20, 2), true);
  std::filesystem::remove(dir.File("t10k-labels-idx1-ubyte.gz"));
  absl::Status status = LoadDataset("fashion-mnist", dir.path()).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir.File("t10k-labels-idx1-ubyte.gz")));
}

TEST(LoadDatasetTest, WrongImageSizeIsNamed) {
  testing::TempDir dir;
  LabeledImages small;
  small.count = 2;
  small.rows = 2;
  small.cols = 2;
  small.pixels.assign(8, 0);
  small.labels = {0, 1};
  testing::WriteFashionMnistFiles(dir.path(), small, small, false);
  absl::Status status = LoadDataset("fashion-mnist", dir.path()).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("train-images-idx3-ubyte"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("2x2"));
}

TEST(LoadDatasetTest, UnknownDatasetIsInvalid) {
  EXPECT_THAT(LoadDataset("cifar", "/tmp"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LoadDatasetTest, RealFashionMnistWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  absl::StatusOr<Dataset> data = LoadDataset("fashion-mnist", dir);
  ASSERT_OK(data);
  EXPECT_EQ(data->train.count, 60000);
  EXPECT_EQ(data->test.count, 10000);
}

TEST(PlanSplitTest, HoldsOutTheLastImagesForValidation) {
  absl::StatusOr<SplitPlan> plan = PlanSplit(60000, 1.0 / 6, 0);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->val_count, 10000);
  EXPECT_EQ(plan->val_begin, 50000);
  EXPECT_EQ(plan->train_count, 50000);

  plan = PlanSplit(60000, 1.0 / 6, 12000);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->train_count, 12000);
  EXPECT_EQ(plan->val_begin, 50000);
}

TEST(PlanSplitTest, KeepsAtLeastOneValidationImage) {
  absl::StatusOr<SplitPlan> plan = PlanSplit(10, 0.001, 0);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->val_count, 1);
  EXPECT_EQ(plan->train_count, 9);
}

TEST(PlanSplitTest, RejectsSubsetsLargerThanWhatIsLeft) {
  absl::Status status = PlanSplit(60000, 1.0 / 6, 50001).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("train_subset 50001"));
  EXPECT_THAT(PlanSplit(1, 0.5, 0), Not(IsOk()));
}

}  // namespace
}  // namespace vernier
