// End-to-end tier: population-based training on real processes — a
// vernier-server, two vernier-workers with two CPU slots each, and a Python
// trial program that checkpoints its state every two steps and can resume
// from a checkpoint. A lagging trial takes a leading trial's checkpoint
// through the server (UploadCheckpoint / DownloadCheckpoint) and its
// perturbed parameters; `vernier trials --format json` shows the lineage.
#include <cmath>
#include <cstdint>
#include <map>
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

// The trial program: its state is a level that grows by `rate` each step (the
// score). A slow rate also makes it slow (0.5 s a step at rate 0.1, at most
// 0.125 s for the others), so the lagging trial reports each step last and
// sees the whole population. Every second step it writes its
// state to <trial dir>/ckpt and announces it; with resume_from it starts from
// that state.
constexpr char kPbtTrial[] = R"(import json, os, time
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
ckpt = os.path.join(os.environ["VERNIER_TRIAL_DIR"], "ckpt")
level, start = 0.0, 1
if params.get("resume_from"):
    with open(os.path.join(params["resume_from"], "state.json")) as f:
        state = json.load(f)
    level, start = state["level"], state["epoch"] + 1
for step in range(start, 9):
    time.sleep(0.05 / params["rate"])
    level += params["rate"]
    if step % 2 == 0:
        os.makedirs(ckpt, exist_ok=True)
        with open(os.path.join(ckpt, "state.json.tmp"), "w") as f:
            json.dump({"epoch": step, "level": level}, f)
        os.replace(os.path.join(ckpt, "state.json.tmp"), os.path.join(ckpt, "state.json"))
        print(json.dumps({"checkpoint": ckpt, "step": step}), file=report)
    print(json.dumps({"step": step, "metrics": {"score": level}}), file=report)
print(json.dumps({"final": True, "metrics": {"score": level}}), file=report)
)";

std::map<int64_t, double> Curve(const json& trial) {
  std::map<int64_t, double> curve;
  for (const json& m : trial["intermediate"]) curve[m["step"]] = m["metrics"]["score"];
  return curve;
}

using PbtEndToEndTest = VernierProcessTest;

TEST_F(PbtEndToEndTest, LaggingTrialTakesTheLeadersCheckpointThroughTheServer) {
  const std::filesystem::path script = dir_ / "pbt_trial.py";
  WriteFile(script, kPbtTrial);
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  StartWorker("a", /*slots=*/2);
  StartWorker("b", /*slots=*/2);
  ASSERT_TRUE(CreateStudy(absl::StrCat(R"(
name: pbt-e2e
objective: {metric: score, goal: maximize}
params:
  rate: {type: float, low: 0.1, high: 1.0, step: 0.3}
sampler: {type: grid}
pruner:  {type: pbt, interval: 2, quantile: 0.25, resample_probability: 0}
budget:  {max_trials: 4, parallel: 4, max_failures: 0}
trainer: {command: [python3, ")",
                                       script.string(), R"("], time_limit: 60, stop_grace: 2}
)")));
  ASSERT_TRUE(WaitForStudyEnd("pbt-e2e", kStudyTimeout)) << Logs();
  EXPECT_EQ(CliJson({"study", "show", "pbt-e2e"})["state"], "COMPLETED");

  json trials = CliJson({"trials", "pbt-e2e"});
  ASSERT_EQ(trials.size(), 4u) << trials.dump();
  std::map<int64_t, json> by_number;
  for (const json& trial : trials) {
    ASSERT_EQ(trial["state"], "COMPLETE") << trial.dump() << Logs();
    by_number[trial["number"]] = trial;
  }
  int exploits = 0;
  for (const json& trial : trials) {
    if (!trial.contains("exploits")) continue;
    for (const json& exploit : trial["exploits"]) {
      ++exploits;
      const int64_t donor = exploit["donor_trial"];
      const int64_t donor_step = exploit["donor_step"];
      ASSERT_NE(donor, trial["number"].get<int64_t>());
      ASSERT_EQ(donor_step % 2, 0) << exploit.dump();
      // The checkpoint moved: the step after the donor's is the donor's
      // level plus one more step, above anything the trial had reached.
      const std::map<int64_t, double> curve = Curve(trial);
      const std::map<int64_t, double> donor_curve = Curve(by_number.at(donor));
      if (donor_step < 8) {
        ASSERT_TRUE(curve.count(donor_step + 1)) << trial.dump();
        EXPECT_GT(curve.at(donor_step + 1), donor_curve.at(donor_step)) << trials.dump();
      }
      EXPECT_TRUE(exploit["params_before"].contains("rate")) << exploit.dump();
    }
  }
  EXPECT_GE(exploits, 1) << trials.dump() << Logs();
  // The table shows the lineage too.
  EXPECT_NE(Cli({"trials", "pbt-e2e"}).out.find("[pbt: from #"), std::string::npos);
}

}  // namespace
}  // namespace vernier
