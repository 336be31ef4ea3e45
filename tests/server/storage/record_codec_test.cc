#include "server/storage/record_codec.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::vernier::testing::StatusIs;

TEST(StoreRecordCodecTest, Utf8ValidatorAcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul \0 inside", 12)));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));          // é
  EXPECT_TRUE(IsValidUtf8("\xe6\x97\xa5"));      // 日
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbf"));      // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x9a\x80"));  // 🚀
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
}

TEST(StoreRecordCodecTest, Utf8ValidatorRejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // Lone continuation byte.
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xe6\x97"));          // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // Bad continuation.
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));          // Overlong NUL.
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));  // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // Surrogate U+D800.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000.
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));  // Never a lead byte.
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(StoreRecordCodecTest, ParamsJsonKeepsTheTypeVisible) {
  const ParamMap params = {{"d", 3.0},
                           {"i", int64_t{3}},
                           {"s", std::string("3")},
                           {"tiny", 1e-300},
                           {"nan", std::nan("")},
                           {"minus_inf", -std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(ParamsToJson(params),
            R"({"d":3.0,"i":3,"minus_inf":{"float":"-inf"},"nan":{"float":"nan"},"s":"3",)"
            R"("tiny":1e-300})");
}

TEST(StoreRecordCodecTest, MetricsJsonSpellsOutNonFiniteValues) {
  const MetricMap metrics = {{"acc", 0.5},
                             {"loss", std::nan("")},
                             {"up", std::numeric_limits<double>::infinity()},
                             {"down", -std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(MetricsToJson(metrics), R"({"acc":0.5,"down":"-inf","loss":"nan","up":"inf"})");
  absl::StatusOr<MetricMap> decoded = MetricsFromJson(MetricsToJson(metrics));
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->at("acc"), 0.5);
  EXPECT_TRUE(std::isnan(decoded->at("loss")));
  EXPECT_EQ(decoded->at("up"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(decoded->at("down"), -std::numeric_limits<double>::infinity());
}

TEST(StoreRecordCodecTest, DecodersAcceptHandWrittenNumbers) {
  absl::StatusOr<MetricMap> metrics = MetricsFromJson(R"({"epochs": 3, "loss": 1e2})");
  ASSERT_OK(metrics);
  EXPECT_EQ(metrics->at("epochs"), 3.0);
  EXPECT_EQ(metrics->at("loss"), 100.0);
  absl::StatusOr<ParamMap> params = ParamsFromJson(R"({"a": -5, "b": 5, "c": 5.5})");
  ASSERT_OK(params);
  EXPECT_EQ(params->at("a"), ParamValue(int64_t{-5}));
  EXPECT_EQ(params->at("b"), ParamValue(int64_t{5}));
  EXPECT_EQ(params->at("c"), ParamValue(5.5));
}

TEST(StoreRecordCodecTest, DecodersRefuseWhatTheEncodersNeverWriteAsDataLoss) {
  for (const char* text : {"", "not json", "[1]", "3", R"({"x": null})", R"({"x": true})",
                           R"({"x": [1]})", R"({"x": {"float": "bogus"}})",
                           R"({"x": {"float": "nan", "y": 1}})", R"({"x": 9223372036854775808})"}) {
    EXPECT_THAT(ParamsFromJson(text), StatusIs(absl::StatusCode::kDataLoss)) << text;
  }
  for (const char* text :
       {"", "{", "[]", R"({"x": null})", R"({"x": "1.5"})", R"({"x": {"float": "nan"}})"}) {
    EXPECT_THAT(MetricsFromJson(text), StatusIs(absl::StatusCode::kDataLoss)) << text;
  }
}

TEST(StoreRecordCodecTest, MetricsDecoderFollowsJsonForTextItDidNotWrite) {
  // Text the encoder never writes takes the general parser's path and means
  // what JSON says it means.
  const std::pair<const char*, MetricMap> accepted[] = {
      {R"({ "a" : 1 , "b":2 })", {{"a", 1.0}, {"b", 2.0}}},
      {R"({"a":1,"a":2})", {{"a", 2.0}}},  // The last duplicate wins.
      {R"({"\u00e9\n":0.5})", {{"\xc3\xa9\n", 0.5}}},
      {R"({"a":-0.0,"b":1E+2,"c":0e0})", {{"a", -0.0}, {"b", 100.0}, {"c", 0.0}}},
      {R"({})", {}},
  };
  for (const auto& [text, expected] : accepted) {
    absl::StatusOr<MetricMap> decoded = MetricsFromJson(text);
    ASSERT_OK(decoded) << text;
    EXPECT_EQ(*decoded, expected) << text;
  }
  for (const char* text :
       {R"({"a":01})", R"({"a":1.})", R"({"a":.5})", R"({"a":nan})", R"({"a":inf})", R"({"a":-})",
        R"({"a":+1})", R"({"a":0x10})", R"({"a":1,})", R"({"a":1}x)", R"({"a":1)", "{\"a\x01\":1}",
        "{\"\xff\":1}", R"({"a":1 2})",
        R"({"a":1e400})"}) {  // nlohmann refuses overflowing numbers.
    EXPECT_THAT(MetricsFromJson(text), StatusIs(absl::StatusCode::kDataLoss)) << text;
  }
}

TEST(StoreRecordCodecTest, MetricsRoundTripEveryDoubleBitForBit) {
  std::mt19937_64 bits(20240601);
  for (int i = 0; i < 20000; ++i) {
    double value;
    const uint64_t pattern = bits();
    std::memcpy(&value, &pattern, sizeof(value));
    if (std::isnan(value)) continue;
    absl::StatusOr<MetricMap> decoded = MetricsFromJson(MetricsToJson({{"m", value}}));
    ASSERT_OK(decoded) << value;
    const double back = decoded->at("m");
    uint64_t back_pattern;
    std::memcpy(&back_pattern, &back, sizeof(back));
    ASSERT_EQ(back_pattern, pattern) << MetricsToJson({{"m", value}});
  }
}

TEST(StoreRecordCodecTest, TimesTruncateToMicrosecondsAndStayPut) {
  EXPECT_EQ(TruncateToMicros(absl::FromUnixNanos(1'999)), absl::FromUnixMicros(1));
  EXPECT_EQ(TruncateToMicros(absl::FromUnixNanos(-1)), absl::FromUnixMicros(-1));
  const absl::Time far = TruncateToMicros(absl::InfiniteFuture());
  EXPECT_EQ(TimeToMicros(far), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(TruncateToMicros(far), far);
  EXPECT_EQ(TimeToMicros(absl::UnixEpoch()), 0);
}

TEST(StoreRecordCodecTest, ValidationNamesTheField) {
  TrialRecord trial;
  trial.params["ok"] = std::string("\xff");
  absl::Status status = ValidateTrial(trial);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(status.message().find("params"), absl::string_view::npos) << status;
  trial.params.clear();
  trial.state = static_cast<TrialState>(0);
  status = ValidateTrial(trial);
  EXPECT_NE(status.message().find("state"), absl::string_view::npos) << status;
  EXPECT_OK(ValidateTrial(TrialRecord()));
  EXPECT_OK(ValidateStudy(StudyRecord()));
}

}  // namespace
}  // namespace vernier
