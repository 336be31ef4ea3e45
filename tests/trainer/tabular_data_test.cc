#include "trainer/tabular_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Matrix Column(std::vector<double> values) {
  Matrix m;
  m.rows = static_cast<int64_t>(values.size());
  m.cols = 1;
  m.values = std::move(values);
  return m;
}

TEST(ReadTabularCsvTest, ReadsFeaturesTargetAndMissingCells) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("t.csv"), "a, y ,b\n1,yes,2\nNA,no,?\n3,,4\n nan ,yes, 5.5\n");
  absl::StatusOr<RawTable> table = ReadTabularCsv(dir.File("t.csv"), "y");
  ASSERT_OK(table);
  EXPECT_THAT(table->feature_names, ElementsAre("a", "b"));
  EXPECT_EQ(table->target_name, "y");
  // The row with an empty target (line 4) is dropped.
  EXPECT_THAT(table->targets, ElementsAre("yes", "no", "yes"));
  EXPECT_THAT(table->lines, ElementsAre(2, 3, 5));
  ASSERT_EQ(table->features.rows, 3);
  EXPECT_EQ(table->features.at(0, 1), 2);
  EXPECT_TRUE(std::isnan(table->features.at(1, 0)));
  EXPECT_TRUE(std::isnan(table->features.at(1, 1)));
  EXPECT_TRUE(std::isnan(table->features.at(2, 0)));
  EXPECT_EQ(table->features.at(2, 1), 5.5);
}

TEST(ReadTabularCsvTest, BadCellsNameFileLineAndColumn) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("t.csv"), "a,b,y\n1,2,3\n1,abc,4\n");
  absl::Status status = ReadTabularCsv(dir.File("t.csv"), "").status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir.File("t.csv") + ":3: column \"b\""));
  EXPECT_THAT(std::string(status.message()), HasSubstr("abc"));

  testing::WriteTextFile(dir.File("short.csv"), "a,b,y\n1,2,3\n1,4\n");
  status = ReadTabularCsv(dir.File("short.csv"), "").status();
  EXPECT_THAT(std::string(status.message()), HasSubstr(":3: 2 fields, the header has 3"));

  status = ReadTabularCsv(dir.File("t.csv"), "label").status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("no target column \"label\""));

  testing::WriteTextFile(dir.File("header-only.csv"), "a,y\n");
  status = ReadTabularCsv(dir.File("header-only.csv"), "").status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("no data rows"));

  EXPECT_THAT(ReadTabularCsv(dir.File("absent.csv"), ""), StatusIs(absl::StatusCode::kNotFound));
}

TEST(DecideTaskTest, AutoPicksClassificationForLabelsAndSmallIntegerSets) {
  RawTable table;
  table.source = "f.csv";
  table.targets = {"1", "0", "1"};
  table.lines = {2, 3, 4};
  EXPECT_THAT(DecideTask(table, "auto"), IsOkAndHolds(TaskKind::kClassification));
  table.targets = {"1.5", "0", "1"};
  EXPECT_THAT(DecideTask(table, "auto"), IsOkAndHolds(TaskKind::kRegression));
  table.targets.clear();
  for (int i = 0; i < 30; ++i) table.targets.push_back(std::to_string(i));
  EXPECT_THAT(DecideTask(table, "auto"), IsOkAndHolds(TaskKind::kRegression));
  table.targets = {"cat", "1", "dog"};
  EXPECT_THAT(DecideTask(table, "auto"), IsOkAndHolds(TaskKind::kClassification));
  absl::Status status = DecideTask(table, "regression").status();
  EXPECT_THAT(std::string(status.message()), HasSubstr("f.csv:2: target"));
  EXPECT_THAT(DecideTask(table, "clustering"), Not(IsOk()));
}

TEST(CleaningTest, MeanAndMedianSkipMissing) {
  Matrix m = Column({1, kNaN, 2, 10});
  EXPECT_THAT(ColumnMeans(m), ElementsAre(DoubleEq(13.0 / 3)));
  EXPECT_THAT(ColumnMedians(m), ElementsAre(DoubleEq(2)));
  FillMissing(m, {7});
  EXPECT_THAT(m.values, ElementsAre(1, 7, 2, 10));
}

TEST(CleaningTest, InterpolatesBetweenNeighboursAndCopiesAtTheEnds) {
  Matrix m = Column({kNaN, 1, kNaN, kNaN, 4, kNaN});
  InterpolateMissing(m, {0});
  EXPECT_THAT(m.values, ElementsAre(1, 1, 2, 3, 4, 4));
  Matrix empty = Column({kNaN, kNaN});
  InterpolateMissing(empty, {9});
  EXPECT_THAT(empty.values, ElementsAre(9, 9));
}

TEST(CleaningTest, RowsWithoutMissing) {
  Matrix m;
  m.rows = 3;
  m.cols = 2;
  m.values = {1, 2, kNaN, 3, 4, 5};
  EXPECT_THAT(RowsWithoutMissing(m), ElementsAre(0, 2));
}

