// End-to-end tier of TensorBoard tracking: vernier-server, one vernier-worker
// and a small Python trial program, with `tracking: {tensorboard: DIR}` in the
// study file. The event files the worker writes are read back (frames, CRCs,
// events) and compared with what the server recorded for each trial.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tensorboard/event.pb.h"
#include "tests/e2e/process_util.h"
#include "worker/tensorboard_writer.h"

namespace vernier {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using testing::VernierProcessTest;
using testing::WriteFile;

constexpr absl::Duration kStudyTimeout = absl::Seconds(60);

// loss = x / step for steps 1..3; the final loss is x / 4.
constexpr char kTrial[] = R"(import json, os
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
for step in range(1, 4):
    print(json.dumps({"step": step, "metrics": {"loss": params["x"] / step,
                                                "lr": params["x"] * 0.1}}), file=report)
print(json.dumps({"final": True, "metrics": {"loss": params["x"] / 4}}), file=report)
)";

std::string Study(const std::string& script, const std::string& tracking) {
  return absl::StrCat(R"(name: tb
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 1, high: 2}
  opt: {type: categorical, values: [sgd, adam]}
sampler: {type: random, seed: 5}
budget: {max_trials: 2, parallel: 1, max_failures: 0}
trainer: {command: [python3, ")",
                      script, "\"], time_limit: 30}\n", tracking);
}

// step -> tag -> value, of every summary event in the trial's one event file.
std::map<int64_t, std::map<std::string, float>> ScalarsOfTrial(const std::filesystem::path& dir) {
  std::map<int64_t, std::map<std::string, float>> scalars;
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (absl::StartsWith(entry.path().filename().string(), "events.out.tfevents.")) {
      files.push_back(entry.path());
    }
  }
  EXPECT_THAT(files, SizeIs(1)) << dir;
  if (files.size() != 1) return scalars;
  absl::StatusOr<std::vector<std::string>> records =
      worker::ReadTfRecords(testing::ReadFile(files[0]));
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok() || records->empty()) return scalars;
  for (size_t i = 0; i < records->size(); ++i) {
    tensorboard::Event event;
    EXPECT_TRUE(event.ParseFromString((*records)[i]));
    if (i == 0) {
      EXPECT_EQ(event.file_version(), "brain.Event:2");
    }
    for (const tensorboard::Summary::Value& value : event.summary().value()) {
      scalars[event.step()][value.tag()] = value.simple_value();
    }
  }
  return scalars;
}

using TensorBoardEndToEndTest = VernierProcessTest;

TEST_F(TensorBoardEndToEndTest, EveryTrialsParamsCurvesAndFinalMetricsLandInItsEventFile) {
  const std::string script = (dir_ / "trial.py").string();
  WriteFile(dir_ / "trial.py", kTrial);
  const std::filesystem::path logdir = dir_ / "tb";
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));

  // Refused before anything runs: a relative directory, an unknown tracker.
  WriteFile(dir_ / "bad.yaml", Study(script, "tracking: {tensorboard: runs}\n"));
  testing::CliResult bad = Cli({"study", "create", "-f", (dir_ / "bad.yaml").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("tracking.tensorboard"));
  WriteFile(dir_ / "bad.yaml", Study(script, "tracking: {mlflow: http://x}\n"));
  bad = Cli({"study", "create", "-f", (dir_ / "bad.yaml").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("tracking.mlflow"));

  ASSERT_TRUE(
      CreateStudy(Study(script, absl::StrCat("tracking: {tensorboard: ", logdir.string(), "}\n"))));
  StartWorker("w");
  ASSERT_TRUE(WaitForStudyEnd("tb", kStudyTimeout)) << Logs();
  const json trials = CliJson({"trials", "tb"});
  ASSERT_EQ(trials.size(), 2u) << trials.dump();
  for (const json& trial : trials) {
    ASSERT_EQ(trial["state"], "COMPLETE") << trial.dump() << Logs();
    const std::filesystem::path trial_dir =
        logdir / "tb" / absl::StrCat("trial-", trial["number"].get<int64_t>());
    const auto scalars = ScalarsOfTrial(trial_dir);

    // Parameters: the numeric one as a step-0 scalar; all in params.json.
    ASSERT_EQ(scalars.count(0), 1u) << trial_dir;
    EXPECT_EQ(scalars.at(0).at("params/x"), static_cast<float>(trial["params"]["x"].get<double>()));
    EXPECT_EQ(scalars.at(0).count("params/opt"), 0u);
    EXPECT_EQ(json::parse(testing::ReadFile(trial_dir / "params.json")), trial["params"]);

    // The curves, as the server recorded them.
    ASSERT_EQ(trial["intermediate"].size(), 3u) << trial.dump();
    for (const json& measurement : trial["intermediate"]) {
      const int64_t step = measurement["step"];
      ASSERT_EQ(scalars.count(step), 1u) << step;
      for (const auto& [metric, value] : measurement["metrics"].items()) {
        EXPECT_EQ(scalars.at(step).at(metric), static_cast<float>(value.get<double>()))
            << metric << " at step " << step;
      }
    }
    // The final metrics, at the last step.
    ASSERT_EQ(scalars.count(3), 1u);
    EXPECT_EQ(scalars.at(3).at("final/loss"),
              static_cast<float>(trial["final_metrics"]["loss"].get<double>()));
  }
}

}  // namespace
}  // namespace vernier
