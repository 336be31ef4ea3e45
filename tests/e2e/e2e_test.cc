// End-to-end tier: real vernier-server, vernier-worker, vernier and
// vernier-train processes on loopback, with tiny data the test generates.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/process_util.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::FreePort;
using ::testing::HasSubstr;
using testing::Process;
using testing::ReadFile;
using testing::WaitUntil;
using testing::WriteFile;

// Generous limits: they only stop a broken run from hanging CI.
constexpr absl::Duration kStudyTimeout = absl::Minutes(6);

void PutBigEndian32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

// Writes an MNIST-format data set (uncompressed IDX) that a CNN learns in an
// epoch: class c is a bright 6x6 block at a position of its own, plus noise.
void WriteTinyDataset(const fs::path& dir, const std::string& prefix, int count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  std::string images, labels;
  PutBigEndian32(images, 0x00000803);
  PutBigEndian32(images, count);
  PutBigEndian32(images, 28);
  PutBigEndian32(images, 28);
  PutBigEndian32(labels, 0x00000801);
  PutBigEndian32(labels, count);
  for (int i = 0; i < count; ++i) {
    const int label = i % 10;
    const int top = 3 + (label / 5) * 13, left = 1 + (label % 5) * 5;
    for (int r = 0; r < 28; ++r) {
      for (int c = 0; c < 28; ++c) {
        bool inside = r >= top && r < top + 6 && c >= left && c < left + 6;
        images.push_back(static_cast<char>(inside ? 200 + noise(gen) / 2 : noise(gen)));
      }
    }
    labels.push_back(static_cast<char>(label));
  }
  WriteFile(dir / (prefix + "-images-idx3-ubyte"), images);
  WriteFile(dir / (prefix + "-labels-idx1-ubyte"), labels);
}

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    dir_ = temp_.path();
  }
  void TearDown() override {
    workers_.clear();
    server_.reset();
  }

  // Starts vernier-server on `port` (0: a free one, read back from its log).
  void StartServer(double lease_seconds, int port = 0) {
    // A restarted server appends to the same log: read only what it wrote.
    const size_t log_start =
        fs::exists(dir_ / "server.log") ? fs::file_size(dir_ / "server.log") : 0;
    server_ = std::make_unique<Process>(
        std::vector<std::string>{VERNIER_SERVER_BIN, "--db", (dir_ / "vernier.db").string(),
                                 "--listen", absl::StrCat("127.0.0.1:", port), "--lease-seconds",
                                 absl::StrCat(lease_seconds), "--heartbeat-seconds", "0.5",
                                 "--insecure"},
        dir_ / "server.log");
    ASSERT_TRUE(WaitUntil(
        [&] { return server_->Log().find("serving on port", log_start) != std::string::npos; },
        absl::Seconds(30)))
        << server_->Log();
    std::string log = server_->Log();
    size_t at = log.find("serving on port ", log_start) + 16;
    address_ = absl::StrCat("127.0.0.1:", std::stoi(log.substr(at)));
  }

  Process& StartWorker(const std::string& name) {
    workers_.push_back(std::make_unique<Process>(
        std::vector<std::string>{VERNIER_WORKER_BIN, "--server", address_, "--name", name,
                                 "--cpu-slots", "1", "--threads-per-slot", "1", "--work-dir",
                                 (dir_ / ("work-" + name)).string(), "--trainer",
                                 VERNIER_TRAIN_BIN},
        dir_ / (name + ".log")));
    return *workers_.back();
  }

  CliResult Cli(std::vector<std::string> args) {
    static int calls = 0;
    const fs::path out = dir_ / absl::StrCat("cli-", calls, ".out");
    const fs::path err = dir_ / absl::StrCat("cli-", calls++, ".err");
    std::string command = absl::StrCat("'", VERNIER_CLI_BIN, "' --server ", address_);
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " >", out.string(), " 2>", err.string());
    int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(out), ReadFile(err)};
  }

  json CliJson(std::vector<std::string> args) {
    args.insert(args.begin(), {"--format", "json"});
    CliResult result = Cli(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return json::parse(result.out, nullptr, false);
  }

  std::string CreateStudy(const std::string& spec) {
    const fs::path file = dir_ / "study.yaml";
    WriteFile(file, spec);
    CliResult result = Cli({"study", "create", "-f", file.string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }

  bool WaitForStudyEnd(const std::string& name) {
    return WaitUntil(
        [&] {
          json study = CliJson({"study", "show", name});
          return study.is_object() && study["state"] != "ACTIVE";
        },
        kStudyTimeout);
  }

  // The trials of `study` as the CLI's JSON lists them.
  json Trials(const std::string& study) { return CliJson({"trials", study}); }

  // The accuracy PyTorch alone (tests/e2e/predict_idx.py) measures for the
  // model in `model_dir` on the IDX set `data_dir`/t10k-*, run by Debian's
  // /usr/bin/python3 (python3-torch); -1 when it cannot import torch (the
  // caller skips), -2 (and a test failure) on any other failure.
  double PythonAccuracy(const fs::path& model_dir, const fs::path& data_dir) {
    const fs::path out = dir_ / "predict.out";
    const int status = testing::RunShell(absl::StrCat(
        "/usr/bin/python3 '", VERNIER_SOURCE_DIR, "/tests/e2e/predict_idx.py' '",
        model_dir.string(), "' '", (data_dir / "t10k-images-idx3-ubyte").string(), "' '",
        (data_dir / "t10k-labels-idx1-ubyte").string(), "' >'", out.string(), "' 2>&1"));
    const std::string printed = ReadFile(out);
    if (status == 77) return -1;
    EXPECT_EQ(status, 0) << printed;
    const size_t at = printed.find("accuracy ");
    if (status != 0 || at == std::string::npos) return -2;
    return std::stod(printed.substr(at + 9));
  }

  std::string Logs() {
    std::string logs = "server:\n" + server_->Log();
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().extension() == ".log")
        logs += "\n" + entry.path().string() + ":\n" + ReadFile(entry.path());
    }
    return logs;
  }

  // A failed test's directory stays, with the logs of the processes it
  // started. Declared before the processes, so removed after they stop.
  ::vernier::testing::TempDir temp_{::vernier::testing::TempDir::OnFailure::kKeep};
  fs::path dir_;  // temp_.path().
  std::string address_ = "127.0.0.1:1";
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> workers_;
};

