#include "worker/posix_trial_launcher.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/worker/test_util.h"
#include "worker/trial_outcome.h"

namespace vernier::worker {
namespace {

using test_util::ReadFile;
using test_util::WaitForFile;
using test_util::WaitUntilGone;
using test_util::WriteScript;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// Everything a finished trial produced.
struct Finished {
  std::vector<TrialReport> reports;
  TrialExit exit;
  TrialOutcome outcome;
};

int CountOpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

class PosixTrialLauncherTest : public ::testing::Test {
 protected:
  // A spec running `script` (written as an executable file) in a new trial
  // directory.
  TrialSpec SpecFor(const std::string& script) {
    const std::string path = dir_.path() + "/trial-" + std::to_string(++scripts_) + ".sh";
    WriteScript(path, script);
    absl::StatusOr<std::string> trial_dir =
        MakeTrialDir(dir_.path() + "/work", "study", scripts_, 0);
    EXPECT_TRUE(trial_dir.ok()) << trial_dir.status();
    TrialSpec spec;
    spec.argv = {path};
    spec.study = "study";
    spec.trial_number = scripts_;
    spec.params_json = R"({"lr": 0.1})";
    spec.trial_dir = trial_dir.value_or("");
    spec.stop_grace = absl::Seconds(30);
    return spec;
  }

  std::unique_ptr<TrialProcess> Start(const TrialSpec& spec) {
    absl::StatusOr<std::unique_ptr<TrialProcess>> process = launcher_.Start(spec);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  Finished RunToEnd(const TrialSpec& spec) {
    Finished finished;
    std::unique_ptr<TrialProcess> process = Start(spec);
    if (process == nullptr) return finished;
    while (std::optional<TrialReport> report = process->NextReport()) {
      finished.reports.push_back(*report);
    }
    finished.exit = process->Wait();
    finished.outcome = DecideOutcome(finished.exit, spec.time_limit);
    return finished;
  }

  ::vernier::testing::TempDir dir_;
  PosixTrialLauncher launcher_;
  int scripts_ = 0;
};

TEST_F(PosixTrialLauncherTest, ReportsThreeStepsAndFinalResultIsComplete) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
for step in 0 1 2; do
  echo "{\"step\": $step, \"metrics\": {\"loss\": 0.$step}}" >&3
done
echo '{"final": true, "metrics": {"accuracy": 0.875}}' >&3
)"));
  ASSERT_EQ(done.reports.size(), 3u);
  for (int step = 0; step < 3; ++step) {
    EXPECT_FALSE(done.reports[step].is_final);
    EXPECT_EQ(done.reports[step].step, step);
    EXPECT_THAT(done.reports[step].metrics, ElementsAre(Pair("loss", step / 10.0)));
  }
  EXPECT_TRUE(done.exit.exited);
  EXPECT_EQ(done.exit.exit_code, 0);
  EXPECT_EQ(done.outcome.state, OutcomeState::kComplete);
  EXPECT_THAT(done.outcome.final_metrics, ElementsAre(Pair("accuracy", 0.875)));
}

TEST_F(PosixTrialLauncherTest, CrashFailsWithExitCodeAndStderr) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
echo "CUDA error: out of memory" >&2
exit 3
)"));
  EXPECT_EQ(done.reports.size(), 1u);
  EXPECT_EQ(done.exit.exit_code, 3);
  EXPECT_EQ(done.outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("exited with code 3"));
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("CUDA error: out of memory"));
}

TEST_F(PosixTrialLauncherTest, HangPastTimeLimitFails) {
  TrialSpec spec = SpecFor("#!/bin/sh\nsleep 600\n");
  spec.time_limit = absl::Milliseconds(200);
  const Finished done = RunToEnd(spec);
  EXPECT_TRUE(done.exit.timed_out);
  EXPECT_TRUE(done.exit.signaled);
  EXPECT_FALSE(done.exit.stop_requested);
  EXPECT_EQ(done.outcome.state, OutcomeState::kFailed);
  EXPECT_EQ(done.outcome.failure_reason, "time limit of 0.2 s exceeded");
}

TEST_F(PosixTrialLauncherTest, ExitWithoutFinalResultFails) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
)"));
  EXPECT_EQ(done.exit.exit_code, 0);
  EXPECT_EQ(done.outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("exited without a final result"));
}

