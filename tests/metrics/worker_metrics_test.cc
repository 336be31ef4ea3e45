// vernier-worker's metrics (worker/worker_metrics.h), unit tier: what the
// observer is told becomes the slot gauges and the outcome counters, and the
// endpoint serves them over HTTP.
#include "worker/worker_metrics.h"

#include <memory>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/metrics_text.h"

namespace vernier::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::vernier::testing::HttpGet;
using ::vernier::testing::Sample;

TEST(WorkerMetricsTest, SlotsAndOutcomesFollowTheTrials) {
  WorkerMetrics metrics(/*slots=*/3);
  absl::StatusOr<std::unique_ptr<WorkerMetricsEndpoint>> endpoint =
      WorkerMetricsEndpoint::Start("127.0.0.1:0", &metrics);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->port();

  std::optional<std::string> text = HttpGet(port, "/metrics");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(Sample(*text, "vernier_worker_slots", {{"state", "idle"}}), Optional(3.0)) << *text;
  EXPECT_THAT(Sample(*text, "vernier_worker_slots", {{"state", "busy"}}), Optional(0.0));
  EXPECT_THAT(Sample(*text, "vernier_worker_trials_total", {{"outcome", "COMPLETE"}}),
              Optional(0.0));

  metrics.TrialStarted();
  metrics.TrialStarted();
  metrics.TrialEnded(TrialEnding::kComplete);
  metrics.TrialStarted();
  metrics.TrialEnded(TrialEnding::kPruned);
  metrics.TrialStarted();
  metrics.TrialEnded(TrialEnding::kDropped);
  // One trial still runs.

  text = HttpGet(port, "/metrics");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(Sample(*text, "vernier_worker_slots", {{"state", "busy"}}), Optional(1.0)) << *text;
  EXPECT_THAT(Sample(*text, "vernier_worker_slots", {{"state", "idle"}}), Optional(2.0));
  EXPECT_THAT(Sample(*text, "vernier_worker_trials_total", {{"outcome", "COMPLETE"}}),
              Optional(1.0));
  EXPECT_THAT(Sample(*text, "vernier_worker_trials_total", {{"outcome", "PRUNED"}}), Optional(1.0));
  EXPECT_THAT(Sample(*text, "vernier_worker_trials_total", {{"outcome", "DROPPED"}}),
              Optional(1.0));
  EXPECT_THAT(Sample(*text, "vernier_worker_trials_total", {{"outcome", "FAILED"}}), Optional(0.0));
  EXPECT_THAT(*text, HasSubstr("# HELP vernier_worker_slots "));
}

TEST(WorkerMetricsTest, AddressInUseIsAnError) {
  WorkerMetrics metrics(1);
  absl::StatusOr<std::unique_ptr<WorkerMetricsEndpoint>> first =
      WorkerMetricsEndpoint::Start("127.0.0.1:0", &metrics);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<WorkerMetricsEndpoint>> second =
      WorkerMetricsEndpoint::Start("127.0.0.1:" + std::to_string((*first)->port()), &metrics);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("--metrics-listen"));
  EXPECT_EQ(WorkerMetricsEndpoint::Start("", &metrics).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vernier::worker