TEST(CleaningTest, ZScoreBoundsClipAndDrop) {
  // Mean 3, population stddev sqrt(2) for 1..5.
  Matrix train = Column({1, 2, 3, 4, 5});
  absl::StatusOr<OutlierBounds> bounds = FitOutlierBounds(train, "z", 1);
  ASSERT_OK(bounds);
  EXPECT_DOUBLE_EQ(bounds->low[0], 3 - std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(bounds->high[0], 3 + std::sqrt(2.0));
  EXPECT_THAT(RowsWithinBounds(*bounds, train), ElementsAre(1, 2, 3));
  Matrix other = Column({-10, 3, 10});
  ClipOutliers(*bounds, other);
  EXPECT_THAT(other.values,
              ElementsAre(DoubleEq(3 - std::sqrt(2.0)), 3, DoubleEq(3 + std::sqrt(2.0))));
}

TEST(CleaningTest, IqrBoundsUseInterpolatedQuartiles) {
  // 1..9 and 100: numpy gives Q1 = 3.25, Q3 = 7.75, IQR = 4.5.
  Matrix train = Column({1, 2, 3, 4, 5, 6, 7, 8, 9, 100});
  absl::StatusOr<OutlierBounds> bounds = FitOutlierBounds(train, "iqr", 1.5);
  ASSERT_OK(bounds);
  EXPECT_DOUBLE_EQ(bounds->low[0], 3.25 - 6.75);
  EXPECT_DOUBLE_EQ(bounds->high[0], 7.75 + 6.75);
  EXPECT_EQ(RowsWithinBounds(*bounds, train).size(), 9u);
  EXPECT_THAT(FitOutlierBounds(train, "mad", 1), Not(IsOk()));
}

TEST(CleaningTest, StandardizeWithTrainingStatistics) {
  Matrix m = Column({1, 3});
  Standardize(m, {2}, {1});
  EXPECT_THAT(m.values, ElementsAre(-1, 1));
  Matrix constant = Column({5, 5});
  Standardize(constant, {5}, {0});  // A zero scale leaves the spread alone.
  EXPECT_THAT(constant.values, ElementsAre(0, 0));
}

// A regression file where y = 2a + b, with a missing cell and an outlier.
std::string RegressionCsv() {
  std::string text = "a,b,y\n";
  for (int i = 0; i < 50; ++i) {
    const int a = i % 7;
    const int b = i % 5;
    std::string b_cell = i == 10 ? "" : std::to_string(b);
    if (i == 20) b_cell = "1000";
    text += std::to_string(a) + "," + b_cell + "," + std::to_string(2 * a + b) + ".5\n";
  }
  return text;
}

TEST(LoadTabularTest, RegressionWithCleaningFittedOnTraining) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("r.csv"), RegressionCsv());
  DataOptions options;
  options.dataset = "tabular-csv";
  options.val_fraction = 0.25;
  options.test_fraction = 0.2;
  options.outliers = "clip";
  options.outlier_threshold = 2;
  absl::StatusOr<LoadedData> data = LoadTabular(options, dir.File("r.csv"));
  ASSERT_OK(data);
  EXPECT_EQ(data->task, TaskKind::kRegression);
  EXPECT_EQ(data->input, InputKind::kFloat);
  EXPECT_THAT(data->example_shape, ElementsAre(2));
  EXPECT_EQ(data->test.count, 10);
  EXPECT_EQ(data->val.count, 10);
  EXPECT_EQ(data->train.count, 30);
  EXPECT_EQ(data->train.floats.size(), 60u);
  EXPECT_EQ(data->val.targets.size(), 10u);
  for (const ExampleSet* set : {&data->train, &data->val, &data->test}) {
    for (float v : set->floats) EXPECT_TRUE(std::isfinite(v));
    for (float v : set->floats) EXPECT_LT(std::abs(v), 10) << "the outlier was not clipped";
  }
  // Standardised on the training split: its columns have mean ~0.
  double sum = 0;
  for (int64_t r = 0; r < data->train.count; ++r) sum += data->train.floats[2 * r];
  EXPECT_NEAR(sum / static_cast<double>(data->train.count), 0, 1e-5);
}