TEST_F(PosixTrialLauncherTest, GarbageOnReportChannelStopsTrialAndNamesTheLine) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
echo 'epoch 1 loss=0.5' >&3
sleep 600
)"));
  EXPECT_EQ(done.reports.size(), 1u);
  EXPECT_FALSE(done.exit.protocol_error.ok());
  EXPECT_TRUE(done.exit.signaled);  // Stopped, not left to sleep.
  EXPECT_EQ(done.outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("bad report line"));
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("epoch 1 loss=0.5"));
}

TEST_F(PosixTrialLauncherTest, StopKillsTrialThatIgnoresSigtermAfterGrace) {
  TrialSpec spec = SpecFor(R"(#!/bin/sh
trap '' TERM
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
while true; do sleep 1; done
)");
  spec.stop_grace = absl::Milliseconds(200);
  std::unique_ptr<TrialProcess> process = Start(spec);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(process->NextReport().has_value());  // The trap is in place.
  process->Stop();
  process->Stop();  // Idempotent.
  EXPECT_FALSE(process->NextReport().has_value());
  const TrialExit exit = process->Wait();
  EXPECT_TRUE(exit.stop_requested);
  EXPECT_TRUE(exit.killed_after_grace);
  EXPECT_TRUE(exit.signaled);
  EXPECT_EQ(exit.signal, SIGKILL);
  EXPECT_EQ(DecideOutcome(exit, spec.time_limit).state, OutcomeState::kPruned);
}

TEST_F(PosixTrialLauncherTest, StopLetsTrialThatHandlesSigtermExit) {
  std::unique_ptr<TrialProcess> process = Start(SpecFor(R"(#!/bin/sh
trap 'echo stopping >&2; exit 0' TERM
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
while true; do sleep 0.05; done
)"));
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(process->NextReport().has_value());
  process->Stop();
  const TrialExit exit = process->Wait();
  EXPECT_TRUE(exit.stop_requested);
  EXPECT_FALSE(exit.killed_after_grace);  // The grace is 30 s.
  EXPECT_TRUE(exit.exited);
  EXPECT_THAT(exit.stderr_tail, HasSubstr("stopping"));
}

TEST_F(PosixTrialLauncherTest, EnvironmentAndParamsFileFollowTheProtocol) {
  TrialSpec spec = SpecFor(test_util::PythonShebang() + R"(
import json, os
open_fds = []
for fd in range(64):
    try:
        os.fstat(fd)
        open_fds.append(fd)
    except OSError:
        pass
names = ["VERNIER_PARAMS_FILE", "VERNIER_REPORT_FD", "VERNIER_STUDY", "VERNIER_TRIAL",
         "VERNIER_DEVICE", "VERNIER_NUM_THREADS", "VERNIER_TRIAL_DIR", "CUDA_VISIBLE_DEVICES",
         "OMP_NUM_THREADS"]
info = {"env": {n: os.environ.get(n) for n in names},
        "params": open(os.environ["VERNIER_PARAMS_FILE"]).read(),
        "open_fds": open_fds,
        "pgid_is_pid": os.getpgid(0) == os.getpid()}
with open(os.path.join(os.environ["VERNIER_TRIAL_DIR"], "info.json"), "w") as f:
    json.dump(info, f)
print("hello on stdout", flush=True)
with os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w") as report:
    report.write('{"final": true, "metrics": {"ok": 1}}\n')
)");
  spec.trial_number = 7;
  spec.env = {{"VERNIER_DEVICE", "cpu"},
              {"VERNIER_NUM_THREADS", "2"},
              {"OMP_NUM_THREADS", "2"},
              {"CUDA_VISIBLE_DEVICES", ""}};
  const Finished done = RunToEnd(spec);
  ASSERT_EQ(done.outcome.state, OutcomeState::kComplete) << done.outcome.failure_reason;

  const nlohmann::json info = nlohmann::json::parse(ReadFile(spec.trial_dir + "/info.json"));
  const nlohmann::json& env = info["env"];
  EXPECT_EQ(env["VERNIER_PARAMS_FILE"], spec.trial_dir + "/params.json");
  EXPECT_EQ(env["VERNIER_REPORT_FD"], "3");
  EXPECT_EQ(env["VERNIER_STUDY"], "study");
  EXPECT_EQ(env["VERNIER_TRIAL"], "7");
  EXPECT_EQ(env["VERNIER_DEVICE"], "cpu");
  EXPECT_EQ(env["VERNIER_NUM_THREADS"], "2");
  EXPECT_EQ(env["OMP_NUM_THREADS"], "2");
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "");
  EXPECT_EQ(env["VERNIER_TRIAL_DIR"], spec.trial_dir);
  EXPECT_EQ(info["params"], R"({"lr": 0.1})");
  EXPECT_EQ(info["open_fds"], nlohmann::json({0, 1, 2, 3}));  // No descriptor leaks in.
  EXPECT_EQ(info["pgid_is_pid"], true);
  EXPECT_THAT(ReadFile(spec.trial_dir + "/trial.log"), HasSubstr("hello on stdout"));
}

