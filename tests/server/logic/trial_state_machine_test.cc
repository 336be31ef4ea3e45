#include "server/logic/trial_state_machine.h"

#include "gtest/gtest.h"

namespace vernier {
namespace {

TEST(TrialStateMachineTest, AllowsTheDocumentedTransitions) {
  EXPECT_TRUE(CheckTransition(TrialState::kWaiting, TrialState::kRunning).ok());
  EXPECT_TRUE(CheckTransition(TrialState::kRunning, TrialState::kComplete).ok());
  EXPECT_TRUE(CheckTransition(TrialState::kRunning, TrialState::kPruned).ok());
  EXPECT_TRUE(CheckTransition(TrialState::kRunning, TrialState::kFailed).ok());
  EXPECT_TRUE(CheckTransition(TrialState::kRunning, TrialState::kWaiting).ok());
}

TEST(TrialStateMachineTest, FinishedTrialsNeverChange) {
  for (TrialState from :
       {TrialState::kComplete, TrialState::kPruned, TrialState::kFailed, TrialState::kInfeasible}) {
    auto status = CheckTransition(from, TrialState::kRunning);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_NE(CheckTransition(TrialState::kComplete, TrialState::kPruned)
                .message()
                .find("COMPLETE to PRUNED"),
            std::string::npos);
}

TEST(TrialStateMachineTest, WaitingCannotCompleteWithoutRunning) {
  EXPECT_FALSE(CheckTransition(TrialState::kWaiting, TrialState::kComplete).ok());
}

}  // namespace
}  // namespace vernier
