// Coordinator::Ask / Tell: trials run by the user's own loop.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/schema/study_schema.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

// No workers can run it (trainer.external); budget.parallel is 1 but Ask
// ignores it.
constexpr char kExternal[] = R"(
name: loop
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -5, high: 5}
  k: {type: categorical, values: [a, b]}
budget: {max_trials: 3, parallel: 1, max_failures: 5}
trainer: {external: true}
)";

// An ordinary study, for mixing asked trials with workers' trials.
constexpr char kWorkers[] = R"(
name: mixed
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 10, parallel: 2, max_retries: 1}
trainer: {command: [python3, trial.py]}
)";

class AskTellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Restart();
    ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kExternal).ok());
  }

  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(&store_, &clock_, options_);
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = std::move(*created);
  }

  TrialRecord Ask(const std::string& study = "loop") {
    absl::StatusOr<TrialView> asked = coordinator_->Ask(study);
    EXPECT_TRUE(asked.ok()) << asked.status();
    return asked.ok() ? asked->trial : TrialRecord{};
  }

  absl::StatusOr<TrialView> TellValue(int64_t trial, double value,
                                      const std::string& study = "loop") {
    return coordinator_->Tell(study, trial, TrialState::kComplete, value, {}, "");
  }

  StudyView Study(const std::string& name = "loop") { return *coordinator_->GetStudy(name); }

  MemoryStudyStore store_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(AskTellTest, AskHandsOutRunningTrialsBeyondParallel) {
  TrialRecord first = Ask();
  TrialRecord second = Ask();
  EXPECT_EQ(first.number, 0);
  EXPECT_EQ(second.number, 1);  // budget.parallel is 1: Ask ignores it.
  EXPECT_EQ(first.state, TrialState::kRunning);
  EXPECT_EQ(first.worker_id, kAskedWorkerId);
  EXPECT_EQ(first.params.size(), 2u);
  const double x = std::get<double>(first.params.at("x"));
  EXPECT_GE(x, -5);
  EXPECT_LE(x, 5);
  EXPECT_EQ(Study().trial_counts[TrialState::kRunning], 2);
}

TEST_F(AskTellTest, TellCompletesAndTheLastTellCompletesTheStudy) {
  for (int i = 0; i < 3; ++i) {
    TrialRecord trial = Ask();
    absl::StatusOr<TrialView> told = TellValue(trial.number, 10.0 - i);
    ASSERT_TRUE(told.ok()) << told.status();
    EXPECT_EQ(told->trial.state, TrialState::kComplete);
    EXPECT_EQ(told->trial.final_metrics.at("loss"), 10.0 - i);
    EXPECT_EQ(told->objectives.at(0).metric, "loss");
  }
  EXPECT_EQ(Study().record.state, StudyState::kCompleted);
  auto best = coordinator_->BestTrials("loop", 1);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->trials.at(0).number, 2);
}

