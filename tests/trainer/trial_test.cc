#include "trainer/trial.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

class CountingSink : public ProgressSink {
 public:
  explicit CountingSink(bool keep_going = true) : keep_going_(keep_going) {}
  bool OnEpoch(const EpochSummary& summary) override {
    steps.push_back(summary.epoch);
    return keep_going_;
  }
  std::vector<int> steps;

 private:
  bool keep_going_;
};

class RunTrialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFashionMnistFiles(dir_.path(), testing::MakeTinyImages(120, 1),
                                    testing::MakeTinyImages(40, 2), /*gzip=*/true);
    absl::StatusOr<TrainOptions> options = TrainOptionsFromJson(
        {{"data_dir", dir_.path()}, {"epochs", 2}, {"batch_size", 32}, {"lr", 0.003}}, "test");
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *options;
    env_.device = "cpu";
  }

  testing::TempDir dir_;
  TrainOptions options_;
  TrialEnvironment env_;
};

TEST_F(RunTrialTest, ReportsEveryEpochAndReturnsValidationAndTestMetrics) {
  CountingSink sink;
  absl::StatusOr<MetricMap> metrics = RunTrial(options_, env_, sink);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(sink.steps, std::vector<int>({1, 2}));
  for (const char* name : {"val_accuracy", "val_loss", "test_accuracy", "test_loss"}) {
    ASSERT_EQ(metrics->count(name), 1u) << name;
  }
  EXPECT_GE(metrics->at("test_accuracy"), 0.0);
  EXPECT_LE(metrics->at("test_accuracy"), 1.0);
}

TEST_F(RunTrialTest, StoppedTrialStillEndsWithTestMetrics) {
  CountingSink sink(/*keep_going=*/false);
  absl::StatusOr<MetricMap> metrics = RunTrial(options_, env_, sink);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(sink.steps, std::vector<int>({1}));
  EXPECT_EQ(metrics->count("test_accuracy"), 1u);
}

TEST_F(RunTrialTest, MissingDataNamesTheFile) {
  options_.data_dir = dir_.File("absent");
  CountingSink sink;
  absl::Status status = RunTrial(options_, env_, sink).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(dir_.File("absent/train-images-idx3-ubyte")));
  EXPECT_TRUE(sink.steps.empty());
}

TEST_F(RunTrialTest, BadEnvironmentAndSplitAreInvalidArguments) {
  CountingSink sink;
  TrialEnvironment bad_device = env_;
  bad_device.device = "tpu";
  EXPECT_EQ(RunTrial(options_, bad_device, sink).status().code(),
            absl::StatusCode::kInvalidArgument);
  TrialEnvironment bad_threads = env_;
  bad_threads.num_threads = "lots";
  EXPECT_EQ(RunTrial(options_, bad_threads, sink).status().code(),
            absl::StatusCode::kInvalidArgument);
  options_.train_subset = 1000;
  absl::Status status = RunTrial(options_, env_, sink).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("train_subset 1000"));
}

}  // namespace
}  // namespace vernier
