#include "trainer/metrics.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

TEST(ClassificationMetricsTest, BinaryByHand) {
  // labels:    1 1 1 0 0 0 0 1
  // predicted: 1 0 1 0 1 0 0 1
  // TP = 3, FN = 1, FP = 1, TN = 3.
  absl::StatusOr<ClassificationMetrics> m =
      ComputeClassificationMetrics({1, 0, 1, 0, 1, 0, 0, 1}, {1, 1, 1, 0, 0, 0, 0, 1}, 2);
  ASSERT_OK(m);
  EXPECT_DOUBLE_EQ(m->accuracy, 6.0 / 8);
  EXPECT_DOUBLE_EQ(m->binary_precision, 3.0 / 4);
  EXPECT_DOUBLE_EQ(m->binary_recall, 3.0 / 4);
  EXPECT_DOUBLE_EQ(m->binary_f1, 3.0 / 4);
  EXPECT_EQ(m->confusion, (std::vector<std::vector<int64_t>>{{3, 1}, {1, 3}}));
}

TEST(ClassificationMetricsTest, MacroAveragesPerClassScores) {
  // labels 0 0 1 1 2 2 ; predicted 0 1 1 1 0 2
  // class 0: P = 1/2, R = 1/2, F1 = 1/2
  // class 1: P = 2/3, R = 1,   F1 = 0.8
  // class 2: P = 1,   R = 1/2, F1 = 2/3
  absl::StatusOr<ClassificationMetrics> m =
      ComputeClassificationMetrics({0, 1, 1, 1, 0, 2}, {0, 0, 1, 1, 2, 2}, 3);
  ASSERT_OK(m);
  EXPECT_DOUBLE_EQ(m->accuracy, 4.0 / 6);
  EXPECT_NEAR(m->macro_precision, (0.5 + 2.0 / 3 + 1.0) / 3, 1e-12);
  EXPECT_NEAR(m->macro_recall, (0.5 + 1.0 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(m->macro_f1, (0.5 + 0.8 + 2.0 / 3) / 3, 1e-12);
  EXPECT_EQ(m->confusion, (std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 2, 0}, {1, 0, 1}}));
}

TEST(ClassificationMetricsTest, NothingPredictedPositiveGivesZeroNotNaN) {
  absl::StatusOr<ClassificationMetrics> m = ComputeClassificationMetrics({0, 0}, {1, 0}, 2);
  ASSERT_OK(m);
  EXPECT_EQ(m->binary_precision, 0.0);
  EXPECT_EQ(m->binary_recall, 0.0);
  EXPECT_EQ(m->binary_f1, 0.0);
}

TEST(ClassificationMetricsTest, RejectsMismatchedOrOutOfRangeInput) {
  EXPECT_THAT(ComputeClassificationMetrics({0}, {0, 1}, 2),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeClassificationMetrics({}, {}, 2), Not(IsOk()));
  EXPECT_THAT(ComputeClassificationMetrics({2}, {0}, 2), Not(IsOk()));
  EXPECT_THAT(ComputeClassificationMetrics({0}, {-1}, 2), Not(IsOk()));
}

TEST(RegressionMetricsTest, ByHand) {
  // errors: 1, -2, 0, 3 -> squared 1 4 0 9 (mean 3.5), absolute mean 1.5.
  absl::StatusOr<RegressionMetrics> m = ComputeRegressionMetrics({2, 0, 5, 7}, {1, 2, 5, 4});
  ASSERT_OK(m);
  EXPECT_DOUBLE_EQ(m->mse, 3.5);
  EXPECT_DOUBLE_EQ(m->rmse, std::sqrt(3.5));
  EXPECT_DOUBLE_EQ(m->mae, 1.5);
  EXPECT_THAT(ComputeRegressionMetrics({1}, {}), Not(IsOk()));
}

}  // namespace
}  // namespace vernier