TEST_F(AskTellTest, AskAfterTheBudgetOrOnAStoppedStudyIsAPreconditionFailure) {
  for (int i = 0; i < 3; ++i) Ask();
  absl::StatusOr<TrialView> over = coordinator_->Ask("loop");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(over.status().message(), HasSubstr("budget.max_trials is 3"));

  ASSERT_TRUE(coordinator_->StopStudy("loop").ok());
  absl::StatusOr<TrialView> stopped = coordinator_->Ask("loop");
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stopped.status().message(), HasSubstr("STOPPED"));
  // A trial asked before the stop can still be told.
  EXPECT_TRUE(TellValue(0, 1.0).ok());
  EXPECT_EQ(coordinator_->Ask("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AskTellTest, TellChecksTheTrialAndTheResult) {
  TrialRecord trial = Ask();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(TellValue(7, 1.0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TellValue(0, 1.0, "nope").status().code(), absl::StatusCode::kNotFound);
  auto bad_state = coordinator_->Tell("loop", 0, TrialState::kRunning, 1.0, {}, "");
  EXPECT_EQ(bad_state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_state.status().message(), HasSubstr("state"));
  auto no_value = coordinator_->Tell("loop", 0, TrialState::kComplete, std::nullopt, {}, "");
  EXPECT_EQ(no_value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_value.status().message(), HasSubstr("\"loss\""));
  auto nan_value = TellValue(0, nan);
  EXPECT_EQ(nan_value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nan_value.status().message(), HasSubstr("NaN"));
  auto twice = coordinator_->Tell("loop", 0, TrialState::kComplete, 1.0, {{"loss", 2.0}}, "");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  auto empty_name = coordinator_->Tell("loop", 0, TrialState::kComplete, 1.0, {{"", 2.0}}, "");
  EXPECT_EQ(empty_name.status().code(), absl::StatusCode::kInvalidArgument);
  // Nothing of the refused calls was stored.
  EXPECT_EQ(coordinator_->ListTrials("loop")->trials.at(0).state, TrialState::kRunning);

  // The objective may come in metrics; +inf is a valid objective.
  auto by_metrics =
      coordinator_->Tell("loop", trial.number, TrialState::kComplete, std::nullopt,
                         {{"loss", std::numeric_limits<double>::infinity()}, {"acc", 0.5}}, "");
  ASSERT_TRUE(by_metrics.ok()) << by_metrics.status();
  EXPECT_EQ(by_metrics->trial.final_metrics.size(), 2u);
  // Told once: a second Tell names the trial and its state.
  auto again = TellValue(trial.number, 1.0);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("trial 0 of study \"loop\" is COMPLETE"));
}

TEST_F(AskTellTest, PrunedAndFailedNeedNoValue) {
  Ask();
  Ask();
  auto pruned = coordinator_->Tell("loop", 0, TrialState::kPruned, std::nullopt, {}, "");
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->trial.state, TrialState::kPruned);
  auto failed = coordinator_->Tell("loop", 1, TrialState::kFailed, std::nullopt, {}, "diverged");
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->trial.state, TrialState::kFailed);
  EXPECT_EQ(failed->trial.failure_reason, "diverged");
}

TEST_F(AskTellTest, AskedTrialsNeverExpireAndSurviveARestartRunning) {
  TrialRecord trial = Ask();
  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  EXPECT_EQ(coordinator_->ListTrials("loop")->trials.at(0).state, TrialState::kRunning);
  Restart();
  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  TrialRecord reloaded = coordinator_->ListTrials("loop")->trials.at(0);
  EXPECT_EQ(reloaded.state, TrialState::kRunning);
  EXPECT_EQ(reloaded.params, trial.params);
  EXPECT_TRUE(TellValue(0, 3.0).ok());
}

TEST_F(AskTellTest, WorkersNeverGetExternalStudiesNorAskedTrials) {
  auto none = coordinator_->AcquireTrial("w1", "cpu");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // trainer.external: only Ask hands its trials out.

  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kWorkers).ok());
  TrialRecord asked = Ask("mixed");
  // A worker cannot pose as the asking user...
  EXPECT_EQ(coordinator_->AcquireTrial(kAskedWorkerId, "cpu").status().code(),
            absl::StatusCode::kInvalidArgument);
  LeaseKey key{"mixed", asked.number, asked.attempt};
  EXPECT_EQ(
      coordinator_->CompleteTrial(kAskedWorkerId, key, TrialState::kComplete, {{"loss", 1.0}}, "")
          .code(),
      absl::StatusCode::kAborted);
  // ...and the user cannot tell a worker's trial.
  auto leased = coordinator_->AcquireTrial("w1", "cpu");
  ASSERT_TRUE(leased.ok() && leased->has_value());
  EXPECT_EQ((*leased)->trial.number, 1);
  auto told = TellValue(1, 1.0, "mixed");
  EXPECT_EQ(told.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(told.status().message(), HasSubstr("RUNNING on a worker"));
  // Worker leases still expire as before; the asked trial does not.
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  auto trials = coordinator_->ListTrials("mixed");
  EXPECT_EQ(trials->trials.at(0).state, TrialState::kRunning);
  EXPECT_EQ(trials->trials.at(1).state, TrialState::kWaiting);
  // A WAITING trial is handed out by Ask first.
  EXPECT_EQ(Ask("mixed").number, 1);
}

