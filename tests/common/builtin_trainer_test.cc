// Tests of common/builtin_trainer.h. They live with the trainer's tests because
// the trainer owns the table; tests/common would be their mirror-tree home.
#include "common/builtin_trainer.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;
using json = nlohmann::json;

TEST(BuiltinTrainerParamsTest, NamesAreUniqueAndDefaultsPassTheirOwnCheck) {
  std::set<std::string> names;
  for (const BuiltinParam& param : BuiltinTrainerParams()) {
    EXPECT_TRUE(names.insert(param.name).second) << "duplicate " << param.name;
    EXPECT_FALSE(param.help.empty()) << param.name;
    EXPECT_OK(CheckBuiltinValue(param.name, param.default_value, param.name)) << param.name;
  }
  for (const char* name :
       {"model", "dataset", "data_dir", "epochs", "train_subset", "val_fraction", "lr",
        "batch_size", "dropout", "l1", "l2", "optimizer", "momentum", "seed", "num_threads"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
}

TEST(BuiltinTrainerParamsTest, FindReturnsTheEntryOrNull) {
  const BuiltinParam* batch_size = FindBuiltinParam("batch_size");
  ASSERT_NE(batch_size, nullptr);
  EXPECT_EQ(batch_size->kind, BuiltinParam::Kind::kInt);
  EXPECT_EQ(batch_size->default_value, json(64));
  EXPECT_EQ(FindBuiltinParam("batchsize"), nullptr);
}

TEST(CheckBuiltinValueTest, UnknownOptimizerNamesFieldValueAndChoices) {
  absl::Status status = CheckBuiltinValue("optimizer", "adamm", "params.optimizer.values[2]");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(status.message(),
            "params.optimizer.values[2]: unknown optimizer \"adamm\" (expected one of: gd, sgd, "
            "momentum, adam, adamw, rmsprop, adagrad)");
  EXPECT_OK(CheckBuiltinValue("optimizer", "momentum", "f"));
  EXPECT_THAT(CheckBuiltinValue("optimizer", 3, "f"), Not(IsOk()));
}

TEST(CheckBuiltinValueTest, IntAcceptsIntegersAndIntegralFloatsOnly) {
  EXPECT_OK(CheckBuiltinValue("batch_size", json(64), "params.batch_size"));
  EXPECT_OK(CheckBuiltinValue("batch_size", json(64.0), "params.batch_size"));
  absl::Status half = CheckBuiltinValue("batch_size", json(64.5), "params.batch_size");
  EXPECT_THAT(half, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(half.message()), StartsWith("params.batch_size: "));
  EXPECT_THAT(std::string(half.message()), HasSubstr("integer"));
  EXPECT_THAT(std::string(half.message()), HasSubstr("64.5"));
  EXPECT_THAT(CheckBuiltinValue("batch_size", json("64"), "f"), Not(IsOk()));
  EXPECT_THAT(CheckBuiltinValue("batch_size", json(true), "f"), Not(IsOk()));
}

TEST(CheckBuiltinValueTest, SwitchesTakeBooleansAsZeroAndOne) {
  EXPECT_OK(CheckBuiltinValue("refit", json(true), "trainer.refit"));
  EXPECT_OK(CheckBuiltinValue("batch_norm", json(false), "f"));
  EXPECT_OK(CheckBuiltinValue("refit", json(1), "f"));
  EXPECT_THAT(CheckBuiltinValue("refit", json(2), "f"), Not(IsOk()));
  EXPECT_THAT(CheckBuiltinValue("epochs", json(true), "f"), Not(IsOk()));
}

TEST(CheckBuiltinValueTest, BoundsAreInclusiveAndNamed) {
  EXPECT_OK(CheckBuiltinValue("batch_size", 1, "f"));
  EXPECT_OK(CheckBuiltinValue("batch_size", 65536, "f"));
  absl::Status zero = CheckBuiltinValue("batch_size", 0, "trial.batch_size");
  EXPECT_EQ(zero.message(), "trial.batch_size: batch_size must be between 1 and 65536, got 0");
  EXPECT_OK(CheckBuiltinValue("dropout", 0.95, "f"));
  EXPECT_THAT(CheckBuiltinValue("dropout", 0.96, "f"), Not(IsOk()));
  EXPECT_THAT(CheckBuiltinValue("lr", 0, "f"), Not(IsOk()));
  EXPECT_OK(CheckBuiltinValue("lr", 1e-5, "f"));
  EXPECT_OK(CheckBuiltinValue("l2", 1e6, "f"));
  absl::Status negative = CheckBuiltinValue("l1", -0.5, "x");
  EXPECT_EQ(negative.message(), "x: l1 must be >= 0, got -0.5");
  EXPECT_THAT(CheckBuiltinValue("momentum", 1.0, "f"), Not(IsOk()));
}

TEST(CheckBuiltinValueTest, FloatsTakeIntegersButNotStrings) {
  EXPECT_OK(CheckBuiltinValue("lr", 1, "f"));
  absl::Status text = CheckBuiltinValue("lr", "0.1", "params.lr");
  EXPECT_EQ(text.message(), "params.lr: lr must be a number, got \"0.1\"");
}

TEST(CheckBuiltinValueTest, StringsMustBeNonEmpty) {
  EXPECT_OK(CheckBuiltinValue("data_dir", "/data", "f"));
  EXPECT_THAT(CheckBuiltinValue("data_dir", "", "f"), Not(IsOk()));
  EXPECT_THAT(CheckBuiltinValue("data_dir", 7, "f"), Not(IsOk()));
}

TEST(CheckBuiltinValueTest, UnknownParameterIsNamed) {
  absl::Status status = CheckBuiltinValue("learning_rate", 0.1, "params.learning_rate");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()),
              StartsWith("params.learning_rate: unknown parameter \"learning_rate\""));
}

TEST(CheckBuiltinValueTest, LongOrBinaryValuesAreShownSafely) {
  absl::Status status = CheckBuiltinValue("optimizer", std::string(500, 'x') + "\xff", "f");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_LT(status.message().size(), 200u);
}

}  // namespace
}  // namespace vernier
