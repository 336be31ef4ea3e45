#include "server/logic/refit.h"

#include <optional>

#include "gtest/gtest.h"

namespace vernier {
namespace {

// A trial that reported these val_loss values at steps 1, 2, ...
TrialRecord WithLosses(std::initializer_list<double> losses) {
  TrialRecord trial;
  trial.state = TrialState::kComplete;
  int64_t step = 0;
  for (double loss : losses) {
    trial.intermediate.push_back(
        Measurement{++step, {{"val_loss", loss}, {"val_accuracy", -loss}}});
  }
  return trial;
}

TEST(RefitEpochsTest, WithoutEarlyStoppingTheLastStep) {
  const TrialRecord trial = WithLosses({0.9, 0.5, 0.7, 0.8});
  EXPECT_EQ(RefitEpochs(trial, {{"epochs", 4}}), 4);
  EXPECT_EQ(RefitEpochs(trial, {{"patience", 0}}), 4);
}

TEST(RefitEpochsTest, WithEarlyStoppingTheEpochWhoseWeightsWereRestored) {
  const TrialRecord trial = WithLosses({0.9, 0.5, 0.7, 0.5});
  EXPECT_EQ(RefitEpochs(trial, {{"patience", 2}}), 2);  // The first of equal bests.
  EXPECT_EQ(RefitEpochs(trial, {{"patience", 2}, {"early_stop_metric", "val_accuracy"}}), 2);
  TrialRecord searched = trial;
  searched.params["patience"] = int64_t{3};  // A searched patience wins over the setting.
  EXPECT_EQ(RefitEpochs(searched, {{"patience", 0}}), 2);
  // A metric it never reported: its last step.
  EXPECT_EQ(RefitEpochs(trial, {{"patience", 2}, {"early_stop_metric", "val_f1"}}), 4);
}

TEST(RefitEpochsTest, NothingReportedNothingToSay) {
  EXPECT_EQ(RefitEpochs(TrialRecord{}, {{"patience", 2}}), std::nullopt);
  TrialRecord step_zero;
  step_zero.intermediate.push_back(Measurement{0, {{"val_loss", 1.0}}});
  EXPECT_EQ(RefitEpochs(step_zero, nlohmann::json::object()), std::nullopt);
}

}  // namespace
}  // namespace vernier
