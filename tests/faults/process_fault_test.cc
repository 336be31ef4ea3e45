// Fault tier: the real vernier-server, vernier-worker and vernier binaries as
// separate processes on loopback, hit by SIGKILL and SIGSTOP while a study
// runs. Trials are tests/faults/fault_trial.py, which also writes every
// report it sends to a side log, so what the server stored can be checked
// against what the trials said.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>
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
using ::testing::HasSubstr;
using ::vernier::testing::ReadFile;
using ::vernier::testing::WaitUntil;

// Hang guards only: a healthy run takes a fraction of these.
constexpr absl::Duration kStudyTimeout = absl::Minutes(3);
constexpr absl::Duration kStepTimeout = absl::Seconds(60);

// One attempt of one trial as its side log tells it.
struct Attempt {
  int64_t trial = -1;
  int64_t pid = 0;
  json params;
  std::map<int64_t, json> steps;  // step -> metrics
  json final_metrics;             // null until the final line
};

// Side-log lines grouped by attempt (trial directory).
std::map<std::string, Attempt> ReadSideLog(const fs::path& path) {
  std::map<std::string, Attempt> attempts;
  std::string text = ReadFile(path);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    json line = json::parse(text.substr(start, end - start), nullptr, false);
    start = end + 1;
    if (!line.is_object()) continue;  // A line cut by SIGKILL.
    Attempt& attempt = attempts[line["dir"].get<std::string>()];
    attempt.trial = line["trial"];
    attempt.pid = line["pid"];
    attempt.params = line["params"];
    if (line.contains("final")) {
      attempt.final_metrics = line["metrics"];
    } else {
      attempt.steps[line["step"].get<int64_t>()] = line["metrics"];
    }
  }
  return attempts;
}

// Metrics as the CLI prints them (finite numbers) equal the trial's.
void ExpectSameMetrics(const json& stored, const json& sent, const std::string& where) {
  ASSERT_TRUE(stored.is_object()) << where;
  ASSERT_EQ(stored.size(), sent.size()) << where << " stored " << stored << " sent " << sent;
  for (const auto& [name, value] : sent.items()) {
    ASSERT_TRUE(stored.contains(name)) << where << ": " << name;
    EXPECT_DOUBLE_EQ(stored[name].get<double>(), value.get<double>()) << where << ": " << name;
  }
}

// step -> metrics of a trial as the CLI lists it.
std::map<int64_t, json> StoredSteps(const json& trial) {
  std::map<int64_t, json> steps;
  for (const json& m : trial["intermediate"]) steps[m["step"].get<int64_t>()] = m["metrics"];
  return steps;
}

int64_t MeasurementCount(const json& trials) {
  int64_t count = 0;
  for (const json& trial : trials) count += trial["intermediate"].size();
  return count;
}

class ProcessFaultTest : public ::vernier::testing::VernierProcessTest {
 protected:
  // A study of the side-logging trial; `extra_budget` goes inside budget.
  std::string StudySpec(const std::string& name, const std::string& budget, int steps,
                        double sleep) {
    return absl::StrCat("name: ", name, R"(
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
  y: {type: float, low: -2, high: 2}
sampler: {type: random, seed: 11}
budget: )",
                        budget, R"(
trainer: {command: [python3, ")",
                        VERNIER_SOURCE_DIR, R"(/tests/faults/fault_trial.py"], steps: )", steps,
                        ", sleep: ", sleep, ", side_log: \"", side_log().string(), "\"}\n");
  }
  fs::path side_log() const { return dir_ / "side.jsonl"; }

  json Trials(const std::string& study) { return CliJson({"trials", study}); }
};

