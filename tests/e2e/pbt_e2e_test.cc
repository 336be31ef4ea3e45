// End-to-end tier: population-based training on real processes — a
// vernier-server, two vernier-workers with two CPU slots each, and a Python
// trial program that checkpoints its state every two steps and can resume
// from a checkpoint. A lagging trial takes a leading trial's checkpoint
// through the server (UploadCheckpoint / DownloadCheckpoint) and its
// perturbed parameters; `vernier trials --format json` shows the lineage.
// The second test is asynchronous: irregular steps, and a bad trial that
// passes each boundary first and is judged at a later report.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

// An asynchronous population: the trial program reports (and checkpoints)
// odd steps only, 1, 3, ..., 11, so with interval 4 no report falls on a
// boundary. The bad trial (rate 0.1) is the fast one: it reaches boundary 4
// first and finds itself alone there. File gates, opened by the test from what
// the server shows, fix that arrival order: the others report step 5 only
// once the server holds the bad trial's step 5, and the bad trial reports
// step 7 only once the server holds everyone's step 5. Every trial writes
// {"trial", "step", "level"} into its checkpoint; a resumed one appends what
// it read, and from where, to a log the test reads.
constexpr char kAsyncPbtTrial[] = R"(import json, os, sys, time
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
trial = int(os.environ["VERNIER_TRIAL"])
ckpt = os.path.join(os.environ["VERNIER_TRIAL_DIR"], "ckpt")
gates, resumes = sys.argv[1], sys.argv[2]
def wait_for(gate):
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(gates, gate)) and time.time() < deadline:
        time.sleep(0.02)
level, start = 0.0, 1
if params.get("resume_from"):
    with open(os.path.join(params["resume_from"], "state.json")) as f:
        state = json.load(f)
    level, start = state["level"], state["step"] + 1
    with open(resumes, "a") as f:
        print(json.dumps({"trial": trial, "from_trial": state["trial"], "from_step": state["step"],
                          "level": level, "dir": params["resume_from"]}), file=f)
bad = params["rate"] < 0.2 and not params.get("resume_from")
for step in range(start, 12):
    time.sleep(0.03)
    level += params["rate"]
    if step % 2 == 0:
        continue
    if step == 5 and not bad:
        wait_for("others-report-5")
    if step == 7 and bad:
        wait_for("bad-reports-7")
    os.makedirs(ckpt, exist_ok=True)
    with open(os.path.join(ckpt, "state.json.tmp"), "w") as f:
        json.dump({"trial": trial, "step": step, "level": level}, f)
    os.replace(os.path.join(ckpt, "state.json.tmp"), os.path.join(ckpt, "state.json"))
    print(json.dumps({"checkpoint": ckpt, "step": step}), file=report)
    print(json.dumps({"step": step, "metrics": {"score": level}}), file=report)
print(json.dumps({"final": True, "metrics": {"score": level}}), file=report)
)";

// The highest step each trial has reported to the server, by trial number.
std::map<int64_t, int64_t> LastSteps(const json& trials) {
  std::map<int64_t, int64_t> last;
  if (!trials.is_array()) return last;
  for (const json& trial : trials) {
    int64_t step = 0;
    for (const json& m : trial["intermediate"]) step = std::max<int64_t>(step, m["step"]);
    last[trial["number"]] = step;
  }
  return last;
}