TEST_F(EndToEndTest, BuiltinTrainerStudyWithMedianPruningFindsTheTrueBest) {
  const fs::path data = dir_ / "data";
  fs::create_directories(data);
  WriteTinyDataset(data, "train", 1000, 1);
  WriteTinyDataset(data, "t10k", 200, 2);
  StartServer(30);
  StartWorker("a");
  StartWorker("b");
  EXPECT_EQ(CreateStudy(absl::StrCat(R"(
name: e2e-cnn
objective: {metric: val_accuracy, goal: maximize}
params:
  lr:         {type: categorical, values: [1.0e-7, 0.003]}
  batch_size: {type: categorical, values: [32, 64]}
  optimizer:  {type: categorical, values: [adam]}
sampler: {type: random, seed: 3}
pruner:  {type: median, warmup_steps: 1, min_trials: 1}
budget:  {max_trials: 8, parallel: 2, max_failures: 0}
trainer: {model: cnn, dataset: fashion-mnist, epochs: 3, val_fraction: 0.2, data_dir: ")",
                                     data.string(), "\"}\n")),
            "e2e-cnn\n");
  ASSERT_TRUE(WaitForStudyEnd("e2e-cnn")) << Logs();

  json study = CliJson({"study", "show", "e2e-cnn"});
  EXPECT_EQ(study["state"], "COMPLETED") << study.dump() << Logs();
  json trials = CliJson({"trials", "e2e-cnn"});
  ASSERT_EQ(trials.size(), 8u) << trials.dump();
  int pruned = 0;
  double best_value = -1;
  int64_t best_number = -1;
  for (const json& trial : trials) {
    const std::string state = trial["state"];
    ASSERT_TRUE(state == "COMPLETE" || state == "PRUNED") << trial.dump() << Logs();
    ASSERT_FALSE(trial["intermediate"].empty()) << trial.dump();
    for (const json& m : trial["intermediate"]) {
      EXPECT_TRUE(m["metrics"].contains("val_accuracy"));
      EXPECT_TRUE(m["metrics"].contains("val_loss"));
    }
    if (state == "PRUNED") {
      ++pruned;
      EXPECT_TRUE(trial["final_metrics"].empty()) << trial.dump();
      continue;
    }
    EXPECT_EQ(trial["intermediate"].size(), 3u) << trial.dump();
    EXPECT_TRUE(trial["final_metrics"].contains("test_accuracy")) << trial.dump();
    if (trial["objective_value"].get<double>() > best_value) {
      best_value = trial["objective_value"];
      best_number = trial["number"];
    }
  }
  EXPECT_GE(pruned, 1) << trials.dump();
  // The good learning rate learns the generated classes.
  EXPECT_GT(best_value, 0.8);

  json best = CliJson({"best", "e2e-cnn", "-n", "1"});
  ASSERT_EQ(best.size(), 1u);
  EXPECT_EQ(best[0]["number"], best_number);
  EXPECT_DOUBLE_EQ(best[0]["objective_value"].get<double>(), best_value);

  // The global options may also follow the command, as users type them.
  CliResult after = Cli({"best", "e2e-cnn", "-n", "1", "--format", "json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(json::parse(after.out, nullptr, false), best);
}

// Metrics of a final_metrics object that are not timings (latency_ms is a
// measured inference time).
json WithoutTimings(json metrics) {
  metrics.erase("latency_ms");
  return metrics;
}

// The best trial's model comes home through the server: `vernier artifacts get
// --best` brings its TorchScript file and manifest, and PyTorch alone predicts
// the test set with the accuracy the trial reported. `vernier refit` then
// trains the best configuration on train + val, and `--final` brings that
// model.
TEST_F(EndToEndTest, BestAndRefitModelsComeHomeAndPredictAsTheTrialsReported) {
  const fs::path data = dir_ / "data";
  fs::create_directories(data);
  WriteTinyDataset(data, "train", 600, 1);
  WriteTinyDataset(data, "t10k", 200, 2);
  StartServer(30);
  StartWorker("a");
  CreateStudy(absl::StrCat(R"(
name: home
objective: {metric: val_accuracy, goal: maximize}
params:
  lr:         {type: categorical, values: [0.003]}
  batch_size: {type: categorical, values: [32, 64]}
sampler: {type: grid}
budget:  {max_trials: 2, parallel: 1, max_failures: 0}
trainer: {model: cnn, dataset: fashion-mnist, epochs: 2, val_fraction: 0.2, data_dir: ")",
                           data.string(), "\"}\n"));
  ASSERT_TRUE(WaitForStudyEnd("home")) << Logs();
  json best = CliJson({"best", "home", "-n", "1"});
  ASSERT_EQ(best.size(), 1u) << Logs();
  const double reported = best[0]["final_metrics"]["test_accuracy"];
  EXPECT_GT(reported, 0.8) << best.dump();
  EXPECT_GT(best[0]["final_metrics"]["params"].get<double>(), 0) << best.dump();

  CliResult got = Cli({"artifacts", "get", "home", "--best", "-o", (dir_ / "best").string()});
  ASSERT_EQ(got.exit_code, 0) << got.err << Logs();
  json manifest = json::parse(ReadFile(dir_ / "best" / "model" / "manifest.json"), nullptr, false);
  ASSERT_TRUE(manifest.is_object()) << got.out;
  EXPECT_EQ(manifest["model"]["kind"], "cnn") << manifest.dump();
  const double loaded = PythonAccuracy(dir_ / "best" / "model", data);
  if (loaded == -1) GTEST_SKIP() << "python3 cannot import torch; install python3-torch";
  // 200 test images: one image is 0.005; allow a near tie to flip once.
  EXPECT_NEAR(loaded, reported, 0.0051);

  CliResult refit = Cli({"refit", "home"});
  ASSERT_EQ(refit.exit_code, 0) << refit.err;
  EXPECT_THAT(refit.err, HasSubstr("refit queued as trial 2"));
  json refit_trial;
  ASSERT_TRUE(WaitUntil(
      [&] {
        json trials = Trials("home");
        if (trials.size() != 3u || trials[2]["state"] == "WAITING" ||
            trials[2]["state"] == "RUNNING")
          return false;
        refit_trial = trials[2];
        return true;
      },
      kStudyTimeout))
      << Logs();
  ASSERT_EQ(refit_trial["state"], "COMPLETE") << refit_trial.dump() << Logs();
  EXPECT_EQ(refit_trial["origin"], absl::StrCat("refit:", best[0]["number"].get<int64_t>()));
  CliResult final_model =
      Cli({"artifacts", "get", "home", "--final", "-o", (dir_ / "final").string()});
  ASSERT_EQ(final_model.exit_code, 0) << final_model.err << Logs();
  EXPECT_NEAR(PythonAccuracy(dir_ / "final" / "model", data),
              refit_trial["final_metrics"]["test_accuracy"].get<double>(), 0.0051);
}

// A worker killed with SIGKILL at epoch 7 of 10: the trial goes back to the
// queue when its lease expires, another worker resumes it from the checkpoint
// of its last reported epoch (checkpoint: {every: 1}), and it ends with the
// metrics the same configuration reaches uninterrupted (same seed).
TEST_F(EndToEndTest, TrialOfAKilledWorkerResumesFromItsCheckpointWithTheUninterruptedMetrics) {
  const fs::path data = dir_ / "data";
  fs::create_directories(data);
  WriteTinyDataset(data, "train", 1500, 1);
  WriteTinyDataset(data, "t10k", 200, 2);
  StartServer(2);
  Process& doomed = StartWorker("doomed");
  const auto study = [&](const std::string& name) {
    return absl::StrCat("name: ", name, R"(
objective: {metric: val_accuracy, goal: maximize}
params:
  lr: {type: categorical, values: [0.001]}
sampler: {type: grid}
checkpoint: {every: 1}
budget:  {max_trials: 1, parallel: 1, max_retries: 2}
trainer: {model: cnn, dataset: fashion-mnist, epochs: 10, seed: 11, val_fraction: 0.2,
          data_dir: ")",
                        data.string(), "\"}\n");
  };
  CreateStudy(study("resumed"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        json trials = Trials("resumed");
        return trials.size() == 1u && trials[0]["intermediate"].size() >= 7u;
      },
      kStudyTimeout))
      << Logs();
  doomed.Kill(SIGKILL);
  // The server acknowledged `reported` epochs, each after its checkpoint was
  // uploaded; the retry must go on from the last of them.
  const size_t reported = Trials("resumed")[0]["intermediate"].size();
  ASSERT_GE(reported, 7u);
  ASSERT_LT(reported, 10u) << "the epochs ran faster than the test can kill a worker";
  Process& rescuer = StartWorker("rescuer");
  ASSERT_TRUE(WaitForStudyEnd("resumed")) << Logs();
  const json resumed = Trials("resumed")[0];
  ASSERT_EQ(resumed["state"], "COMPLETE") << resumed.dump() << Logs();
  EXPECT_EQ(resumed["retries"], 1);
  EXPECT_THAT(resumed["worker_id"].get<std::string>(), HasSubstr("rescuer"));
  EXPECT_THAT(rescuer.Log(),
              HasSubstr(absl::StrCat("resuming from its checkpoint at step ", reported)));

  CreateStudy(study("straight"));
  ASSERT_TRUE(WaitForStudyEnd("straight")) << Logs();
  const json straight = Trials("straight")[0];
  ASSERT_EQ(straight["state"], "COMPLETE") << straight.dump() << Logs();
  EXPECT_EQ(straight["retries"], 0);
  ASSERT_EQ(resumed["intermediate"].size(), 10u) << resumed.dump();
  ASSERT_EQ(straight["intermediate"].size(), 10u) << straight.dump();
  for (size_t i = 0; i < 10; ++i) {
    for (const char* metric : {"val_accuracy", "val_loss"}) {
      EXPECT_EQ(resumed["intermediate"][i]["metrics"][metric],
                straight["intermediate"][i]["metrics"][metric])
          << metric << " at step " << i + 1;
    }
  }
  EXPECT_EQ(WithoutTimings(resumed["final_metrics"]), WithoutTimings(straight["final_metrics"]));
}

TEST_F(EndToEndTest, ScriptTrialSurvivesAWorkerKilledMidTrial) {
  StartServer(2);
  Process& doomed = StartWorker("doomed");
  CreateStudy(absl::StrCat(R"(
name: quad
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
  y: {type: float, low: -2, high: 2}
budget: {max_trials: 2, parallel: 1, max_retries: 2}
trainer: {command: [python3, ")",
                           VERNIER_SOURCE_DIR, R"(/examples/quadratic_trial.py"], sleep: 0.5}
)"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        json trials = CliJson({"trials", "quad"});
        return !trials.empty() && trials[0]["state"] == "RUNNING" &&
               !trials[0]["intermediate"].empty();
      },
      absl::Seconds(60)))
      << Logs();
  doomed.Kill(SIGKILL);
  StartWorker("rescuer");
  ASSERT_TRUE(WaitForStudyEnd("quad")) << Logs();

  json trials = CliJson({"trials", "quad"});
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0]["state"], "COMPLETE") << trials.dump() << Logs();
  EXPECT_EQ(trials[0]["retries"], 1);
  EXPECT_THAT(trials[0]["worker_id"].get<std::string>(), HasSubstr("rescuer"));
  EXPECT_EQ(trials[0]["intermediate"].size(), 5u);
  EXPECT_EQ(trials[1]["state"], "COMPLETE");
}

