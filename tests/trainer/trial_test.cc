#include "trainer/trial.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

class CountingSink : public ProgressSink {
 public:
  explicit CountingSink(bool keep_going = true) : keep_going_(keep_going) {}
  bool OnEpoch(const EpochSummary& summary) override {
    steps.push_back(summary.epoch);
    return keep_going_;
  }
  void OnCheckpoint(int epoch, const std::string& dir) override {
    checkpoints.push_back(epoch);
    checkpoint_dir = dir;
  }
  std::vector<int> steps;
  std::vector<int> checkpoints;
  std::string checkpoint_dir;

 private:
  bool keep_going_;
};

class RunTrialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFashionMnistFiles(dir_.path(), testing::MakeTinyImages(120, 1),
                                    testing::MakeTinyImages(40, 2), /*gzip=*/true);
    absl::StatusOr<TrainOptions> options = TrainOptionsFromJson({{"data_dir", dir_.path()},
                                                                 {"cache_dir", "none"},
                                                                 {"epochs", 2},
                                                                 {"batch_size", 32},
                                                                 {"lr", 0.003}},
                                                                "test");
    ASSERT_OK(options);
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
  ASSERT_OK(metrics);
  EXPECT_EQ(sink.steps, std::vector<int>({1, 2}));
  for (const char* name : {"val_accuracy", "val_loss", "val_f1_macro", "test_accuracy", "test_loss",
                           "test_precision_macro", "test_recall_macro", "test_f1_macro"}) {
    ASSERT_EQ(metrics->count(name), 1u) << name;
  }
  EXPECT_GE(metrics->at("test_accuracy"), 0.0);
  EXPECT_LE(metrics->at("test_accuracy"), 1.0);
}

TEST_F(RunTrialTest, StoppedTrialStillEndsWithTestMetrics) {
  CountingSink sink(/*keep_going=*/false);
  absl::StatusOr<MetricMap> metrics = RunTrial(options_, env_, sink);
  ASSERT_OK(metrics);
  EXPECT_EQ(sink.steps, std::vector<int>({1}));
  EXPECT_EQ(metrics->count("test_accuracy"), 1u);
}

TEST_F(RunTrialTest, MissingDataNamesTheFile) {
  options_.data.data_dir = dir_.File("absent");
  CountingSink sink;
  absl::Status status = RunTrial(options_, env_, sink).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(dir_.File("absent/train-images-idx3-ubyte")));
  EXPECT_TRUE(sink.steps.empty());
}

TEST_F(RunTrialTest, BadEnvironmentAndSplitAreInvalidArguments) {
  CountingSink sink;
  TrialEnvironment bad_device = env_;
  bad_device.device = "tpu";
  EXPECT_THAT(RunTrial(options_, bad_device, sink), StatusIs(absl::StatusCode::kInvalidArgument));
  TrialEnvironment bad_threads = env_;
  bad_threads.num_threads = "lots";
  EXPECT_THAT(RunTrial(options_, bad_threads, sink), StatusIs(absl::StatusCode::kInvalidArgument));
  options_.data.train_subset = 1000;
  absl::Status status = RunTrial(options_, env_, sink).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("train_subset 1000"));
}

