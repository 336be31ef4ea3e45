#include "server/logic/trial_state_machine.h"

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

TEST(TrialStateMachineTest, AllowsTheDocumentedTransitions) {
  EXPECT_OK(CheckTransition(TrialState::kWaiting, TrialState::kRunning));
  EXPECT_OK(CheckTransition(TrialState::kRunning, TrialState::kComplete));
  EXPECT_OK(CheckTransition(TrialState::kRunning, TrialState::kPruned));
  EXPECT_OK(CheckTransition(TrialState::kRunning, TrialState::kFailed));
  EXPECT_OK(CheckTransition(TrialState::kRunning, TrialState::kWaiting));
}

TEST(TrialStateMachineTest, FinishedTrialsNeverChange) {
  for (TrialState from :
       {TrialState::kComplete, TrialState::kPruned, TrialState::kFailed, TrialState::kInfeasible}) {
    auto status = CheckTransition(from, TrialState::kRunning);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  EXPECT_NE(CheckTransition(TrialState::kComplete, TrialState::kPruned)
                .message()
                .find("COMPLETE to PRUNED"),
            std::string::npos);
}

TEST(TrialStateMachineTest, WaitingCannotCompleteWithoutRunning) {
  EXPECT_THAT(CheckTransition(TrialState::kWaiting, TrialState::kComplete), Not(IsOk()));
}

}  // namespace
}  // namespace vernier