TEST(ExternalTrainerTest, ExternalExcludesEveryOtherTrainerKey) {
  const std::string head =
      "name: s\nobjective: {metric: m}\nparams: {x: {type: float, low: 0, high: 1}}\n";
  absl::StatusOr<StudySpec> ok = ParseStudySpec(head + "trainer: {external: true}\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->trainer.external);
  EXPECT_FALSE(ok->trainer.builtin());
  absl::StatusOr<StudySpec> command =
      ParseStudySpec(head + "trainer: {external: true, command: [python3, t.py]}\n");
  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(command.status().message(), HasSubstr("trainer.command"));
  absl::StatusOr<StudySpec> not_bool = ParseStudySpec(head + "trainer: {external: 1}\n");
  EXPECT_EQ(not_bool.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_bool.status().message(), HasSubstr("trainer.external"));
}

// Two objectives and a constraint: a told trial needs every objective and ends
// INFEASIBLE when it breaks the constraint, as a worker's trial does.
TEST_F(AskTellTest, ToldTrialsMeetObjectivesAndConstraints) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, R"(
name: pareto
objectives: [{metric: loss, goal: minimize}, {metric: ms, goal: minimize}]
constraints: [{metric: mem, max: 4}]
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: nsga2}
budget: {max_trials: 5}
trainer: {external: true}
)")
                  .ok());
  const int64_t number = Ask("pareto").number;
  absl::StatusOr<TrialView> missing =
      coordinator_->Tell("pareto", number, TrialState::kComplete, 1.0, {{"mem", 1}}, "");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("\"ms\" is missing"));
  EXPECT_EQ(coordinator_->ListTrials("pareto")->trials.at(number).state, TrialState::kRunning);

  absl::StatusOr<TrialView> told =
      coordinator_->Tell("pareto", number, TrialState::kComplete, 1.0, {{"ms", 3}, {"mem", 6}}, "");
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(told->trial.state, TrialState::kInfeasible);
  EXPECT_THAT(told->trial.failure_reason, HasSubstr("mem"));
}

// Report (Optuna's trial.report + should_prune) on asked trials, with a
// median pruner that judges from the first peer on.
constexpr char kPrunedLoop[] = R"(
name: curves
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
pruner: {type: median, warmup_steps: 0, min_trials: 1}
budget: {max_trials: 4, parallel: 1}
trainer: {external: true}
)";

absl::StatusOr<AskedReport> ReportValue(Coordinator& coordinator, int64_t trial, int64_t step,
                                        std::optional<double> value, MetricMap metrics = {}) {
  Measurement measurement;
  measurement.step = step;
  measurement.metrics = std::move(metrics);
  return coordinator.Report("curves", trial, value, std::move(measurement));
}