TEST(LoadTabularTest, RecordsThePreprocessingThatASavedModelNeeds) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("r.csv"), RegressionCsv());
  DataOptions options;
  options.missing = "median";
  options.outliers = "clip";
  options.outlier_threshold = 2;
  absl::StatusOr<LoadedData> data = LoadTabular(options, dir.File("r.csv"));
  ASSERT_OK(data);
  const TabularPreprocessing& steps = data->tabular;
  EXPECT_THAT(steps.feature_names, ElementsAre("a", "b"));
  EXPECT_EQ(steps.target_name, "y");
  EXPECT_EQ(steps.missing, "median");
  ASSERT_EQ(steps.fill_values.size(), 2u);
  ASSERT_EQ(steps.clip_low.size(), 2u);
  ASSERT_EQ(steps.clip_high.size(), 2u);
  ASSERT_EQ(steps.means.size(), 2u);
  ASSERT_EQ(steps.scales.size(), 2u);
  // The recorded steps, applied to a raw cell (NaN = missing), give the
  // stored value: every test value is that of one of the file's cells.
  const auto prepare = [&steps](int c, double raw) {
    const double filled = std::isnan(raw) ? steps.fill_values[c] : raw;
    const double clipped = std::min(std::max(filled, steps.clip_low[c]), steps.clip_high[c]);
    return (clipped - steps.means[c]) / steps.scales[c];
  };
  const std::vector<double> raw_cells[2] = {{0, 1, 2, 3, 4, 5, 6}, {0, 1, 2, 3, 4, 1000, kNaN}};
  for (int64_t r = 0; r < data->test.count; ++r) {
    for (int c = 0; c < 2; ++c) {
      const float stored = data->test.floats[static_cast<size_t>(2 * r + c)];
      bool matched = false;
      for (double raw : raw_cells[c])
        matched = matched || std::abs(prepare(c, raw) - stored) < 1e-5;
      EXPECT_TRUE(matched) << "test row " << r << " column " << c << ": " << stored;
    }
  }
  // Without clipping or standardising, those lists are empty.
  options.outliers = "none";
  options.standardize = false;
  options.missing = "drop";
  data = LoadTabular(options, dir.File("r.csv"));
  ASSERT_OK(data);
  EXPECT_TRUE(data->tabular.fill_values.empty());
  EXPECT_TRUE(data->tabular.clip_low.empty());
  EXPECT_TRUE(data->tabular.means.empty());
  EXPECT_TRUE(data->tabular.scales.empty());
}

TEST(LoadTabularTest, DropRemovesRowsAndOutlierDropKeepsEvaluationRows) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("r.csv"), RegressionCsv());
  DataOptions options;
  options.missing = "drop";
  options.outliers = "drop";
  options.outlier_threshold = 2;
  absl::StatusOr<LoadedData> data = LoadTabular(options, dir.File("r.csv"));
  ASSERT_OK(data);
  // 49 rows after dropping the missing cell: test 10, val round(39/6) = 7.
  EXPECT_EQ(data->test.count, 10);
  EXPECT_EQ(data->val.count, 7);
  const int64_t kept = data->train.count;
  EXPECT_LE(kept, 32);
  options.outliers = "none";
  data = LoadTabular(options, dir.File("r.csv"));
  ASSERT_OK(data);
  EXPECT_EQ(data->train.count, 32);
}

TEST(LoadTabularTest, ClassificationWithStringLabels) {
  testing::TempDir dir;
  std::string text = "x,kind\n";
  for (int i = 0; i < 40; ++i) text += std::to_string(i) + "," + (i % 2 ? "odd" : "even") + "\n";
  testing::WriteTextFile(dir.File("c.csv"), text);
  DataOptions options;
  options.missing = "median";
  absl::StatusOr<LoadedData> data = LoadTabular(options, dir.File("c.csv"));
  ASSERT_OK(data);
  EXPECT_EQ(data->task, TaskKind::kClassification);
  EXPECT_THAT(data->class_names, ElementsAre("even", "odd"));
  EXPECT_EQ(data->num_classes, 2);
  EXPECT_EQ(static_cast<int64_t>(data->train.labels.size()), data->train.count);
}

TEST(LoadTabularTest, AClassWithNoTrainingExampleIsAnError) {
  testing::TempDir dir;
  std::string text = "x,y\n";
  for (int i = 0; i < 40; ++i) text += std::to_string(i) + ",a\n";
  text += "1,b\n";  // A single "b": it lands in one split only.
  testing::WriteTextFile(dir.File("c.csv"), text);
  DataOptions options;
  bool saw_error = false;
  for (uint64_t seed = 0; seed < 20 && !saw_error; ++seed) {
    options.data_seed = seed;
    absl::StatusOr<LoadedData> data = LoadTabular(options, dir.File("c.csv"));
    if (!data.ok()) {
      saw_error = true;
      EXPECT_THAT(std::string(data.status().message()),
                  HasSubstr(dir.File("c.csv") + ": class 1 (\"b\") has no examples"));
    }
  }
  EXPECT_TRUE(saw_error);
}

TEST(LoadTabularTest, MeanFillNeedsAValueInTraining) {
  testing::TempDir dir;
  std::string text = "x,z,y\n";
  for (int i = 0; i < 20; ++i) text += std::to_string(i) + ",NA," + std::to_string(i) + ".5\n";
  testing::WriteTextFile(dir.File("c.csv"), text);
  DataOptions options;
  absl::Status status = LoadTabular(options, dir.File("c.csv")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("column \"z\" has no value"));
  options.missing = "constant";
  options.missing_value = -1;
  EXPECT_OK(LoadTabular(options, dir.File("c.csv")));
}

}  // namespace
}  // namespace vernier
