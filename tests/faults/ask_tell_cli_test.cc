// `vernier ask` / `vernier tell`: the real CLI against a real vernier-server
// process, including kill -9 of the server between ask and tell.
#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/process_util.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::CliResult;
using ::vernier::testing::VernierProcessTest;
using json = nlohmann::json;

constexpr char kStudy[] = R"(
name: cli
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -3, high: 3}
  opt: {type: categorical, values: [sgd, adam]}
budget: {max_trials: 2}
trainer: {external: true}
)";

class AskTellCliTest : public VernierProcessTest {
 protected:
  // `vernier ask` prints exactly one JSON line.
  json Ask(const std::string& study) {
    CliResult result = Cli({"ask", study});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return json::parse(result.out, nullptr, false);
  }
};

TEST_F(AskTellCliTest, AskAndTellThroughTheCli) {
  ASSERT_TRUE(StartServer(30));
  ASSERT_TRUE(CreateStudy(kStudy));
  json first = Ask("cli");
  ASSERT_TRUE(first.is_object()) << first;
  EXPECT_EQ(first["trial"], 0);
  EXPECT_TRUE(first["params"]["x"].is_number());
  EXPECT_TRUE(first["params"]["opt"] == "sgd" || first["params"]["opt"] == "adam");

  CliResult told =
      Cli({"--format", "json", "tell", "cli", "0", "--value", "1.5", "--metric", "acc=0.9"});
  ASSERT_EQ(told.exit_code, 0) << told.err;
  json trials = json::parse(told.out, nullptr, false);
  ASSERT_TRUE(trials.is_array()) << told.out;
  EXPECT_EQ(trials[0]["state"], "COMPLETE");
  EXPECT_EQ(trials[0]["final_metrics"]["acc"], 0.9);

  // Bad input: exit 2 for what the user typed wrong, 1 for the server's no.
  CliResult bad_state = Cli({"tell", "cli", "0", "--state", "done"});
  EXPECT_EQ(bad_state.exit_code, 2);
  EXPECT_THAT(bad_state.err, HasSubstr("--state"));
  CliResult bad_metric = Cli({"tell", "cli", "0", "--metric", "acc"});
  EXPECT_EQ(bad_metric.exit_code, 2);
  EXPECT_THAT(bad_metric.err, HasSubstr("name=value"));
  CliResult twice = Cli({"tell", "cli", "0", "--value", "2"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_THAT(twice.err, HasSubstr("is COMPLETE"));
  CliResult unknown = Cli({"tell", "cli", "9", "--value", "2"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("not found"));

  json second = Ask("cli");
  EXPECT_EQ(second["trial"], 1);
  CliResult spent = Cli({"ask", "cli"});
  EXPECT_EQ(spent.exit_code, 1);
  EXPECT_THAT(spent.err, HasSubstr("budget.max_trials"));
  CliResult failed = Cli({"tell", "cli", "1", "--state", "failed", "--reason", "oom"});
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  json study = CliJson({"study", "show", "cli"});
  EXPECT_EQ(study["state"], "COMPLETED") << study;
}

// An asked trial is acknowledged, so kill -9 of the server cannot lose it: it
// comes back RUNNING, with its parameters, and can be told.
TEST_F(AskTellCliTest, AskedTrialSurvivesKillNineAndCanBeTold) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/1));
  ASSERT_TRUE(CreateStudy(kStudy));
  json asked = Ask("cli");
  ASSERT_TRUE(asked.is_object());
  server_->Kill(SIGKILL);
  ASSERT_TRUE(StartServer(/*lease_seconds=*/1));
  // Longer than a worker's lease: an asked trial has none.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  json trials = CliJson({"trials", "cli"});
  ASSERT_TRUE(trials.is_array() && trials.size() == 1) << trials;
  EXPECT_EQ(trials[0]["state"], "RUNNING");
  EXPECT_EQ(trials[0]["params"], asked["params"]);
  CliResult told = Cli({"tell", "cli", "0", "--value", "0.5"});
  EXPECT_EQ(told.exit_code, 0) << told.err;

  // And the told result survives the next kill -9.
  server_->Kill(SIGKILL);
  ASSERT_TRUE(StartServer(1));
  trials = CliJson({"trials", "cli"});
  ASSERT_TRUE(trials.is_array() && trials.size() == 1) << trials;
  EXPECT_EQ(trials[0]["state"], "COMPLETE");
  EXPECT_EQ(trials[0]["final_metrics"]["loss"], 0.5);
}

constexpr char kPrunedStudy[] = R"(
name: curves
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
pruner: {type: median, warmup_steps: 0, min_trials: 1}
budget: {max_trials: 3}
trainer: {external: true}
)";

// `vernier report`: intermediate values of asked trials, the pruner's answer
// as JSON, and a pruned trial that survives kill -9 as PRUNED.
TEST_F(AskTellCliTest, ReportPrintsShouldPruneAndThePrunedTrialStaysPruned) {
  ASSERT_TRUE(StartServer(30));
  ASSERT_TRUE(CreateStudy(kPrunedStudy));
  ASSERT_TRUE(Ask("curves").is_object());
  CliResult first = Cli({"report", "curves", "0", "--step", "1", "--value", "1.0"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(json::parse(first.out, nullptr, false),
            (json{{"trial", 0}, {"step", 1}, {"should_prune", false}}));
  ASSERT_EQ(Cli({"tell", "curves", "0", "--value", "0.5"}).exit_code, 0);

  ASSERT_TRUE(Ask("curves").is_object());
  CliResult lagging =
      Cli({"report", "curves", "1", "--step", "1", "--value", "9", "--metric", "acc=0.1"});
  ASSERT_EQ(lagging.exit_code, 0) << lagging.err;
  EXPECT_EQ(json::parse(lagging.out, nullptr, false)["should_prune"], true) << lagging.out;
  server_->Kill(SIGKILL);
  ASSERT_TRUE(StartServer(30));
  json trials = CliJson({"trials", "curves"});
  ASSERT_TRUE(trials.is_array() && trials.size() == 2) << trials;
  EXPECT_EQ(trials[1]["state"], "PRUNED");
  EXPECT_EQ(Cli({"tell", "curves", "1", "--state", "pruned"}).exit_code, 0);

  // Bad input: 2 for what the user typed wrong, 1 for the server's no.
  CliResult no_step = Cli({"report", "curves", "1", "--value", "1"});
  EXPECT_EQ(no_step.exit_code, 2);
  EXPECT_THAT(no_step.err, HasSubstr("--step"));
  CliResult bad_value = Cli({"report", "curves", "1", "--step", "2", "--value", "high"});
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_THAT(bad_value.err, HasSubstr("--value"));
  CliResult pruned = Cli({"report", "curves", "1", "--step", "2", "--value", "1"});
  EXPECT_EQ(pruned.exit_code, 1);
  EXPECT_THAT(pruned.err, HasSubstr("is PRUNED"));
}

}  // namespace
}  // namespace vernier