TEST_F(AskTellTest, ReportRecordsStepsAndTheMedianPrunerStopsALaggingTrial) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kPrunedLoop).ok());
  const int64_t leader = Ask("curves").number;
  for (auto [step, loss] : {std::pair{1, 1.0}, std::pair{2, 0.5}}) {
    absl::StatusOr<AskedReport> reported = ReportValue(*coordinator_, leader, step, loss);
    ASSERT_TRUE(reported.ok()) << reported.status();
    EXPECT_FALSE(reported->should_prune);
    EXPECT_EQ(reported->view.trial.state, TrialState::kRunning);
  }
  ASSERT_TRUE(coordinator_->Tell("curves", leader, TrialState::kComplete, 0.5, {}, "").ok());

  // Better than the leader at step 1: goes on. Worse: stopped and PRUNED.
  const int64_t good = Ask("curves").number;
  auto kept = ReportValue(*coordinator_, good, 1, 0.8, {{"acc", 0.9}});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->should_prune);
  const int64_t bad = Ask("curves").number;
  auto stopped = ReportValue(*coordinator_, bad, 1, 5.0);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->should_prune);
  EXPECT_EQ(stopped->view.trial.state, TrialState::kPruned);
  ASSERT_EQ(stopped->view.trial.intermediate.size(), 1u);
  EXPECT_EQ(stopped->view.trial.intermediate[0].metrics.at("loss"), 5.0);

  // The stored trials say the same after a restart.
  Restart();
  auto trials = coordinator_->ListTrials("curves");
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ(trials->trials.at(good).intermediate.at(0).metrics.at("acc"), 0.9);
  EXPECT_EQ(trials->trials.at(bad).state, TrialState::kPruned);
  EXPECT_EQ(trials->trials.at(leader).intermediate.size(), 2u);

  // Telling the pruned trial PRUNED changes nothing; anything else is refused.
  auto told = coordinator_->Tell("curves", bad, TrialState::kPruned, std::nullopt, {}, "");
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(told->trial.state, TrialState::kPruned);
  auto complete = coordinator_->Tell("curves", bad, TrialState::kComplete, 1.0, {}, "");
  EXPECT_EQ(complete.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(complete.status().message(), HasSubstr("is PRUNED"));
  auto again = ReportValue(*coordinator_, bad, 2, 1.0);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("can be reported"));
}

TEST_F(AskTellTest, ReportRefusesBadInputAndStoresNothing) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kPrunedLoop).ok());
  const int64_t trial = Ask("curves").number;
  EXPECT_EQ(ReportValue(*coordinator_, 9, 1, 1.0).status().code(), absl::StatusCode::kNotFound);
  Measurement measurement;
  measurement.step = 1;
  EXPECT_EQ(coordinator_->Report("nope", trial, 1.0, measurement).status().code(),
            absl::StatusCode::kNotFound);
  auto negative = ReportValue(*coordinator_, trial, -1, 1.0);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.status().message(), HasSubstr("step"));
  auto empty = ReportValue(*coordinator_, trial, 1, std::nullopt);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("\"loss\""));
  auto twice = ReportValue(*coordinator_, trial, 1, 1.0, {{"loss", 2.0}});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  auto unnamed = ReportValue(*coordinator_, trial, 1, 1.0, {{"", 2.0}});
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument);
  auto listed = coordinator_->ListTrials("curves");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->trials.at(trial).intermediate.empty());
  EXPECT_EQ(listed->trials.at(trial).state, TrialState::kRunning);

  // A worker's trial is not the user's to report.
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kWorkers).ok());
  auto leased = coordinator_->AcquireTrial("w1", "cpu");
  ASSERT_TRUE(leased.ok() && leased->has_value());
  auto on_worker = coordinator_->Report("mixed", (*leased)->trial.number, 1.0, measurement);
  EXPECT_EQ(on_worker.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(on_worker.status().message(), HasSubstr("RUNNING on a worker"));
}

TEST_F(AskTellTest, ReportStopsTheTrialsOfAStoppedStudy) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kPrunedLoop).ok());
  const int64_t trial = Ask("curves").number;
  ASSERT_TRUE(coordinator_->StopStudy("curves").ok());
  auto reported = ReportValue(*coordinator_, trial, 1, 1.0);
  ASSERT_TRUE(reported.ok()) << reported.status();
  EXPECT_TRUE(reported->should_prune);
  EXPECT_EQ(reported->view.trial.state, TrialState::kPruned);
}

}  // namespace
}  // namespace vernier
