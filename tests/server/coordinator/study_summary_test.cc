// A study's summary: counts, the best so far, the pace of finished trials and
// the time left to the budget, on trials made by hand and on a scripted
// ask/tell study driven by the fake clock.
#include "server/coordinator/study_summary.h"

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/best_trials.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TrialRecord Trial(int64_t number, TrialState state, absl::Duration started,
                  absl::Duration ended = absl::ZeroDuration()) {
  TrialRecord trial;
  trial.number = number;
  trial.state = state;
  trial.start_time = kStart + started;
  if (IsFinished(state)) trial.end_time = kStart + ended;
  return trial;
}

StudyRecord Record(std::vector<ObjectiveSpec> objectives) {
  StudyRecord record;
  record.name = "s";
  record.spec.objectives = std::move(objectives);
  record.spec.objective = record.spec.objectives.front();
  return record;
}

std::map<TrialState, int64_t> Counts(const std::vector<TrialRecord>& trials) {
  std::map<TrialState, int64_t> counts;
  for (const TrialRecord& trial : trials) counts[trial.state]++;
  return counts;
}

TEST(SummarizeStudyTest, PaceBestAndRunningTrialsOfAScriptedStudy) {
  std::vector<TrialRecord> trials;
  // A warm_start copy: ran elsewhere, long ago; best, but not of this pace.
  trials.push_back(Trial(0, TrialState::kComplete, -absl::Hours(48), -absl::Hours(47)));
  trials[0].origin = "warm_start:old#3";
  trials[0].final_metrics = {{"loss", 0.2}};
  // Five ended here, at minutes 2, 5, 12, 15 and 19; now is minute 20.
  const int minutes[] = {2, 5, 12, 15, 19};
  const TrialState states[] = {TrialState::kComplete, TrialState::kFailed, TrialState::kComplete,
                               TrialState::kPruned, TrialState::kComplete};
  const double losses[] = {0.4, 0, 0.1, 0.05, 0.3};
  for (int i = 0; i < 5; ++i) {
    trials.push_back(Trial(i + 1, states[i], absl::Minutes(i), absl::Minutes(minutes[i])));
    if (states[i] == TrialState::kComplete) trials.back().final_metrics = {{"loss", losses[i]}};
    if (states[i] == TrialState::kPruned) trials.back().intermediate = {{1, {{"loss", 0.05}}}};
  }
  trials.push_back(Trial(6, TrialState::kRunning, absl::Minutes(18)));
  trials.back().worker_id = "w1";
  trials.back().intermediate = {{1, {{"loss", 0.5}}}, {2, {{"acc", 0.9}}}, {3, {{"loss", 0.35}}}};
  trials.push_back(Trial(7, TrialState::kRunning, absl::Minutes(19)));
  trials.push_back(Trial(8, TrialState::kWaiting, absl::ZeroDuration()));
  trials.back().start_time = absl::UnixEpoch();  // Never started.
  const StudyRecord record = Record({{"loss", Goal::kMinimize}});

  const StudySummary summary = SummarizeStudy(record, trials, Counts(trials), /*trial_budget=*/10,
                                              kStart + absl::Minutes(20));
  EXPECT_EQ(summary.state, StudyState::kActive);
  EXPECT_EQ(summary.trial_budget, 10);
  EXPECT_EQ(summary.finished, 5);
  EXPECT_EQ(summary.trial_counts.at(TrialState::kComplete), 4);
  EXPECT_EQ(summary.trial_counts.at(TrialState::kRunning), 2);
  // The best COMPLETE trial, as GetBestTrials ranks it (a PRUNED one's lower
  // value does not count).
  EXPECT_THAT(summary.best_trial, Optional(3));
  EXPECT_THAT(summary.best_objective_values, ElementsAre(0.1));
  EXPECT_EQ(summary.pareto_front_size, 0);
  // Minutes 12, 15, 19 of the last ten: 0.3 per minute; 5 in 20: 0.25.
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_recent, 0.3);
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_overall, 0.25);
  // 5 more at 0.3 per minute.
  ASSERT_TRUE(summary.eta.has_value());
  EXPECT_THAT(absl::ToDoubleSeconds(*summary.eta), DoubleNear(1000, 1e-6));
  ASSERT_EQ(summary.running.size(), 2u);
  EXPECT_EQ(summary.running[0].number, 6);
  EXPECT_THAT(summary.running[0].latest_step, Optional(3));
  EXPECT_THAT(summary.running[0].objective_values, ElementsAre(Optional(0.35)));
  EXPECT_EQ(summary.running[0].worker_id, "w1");
  EXPECT_EQ(summary.running[0].start_time, kStart + absl::Minutes(18));
  EXPECT_EQ(summary.running[1].number, 7);
  EXPECT_EQ(summary.running[1].latest_step, std::nullopt);
  EXPECT_THAT(summary.running[1].objective_values, ElementsAre(std::nullopt));
  EXPECT_EQ(summary.time, kStart + absl::Minutes(20));
}

