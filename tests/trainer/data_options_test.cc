// The data parameters of the built-in trainer's table reach DataOptions.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "trainer/options.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;

TEST(DataOptionsFromParamsTest, DefaultsMatchTheTable) {
  absl::StatusOr<TrainOptions> options = TrainOptionsFromJson(nlohmann::json::object(), "p");
  ASSERT_OK(options);
  const DataOptions& data = options->data;
  EXPECT_EQ(data.dataset, "fashion-mnist");
  EXPECT_EQ(data.data_dir, kDefaultImageDir);
  EXPECT_EQ(data.data_file, "");
  EXPECT_DOUBLE_EQ(data.val_fraction, 1.0 / 6);
  EXPECT_DOUBLE_EQ(data.test_fraction, 0.2);
  EXPECT_EQ(data.cache_dir, "auto");
  EXPECT_EQ(data.max_len, 200);
  EXPECT_EQ(data.vocab_size, 20000);
  EXPECT_EQ(data.target, "");
  EXPECT_EQ(data.task, "auto");
  EXPECT_EQ(data.missing, "mean");
  EXPECT_EQ(data.outliers, "none");
  EXPECT_EQ(data.outlier_rule, "z");
  EXPECT_DOUBLE_EQ(data.outlier_threshold, 3);
  EXPECT_TRUE(data.standardize);
}

TEST(DataOptionsFromParamsTest, EveryDataParameterIsStored) {
  const nlohmann::json params = {{"dataset", "tabular-csv"},
                                 {"data_dir", "/d"},
                                 {"data_file", "x.csv"},
                                 {"val_fraction", 0.3},
                                 {"test_fraction", 0.1},
                                 {"train_subset", 7},
                                 {"data_seed", 9},
                                 {"cache_dir", "none"},
                                 {"max_len", 50},
                                 {"vocab_size", 1000},
                                 {"target", "y"},
                                 {"task", "regression"},
                                 {"missing", "interpolate"},
                                 {"missing_value", -2.5},
                                 {"outliers", "clip"},
                                 {"outlier_rule", "iqr"},
                                 {"outlier_threshold", 1.5},
                                 {"standardize", 0}};
  absl::StatusOr<TrainOptions> options = TrainOptionsFromJson(params, "p");
  ASSERT_OK(options);
  const DataOptions& data = options->data;
  EXPECT_EQ(data.dataset, "tabular-csv");
  EXPECT_EQ(options->dataset, "tabular-csv");
  EXPECT_EQ(data.data_dir, "/d");
  EXPECT_EQ(data.data_file, "x.csv");
  EXPECT_DOUBLE_EQ(data.val_fraction, 0.3);
  EXPECT_DOUBLE_EQ(data.test_fraction, 0.1);
  EXPECT_EQ(data.train_subset, 7);
  EXPECT_EQ(options->train_subset, 7);
  EXPECT_EQ(data.data_seed, 9u);
  EXPECT_EQ(data.cache_dir, "none");
  EXPECT_EQ(data.max_len, 50);
  EXPECT_EQ(data.vocab_size, 1000);
  EXPECT_EQ(data.target, "y");
  EXPECT_EQ(data.task, "regression");
  EXPECT_EQ(data.missing, "interpolate");
  EXPECT_DOUBLE_EQ(data.missing_value, -2.5);
  EXPECT_EQ(data.outliers, "clip");
  EXPECT_EQ(data.outlier_rule, "iqr");
  EXPECT_DOUBLE_EQ(data.outlier_threshold, 1.5);
  EXPECT_FALSE(data.standardize);
}

TEST(DataOptionsFromParamsTest, BadDataValuesAreRejectedByTheTable) {
  EXPECT_THAT(TrainOptionsFromJson({{"dataset", "cifar"}}, "p"), Not(IsOk()));
  EXPECT_THAT(TrainOptionsFromJson({{"missing", "zero"}}, "p"), Not(IsOk()));
  EXPECT_THAT(TrainOptionsFromJson({{"vocab_size", 2}}, "p"), Not(IsOk()));
  EXPECT_THAT(TrainOptionsFromJson({{"cache_dir", ""}}, "p"), Not(IsOk()));
}

}  // namespace
}  // namespace vernier