// kill -9 of the server ten times while four workers run a study: the study
// goes on after each restart, nothing a client saw or a trial reported is
// lost, trial numbers stay unique and exactly max_trials trials finish.
TEST_F(ProcessFaultTest, TenServerKillsLoseNoAcknowledgedResult) {
  constexpr int kMaxTrials = 60;
  constexpr int kSteps = 5;
  constexpr int kKills = 10;
  // Kills are spread over the study: each waits for this many new reports.
  constexpr int64_t kReportsBetweenKills = kMaxTrials * kSteps / (kKills + 2);
  // Restarts keep leases (they are renewed at start-up), so this only matters
  // for a trial whose AcquireTrial answer died with the server: it waits this
  // long before another worker gets it.
  constexpr double kLeaseSeconds = 10;
  ASSERT_TRUE(StartServer(kLeaseSeconds));
  for (const char* name : {"w1", "w2", "w3", "w4"}) StartWorker(name);
  ASSERT_TRUE(CreateStudy(StudySpec(
      "crashes", absl::StrCat("{max_trials: ", kMaxTrials, ", parallel: 4, max_failures: 0}"),
      kSteps, /*sleep=*/0.2)));

  std::vector<json> snapshots;  // What the server answered before each kill.
  int64_t measurements_at_kill = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    json trials;
    // The study goes on: new results since the last restart.
    ASSERT_TRUE(WaitUntil(
        [&] {
          trials = Trials("crashes");
          return trials.is_array() &&
                 MeasurementCount(trials) >= measurements_at_kill + kReportsBetweenKills;
        },
        kStepTimeout))
        << "no progress after restart " << kill << Logs();
    json study = CliJson({"study", "show", "crashes"});
    ASSERT_EQ(study["state"], "ACTIVE") << "the study ended before kill " << kill + 1;
    snapshots.push_back(trials);
    measurements_at_kill = MeasurementCount(trials);
    server_->Kill(SIGKILL);
    ASSERT_TRUE(StartServer(kLeaseSeconds)) << "restart " << kill + 1;
  }
  ASSERT_TRUE(WaitForStudyEnd("crashes", kStudyTimeout)) << Logs();

  json study = CliJson({"study", "show", "crashes"});
  EXPECT_EQ(study["state"], "COMPLETED") << study.dump();
  json trials = Trials("crashes");
  ASSERT_EQ(trials.size(), static_cast<size_t>(kMaxTrials)) << trials.dump();
  for (int i = 0; i < kMaxTrials; ++i) {
    EXPECT_EQ(trials[i]["number"], i);
    EXPECT_EQ(trials[i]["state"], "COMPLETE") << trials[i].dump();
  }

  // Everything answered before a kill is still there, unchanged.
  for (const json& snapshot : snapshots) {
    for (const json& old : snapshot) {
      const json& now = trials[old["number"].get<size_t>()];
      const std::string where = absl::StrCat("trial ", old["number"].dump());
      EXPECT_EQ(now["params"], old["params"]) << where;
      std::map<int64_t, json> now_steps = StoredSteps(now);
      for (const auto& [step, metrics] : StoredSteps(old)) {
        ASSERT_TRUE(now_steps.count(step)) << where << " lost step " << step;
        ExpectSameMetrics(now_steps[step], metrics, absl::StrCat(where, " step ", step));
      }
      if (old["state"] == "COMPLETE") {
        ExpectSameMetrics(now["final_metrics"], old["final_metrics"], where);
      }
    }
  }

  // Every report a trial sent is stored as sent, under the one trial number
  // it was given (one parameter set per number), by exactly one attempt.
  std::map<std::string, Attempt> attempts = ReadSideLog(side_log());
  std::map<int64_t, int> attempts_per_trial;
  for (const auto& [dir, attempt] : attempts) {
    ASSERT_GE(attempt.trial, 0);
    ASSERT_LT(attempt.trial, kMaxTrials);
    attempts_per_trial[attempt.trial]++;
    const json& stored = trials[attempt.trial];
    const std::string where = absl::StrCat("trial ", attempt.trial, " (", dir, ")");
    EXPECT_DOUBLE_EQ(stored["params"]["x"].get<double>(), attempt.params["x"].get<double>())
        << where;
    EXPECT_DOUBLE_EQ(stored["params"]["y"].get<double>(), attempt.params["y"].get<double>())
        << where;
    std::map<int64_t, json> stored_steps = StoredSteps(stored);
    EXPECT_EQ(stored_steps.size(), attempt.steps.size()) << where;
    for (const auto& [step, metrics] : attempt.steps) {
      ASSERT_TRUE(stored_steps.count(step)) << where << " lost step " << step;
      ExpectSameMetrics(stored_steps[step], metrics, absl::StrCat(where, " step ", step));
    }
    ASSERT_FALSE(attempt.final_metrics.is_null()) << where;
    ExpectSameMetrics(stored["final_metrics"], attempt.final_metrics, where);
  }
  EXPECT_EQ(attempts_per_trial.size(), static_cast<size_t>(kMaxTrials));
  std::cout << kKills << " kills; " << MeasurementCount(trials) << " reports and " << kMaxTrials
            << " results stored, all as sent; " << measurements_at_kill
            << " reports had been answered before the last kill\n";
  for (const auto& [trial, count] : attempts_per_trial) {
    EXPECT_EQ(count, 1) << "trial " << trial << " ran more than once";
  }

  // The export holds the same trials.
  const fs::path exported = dir_ / "export.json";
  ASSERT_EQ(
      Cli({"study", "export", "crashes", "--format", "json", "-o", exported.string()}).exit_code,
      0);
  json dump = json::parse(ReadFile(exported), nullptr, false);
  ASSERT_TRUE(dump.is_object()) << ReadFile(exported);
  EXPECT_EQ(dump["trials"].size(), static_cast<size_t>(kMaxTrials));
}

