#include "worker/trial_params.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vernier::worker {
namespace {

using ::testing::HasSubstr;

v1::ParameterValue Double(double value) {
  v1::ParameterValue proto;
  proto.set_double_value(value);
  return proto;
}

v1::ParameterValue Int(int64_t value) {
  v1::ParameterValue proto;
  proto.set_int_value(value);
  return proto;
}

v1::ParameterValue String(const std::string& value) {
  v1::ParameterValue proto;
  proto.set_string_value(value);
  return proto;
}

nlohmann::json ParseFile(const std::string& settings_json, const ProtoParams& params) {
  absl::StatusOr<std::string> text = TrialParamsFile(settings_json, params);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
}

TEST(TrialParamsFileTest, EachKindKeepsItsJsonType) {
  ProtoParams params;
  params["lr"] = Double(0.001);
  params["layers"] = Int(3);
  params["optimizer"] = String("adam");
  params["whole_float"] = Double(2.0);

  nlohmann::json file = ParseFile("", params);
  EXPECT_TRUE(file["lr"].is_number_float());
  EXPECT_DOUBLE_EQ(file["lr"].get<double>(), 0.001);
  EXPECT_TRUE(file["layers"].is_number_integer());
  EXPECT_EQ(file["layers"].get<int64_t>(), 3);
  EXPECT_EQ(file["optimizer"], "adam");
  // A float parameter at a whole value stays a float for the trainer.
  EXPECT_TRUE(file["whole_float"].is_number_float());
}

TEST(TrialParamsFileTest, DoublesRoundTripExactly) {
  ProtoParams params;
  params["lr"] = Double(0.1 + 0.2);
  EXPECT_EQ(ParseFile("", params)["lr"].get<double>(), 0.1 + 0.2);
}

TEST(TrialParamsFileTest, SearchedParametersWinOverFixedSettings) {
  ProtoParams params;
  params["lr"] = Double(0.5);
  nlohmann::json file = ParseFile(R"({"lr": 0.1, "epochs": 4, "dataset": "mnist"})", params);
  EXPECT_DOUBLE_EQ(file["lr"].get<double>(), 0.5);
  EXPECT_EQ(file["epochs"], 4);
  EXPECT_EQ(file["dataset"], "mnist");
}

TEST(TrialParamsFileTest, NoSettingsAndNoParamsIsAnEmptyObject) {
  EXPECT_EQ(ParseFile("", {}), nlohmann::json::object());
  EXPECT_EQ(ParseFile("{}", {}), nlohmann::json::object());
}

TEST(TrialParamsFileTest, SettingsThatAreNotAnObjectAreRefused) {
  for (const char* settings : {"[1, 2]", "3", "not json", "{\"a\": "}) {
    absl::StatusOr<std::string> file = TrialParamsFile(settings, {});
    ASSERT_FALSE(file.ok()) << settings;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << settings;
    EXPECT_THAT(std::string(file.status().message()), HasSubstr("not a JSON object"));
  }
}

TEST(TrialParamsFileTest, AParameterWithoutAValueIsRefusedByName) {
  ProtoParams params;
  params["lr"] = Double(0.1);
  params["momentum"] = v1::ParameterValue();
  absl::StatusOr<std::string> file = TrialParamsFile("", params);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("\"momentum\""));
}

}  // namespace
}  // namespace vernier::worker
