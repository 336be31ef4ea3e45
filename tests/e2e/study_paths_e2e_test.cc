// End-to-end tier: relative paths in a study file's trainer.command. `vernier
// run FILE` resolves them against the study file's directory, whatever the
// working directory; a worker resolves a remote study's against its
// --code-dir and fails a trial whose program file is not there before running
// anything, naming the directory.
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

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using testing::ReadFile;
using testing::RunShell;
using testing::VernierProcessTest;
using testing::WriteFile;

constexpr absl::Duration kStudyTimeout = absl::Seconds(60);

constexpr char kTrial[] = R"(import json, os
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
print(json.dumps({"step": 1, "metrics": {"loss": params["x"] + 1}}), file=report)
print(json.dumps({"final": True, "metrics": {"loss": params["x"]}}), file=report)
)";

std::string Study(const std::string& name, const std::string& script) {
  return absl::StrCat("name: ", name, R"(
objective: {metric: loss, goal: minimize}
params: {x: {type: float, low: 0, high: 1}}
sampler: {type: random, seed: 1}
budget: {max_trials: 3, parallel: 1, max_failures: 0}
trainer: {command: [python3, )",
                      script, "], time_limit: 30}\n");
}

using StudyPathsTest = VernierProcessTest;

TEST_F(StudyPathsTest, VernierRunFindsTheScriptBesideTheStudyFileFromAnotherDirectory) {
  fs::create_directories(dir_ / "project" / "scripts");
  fs::create_directories(dir_ / "elsewhere");
  WriteFile(dir_ / "project" / "scripts" / "trial.py", kTrial);
  WriteFile(dir_ / "project" / "study.yaml", Study("paths", "scripts/trial.py"));
  const fs::path out = dir_ / "run.out";
  const int code = RunShell(absl::StrCat(
      "cd '", (dir_ / "elsewhere").string(), "' && timeout ", absl::ToInt64Seconds(kStudyTimeout),
      " '", VERNIER_CLI_BIN, "' run '", (dir_ / "project" / "study.yaml").string(),
      "' --workers 1 --data-dir data >'", out.string(), "' 2>&1"));
  const std::string output = ReadFile(out);
  EXPECT_EQ(code, 0) << output;
  size_t complete = 0;
  for (size_t at = output.find("  COMPLETE  "); at != std::string::npos;
       at = output.find("  COMPLETE  ", at + 1)) {
    ++complete;
  }
  EXPECT_EQ(complete, 3u) << output;
  EXPECT_THAT(output, HasSubstr("best trial:"));
}

TEST_F(StudyPathsTest, WorkerResolvesAgainstCodeDirAndFailsAMissingScriptBeforeRunningIt) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/10));
  fs::create_directories(dir_ / "code");
  WriteFile(dir_ / "code" / "trial.py", kTrial);
  // The study file is not beside the script: create warns, the worker finds it.
  WriteFile(dir_ / "found.yaml", Study("found", "trial.py"));
  testing::CliResult created = Cli({"study", "create", "-f", (dir_ / "found.yaml").string()});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.err, HasSubstr("trainer.command[1]: trial.py does not exist under"));
  WriteFile(dir_ / "missing.yaml", Study("missing", "missing.py"));
  ASSERT_EQ(Cli({"study", "create", "-f", (dir_ / "missing.yaml").string()}).exit_code, 0);

  StartWorker("w", 1, {"--code-dir", (dir_ / "code").string()});
  ASSERT_TRUE(WaitForStudyEnd("found", kStudyTimeout)) << Logs();
  ASSERT_TRUE(WaitForStudyEnd("missing", kStudyTimeout)) << Logs();
  for (const json& trial : CliJson({"trials", "found"})) {
    EXPECT_EQ(trial["state"], "COMPLETE") << trial.dump();
  }
  const json missing = CliJson({"trials", "missing"});
  ASSERT_TRUE(missing.is_array() && !missing.empty()) << missing.dump();
  EXPECT_EQ(missing[0]["state"], "FAILED");
  EXPECT_THAT(missing[0]["failure_reason"].get<std::string>(),
              HasSubstr(absl::StrCat("trainer.command[1]: missing.py not found under --code-dir ",
                                     (dir_ / "code").string())));
}

}  // namespace
}  // namespace vernier