TEST_F(PosixTrialLauncherTest, StdoutAndStderrGoToTheTrialLog) {
  const TrialSpec spec = SpecFor(R"(#!/bin/sh
echo "to stdout"
echo "to stderr" >&2
exit 1
)");
  const Finished done = RunToEnd(spec);
  const std::string log = ReadFile(spec.trial_dir + "/trial.log");
  EXPECT_THAT(log, HasSubstr("to stdout"));
  EXPECT_THAT(log, HasSubstr("to stderr"));
  EXPECT_THAT(done.exit.stderr_tail, HasSubstr("to stderr"));
  EXPECT_THAT(done.exit.stderr_tail, Not(HasSubstr("to stdout")));
}

TEST_F(PosixTrialLauncherTest, StderrTailKeepsOnlyTheEnd) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
i=0
while [ $i -lt 2000 ]; do echo "line $i of noise" >&2; i=$((i+1)); done
echo "the real error" >&2
exit 1
)"));
  EXPECT_LE(done.exit.stderr_tail.size(), 4096u);
  EXPECT_THAT(done.exit.stderr_tail, HasSubstr("the real error"));
  EXPECT_THAT(done.exit.stderr_tail, Not(HasSubstr("line 0 of noise")));
}

TEST_F(PosixTrialLauncherTest, StopKillsTheWholeProcessGroup) {
  // Everything ignores SIGTERM, so only the group's SIGKILL can end the
  // grandchild.
  TrialSpec spec = SpecFor(R"(#!/bin/sh
trap '' TERM
sleep 600 &
echo $! > "$VERNIER_TRIAL_DIR/grandchild.pid"
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
wait
)");
  spec.stop_grace = absl::Milliseconds(100);
  std::unique_ptr<TrialProcess> process = Start(spec);
  ASSERT_NE(process, nullptr);
  ASSERT_TRUE(process->NextReport().has_value());
  const pid_t grandchild = std::stoi(WaitForFile(spec.trial_dir + "/grandchild.pid"));
  process->Stop();
  process->Wait();
  EXPECT_TRUE(WaitUntilGone(grandchild));
}

TEST_F(PosixTrialLauncherTest, LeftoversOfTheGroupAreKilledWhenTrialExits) {
  const TrialSpec spec = SpecFor(R"(#!/bin/sh
sleep 600 &
echo $! > "$VERNIER_TRIAL_DIR/grandchild.pid"
echo '{"final": true, "metrics": {"accuracy": 1}}' >&3
)");
  const Finished done = RunToEnd(spec);
  EXPECT_EQ(done.outcome.state, OutcomeState::kComplete);
  const pid_t grandchild = std::stoi(WaitForFile(spec.trial_dir + "/grandchild.pid"));
  EXPECT_TRUE(WaitUntilGone(grandchild));
}

TEST_F(PosixTrialLauncherTest, ChildClosingReportChannelEarlyDoesNotHang) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
echo '{"step": 0, "metrics": {"loss": 1}}' >&3
exec 3>&-
sleep 0.1
echo "closed the channel" >&2
)"));
  EXPECT_EQ(done.reports.size(), 1u);
  EXPECT_EQ(done.outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("exited without a final result"));
}

