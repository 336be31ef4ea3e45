// End-to-end tier: a study with the `asha` pruner on real processes — a
// vernier-server, two vernier-workers with two CPU slots each, and a Python
// trial program that reports a synthetic learning curve — shows trials stopped
// at the rungs in `vernier trials --format json`.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/process_util.h"

namespace vernier {
namespace {

using nlohmann::json;
using testing::VernierProcessTest;
using testing::WriteFile;

// Only stops a broken run from hanging CI; the study takes a few seconds.
constexpr absl::Duration kStudyTimeout = absl::Seconds(90);

// The trial program: the parameter `quality` sets the plateau of a curve that
// rises like 1 - 0.5^step, so curves never cross and the best trial is the one
// with the highest quality at every step. Reports steps 1..9 with short
// sleeps, then a final result.
constexpr char kCurveTrial[] = R"(import json, os, time
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
score = 0.0
for step in range(1, 10):
    time.sleep(0.05)
    score = params["quality"] * (1 - 0.5 ** step)
    print(json.dumps({"step": step, "metrics": {"score": score}}), file=report)
print(json.dumps({"final": True, "metrics": {"score": score}}), file=report)
)";

int64_t LastStep(const json& trial) {
  int64_t last = -1;
  for (const json& m : trial["intermediate"]) last = std::max<int64_t>(last, m["step"]);
  return last;
}

using AshaEndToEndTest = VernierProcessTest;

TEST_F(AshaEndToEndTest, TrialsStopAtTheRungsAndTheBestRunsToMaxResource) {
  const std::filesystem::path script = dir_ / "curve_trial.py";
  WriteFile(script, kCurveTrial);
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  StartWorker("a", /*slots=*/2);
  StartWorker("b", /*slots=*/2);
  // Rungs at steps 1 and 3 (min_resource * rf^k below max_resource 9).
  ASSERT_TRUE(CreateStudy(absl::StrCat(R"(
name: asha-e2e
objective: {metric: score, goal: maximize}
params:
  quality: {type: float, low: 0.1, high: 1.0}
sampler: {type: random, seed: 5}
pruner:  {type: asha, min_resource: 1, reduction_factor: 3, max_resource: 9}
budget:  {max_trials: 18, parallel: 4, max_failures: 0}
trainer: {command: [python3, ")",
                                       script.string(), R"("], time_limit: 60, stop_grace: 2}
)")));
  ASSERT_TRUE(WaitForStudyEnd("asha-e2e", kStudyTimeout)) << Logs();
  EXPECT_EQ(CliJson({"study", "show", "asha-e2e"})["state"], "COMPLETED");

  json trials = CliJson({"trials", "asha-e2e"});
  ASSERT_EQ(trials.size(), 18u) << trials.dump();
  const std::set<int64_t> rungs = {1, 3};
  int pruned = 0, complete = 0;
  double best_quality = -1;
  std::string best_state;
  for (const json& trial : trials) {
    const std::string state = trial["state"];
    const int64_t last = LastStep(trial);
    if (state == "PRUNED") {
      ++pruned;
      EXPECT_TRUE(rungs.count(last)) << "pruned off a rung: " << trial.dump();
    } else {
      ASSERT_EQ(state, "COMPLETE") << trial.dump() << Logs();
      ++complete;
      EXPECT_EQ(last, 9) << trial.dump();
    }
    const double quality = trial["params"]["quality"];
    if (quality > best_quality) {
      best_quality = quality;
      best_state = state;
    }
  }
  // 18 trials with rf 3: most stop at a rung, and some reach max_resource.
  EXPECT_GE(pruned, 6) << trials.dump();
  EXPECT_GE(complete, 1) << trials.dump();
  // The best curve is in the top third at every rung, so ASHA never stops it.
  EXPECT_EQ(best_state, "COMPLETE") << trials.dump();
}

}  // namespace
}  // namespace vernier