// kill -9 of the worker running a trial, again and again: each time the
// lease expires and the trial goes back to the queue for the next worker,
// until its retries (budget.max_retries) are spent; then it is FAILED with
// the reason, and the study never creates a replacement trial.
TEST_F(ProcessFaultTest, TrialOfKilledWorkersIsRetriedThenFailedWithTheReason) {
  constexpr int kMaxRetries = 2;
  constexpr double kLeaseSeconds = 2;
  ASSERT_TRUE(StartServer(kLeaseSeconds));
  ASSERT_TRUE(CreateStudy(StudySpec(
      "doomed", absl::StrCat("{max_trials: 1, parallel: 1, max_retries: ", kMaxRetries, "}"),
      /*steps=*/60, /*sleep=*/0.5)));

  for (int attempt = 0; attempt <= kMaxRetries; ++attempt) {
    const std::string name = absl::StrCat("victim", attempt);
    ::vernier::testing::Process& worker = StartWorker(name);
    json trials;
    ASSERT_TRUE(WaitUntil(
        [&] {
          trials = Trials("doomed");
          return trials.is_array() && trials.size() == 1 && trials[0]["state"] == "RUNNING" &&
                 trials[0]["retries"] == attempt &&
                 trials[0]["worker_id"].get<std::string>().find(name) == 0 &&
                 trials[0]["intermediate"].size() > 0;
        },
        kStepTimeout))
        << "attempt " << attempt << ": " << trials.dump() << Logs();
    worker.Kill(SIGKILL);
    const absl::Time killed = absl::Now();
    // Re-queued (or failed) once the lease runs out; no worker holds it now.
    ASSERT_TRUE(WaitUntil(
        [&] {
          trials = Trials("doomed");
          return trials.is_array() && trials[0]["state"] != "RUNNING";
        },
        kStepTimeout))
        << trials.dump() << Logs();
    // Logged, not asserted: the figure depends on the machine's load.
    std::cout << "attempt " << attempt << ": trial left RUNNING "
              << absl::FormatDuration(absl::Now() - killed) << " after the kill (lease "
              << kLeaseSeconds << " s)\n";
    if (attempt < kMaxRetries) {
      EXPECT_EQ(trials[0]["state"], "WAITING") << trials.dump();
      EXPECT_EQ(trials[0]["retries"], attempt + 1) << trials.dump();
    }
  }
  ASSERT_TRUE(WaitForStudyEnd("doomed", kStudyTimeout)) << Logs();
  json trials = Trials("doomed");
  ASSERT_EQ(trials.size(), 1u) << trials.dump();
  EXPECT_EQ(trials[0]["state"], "FAILED") << trials.dump();
  EXPECT_EQ(trials[0]["retries"], kMaxRetries);
  EXPECT_THAT(trials[0]["failure_reason"].get<std::string>(),
              HasSubstr(absl::StrCat("lease lost ", kMaxRetries + 1, " times")));
  EXPECT_FALSE(trials[0]["intermediate"].empty());
}