TEST_F(PosixTrialLauncherTest, FinalReportWithoutNewlineCounts) {
  const Finished done = RunToEnd(SpecFor(R"(#!/bin/sh
printf '{"final": true, "metrics": {"accuracy": 0.5}}' >&3
)"));
  EXPECT_EQ(done.outcome.state, OutcomeState::kComplete);
  EXPECT_THAT(done.outcome.final_metrics, ElementsAre(Pair("accuracy", 0.5)));
}

TEST_F(PosixTrialLauncherTest, HugeLineIsAProtocolErrorNotAMemoryProblem) {
  const Finished done = RunToEnd(SpecFor(test_util::PythonShebang() + R"(
import os, time
report = os.fdopen(3, "w")
report.write("x" * (10 * 1024 * 1024))
report.write('\n{"final": true, "metrics": {"accuracy": 1}}\n')
report.flush()
time.sleep(600)
)"));
  EXPECT_EQ(done.outcome.state, OutcomeState::kFailed);
  EXPECT_THAT(done.outcome.failure_reason, HasSubstr("longer than 65536 bytes"));
  EXPECT_FALSE(done.exit.final_metrics.has_value());  // Nothing after the error counts.
}

TEST_F(PosixTrialLauncherTest, ManyFastReportsArriveInOrderThroughTheBoundedQueue) {
  const Finished done = RunToEnd(SpecFor(test_util::PythonShebang() + R"(
import os
report = os.fdopen(3, "w")
for step in range(2000):
    report.write('{"step": %d, "metrics": {"loss": 1}}\n' % step)
report.write('{"final": true, "metrics": {"loss": 0}}\n')
)"));
  ASSERT_EQ(done.reports.size(), 2000u);
  for (int step = 0; step < 2000; ++step) ASSERT_EQ(done.reports[step].step, step);
  EXPECT_EQ(done.outcome.state, OutcomeState::kComplete);
}

TEST_F(PosixTrialLauncherTest, DestroyingTheHandleKillsTheTrial) {
  const TrialSpec spec = SpecFor(R"(#!/bin/sh
trap '' TERM
echo $$ > "$VERNIER_TRIAL_DIR/pid"
while true; do sleep 1; done
)");
  std::unique_ptr<TrialProcess> process = Start(spec);
  ASSERT_NE(process, nullptr);
  const pid_t pid = std::stoi(WaitForFile(spec.trial_dir + "/pid"));
  process.reset();
  EXPECT_TRUE(WaitUntilGone(pid));
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);  // Already reaped.
}

TEST_F(PosixTrialLauncherTest, MissingProgramIsNotFound) {
  TrialSpec spec = SpecFor("#!/bin/sh\n");
  spec.argv = {"vernier-no-such-program-anywhere"};
  EXPECT_EQ(launcher_.Start(spec).status().code(), absl::StatusCode::kNotFound);
  spec.argv = {};
  EXPECT_EQ(launcher_.Start(spec).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PosixTrialLauncherTest, ProgramThatCannotBeExecutedIsAnError) {
  TrialSpec spec = SpecFor("#!/bin/sh\n");
  const std::string not_executable = dir_.path() + "/data.txt";
  test_util::WriteScript(not_executable, "just text\n");
  chmod(not_executable.c_str(), 0644);
  spec.argv = {not_executable};
  const absl::Status status = launcher_.Start(spec).status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("cannot execute"));
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);  // The failed child was reaped.
}

TEST_F(PosixTrialLauncherTest, ProgramsAreFoundInPath) {
  TrialSpec spec = SpecFor("#!/bin/sh\n");
  spec.argv = {"sh", "-c", R"(echo '{"final": true, "metrics": {"a": 1}}' >&3)"};
  EXPECT_EQ(RunToEnd(spec).outcome.state, OutcomeState::kComplete);
}

TEST_F(PosixTrialLauncherTest, NoZombiesAndNoDescriptorLeaks) {
  const int fds_before = CountOpenFds();
  for (int i = 0; i < 5; ++i) {
    TrialSpec spec = SpecFor("#!/bin/sh\necho oops >&2\nexit 1\n");
    EXPECT_EQ(RunToEnd(spec).outcome.state, OutcomeState::kFailed);
    spec = SpecFor("#!/bin/sh\nsleep 600\n");
    spec.time_limit = absl::Milliseconds(10);
    EXPECT_EQ(RunToEnd(spec).outcome.state, OutcomeState::kFailed);
  }
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(MakeTrialDirTest, CreatesFreshPrivateDirectoriesWithSafeNames) {
  ::vernier::testing::TempDir dir;
  absl::StatusOr<std::string> first = MakeTrialDir(dir.path(), "../evil/study", 3, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, dir.path() + "/_.._evil_study/trial-3-attempt-1");
  absl::StatusOr<std::string> again = MakeTrialDir(dir.path(), "../evil/study", 3, 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first + "-2");
  struct stat info = {};
  ASSERT_EQ(stat(first->c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace vernier::worker
