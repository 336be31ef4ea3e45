#include "bench/pruners/replay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

// Writes export-format CSV files into a fresh temporary directory.
class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    dir_ = temp_.path();
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  // `n` configurations whose val_accuracy curves never cross: configuration i
  // reaches (i + 1) / (n + 1) and every curve rises like 1 - 0.5^step over
  // `steps` steps. Written as `vernier study export` would, with a FAILED
  // trial and a short (PRUNED) curve that LoadCurves must leave out.
  CurveSet Parallel(int n, int steps) {
    std::string trials =
        "number,state,objective_value,duration_seconds,params_lr,final_val_accuracy"
        ",final_test_accuracy\n";
    std::string curves = "number,step,metric,value\n";
    for (int i = 0; i < n; ++i) {
      const double top = (i + 1.0) / (n + 1.0);
      absl::StrAppend(&trials, i, ",COMPLETE,", top, ",", 2 * steps, ",\"0.1\",", top, ",",
                      top - 0.01, "\n");
      for (int s = 1; s <= steps; ++s) {
        absl::StrAppend(&curves, i, ",", s, ",val_accuracy,", top * (1 - std::pow(0.5, s)), "\n");
        absl::StrAppend(&curves, i, ",", s, ",val_loss,", 1 - top, "\n");
      }
    }
    absl::StrAppend(&trials, n, ",FAILED,,1,0.1,,\n", n + 1, ",PRUNED,0.5,1,0.1,,\n");
    absl::StrAppend(&curves, n + 1, ",1,val_accuracy,0.5\n");
    return VALUE_OR_FAIL(
        LoadCurves(Write("trials.csv", trials), Write("curves.csv", curves), "val_accuracy"));
  }

  testing::TempDir temp_;
  std::string dir_;  // temp_.path().
};

TEST(SplitCsvLineTest, HandlesQuotedFields) {
  auto fields = SplitCsvLine(R"(1,"a,b","say ""hi""",)");
  ASSERT_OK(fields);
  EXPECT_THAT(*fields, ElementsAre("1", "a,b", "say \"hi\"", ""));
  EXPECT_THAT(SplitCsvLine("1,\"open"), Not(IsOk()));
}

TEST(ReplayOrderTest, IsASeededPermutationSharedWithThePythonReplay) {
  std::vector<int64_t> order = ReplayOrder(10, 1);
  // The same order as optuna_replay.py's replay_order(10, 1).
  EXPECT_THAT(order, ElementsAre(4, 2, 8, 1, 9, 3, 0, 6, 7, 5));
  EXPECT_EQ(ReplayOrder(10, 1), order);
  EXPECT_NE(ReplayOrder(10, 2), order);
  std::sort(order.begin(), order.end());
  std::vector<int64_t> identity(10);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(order, identity);
}

TEST_F(ReplayTest, LoadsCompleteTrialsWithFullCurves) {
  CurveSet set = Parallel(4, 5);
  ASSERT_EQ(set.curves.size(), 4u);
  EXPECT_EQ(set.max_steps, 5);
  EXPECT_EQ(set.dropped, 2);
  EXPECT_THAT(set.curves[0].steps, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_DOUBLE_EQ(set.curves[3].final_value, 0.8);
  EXPECT_DOUBLE_EQ(*set.curves[3].final_test, 0.79);
  EXPECT_DOUBLE_EQ(set.curves[3].seconds_per_step, 2);
}

TEST_F(ReplayTest, LoadCurvesNamesTheFileAndLineOfABadRow) {
  const std::string trials = Write("t.csv", "number,state\n0,COMPLETE\n");
  auto set = LoadCurves(trials, Write("c.csv", "number,step,metric,value\n0,x,val_accuracy,1\n"),
                        "val_accuracy");
  EXPECT_THAT(set, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(set.status().message(), HasSubstr("c.csv:2: column 2: not a number: \"x\""));
  set = LoadCurves(trials, Write("d.csv", "number,step,value\n"), "val_accuracy");
  EXPECT_THAT(set.status().message(), HasSubstr("no column \"metric\""));
  EXPECT_THAT(LoadCurves(trials, dir_ + "/missing.csv", "val_accuracy"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ReplayTest, WithoutPruningEveryEpochIsSpentAndTheBestIsFound) {
  CurveSet set = Parallel(12, 9);
  ReplayOptions options;
  options.workers = 3;
  options.seed = 5;
  auto result = Replay(set, options);
  ASSERT_OK(result);
  EXPECT_EQ(result->epochs, 12 * 9);
  EXPECT_EQ(result->complete, 12);
  EXPECT_EQ(result->pruned, 0);
  EXPECT_EQ(result->best_config, 11);
  // The CSV holds 6 significant digits.
  EXPECT_NEAR(result->best_value, 12.0 / 13, 1e-6);
  EXPECT_NEAR(result->best_test, 12.0 / 13 - 0.01, 1e-6);
  // 3 workers share 108 unit-time epochs: the study ends at time 36.
  EXPECT_DOUBLE_EQ(result->time, 36);
  EXPECT_LE(result->epochs_to_best, result->epochs);
}

TEST_F(ReplayTest, AshaStopsTrialsAtRungsAndKeepsTheBestOfCurvesThatNeverCross) {
  CurveSet set = Parallel(27, 9);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    ReplayOptions options;
    options.pruner_yaml = "{type: asha, reduction_factor: 3, max_resource: 9}";
    options.workers = 2;
    options.seed = seed;
    auto result = Replay(set, options);
    ASSERT_OK(result);
    // The best configuration is in the top third at every rung, so it runs
    // to the end; most others stop at step 1 or 3.
    EXPECT_EQ(result->best_config, 26) << "seed " << seed;
    EXPECT_GT(result->pruned, 0);
    EXPECT_EQ(result->complete + result->pruned, 27);
    EXPECT_LT(result->epochs, 27 * 9 / 2) << "seed " << seed;
  }
}

TEST_F(ReplayTest, SeedsChangeTheOrderOfTrials) {
  CurveSet set = Parallel(12, 3);
  ReplayOptions options;
  options.seed = 1;
  auto first = Replay(set, options);
  options.seed = 2;
  auto second = Replay(set, options);
  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_NE(first->epochs_to_best, second->epochs_to_best);
}

TEST_F(ReplayTest, RecordedStepTimeDrivesTheSimulatedClock) {
  CurveSet set = Parallel(4, 5);  // Each curve: 2 s per step.
  ReplayOptions options;
  options.recorded_step_time = true;
  auto result = Replay(set, options);
  ASSERT_OK(result);
  EXPECT_DOUBLE_EQ(result->time, 4 * 5 * 2);
}

TEST_F(ReplayTest, ABadPrunerIsRefusedWithTheParsersMessage) {
  CurveSet set = Parallel(3, 2);
  ReplayOptions options;
  options.pruner_yaml = "{type: asha, reduction_factor: 1}";
  auto result = Replay(set, options);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(result.status().message(), HasSubstr("reduction_factor"));
}

}  // namespace
}  // namespace vernier::bench