TEST_F(RunTrialTest, CheckpointsAndResumesFromTheSavedEpoch) {
  testing::TempDir trial_dir;
  env_.trial_dir = trial_dir.path().c_str();
  options_.checkpoint_every = 1;
  CountingSink first;
  ASSERT_OK(RunTrial(options_, env_, first));
  const std::string checkpoint = trial_dir.File("checkpoint");
  for (const char* name : {"model.pt", "optimizer.pt", "state.json"}) {
    EXPECT_TRUE(std::filesystem::exists(checkpoint + "/" + name)) << name;
  }
  EXPECT_EQ(first.checkpoints, std::vector<int>({1, 2}));  // Announced after each save.
  EXPECT_EQ(first.checkpoint_dir, checkpoint);
  // Resuming from the epoch-2 checkpoint with epochs 3 runs epoch 3 only.
  options_.checkpoint_every = 0;
  options_.resume_from = checkpoint;
  options_.epochs = 3;
  CountingSink resumed;
  absl::StatusOr<MetricMap> metrics = RunTrial(options_, env_, resumed);
  ASSERT_OK(metrics);
  EXPECT_EQ(resumed.steps, std::vector<int>({3}));

  options_.checkpoint_every = 1;
  env_.trial_dir = nullptr;
  absl::Status no_dir = RunTrial(options_, env_, resumed).status();
  EXPECT_THAT(no_dir, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(no_dir.message()), HasSubstr("checkpoint_every"));
  EXPECT_THAT(std::string(no_dir.message()), HasSubstr("VERNIER_TRIAL_DIR"));
}

TEST_F(RunTrialTest, Bf16OnTheCpuIsIgnoredWithALogLine) {
  options_.precision = "bf16";
  options_.epochs = 1;
  testing::TempDir log_dir;
  std::FILE* log = std::fopen(log_dir.File("log").c_str(), "w+");
  ASSERT_NE(log, nullptr);
  env_.log = log;
  CountingSink sink;
  ASSERT_OK(RunTrial(options_, env_, sink));
  std::rewind(log);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), log));
  std::fclose(log);
  EXPECT_THAT(text, HasSubstr("precision bf16 ignored"));
  EXPECT_THAT(text, HasSubstr("test confusion matrix"));
}

TEST_F(RunTrialTest, ParametersThatDoNotFitTheDataAreInvalidArguments) {
  CountingSink sink;
  TrainOptions rnn = options_;
  rnn.model = "rnn";
  absl::Status status = RunTrial(rnn, env_, sink).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("model rnn needs token data"));
  TrainOptions f1 = options_;
  f1.patience = 2;
  f1.early_stop_metric = "val_f1";  // Binary F1 on ten classes.
  status = RunTrial(f1, env_, sink).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("early_stop_metric val_f1"));
  TrainOptions bce = options_;
  bce.loss = "bce";
  EXPECT_THAT(std::string(RunTrial(bce, env_, sink).status().message()), HasSubstr("loss bce"));
  EXPECT_TRUE(sink.steps.empty());
}

// A tabular regression end to end through LoadData: an MLP reports RMSE.
TEST(RunTrialDataTest, MlpRegressionOnACsvReportsRmse) {
  testing::TempDir dir;
  {
    std::ofstream csv(dir.File("line.csv"));
    csv << "a,b,y\n";
    for (int i = 0; i < 120; ++i) {
      const double a = (i % 11) - 5, b = (i % 7) - 3;
      csv << a << "," << b << "," << 10 + 2 * a - b << "\n";
    }
  }
  absl::StatusOr<TrainOptions> options = TrainOptionsFromJson({{"model", "mlp"},
                                                               {"dataset", "tabular-csv"},
                                                               {"data_file", dir.File("line.csv")},
                                                               {"task", "regression"},
                                                               {"cache_dir", "none"},
                                                               {"epochs", 30},
                                                               {"batch_size", 16},
                                                               {"lr", 0.01},
                                                               {"dropout", 0.0},
                                                               {"patience", 5},
                                                               {"early_stop_metric", "val_rmse"}},
                                                              "test");
  ASSERT_OK(options);
  TrialEnvironment env;
  env.device = "cpu";
  CountingSink sink;
  absl::StatusOr<MetricMap> metrics = RunTrial(*options, env, sink);
  ASSERT_OK(metrics);
  for (const char* name :
       {"val_rmse", "val_mae", "val_mse", "test_rmse", "test_mae", "test_loss"}) {
    EXPECT_EQ(metrics->count(name), 1u) << name;
  }
  // The targets' standard deviation is about 6; a fitted model does far better.
  EXPECT_LT(metrics->at("test_rmse"), 2.0);
}

}  // namespace
}  // namespace vernier