// A worker frozen (SIGSTOP) for longer than its lease while its trial keeps
// writing: the trial is run again by another worker; when the frozen worker
// wakes and relays its stale reports they are refused (ABORTED), it drops the
// trial without completing it, and the stored trial holds only the second
// attempt's values: nothing is counted twice.
TEST_F(ProcessFaultTest, WorkerBackAfterItsLeaseIsAbortedAndNotCountedTwice) {
  constexpr double kLeaseSeconds = 2;
  ASSERT_TRUE(StartServer(kLeaseSeconds));
  ::vernier::testing::Process& frozen = StartWorker("frozen");
  ASSERT_TRUE(CreateStudy(StudySpec("stale", "{max_trials: 1, parallel: 1, max_retries: 3}",
                                    /*steps=*/8, /*sleep=*/0.4)));
  json trials;
  ASSERT_TRUE(WaitUntil(
      [&] {
        trials = Trials("stale");
        return trials.is_array() && trials.size() == 1 && trials[0]["state"] == "RUNNING" &&
               trials[0]["intermediate"].size() > 0;
      },
      kStepTimeout))
      << Logs();
  frozen.Signal(SIGSTOP);
  // The lease expires; a second worker takes the trial and finishes it.
  StartWorker("rescuer");
  ASSERT_TRUE(WaitForStudyEnd("stale", kStudyTimeout)) << Logs();
  trials = Trials("stale");
  ASSERT_EQ(trials.size(), 1u);
  ASSERT_EQ(trials[0]["state"], "COMPLETE") << trials.dump() << Logs();
  ASSERT_THAT(trials[0]["worker_id"].get<std::string>(), HasSubstr("rescuer"));
  EXPECT_EQ(trials[0]["retries"], 1);

  // Wake the frozen worker: its trial wrote every step meanwhile, and each
  // report it relays now is refused.
  frozen.Signal(SIGCONT);
  ASSERT_TRUE(WaitUntil(
      [&] { return frozen.Log().find("dropped, its lease is gone") != std::string::npos; },
      kStepTimeout))
      << Logs();
  const json after = Trials("stale");
  EXPECT_EQ(after, trials) << "the stale worker changed the trial";

  std::map<std::string, Attempt> attempts = ReadSideLog(side_log());
  ASSERT_EQ(attempts.size(), 2u);
  const Attempt* first = nullptr;
  const Attempt* second = nullptr;
  for (const auto& [dir, attempt] : attempts) {
    (dir.find("work-rescuer") != std::string::npos ? second : first) = &attempt;
  }
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  // The frozen worker's trial ran to its end meanwhile: the worker held all
  // of its reports and its result when it woke, and none of them counted.
  EXPECT_EQ(first->steps.size(), 8u);
  EXPECT_FALSE(first->final_metrics.is_null());
  EXPECT_NE(first->pid, second->pid);
  std::map<int64_t, json> stored = StoredSteps(after[0]);
  EXPECT_EQ(stored.size(), second->steps.size());
  for (const auto& [step, metrics] : stored) {
    EXPECT_EQ(metrics["pid"].get<int64_t>(), second->pid)
        << "step " << step << " of a stale attempt";
  }
  EXPECT_EQ(after[0]["final_metrics"]["pid"].get<int64_t>(), second->pid);
  json study = CliJson({"study", "show", "stale"});
  EXPECT_EQ(study["trial_counts"], json({{"COMPLETE", 1}})) << study.dump();
}

// NaN through the whole chain: a trial writes null (the trial protocol's
// NaN, as JSON has none) for its objective; the intermediate value is stored
// as NaN (the CLI prints null) and the NaN final result fails the trial with
// the reason, and the study reports no best trial.
TEST_F(ProcessFaultTest, NanObjectiveFromATrialFailsItWithTheReason) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/10));
  StartWorker("w");
  ASSERT_TRUE(CreateStudy(R"(
name: nan
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
pruner: {type: none}
budget: {max_trials: 1, parallel: 1, max_failures: 1}
trainer:
  command:
    - python3
    - -c
    - |
      import os
      out = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
      print('{"step": 1, "metrics": {"loss": null, "acc": 0.5}}', file=out)
      print('{"final": true, "metrics": {"loss": null, "acc": 0.5}}', file=out)
)"));
  ASSERT_TRUE(WaitForStudyEnd("nan", kStudyTimeout)) << Logs();
  json trials = Trials("nan");
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0]["state"], "FAILED") << trials.dump();
  EXPECT_THAT(trials[0]["failure_reason"].get<std::string>(), HasSubstr("\"loss\" is NaN"));
  ASSERT_EQ(trials[0]["intermediate"].size(), 1u) << trials.dump();
  EXPECT_TRUE(trials[0]["intermediate"][0]["metrics"]["loss"].is_null());
  EXPECT_EQ(trials[0]["intermediate"][0]["metrics"]["acc"], 0.5);
  json best = CliJson({"best", "nan"});
  EXPECT_TRUE(best.is_array() && best.empty()) << best.dump();
}

}  // namespace
}  // namespace vernier