TEST_F(EndToEndTest, ServerKilledMidStudyLosesNothingAcknowledged) {
  const int port = FreePort();
  StartServer(30, port);
  StartWorker("a");
  StartWorker("b");
  CreateStudy(absl::StrCat(R"(
name: restart
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
  y: {type: float, low: -2, high: 2}
budget: {max_trials: 8, parallel: 2}
trainer: {command: [python3, ")",
                           VERNIER_SOURCE_DIR, R"(/examples/quadratic_trial.py"], sleep: 0.3}
)"));
  json before;
  ASSERT_TRUE(WaitUntil(
      [&] {
        before = CliJson({"trials", "restart"});
        int finished = 0;
        for (const json& trial : before) finished += trial["state"] == "COMPLETE";
        return finished >= 2;
      },
      absl::Seconds(120)))
      << Logs();
  server_->Kill(SIGKILL);
  absl::SleepFor(absl::Seconds(1));
  StartServer(30, port);
  ASSERT_TRUE(WaitForStudyEnd("restart")) << Logs();

  json after = CliJson({"trials", "restart"});
  ASSERT_EQ(after.size(), 8u) << after.dump();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i]["number"], i);
    EXPECT_EQ(after[i]["state"], "COMPLETE") << after[i].dump() << Logs();
  }
  // Everything acknowledged before the kill is still there, unchanged.
  for (const json& old : before) {
    const json& now = after[old["number"].get<size_t>()];
    EXPECT_EQ(now["params"], old["params"]);
    if (old["state"] == "COMPLETE") {
      EXPECT_EQ(now["final_metrics"], old["final_metrics"]);
      EXPECT_EQ(now["intermediate"], old["intermediate"]);
    }
    EXPECT_GE(now["intermediate"].size(), old["intermediate"].size());
  }
}

