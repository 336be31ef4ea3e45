#include "trainer/options.h"

#include <string>

#include "common/builtin_trainer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;
using json = nlohmann::json;

TEST(TrainOptionsTest, EmptyObjectTakesTheTableDefaults) {
  absl::StatusOr<TrainOptions> options = TrainOptionsFromJson(json::object(), "p.json");
  ASSERT_OK(options);
  EXPECT_EQ(options->model, "cnn");
  EXPECT_EQ(options->dataset, "fashion-mnist");
  EXPECT_EQ(options->data_dir, FindBuiltinParam("data_dir")->default_value.get<std::string>());
  EXPECT_EQ(options->epochs, 3);
  EXPECT_EQ(options->train_subset, 0);
  EXPECT_DOUBLE_EQ(options->val_fraction, 1.0 / 6);
  EXPECT_EQ(options->optimizer, "adam");
  EXPECT_DOUBLE_EQ(options->lr, FindBuiltinParam("lr")->default_value.get<double>());
  EXPECT_DOUBLE_EQ(options->momentum, 0.9);
  EXPECT_EQ(options->batch_size, 64);
  EXPECT_EQ(options->l1, 0);
  EXPECT_EQ(options->l2, 0);
  EXPECT_EQ(options->num_threads, 0);
}

TEST(TrainOptionsTest, GivenValuesOverrideDefaults) {
  json params = {{"lr", 0.003}, {"optimizer", "momentum"}, {"batch_size", 128.0},
                 {"epochs", 7}, {"train_subset", 12000},   {"seed", 42},
                 {"l2", 1e-4},  {"dropout", 0.5},          {"data_dir", "/tmp/x"}};
  absl::StatusOr<TrainOptions> options = TrainOptionsFromJson(params, "p.json");
  ASSERT_OK(options);
  EXPECT_DOUBLE_EQ(options->lr, 0.003);
  EXPECT_EQ(options->optimizer, "momentum");
  EXPECT_EQ(options->batch_size, 128);
  EXPECT_EQ(options->epochs, 7);
  EXPECT_EQ(options->train_subset, 12000);
  EXPECT_EQ(options->seed, 42u);
  EXPECT_DOUBLE_EQ(options->l2, 1e-4);
  EXPECT_DOUBLE_EQ(options->dropout, 0.5);
  EXPECT_EQ(options->data_dir, "/tmp/x");
}

TEST(TrainOptionsTest, RefitTakesTrueOrOne) {
  EXPECT_FALSE(VALUE_OR_FAIL(TrainOptionsFromJson(json::object(), "p.json")).refit);
  EXPECT_TRUE(VALUE_OR_FAIL(TrainOptionsFromJson({{"refit", true}}, "p.json")).refit);
  EXPECT_TRUE(VALUE_OR_FAIL(TrainOptionsFromJson({{"refit", 1}}, "p.json")).refit);
  EXPECT_FALSE(VALUE_OR_FAIL(TrainOptionsFromJson({{"refit", false}}, "p.json")).refit);
}

TEST(TrainOptionsTest, UnknownKeyIsRejectedWithItsName) {
  absl::StatusOr<TrainOptions> options =
      TrainOptionsFromJson({{"lr", 0.1}, {"learning_rate", 0.1}}, "p.json");
  EXPECT_THAT(options, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("p.json"));
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("\"learning_rate\""));
}

TEST(TrainOptionsTest, BadValueNamesTheKey) {
  absl::StatusOr<TrainOptions> options = TrainOptionsFromJson({{"epochs", 2.5}}, "p.json");
  EXPECT_THAT(options, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("p.json: epochs"));
  EXPECT_THAT(TrainOptionsFromJson(json::array({1, 2}), "p.json"), Not(IsOk()));
}

TEST(LoadTrainOptionsTest, ReadsAFileAndNamesItInErrors) {
  testing::TempDir dir;
  const std::string good = dir.File("good.json");
  testing::WriteFile(good, {'{', '"', 'l', 'r', '"', ':', '1', '}'}, /*gzip=*/false);
  absl::StatusOr<TrainOptions> options = LoadTrainOptions(good);
  ASSERT_OK(options);
  EXPECT_DOUBLE_EQ(options->lr, 1.0);

  const std::string unknown = dir.File("unknown.json");
  const std::string text = R"({"optimiser": "adam"})";
  testing::WriteFile(unknown, std::vector<uint8_t>(text.begin(), text.end()), false);
  absl::Status status = LoadTrainOptions(unknown).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(unknown));
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"optimiser\""));

  const std::string broken = dir.File("broken.json");
  testing::WriteFile(broken, {'{', 'x'}, false);
  status = LoadTrainOptions(broken).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(broken));

  status = LoadTrainOptions(dir.File("missing.json")).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr("missing.json"));
}

TEST(ResolveNumThreadsTest, ParamThenEnvironmentThenOne) {
  EXPECT_THAT(ResolveNumThreads(3, "8"), IsOkAndHolds(3));
  EXPECT_THAT(ResolveNumThreads(0, "8"), IsOkAndHolds(8));
  EXPECT_THAT(ResolveNumThreads(0, nullptr), IsOkAndHolds(1));
  EXPECT_THAT(ResolveNumThreads(0, ""), IsOkAndHolds(1));
  EXPECT_THAT(ResolveNumThreads(0, "many"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ResolveNumThreads(0, "0"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseDeviceRequestTest, CpuCudaOrUnset) {
  EXPECT_THAT(ParseDeviceRequest(nullptr), IsOkAndHolds(DeviceRequest::kAuto));
  EXPECT_THAT(ParseDeviceRequest(""), IsOkAndHolds(DeviceRequest::kAuto));
  EXPECT_THAT(ParseDeviceRequest("cpu"), IsOkAndHolds(DeviceRequest::kCpu));
  EXPECT_THAT(ParseDeviceRequest("cuda"), IsOkAndHolds(DeviceRequest::kCuda));
  absl::Status status = ParseDeviceRequest("gpu").status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"gpu\""));
}

}  // namespace
}  // namespace vernier
