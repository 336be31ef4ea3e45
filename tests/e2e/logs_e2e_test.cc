// End-to-end tier of trial logs: vernier-server, vernier-worker and a Python
// trial program that prints lines. `vernier logs` shows them while the trial
// runs (the worker ships them as they come), follows them with -f until the
// trial ends, prints them after it ended, and still prints what a worker
// killed with SIGKILL had shipped, across a server restart.
#include <signal.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/process_util.h"

namespace vernier {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Process;
using testing::ReadFile;
using testing::VernierProcessTest;
using testing::WaitUntil;
using testing::WriteFile;

// Bounds a hang; waits end as soon as their condition holds.
constexpr absl::Duration kPatience = absl::Seconds(60);

// Prints to stdout and stderr, then waits for a file "go" in the directory
// given as its argument before it prints once more and ends. Its pid goes to
// that directory too, so that the test can end it.
constexpr char kTrial[] = R"(import json, os, sys, time
control = sys.argv[1]
with open(os.path.join(control, "pid"), "w") as f:
    f.write(str(os.getpid()))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
print("hello from the trial", flush=True)
print("a warning on stderr", file=sys.stderr, flush=True)
while not os.path.exists(os.path.join(control, "go")):
    time.sleep(0.05)
print("after go", flush=True)
print(json.dumps({"final": True, "metrics": {"loss": 1.0}}), file=report)
)";

class LogsEndToEndTest : public VernierProcessTest {
 protected:
  // A study of one trial that runs kTrial.
  bool CreateLogsStudy() {
    WriteFile(dir_ / "trial.py", kTrial);
    return CreateStudy(absl::StrCat(R"(name: logs
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 1, max_retries: 0}
trainer: {command: [python3, ")",
                                    (dir_ / "trial.py").string(), "\", \"", dir_.string(),
                                    "\"]}\n"));
  }

  // `vernier logs logs 0 ...`'s standard output, once it shows `text`.
  bool LogsShow(const std::string& text, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"logs", "logs", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return WaitUntil([&] { return Cli(args).out.find(text) != std::string::npos; }, kPatience);
  }

  std::string TrialState() {
    const json trials = CliJson({"trials", "logs"});
    return trials.is_array() && trials.size() == 1 ? trials[0]["state"].get<std::string>() : "";
  }

  // Ends the trial program if it still runs (a killed worker leaves it).
  void EndTrialProgram() {
    const std::string pid = ReadFile(dir_ / "pid");
    if (!pid.empty()) kill(std::stoi(pid), SIGKILL);
  }
};

TEST_F(LogsEndToEndTest, ShowsTheOutputWhileTheTrialRunsFollowsItAndKeepsIt) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  ASSERT_TRUE(CreateLogsStudy());
  StartWorker("w");

  // Shipped while the trial waits: stdout and stderr both.
  ASSERT_TRUE(LogsShow("a warning on stderr")) << Logs();
  testing::CliResult running = Cli({"logs", "logs", "0"});
  EXPECT_EQ(running.exit_code, 0) << running.err;
  EXPECT_THAT(running.out, HasSubstr("hello from the trial\n"));
  EXPECT_THAT(running.out, Not(HasSubstr("after go")));

  // -f prints what is there, then what comes, and ends with the trial.
  std::vector<std::string> follow = {VERNIER_CLI_BIN, "--server", address_};
  if (testing::HelpMentions(VERNIER_CLI_BIN, "--insecure")) follow.push_back("--insecure");
  for (const char* arg : {"logs", "logs", "0", "-f"}) follow.push_back(arg);
  Process follower(follow, dir_ / "follow.out");
  ASSERT_TRUE(WaitUntil(
      [&] { return follower.Log().find("hello from the trial") != std::string::npos; }, kPatience))
      << follower.Log();
  EXPECT_TRUE(follower.Alive());
  WriteFile(dir_ / "go", "");
  ASSERT_TRUE(WaitUntil([&] { return !follower.Alive(); }, kPatience)) << follower.Log() << Logs();
  EXPECT_THAT(follower.Log(), HasSubstr("hello from the trial\n"));
  EXPECT_THAT(follower.Log(), HasSubstr("after go\n"));

  ASSERT_TRUE(WaitForStudyEnd("logs", kPatience)) << Logs();
  EXPECT_EQ(TrialState(), "COMPLETE");
  testing::CliResult after = Cli({"logs", "logs", "0", "--attempt", "1"});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out, HasSubstr("hello from the trial\n"));
  EXPECT_THAT(after.out, HasSubstr("a warning on stderr\n"));
  EXPECT_THAT(after.out, HasSubstr("after go\n"));

  testing::CliResult missing = Cli({"logs", "logs", "0", "--attempt", "2"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no attempt 2"));
  testing::CliResult unknown = Cli({"logs", "nope", "0"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("nope"));
}

TEST_F(LogsEndToEndTest, WhatAKilledWorkerShippedStaysReadable) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/2));
  ASSERT_TRUE(CreateLogsStudy());
  Process& worker = StartWorker("w");
  ASSERT_TRUE(LogsShow("hello from the trial")) << Logs();

  worker.Kill(SIGKILL);
  EndTrialProgram();
  // The lease expires; with no retries left the trial fails.
  ASSERT_TRUE(WaitUntil([&] { return TrialState() == "FAILED"; }, kPatience)) << Logs();
  EXPECT_TRUE(LogsShow("hello from the trial"));

  // Files beside the database: a restarted server still has them.
  server_->Kill(SIGKILL);
  ASSERT_TRUE(StartServer(/*lease_seconds=*/2));
  testing::CliResult after = Cli({"logs", "logs", "0"});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out, HasSubstr("hello from the trial\n"));
  EXPECT_THAT(after.out, Not(HasSubstr("after go")));
}

}  // namespace
}  // namespace vernier
