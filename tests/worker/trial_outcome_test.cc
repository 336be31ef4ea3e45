#include "worker/trial_outcome.h"

#include <signal.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

TrialExit ExitedWith(int code) {
  TrialExit exit;
  exit.exited = true;
  exit.exit_code = code;
  return exit;
}

TEST(TrialOutcomeTest, CleanExitWithFinalReportIsComplete) {
  TrialExit exit = ExitedWith(0);
  exit.final_metrics = MetricMap{{"accuracy", 0.9}};
  const TrialOutcome outcome = DecideOutcome(exit, absl::ZeroDuration());
  EXPECT_EQ(outcome.state, OutcomeState::kComplete);
  EXPECT_THAT(outcome.final_metrics, ElementsAre(Pair("accuracy", 0.9)));
}

TEST(TrialOutcomeTest, CleanExitWithoutFinalReportFails) {
  TrialExit exit = ExitedWith(0);
  exit.stderr_tail = "done\n";
  const TrialOutcome outcome = DecideOutcome(exit, absl::ZeroDuration());
  EXPECT_EQ(outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(outcome.failure_reason, HasSubstr("exited without a final result"));
  EXPECT_THAT(outcome.failure_reason, HasSubstr("done"));
}

TEST(TrialOutcomeTest, NonZeroExitFailsWithCodeAndStderrTail) {
  TrialExit exit = ExitedWith(3);
  exit.final_metrics = MetricMap{{"accuracy", 0.9}};  // A final report does not save it.
  exit.stderr_tail = "Traceback...\nValueError: bad lr\n";
  const TrialOutcome outcome = DecideOutcome(exit, absl::ZeroDuration());
  EXPECT_EQ(outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(outcome.failure_reason, HasSubstr("exited with code 3"));
  EXPECT_THAT(outcome.failure_reason, HasSubstr("ValueError: bad lr"));
}

TEST(TrialOutcomeTest, SignalFailsNamingTheSignal) {
  TrialExit exit;
  exit.signaled = true;
  exit.signal = SIGSEGV;
  const TrialOutcome outcome = DecideOutcome(exit, absl::ZeroDuration());
  EXPECT_EQ(outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(outcome.failure_reason, HasSubstr("SIGSEGV"));
}

TEST(TrialOutcomeTest, TimeLimitFailsWithTheLimit) {
  TrialExit exit;
  exit.signaled = true;
  exit.signal = SIGTERM;
  exit.timed_out = true;
  const TrialOutcome outcome = DecideOutcome(exit, absl::Seconds(90));
  EXPECT_EQ(outcome.state, OutcomeState::kFailed);
  EXPECT_EQ(outcome.failure_reason, "time limit of 90 s exceeded");
}

TEST(TrialOutcomeTest, ProtocolErrorFailsWithTheParseError) {
  TrialExit exit = ExitedWith(0);
  exit.final_metrics = MetricMap{{"accuracy", 0.9}};
  exit.protocol_error = absl::InvalidArgumentError("bad report line (not JSON): hello");
  const TrialOutcome outcome = DecideOutcome(exit, absl::ZeroDuration());
  EXPECT_EQ(outcome.state, OutcomeState::kFailed);
  EXPECT_EQ(outcome.failure_reason, "bad report line (not JSON): hello");
}

TEST(TrialOutcomeTest, StopRequestedIsPruned) {
  TrialExit exit;
  exit.signaled = true;
  exit.signal = SIGKILL;
  exit.stop_requested = true;
  EXPECT_EQ(DecideOutcome(exit, absl::ZeroDuration()).state, OutcomeState::kPruned);
}

TEST(TrialOutcomeTest, FailureReasonIsValidUtf8) {
  TrialExit exit = ExitedWith(1);
  // A tail cut inside a character, then raw bytes that are not UTF-8.
  exit.stderr_tail = std::string("\xA9 caf\xC3\xA9 \xFF\xFE end");
  const TrialOutcome outcome = DecideOutcome(exit, absl::ZeroDuration());
  EXPECT_THAT(outcome.failure_reason, HasSubstr("caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD end"));
  EXPECT_THAT(outcome.failure_reason, Not(HasSubstr("\xA9 caf")));
}

TEST(ToValidUtf8Test, KeepsValidTextAndReplacesInvalidBytes) {
  EXPECT_EQ(ToValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ToValidUtf8("\xE2\x82\xAC \xF0\x9F\x98\x80"), "\xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(ToValidUtf8("a\xC0\xAF"), "a\xEF\xBF\xBD\xEF\xBF\xBD");                // Overlong '/'.
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // Surrogate.
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // Truncated.
  EXPECT_EQ(ToValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace vernier::worker