// The numbers of RankBestTrials' answer.
std::vector<int64_t> RankedNumbers(const std::vector<TrialRecord>& trials, Goal goal, int count) {
  std::vector<int64_t> numbers;
  const std::vector<ObjectiveSpec> objectives = {{"loss", goal}};
  for (const TrialRecord* trial : RankBestTrials(trials, objectives, count)) {
    numbers.push_back(trial->number);
  }
  return numbers;
}

TEST(RankBestTrialsTest, OneObjectiveRanksCompleteTrialsByValueThenNumberUpToTheCount) {
  std::vector<TrialRecord> trials;
  const double losses[] = {0.3, 0.1, 0.2, 0.1, 0.5, 0.1};
  for (int i = 0; i < 6; ++i) {
    trials.push_back(Trial(i, TrialState::kComplete, absl::Minutes(i), absl::Minutes(i + 1)));
    trials.back().final_metrics = {{"loss", losses[i]}};
  }
  // Never best: a PRUNED trial, a NaN value, no value at all.
  trials.push_back(Trial(6, TrialState::kPruned, absl::Minutes(6), absl::Minutes(7)));
  trials.back().intermediate = {{1, {{"loss", 0.0}}}};
  trials.push_back(Trial(7, TrialState::kComplete, absl::Minutes(7), absl::Minutes(8)));
  trials.back().final_metrics = {{"loss", std::numeric_limits<double>::quiet_NaN()}};
  trials.push_back(Trial(8, TrialState::kComplete, absl::Minutes(8), absl::Minutes(9)));

  // Ties (0.1) in number order, as a stable sort of every trial gives them.
  EXPECT_THAT(RankedNumbers(trials, Goal::kMinimize, 4), ElementsAre(1, 3, 5, 2));
  EXPECT_THAT(RankedNumbers(trials, Goal::kMinimize, 0), ElementsAre(1));
  EXPECT_THAT(RankedNumbers(trials, Goal::kMinimize, 100), ElementsAre(1, 3, 5, 2, 0, 4));
  EXPECT_THAT(RankedNumbers(trials, Goal::kMaximize, 3), ElementsAre(4, 0, 2));
  EXPECT_THAT(RankedNumbers({}, Goal::kMinimize, 3), IsEmpty());
}

TEST(SummarizeStudyTest, ARecentWindowShorterThanTenMinutesIsTheTimeSinceTheFirstStart) {
  std::vector<TrialRecord> trials = {
      Trial(0, TrialState::kFailed, absl::ZeroDuration(), absl::Minutes(1)),
      Trial(1, TrialState::kFailed, absl::Minutes(1), absl::Minutes(2))};
  const StudySummary summary = SummarizeStudy(Record({{"loss", Goal::kMinimize}}), trials,
                                              Counts(trials), 6, kStart + absl::Minutes(4));
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_recent, 0.5);
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_overall, 0.5);
  EXPECT_THAT(absl::ToDoubleSeconds(*summary.eta), DoubleNear(480, 1e-6));  // 4 at 0.5/min.
  EXPECT_EQ(summary.best_trial, std::nullopt);
  EXPECT_THAT(summary.best_objective_values, IsEmpty());
}

