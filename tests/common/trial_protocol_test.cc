#include "common/trial_protocol.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

TEST(TrialProtocolTest, ParsesIntermediateReport) {
  auto report =
      ParseReportLine(R"({"step": 3, "metrics": {"val_accuracy": 0.8, "val_loss": 0.5}})");
  ASSERT_OK(report);
  EXPECT_FALSE(report->is_final);
  EXPECT_EQ(report->step, 3);
  EXPECT_DOUBLE_EQ(report->metrics.at("val_accuracy"), 0.8);
  EXPECT_DOUBLE_EQ(report->metrics.at("val_loss"), 0.5);
}

TEST(TrialProtocolTest, ParsesFinalReportWithoutStep) {
  auto report = ParseReportLine(R"({"final": true, "metrics": {"test_accuracy": 0.9}})");
  ASSERT_OK(report);
  EXPECT_TRUE(report->is_final);
  EXPECT_DOUBLE_EQ(report->metrics.at("test_accuracy"), 0.9);
}

TEST(TrialProtocolTest, RejectsGarbageNamingTheProblem) {
  EXPECT_THAT(ParseReportLine("epoch 1 done"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_NE(ParseReportLine("[1,2]").status().message().find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(ParseReportLine(R"({"metrics": {}})").status().message().find("missing \"step\""),
            std::string::npos);
  EXPECT_NE(ParseReportLine(R"({"step": -1, "metrics": {}})").status().message().find(">= 0"),
            std::string::npos);
  EXPECT_NE(ParseReportLine(R"({"step": 1.5, "metrics": {}})").status().message().find("integer"),
            std::string::npos);
  EXPECT_NE(ParseReportLine(R"({"step": 1})").status().message().find("metrics"),
            std::string::npos);
  EXPECT_NE(ParseReportLine(R"({"step": 1, "metrics": {"acc": "high"}})")
                .status()
                .message()
                .find("\"acc\""),
            std::string::npos);
}

TEST(TrialProtocolTest, FormattedReportsRoundTrip) {
  MetricMap metrics = {{"val_accuracy", 0.75}, {"val_loss", 0.25}};
  auto intermediate = ParseReportLine(FormatIntermediateReport(2, metrics));
  ASSERT_OK(intermediate);
  EXPECT_EQ(intermediate->step, 2);
  EXPECT_EQ(intermediate->metrics, metrics);
  auto final_report = ParseReportLine(FormatFinalReport(metrics));
  ASSERT_OK(final_report);
  EXPECT_TRUE(final_report->is_final);
  EXPECT_EQ(final_report->metrics, metrics);
}

TEST(TrialProtocolTest, NonFiniteMetricsSurviveAsNaN) {
  auto report = ParseReportLine(FormatIntermediateReport(0, {{"loss", INFINITY}}));
  ASSERT_OK(report);
  EXPECT_TRUE(std::isnan(report->metrics.at("loss")));
}

TEST(TrialProtocolTest, PythonNonFiniteTokensAreNumbers) {
  // What json.dumps({"a": float("nan"), ...}) writes.
  auto report = ParseReportLine(
      R"({"step": 1, "metrics": {"a": NaN, "b": Infinity, "c": -Infinity, "d": "NaN"}})");
  ASSERT_OK(report);
  EXPECT_TRUE(std::isnan(report->metrics.at("a")));
  EXPECT_EQ(report->metrics.at("b"), INFINITY);
  EXPECT_EQ(report->metrics.at("c"), -INFINITY);
  EXPECT_TRUE(std::isnan(report->metrics.at("d")));
}

TEST(TrialProtocolTest, TokensInsideStringsAreLeftAlone) {
  auto report = ParseReportLine(R"({"step": 1, "metrics": {"NaN \" Infinity": 2.5}})");
  ASSERT_OK(report);
  EXPECT_EQ(report->metrics.at("NaN \" Infinity"), 2.5);
}

TEST(TrialProtocolTest, OtherStringsAreStillNotNumbers) {
  EXPECT_THAT(ParseReportLine(R"({"step": 1, "metrics": {"a": "0.5"}})"), Not(IsOk()));
  EXPECT_THAT(ParseReportLine(R"({"step": 1, "metrics": {"a": Inf}})"), Not(IsOk()));
}

TEST(TrialProtocolTest, CheckpointReportRoundTrips) {
  auto report = ParseReportLine(FormatCheckpointReport(4, "/tmp/trial 1/checkpoint"));
  ASSERT_OK(report);
  EXPECT_TRUE(report->is_checkpoint());
  EXPECT_FALSE(report->is_final);
  EXPECT_EQ(report->step, 4);
  EXPECT_EQ(report->checkpoint, "/tmp/trial 1/checkpoint");
  EXPECT_TRUE(report->metrics.empty());
  auto intermediate = ParseReportLine(R"({"step": 3, "metrics": {"acc": 0.5}})");
  ASSERT_OK(intermediate);
  EXPECT_FALSE(intermediate->is_checkpoint());
}

TEST(TrialProtocolTest, RejectsBadCheckpointReports) {
  for (const char* line : {R"({"checkpoint": "", "step": 1})", R"({"checkpoint": 3, "step": 1})",
                           R"({"checkpoint": "c"})", R"({"checkpoint": "c", "step": -2})",
                           R"({"checkpoint": "c", "final": true, "metrics": {}})"}) {
    auto report = ParseReportLine(line);
    EXPECT_THAT(report, StatusIs(absl::StatusCode::kInvalidArgument)) << line;
  }
  EXPECT_NE(
      ParseReportLine(R"({"checkpoint": 3, "step": 1})").status().message().find("checkpoint"),
      std::string::npos);
}

}  // namespace
}  // namespace vernier