TEST_F(PbtEndToEndTest, FastLaggardExploitsBetweenBoundariesInAnAsynchronousStudy) {
  const std::filesystem::path script = dir_ / "async_pbt_trial.py";
  const std::filesystem::path gates = dir_ / "gates";
  const std::filesystem::path resumes = dir_ / "resumes.jsonl";
  WriteFile(script, kAsyncPbtTrial);
  std::filesystem::create_directories(gates);
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  StartWorker("a", /*slots=*/2);
  StartWorker("b", /*slots=*/2);
  ASSERT_TRUE(CreateStudy(absl::StrCat(R"(
name: pbt-async
objective: {metric: score, goal: maximize}
params:
  rate: {type: float, low: 0.1, high: 1.0, step: 0.3}
sampler: {type: grid}
pruner:  {type: pbt, interval: 4, quantile: 0.25, resample_probability: 0}
budget:  {max_trials: 4, parallel: 4, max_failures: 0}
trainer: {command: [python3, ")",
                                       script.string(), R"(", ")", gates.string(), R"(", ")",
                                       resumes.string(), R"("], time_limit: 60, stop_grace: 2}
)")));
  // Which trial is the bad one (rate 0.1) depends on the grid's order.
  int64_t bad = -1;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        json trials = CliJson({"trials", "pbt-async"});
        if (!trials.is_array() || trials.size() < 4) return false;
        for (const json& trial : trials) {
          if (trial["params"]["rate"].get<double>() < 0.2) bad = trial["number"];
        }
        return true;
      },
      kStudyTimeout))
      << Logs();
  ASSERT_GE(bad, 0);
  // The bad trial passes boundary 4 alone: its step 5 is not judged (one
  // member of min_population 4).
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return LastSteps(CliJson({"trials", "pbt-async"}))[bad] >= 5;
      },
      kStudyTimeout))
      << Logs();
  WriteFile(gates / "others-report-5", "");
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        const std::map<int64_t, int64_t> last = LastSteps(CliJson({"trials", "pbt-async"}));
        if (last.size() < 4) return false;
        for (const auto& [number, step] : last) {
          if (step < 5) return false;
        }
        return true;
      },
      kStudyTimeout))
      << Logs();
  WriteFile(gates / "bad-reports-7", "");
  ASSERT_TRUE(WaitForStudyEnd("pbt-async", kStudyTimeout)) << Logs();
  EXPECT_EQ(CliJson({"study", "show", "pbt-async"})["state"], "COMPLETED");

  json trials = CliJson({"trials", "pbt-async"});
  ASSERT_EQ(trials.size(), 4u) << trials.dump();
  std::map<int64_t, json> by_number;
  for (const json& trial : trials) {
    EXPECT_EQ(trial["state"], "COMPLETE") << trial.dump() << Logs();
    by_number[trial["number"]] = trial;
  }
  // The bad trial exploited at step 7, judged against boundary 4 once the
  // others had passed it; the donor is the leader (rate 1.0), at its latest
  // checkpoint at or before step 7.
  const json& lagging = by_number.at(bad);
  ASSERT_TRUE(lagging.contains("exploits")) << trials.dump() << Logs();
  const json& first = lagging["exploits"][0];
  EXPECT_EQ(first["step"], 7) << first.dump();
  const int64_t donor = first["donor_trial"];
  const int64_t donor_step = first["donor_step"];
  EXPECT_NEAR(by_number.at(donor)["params"]["rate"].get<double>(), 1.0, 1e-9) << trials.dump();
  EXPECT_TRUE(donor_step == 5 || donor_step == 7) << first.dump();
  EXPECT_NEAR(first["params_before"]["rate"].get<double>(), 0.1, 1e-9) << first.dump();
  EXPECT_NE(Cli({"trials", "pbt-async"}).out.find("[pbt: from #"), std::string::npos);

  // Every exploit the server recorded restarted the trial from that donor's
  // checkpoint file, downloaded through the server: one resume each, in order.
  std::vector<json> recorded;
  for (const json& trial : trials) {
    if (!trial.contains("exploits")) continue;
    for (const json& exploit : trial["exploits"]) {
      recorded.push_back({{"trial", trial["number"]},
                          {"from_trial", exploit["donor_trial"]},
                          {"from_step", exploit["donor_step"]}});
    }
  }
  std::vector<json> resumed;
  std::istringstream lines(testing::ReadFile(resumes));
  for (std::string line; std::getline(lines, line);) {
    const json resume = json::parse(line);
    EXPECT_NE(resume["dir"].get<std::string>().find(
                  absl::StrCat("resume-trial-", resume["from_trial"].get<int64_t>(), "-step-",
                               resume["from_step"].get<int64_t>())),
              std::string::npos)
        << line;
    resumed.push_back({{"trial", resume["trial"]},
                       {"from_trial", resume["from_trial"]},
                       {"from_step", resume["from_step"]}});
  }
  EXPECT_EQ(resumed, recorded) << testing::ReadFile(resumes) << trials.dump();
  // The first resume continued from the donor's level at its step.
  std::istringstream again(testing::ReadFile(resumes));
  std::string line;
  ASSERT_TRUE(std::getline(again, line));
  const json resume = json::parse(line);
  EXPECT_NEAR(resume["level"].get<double>(), Curve(by_number.at(donor)).at(donor_step), 1e-9);
}

}  // namespace
}  // namespace vernier
