// Whole trials (RunTrial on IDX files, as vernier-train runs them) that are
// interrupted and resumed from their checkpoint, and refit trials. The loop's
// own resume and refit units are in training_test.cc.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"
#include "trainer/trial.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

// Records the epochs; answers false (stop, as a killed trial would) at epoch
// `stop_at`.
class StoppingSink : public ProgressSink {
 public:
  explicit StoppingSink(int stop_at = 1 << 30) : stop_at_(stop_at) {}
  bool OnEpoch(const EpochSummary& summary) override {
    epochs.push_back(summary.epoch);
    val_losses.push_back(summary.val_metrics.at("val_loss"));
    return summary.epoch < stop_at_;
  }
  std::vector<int> epochs;
  std::vector<double> val_losses;

 private:
  int stop_at_;
};

class ResumeTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    testing::WriteFashionMnistFiles(data_dir_.path(), testing::MakeTinyImages(60, 1),
                                    testing::MakeTinyImages(40, 2), /*gzip=*/false);
    options_ = VALUE_OR_FAIL(TrainOptionsFromJson({{"data_dir", data_dir_.path()},
                                                   {"cache_dir", "none"},
                                                   {"val_fraction", 0.5},
                                                   {"epochs", 10},
                                                   {"batch_size", 16},
                                                   {"lr", 0.02},
                                                   {"dropout", 0.2},
                                                   {"seed", 3},
                                                   {"checkpoint_every", 1}},
                                                  "test"));
    env_.device = "cpu";
    env_.trial_dir = trial_dir_.path().c_str();
  }

  testing::TempDir data_dir_;
  testing::TempDir trial_dir_;
  TrainOptions options_;
  TrialEnvironment env_;
};

MetricMap WithoutLatency(MetricMap metrics) {
  EXPECT_EQ(metrics.erase("latency_ms"), 1u);
  return metrics;
}

// The final metrics (validation of the kept epoch, and test) of a trial
// stopped and resumed from its checkpoint equal those of the same trial run in
// one go, with early stopping (param true) and without. With early stopping
// it is stopped at its best epoch, whose weights only the checkpoint keeps.
TEST_P(ResumeTest, ResumedTrialEndsWithTheUninterruptedTrialsMetrics) {
  const bool early_stopping = GetParam();
  if (early_stopping) options_.patience = 2;
  StoppingSink full_sink;
  const MetricMap full = VALUE_OR_FAIL(RunTrial(options_, env_, full_sink));
  int stop_at = 4;
  if (early_stopping) {
    const auto best = std::min_element(full_sink.val_losses.begin(), full_sink.val_losses.end());
    stop_at = static_cast<int>(best - full_sink.val_losses.begin()) + 1;
  }
  ASSERT_LT(stop_at, full_sink.epochs.back()) << "the test needs epochs after the interruption";

  StoppingSink interrupted(stop_at);
  ASSERT_OK(RunTrial(options_, env_, interrupted));
  options_.resume_from = trial_dir_.File("checkpoint");
  options_.checkpoint_every = 0;
  StoppingSink rest;
  const MetricMap resumed = VALUE_OR_FAIL(RunTrial(options_, env_, rest));
  ASSERT_FALSE(rest.epochs.empty());
  EXPECT_EQ(rest.epochs.front(), stop_at + 1);
  EXPECT_EQ(rest.epochs.back(), full_sink.epochs.back());
  EXPECT_EQ(resumed.count("test_accuracy"), 1u);
  // latency_ms is a timing of the saved model, not a result of training.
  EXPECT_EQ(WithoutLatency(resumed), WithoutLatency(full));
}

INSTANTIATE_TEST_SUITE_P(EarlyStopping, ResumeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "On" : "Off";
                         });

// A refit trains every epoch despite patience, and measures "val_" on the test
// split: the same numbers as "test_".
TEST(RefitTest, RefitTrialRunsEveryEpochAndMeasuresValOnTheTestSplit) {
  testing::TempDir data_dir;
  testing::WriteFashionMnistFiles(data_dir.path(), testing::MakeTinyImages(60, 1),
                                  testing::MakeTinyImages(40, 2), /*gzip=*/false);
  TrainOptions options = VALUE_OR_FAIL(TrainOptionsFromJson({{"data_dir", data_dir.path()},
                                                             {"cache_dir", "none"},
                                                             {"epochs", 5},
                                                             {"lr", 0.02},
                                                             {"patience", 1},
                                                             {"refit", true}},
                                                            "test"));
  TrialEnvironment env;
  env.device = "cpu";
  testing::TempDir log_dir;
  std::FILE* log = std::fopen(log_dir.File("log").c_str(), "w+");
  ASSERT_NE(log, nullptr);
  env.log = log;
  StoppingSink sink;
  const MetricMap metrics = VALUE_OR_FAIL(RunTrial(options, env, sink));
  std::rewind(log);
  std::string text(8192, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), log));
  std::fclose(log);
  EXPECT_EQ(sink.epochs, std::vector<int>({1, 2, 3, 4, 5}));
  for (const char* name : {"accuracy", "loss", "f1_macro"}) {
    ASSERT_EQ(metrics.count(std::string("val_") + name), 1u) << name;
    EXPECT_EQ(metrics.at(std::string("val_") + name), metrics.at(std::string("test_") + name))
        << name;
  }
  EXPECT_THAT(text, HasSubstr("refit: training on 50 train + 10 val examples"));
}

}  // namespace
}  // namespace vernier