TEST_F(EndToEndTest, CrashingTrialFailsWithItsStderrAndTheWorkerGoesOn) {
  StartServer(30);
  Process& worker = StartWorker("w");
  CreateStudy(R"(
name: crashy
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2, parallel: 1, max_failures: 5}
trainer: {command: [sh, -c, "echo boom-from-trial >&2; exit 3"]}
)");
  ASSERT_TRUE(WaitForStudyEnd("crashy")) << Logs();
  json trials = CliJson({"trials", "crashy"});
  ASSERT_EQ(trials.size(), 2u);
  for (const json& trial : trials) {
    EXPECT_EQ(trial["state"], "FAILED");
    EXPECT_THAT(trial["failure_reason"].get<std::string>(), HasSubstr("boom-from-trial"));
  }
  EXPECT_TRUE(worker.Alive());
}

TEST_F(EndToEndTest, CliReportsBadInputAndUnreachableServerClearly) {
  CliResult unreachable = Cli({"study", "list"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, HasSubstr("cannot reach the server at 127.0.0.1:1"));
  EXPECT_EQ(std::count(unreachable.err.begin(), unreachable.err.end(), '\n'), 1);

  StartServer(30);
  const fs::path file = dir_ / "bad.yaml";
  WriteFile(file, R"(
name: bad
objective: {metric: loss}
params:
  lr: {type: float, low: 0, high: 1, log: true}
)");
  CliResult bad = Cli({"study", "create", "-f", file.string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("params.lr.low: must be > 0 on a log scale"));
  CliResult missing = Cli({"trials", "ghost"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("study \"ghost\" not found"));
}

}  // namespace
}  // namespace vernier
