// End-to-end tier of warm start on real processes: vernier-server, one
// vernier-worker running a small Python trial, and the vernier CLI —
// `vernier study enqueue` (--param, --params-file, --from/--top), bad input,
// and a study file with `warm_start`.
#include <string>
#include <vector>

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
using testing::VernierProcessTest;
using testing::WriteFile;

// Only stops a broken run from hanging CI; the studies take a few seconds.
constexpr absl::Duration kStudyTimeout = absl::Seconds(60);

// loss = (x - 0.3)^2, plus 1 for opt "b".
constexpr char kTrial[] = R"(import json, os
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
loss = (params["x"] - 0.3) ** 2 + (1.0 if params["opt"] == "b" else 0.0)
print(json.dumps({"final": True, "metrics": {"loss": loss}}), file=report)
)";

std::string Study(const std::string& name, const std::string& script, const std::string& extra) {
  return absl::StrCat("name: ", name, R"(
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
  opt: {type: categorical, values: [a, b]}
sampler: {type: random, seed: 2}
budget: {max_trials: 4, parallel: 1, max_failures: 0}
trainer: {command: [python3, ")",
                      script, "\"], time_limit: 30}\n", extra);
}

using EnqueueEndToEndTest = VernierProcessTest;

TEST_F(EnqueueEndToEndTest, EnqueuedTrialsRunFirstAndSeedOtherStudies) {
  const std::string script = (dir_ / "trial.py").string();
  WriteFile(dir_ / "trial.py", kTrial);
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  ASSERT_TRUE(CreateStudy(Study("old", script, "")));

  testing::CliResult one = Cli({"study", "enqueue", "old", "--param", "x=0.3", "--param", "opt=a"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "0\n");

  // Bad input: exit 2 with the server's message naming the parameter.
  testing::CliResult bad = Cli({"study", "enqueue", "old", "--param", "x=1.5"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("params.x: 1.5 is outside [0, 1]"));
  bad = Cli({"study", "enqueue", "old", "--param", "opt=c"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("params.opt"));
  bad = Cli({"study", "enqueue", "old", "--param", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("NAME=VALUE"));
  bad = Cli({"study", "enqueue", "ghost", "--param", "x=0.1"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("\"ghost\" not found"));

  // The last set is partial: its opt is sampled.
  WriteFile(dir_ / "sets.yaml", "- {x: 0.9, opt: b}\n- {x: 0.5, opt: a}\n- {x: 0.95}\n");
  testing::CliResult file =
      Cli({"study", "enqueue", "old", "--params-file", (dir_ / "sets.yaml").string()});
  EXPECT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, "1\n2\n3\n");
  bad = Cli({"study", "enqueue", "old", "--param", "x=0.1"});  // max_trials is 4.
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("budget.max_trials is 4"));

  StartWorker("w");
  ASSERT_TRUE(WaitForStudyEnd("old", kStudyTimeout)) << Logs();
  json trials = CliJson({"trials", "old"});
  ASSERT_EQ(trials.size(), 4u) << trials.dump();
  EXPECT_EQ(trials[0]["params"]["x"], 0.3);
  EXPECT_EQ(trials[0]["origin"], "enqueued");
  EXPECT_EQ(trials[1]["params"]["opt"], "b");
  EXPECT_EQ(trials[2]["params"]["x"], 0.5);
  EXPECT_EQ(trials[3]["params"]["x"], 0.95);
  EXPECT_TRUE(trials[3]["params"].contains("opt"));
  for (const json& trial : trials) EXPECT_EQ(trial["state"], "COMPLETE") << trial.dump();
  workers_.clear();  // The studies below are only looked at, not run.

  // A study seeded from "old": its trials are copied, not run again.
  const std::filesystem::path seeded = dir_ / "seeded.yaml";
  WriteFile(seeded, Study("seeded", script, "warm_start: {study: old, max_trials: 2}\n"));
  testing::CliResult created = Cli({"study", "create", "-f", seeded.string()});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("warm_start: copied 2 COMPLETE trials of study \"old\""));
  json copies = CliJson({"trials", "seeded"});
  ASSERT_EQ(copies.size(), 2u) << copies.dump();
  EXPECT_EQ(copies[0]["origin"], "warm_start:old#0");  // The best: x 0.3, opt a.

  // --from --top: the best 2 of "old" (x 0.3 and x 0.5) into a study whose x
  // is narrower; the one outside it is skipped with a note.
  WriteFile(dir_ / "narrow.yaml", absl::StrCat(R"(name: narrow
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 0.4}
budget: {max_trials: 5, parallel: 1}
trainer: {command: [python3, ")",
                                               script, "\"]}\n"));
  ASSERT_EQ(Cli({"study", "create", "-f", (dir_ / "narrow.yaml").string()}).exit_code, 0);
  testing::CliResult from = Cli({"study", "enqueue", "narrow", "--from", "old", "--top", "2"});
  EXPECT_EQ(from.exit_code, 0) << from.err;
  EXPECT_EQ(from.out, "0\n");
  EXPECT_THAT(from.err, HasSubstr("skipped trial"));
  EXPECT_THAT(from.err, HasSubstr("params.x"));
  json narrow = CliJson({"trials", "narrow"});
  ASSERT_EQ(narrow.size(), 1u) << narrow.dump();
  EXPECT_EQ(narrow[0]["params"]["x"], 0.3);
  EXPECT_FALSE(narrow[0]["params"].contains("opt"));
}

}  // namespace
}  // namespace vernier