TEST(SummarizeStudyTest, TheEtaIsUnknownWithoutRecentTrialsOrOnceTheStudyEnded) {
  std::vector<TrialRecord> trials = {
      Trial(0, TrialState::kComplete, absl::ZeroDuration(), absl::Minutes(1))};
  StudyRecord record = Record({{"loss", Goal::kMinimize}});
  StudySummary idle = SummarizeStudy(record, trials, Counts(trials), 5, kStart + absl::Hours(1));
  EXPECT_EQ(idle.finished_per_minute_recent, 0);
  EXPECT_DOUBLE_EQ(idle.finished_per_minute_overall, 1.0 / 60);
  EXPECT_EQ(idle.eta, std::nullopt);

  record.state = StudyState::kStopped;
  StudySummary stopped =
      SummarizeStudy(record, trials, Counts(trials), 5, kStart + absl::Minutes(2));
  EXPECT_GT(stopped.finished_per_minute_recent, 0);
  EXPECT_EQ(stopped.eta, std::nullopt);

  const StudySummary empty = SummarizeStudy(Record({{"loss", Goal::kMinimize}}), {}, {}, 5, kStart);
  EXPECT_EQ(empty.finished, 0);
  EXPECT_EQ(empty.finished_per_minute_overall, 0);
  EXPECT_EQ(empty.eta, std::nullopt);
}

TEST(SummarizeStudyTest, SeveralObjectivesCountTheParetoFrontInstead) {
  std::vector<TrialRecord> trials;
  const double points[][2] = {{1, 3}, {2, 2}, {3, 1}, {3, 3}};
  for (int i = 0; i < 4; ++i) {
    trials.push_back(Trial(i, TrialState::kComplete, absl::ZeroDuration(), absl::Minutes(1)));
    trials.back().final_metrics = {{"loss", points[i][0]}, {"latency", points[i][1]}};
  }
  const StudySummary summary =
      SummarizeStudy(Record({{"loss", Goal::kMinimize}, {"latency", Goal::kMinimize}}), trials,
                     Counts(trials), 10, kStart + absl::Minutes(2));
  EXPECT_EQ(summary.pareto_front_size, 3);
  EXPECT_EQ(summary.best_trial, std::nullopt);
}

TEST(RestingSummaryTest, TextReadsBackAsTheSummaryWithTheGivenStateAndTime) {
  StudySummary summary;
  summary.trial_counts = {{TrialState::kComplete, 9}, {TrialState::kPruned, 1234567890123}};
  summary.trial_budget = 10;
  summary.finished = 10;
  summary.best_trial = 7;
  summary.best_objective_values = {0.25, std::numeric_limits<double>::infinity()};
  summary.pareto_front_size = 0;
  summary.finished_per_minute_recent = 1.5;
  summary.finished_per_minute_overall = 2.5;
  const absl::Time later = kStart + absl::Hours(5);
  absl::StatusOr<StudySummary> read =
      ParseRestingSummary(RestingSummaryText(summary), StudyState::kStopped, later);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->state, StudyState::kStopped);
  EXPECT_EQ(read->time, later);
  EXPECT_EQ(read->trial_counts, summary.trial_counts);
  EXPECT_EQ(read->trial_budget, 10);
  EXPECT_EQ(read->finished, 10);
  EXPECT_EQ(read->best_trial, 7);
  EXPECT_EQ(read->best_objective_values, summary.best_objective_values);
  EXPECT_EQ(read->finished_per_minute_recent, 1.5);
  EXPECT_EQ(read->finished_per_minute_overall, 2.5);
  EXPECT_EQ(read->eta, std::nullopt);

  summary.best_trial.reset();
  summary.best_objective_values.clear();
  read = ParseRestingSummary(RestingSummaryText(summary), StudyState::kCompleted, later);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->best_trial, std::nullopt);
  EXPECT_TRUE(read->best_objective_values.empty());
}

