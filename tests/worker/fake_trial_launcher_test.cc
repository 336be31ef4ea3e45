// The fake launcher keeps TrialLauncher's contract: scripted reports and
// exits, Stop() ends a running process as SIGTERM would, start failures, and
// the test's live control of a running trial.
#include "tests/worker/fake_trial_launcher.h"

#include <signal.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::worker::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;
using ::testing::Pair;

std::vector<int64_t> TakeSteps(TrialProcess& process) {
  std::vector<int64_t> steps;
  while (std::optional<TrialReport> report = process.NextReport()) steps.push_back(report->step);
  return steps;
}

TEST(FakeTrialLauncherTest, ScriptedTrialReportsThenEndsAsScripted) {
  FakeTrialLauncher launcher;
  launcher.AddScript({absl::OkStatus(), {Report(0), Report(1)}, FinishedExit({{"acc", 0.5}})});
  TrialSpec spec;
  spec.study = "s";
  absl::StatusOr<std::unique_ptr<TrialProcess>> process = launcher.Start(spec);
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_THAT(TakeSteps(**process), ElementsAre(0, 1));
  (*process)->Stop();  // It has ended already: nothing to stop.
  const TrialExit exit = (*process)->Wait();
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_FALSE(exit.stop_requested);
  EXPECT_THAT(exit.final_metrics, Optional(ElementsAre(Pair("acc", 0.5))));
  EXPECT_EQ(launcher.starts(), 1u);
  EXPECT_EQ(launcher.spec(0).study, "s");
  EXPECT_FALSE(launcher.AwaitProcess(0)->stop_requested());
}

TEST(FakeTrialLauncherTest, UnscriptedTrialRunsUntilStopped) {
  FakeTrialLauncher launcher;
  absl::StatusOr<std::unique_ptr<TrialProcess>> process = launcher.Start(TrialSpec());
  ASSERT_TRUE(process.ok());
  FakeTrialProcess* fake = launcher.AwaitProcess(0);
  ASSERT_NE(fake, nullptr);
  std::thread consumer([&] { EXPECT_THAT(TakeSteps(**process), ElementsAre(7)); });
  fake->AddReport(Report(7));
  ASSERT_TRUE(fake->AwaitReportsTaken());
  EXPECT_FALSE(fake->ended());
  (*process)->Stop();
  consumer.join();
  const TrialExit exit = (*process)->Wait();
  EXPECT_TRUE(exit.signaled);
  EXPECT_EQ(exit.signal, SIGTERM);
  EXPECT_TRUE(exit.stop_requested);
}

TEST(FakeTrialLauncherTest, TrialThatIgnoresStopEndsWhenTheTestSays) {
  FakeTrialLauncher launcher;
  FakeTrialScript script;
  script.ignore_stop = true;
  launcher.AddScript(script);
  absl::StatusOr<std::unique_ptr<TrialProcess>> process = launcher.Start(TrialSpec());
  ASSERT_TRUE(process.ok());
  FakeTrialProcess* fake = launcher.AwaitProcess(0);
  (*process)->Stop();
  EXPECT_TRUE(fake->AwaitStopRequested());
  EXPECT_FALSE(fake->ended());
  fake->Exit(ExitCode(3, "bye"));
  const TrialExit exit = (*process)->Wait();
  EXPECT_EQ(exit.exit_code, 3);
  EXPECT_EQ(exit.stderr_tail, "bye");
  EXPECT_TRUE(exit.stop_requested);
}

TEST(FakeTrialLauncherTest, ScriptedStartErrorFailsTheStart) {
  FakeTrialLauncher launcher;
  launcher.AddScript({absl::NotFoundError("no such program")});
  size_t seen = 99;
  launcher.set_on_start([&](size_t start) { seen = start; });
  EXPECT_EQ(launcher.Start(TrialSpec()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(seen, 0u);
  EXPECT_EQ(launcher.starts(), 1u);
  EXPECT_EQ(launcher.AwaitProcess(0), nullptr);
  EXPECT_TRUE(launcher.Start(TrialSpec()).ok());  // Scripts are used once.
  EXPECT_EQ(seen, 1u);
}

TEST(FakeTrialLauncherTest, DroppingARunningProcessKillsIt) {
  FakeTrialLauncher launcher;
  { ASSERT_TRUE(launcher.Start(TrialSpec()).ok()); }
  FakeTrialProcess* fake = launcher.AwaitProcess(0);
  EXPECT_TRUE(fake->ended());
  EXPECT_EQ(fake->Wait().signal, SIGKILL);
}

}  // namespace
}  // namespace vernier::worker::testing