TEST(RestingSummaryTest, WhatCannotBeReadIsDataLossNamingIt) {
  EXPECT_THAT(ParseRestingSummary("[1]", StudyState::kCompleted, kStart),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("resting summary")));
  EXPECT_THAT(
      ParseRestingSummary(R"({"finished": 1, "colour": 2})", StudyState::kCompleted, kStart),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"colour\"")));
  EXPECT_THAT(ParseRestingSummary(R"({"finished": 1.5})", StudyState::kCompleted, kStart),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"finished\"")));
  EXPECT_THAT(ParseRestingSummary(R"({"best_trial": "inf"})", StudyState::kCompleted, kStart),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("\"best_trial\"")));
}

// ---- Through the coordinator, on its clock ----

constexpr char kSummarisedLoop[] = R"(
name: loop
objective: {metric: loss, goal: minimize}
params: {x: {type: float, low: 0, high: 1}}
budget: {max_trials: 4}
trainer: {external: true}
)";

class CoordinatorSummaryTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    ASSERT_THAT(Create(kSummarisedLoop), IsOk());
  }

  // Asks a trial and tells it COMPLETE with `loss` a minute later.
  void RunOne(double loss) {
    auto asked = coordinator_->Ask("loop");
    ASSERT_THAT(asked, IsOk());
    clock_.Advance(absl::Minutes(1));
    ASSERT_THAT(
        coordinator_->Tell("loop", asked->trial.number, TrialState::kComplete, loss, {}, ""),
        IsOk());
  }
};

TEST_F(CoordinatorSummaryTest, ASmallStudysSummaryFollowsItsTrialsOnTheClock) {
  RunOne(0.5);
  RunOne(0.3);
  ASSERT_THAT(coordinator_->Ask("loop"), IsOk());  // Trial 2 runs.
  ASSERT_THAT(coordinator_->Report("loop", 2, 0.35, {1, {}}), IsOk());

  ASSERT_OK_AND_ASSIGN(StudySummary summary, coordinator_->Summary("loop"));
  EXPECT_EQ(summary.time, clock_.Now());
  EXPECT_EQ(summary.trial_budget, 4);
  EXPECT_EQ(summary.finished, 2);
  EXPECT_EQ(summary.trial_counts[TrialState::kComplete], 2);
  EXPECT_EQ(summary.trial_counts[TrialState::kRunning], 1);
  EXPECT_THAT(summary.best_trial, Optional(1));
  EXPECT_THAT(summary.best_objective_values, ElementsAre(0.3));
  // Two trials in the two minutes since the first started.
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_recent, 1);
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_overall, 1);
  ASSERT_TRUE(summary.eta.has_value());
  EXPECT_EQ(*summary.eta, absl::Minutes(2));
  ASSERT_EQ(summary.running.size(), 1u);
  EXPECT_EQ(summary.running[0].number, 2);
  EXPECT_THAT(summary.running[0].latest_step, Optional(1));
  EXPECT_THAT(summary.running[0].objective_values, ElementsAre(Optional(0.35)));

  // Nothing finished in the last ten minutes: the time left is unknown.
  clock_.Advance(absl::Minutes(20));
  ASSERT_OK_AND_ASSIGN(summary, coordinator_->Summary("loop"));
  EXPECT_EQ(summary.finished_per_minute_recent, 0);
  EXPECT_DOUBLE_EQ(summary.finished_per_minute_overall, 2.0 / 22);
  EXPECT_EQ(summary.eta, std::nullopt);

  // The budget is spent: the study has COMPLETED, and nothing is left.
  ASSERT_THAT(coordinator_->Tell("loop", 2, TrialState::kComplete, 0.1, {}, ""), IsOk());
  RunOne(0.9);
  ASSERT_OK_AND_ASSIGN(summary, coordinator_->Summary("loop"));
  EXPECT_EQ(summary.state, StudyState::kCompleted);
  EXPECT_EQ(summary.finished, 4);
  EXPECT_THAT(summary.best_trial, Optional(2));
  EXPECT_EQ(summary.eta, std::nullopt);
  EXPECT_THAT(summary.running, IsEmpty());
}

TEST_F(CoordinatorSummaryTest, AnUnknownStudyIsNotFound) {
  EXPECT_THAT(coordinator_->Summary("nope"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vernier
