#include "server/coordinator/coordinator.h"

#include <memory>
#include <set>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

constexpr char kStudy[] = R"(
name: toy
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
pruner: {type: median, warmup_steps: 1, min_trials: 2}
budget: {max_trials: 4, parallel: 2, max_failures: 1, max_retries: 1}
trainer: {command: [python3, trial.py], time_limit: 60}
)";

class CoordinatorTest : public CoordinatorFixture {
 protected:
  Assignment Acquire(const std::string& worker) {
    auto assignment = coordinator_->AcquireTrial(worker, "cpu");
    EXPECT_TRUE(assignment.ok()) << assignment.status();
    EXPECT_TRUE(assignment->has_value());
    return **assignment;
  }

  TrialAction Report(const std::string& worker, const LeaseKey& lease, int64_t step, double acc) {
    auto action = coordinator_->ReportProgress(worker, lease, {step, {{"acc", acc}}});
    EXPECT_TRUE(action.ok()) << action.status();
    return *action;
  }

  void Complete(const std::string& worker, const LeaseKey& lease, double acc) {
    ASSERT_TRUE(
        coordinator_->CompleteTrial(worker, lease, TrialState::kComplete, {{"acc", acc}}, "").ok());
  }

  TrialRecord Trial(int64_t number) {
    auto trials = coordinator_->ListTrials("toy");
    EXPECT_TRUE(trials.ok());
    return trials->trials.at(number);
  }
};

TEST_F(CoordinatorTest, CreateStudyRejectsBadSpecAndDuplicates) {
  EXPECT_EQ(CreateStudyFromYaml(*coordinator_, "name: x\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  EXPECT_EQ(CreateStudyFromYaml(*coordinator_, kStudy).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(coordinator_->GetStudy("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, AssignmentCarriesParamsCommandAndLimits) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w1");
  EXPECT_EQ(a.lease.study, "toy");
  EXPECT_EQ(a.lease.trial_number, 0);
  EXPECT_EQ(a.lease.attempt, 1);
  EXPECT_EQ(a.trial.params.count("x"), 1u);
  EXPECT_EQ(a.command, (std::vector<std::string>{"python3", "trial.py"}));
  EXPECT_EQ(a.time_limit, absl::Seconds(60));
}

TEST_F(CoordinatorTest, ParallelLimitAndBudgetAreRespected) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w1");
  Assignment b = Acquire("w2");
  EXPECT_FALSE(coordinator_->AcquireTrial("w3", "cpu")->has_value());  // parallel: 2
  Complete("w1", a.lease, 0.5);
  Complete("w2", b.lease, 0.6);
  Complete("w1", Acquire("w1").lease, 0.7);
  Complete("w1", Acquire("w1").lease, 0.8);
  EXPECT_FALSE(coordinator_->AcquireTrial("w1", "cpu")->has_value());  // max_trials: 4
  EXPECT_EQ(coordinator_->GetStudy("toy")->record.state, StudyState::kCompleted);
}

TEST_F(CoordinatorTest, FiniteGridEndsTheStudyAfterItsLastPoint) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, R"(
name: toy
objective: {metric: acc}
params:
  opt: {type: categorical, values: [sgd, adam]}
  depth: {type: int, low: 1, high: 2}
sampler: {type: grid}
budget: {max_trials: 10, parallel: 1}
trainer: {command: [/bin/true]}
)")
                  .ok());
  std::set<std::pair<std::string, int64_t>> seen;
  for (int i = 0; i < 4; ++i) {
    Assignment a = Acquire("w");
    seen.emplace(std::get<std::string>(a.trial.params.at("opt")),
                 std::get<int64_t>(a.trial.params.at("depth")));
    Complete("w", a.lease, 0.5);
  }
  EXPECT_EQ(seen.size(), 4u);  // Every point once.
  EXPECT_FALSE(coordinator_->AcquireTrial("w", "cpu")->has_value());
  EXPECT_EQ(coordinator_->GetStudy("toy")->record.state, StudyState::kCompleted);
  EXPECT_EQ(coordinator_->ListTrials("toy")->trials.size(), 4u);
}

TEST_F(CoordinatorTest, BestTrialsAreSortedByObjective) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  const double values[] = {0.3, 0.9, 0.5, 0.7};
  for (double value : values) Complete("w", Acquire("w").lease, value);
  auto best = coordinator_->BestTrials("toy", 2);
  ASSERT_TRUE(best.ok());
  ASSERT_EQ(best->trials.size(), 2u);
  EXPECT_EQ(best->trials[0].number, 1);
  EXPECT_EQ(best->trials[1].number, 3);
}

TEST_F(CoordinatorTest, MedianPrunerStopsAWeakTrial) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w");
  Report("w", a.lease, 1, 0.8);
  Complete("w", a.lease, 0.8);
  Assignment b = Acquire("w");
  Report("w", b.lease, 1, 0.9);
  Complete("w", b.lease, 0.9);
  Assignment c = Acquire("w");
  EXPECT_EQ(Report("w", c.lease, 1, 0.1), TrialAction::kStop);
  EXPECT_EQ(Trial(2).state, TrialState::kPruned);
  // The worker's PRUNED completion afterwards is accepted.
  EXPECT_TRUE(coordinator_->CompleteTrial("w", c.lease, TrialState::kPruned, {}, "").ok());
  EXPECT_EQ(Trial(2).intermediate.size(), 1u);
}

TEST_F(CoordinatorTest, ExpiredLeaseReturnsTrialToQueueThenFailsIt) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment first = Acquire("w1");
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  EXPECT_EQ(Trial(0).state, TrialState::kWaiting);
  EXPECT_EQ(Trial(0).retries, 1);
  // The lost worker's late report is refused; the trial goes to a new worker.
  auto late = coordinator_->ReportProgress("w1", first.lease, {1, {{"acc", 0.5}}});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kAborted);
  Assignment second = Acquire("w2");
  EXPECT_EQ(second.lease.trial_number, 0);
  EXPECT_EQ(second.lease.attempt, 2);
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  EXPECT_EQ(Trial(0).state, TrialState::kFailed);  // max_retries: 1
  EXPECT_THAT(Trial(0).failure_reason, HasSubstr("lease lost"));
}

TEST_F(CoordinatorTest, HeartbeatKeepsLeasesAndReportsLostOnes) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w1");
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(20));
    EXPECT_TRUE(coordinator_->Heartbeat("w1", {a.lease}).empty());
  }
  EXPECT_EQ(Trial(0).state, TrialState::kRunning);
  LeaseKey stale = a.lease;
  stale.attempt = 7;
  EXPECT_EQ(coordinator_->Heartbeat("w1", {stale}).size(), 1u);
}

TEST_F(CoordinatorTest, TooManyFailuresStopTheStudy) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        coordinator_->CompleteTrial("w", Acquire("w").lease, TrialState::kFailed, {}, "boom").ok());
  }
  auto study = coordinator_->GetStudy("toy");
  EXPECT_EQ(study->record.state, StudyState::kStopped);
  EXPECT_THAT(study->record.state_reason, HasSubstr("max_failures"));
  EXPECT_FALSE(coordinator_->AcquireTrial("w", "cpu")->has_value());
}

TEST_F(CoordinatorTest, CompleteWithoutObjectiveMetricFails) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w");
  ASSERT_TRUE(
      coordinator_->CompleteTrial("w", a.lease, TrialState::kComplete, {{"loss", 1}}, "").ok());
  EXPECT_EQ(Trial(0).state, TrialState::kFailed);
  EXPECT_THAT(Trial(0).failure_reason, HasSubstr("\"acc\""));
}

TEST_F(CoordinatorTest, CompleteIsIdempotentForTheSameLease) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w");
  Complete("w", a.lease, 0.5);
  Complete("w", a.lease, 0.5);
  EXPECT_EQ(coordinator_->GetStudy("toy")->trial_counts[TrialState::kComplete], 1);
  EXPECT_EQ(
      coordinator_->CompleteTrial("other", a.lease, TrialState::kComplete, {{"acc", 1}}, "").code(),
      absl::StatusCode::kAborted);
}

TEST_F(CoordinatorTest, StoppedStudyTellsRunningTrialsToStop) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w");
  ASSERT_TRUE(coordinator_->StopStudy("toy").ok());
  EXPECT_EQ(Report("w", a.lease, 1, 0.9), TrialAction::kStop);
  EXPECT_FALSE(coordinator_->AcquireTrial("w", "cpu")->has_value());
}

TEST_F(CoordinatorTest, RestartKeepsEverythingAcknowledged) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w");
  Report("w", a.lease, 1, 0.4);
  Report("w", a.lease, 2, 0.6);
  Complete("w", a.lease, 0.6);
  Assignment b = Acquire("w");
  Report("w", b.lease, 1, 0.5);
  const ParamMap params_b = Trial(1).params;

  Restart();

  EXPECT_EQ(Trial(0).state, TrialState::kComplete);
  EXPECT_EQ(Trial(0).intermediate.size(), 2u);
  EXPECT_EQ(Trial(1).state, TrialState::kRunning);
  EXPECT_EQ(Trial(1).params, params_b);
  // The worker that held trial 1 carries on under the same lease.
  EXPECT_EQ(Report("w", b.lease, 2, 0.7), TrialAction::kContinue);
  Complete("w", b.lease, 0.7);
  // Numbers continue, never reused.
  EXPECT_EQ(Acquire("w").lease.trial_number, 2);
}

TEST_F(CoordinatorTest, SuggestionsAreDeterministicForSeedAndHistory) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  std::vector<ParamMap> first;
  for (int i = 0; i < 4; ++i) {
    Assignment a = Acquire("w");
    first.push_back(a.trial.params);
    Complete("w", a.lease, 0.1 * i);
  }
  MemoryStudyStore other_store;
  auto other = Coordinator::Create(&other_store, &clock_, options_);
  ASSERT_TRUE(CreateStudyFromYaml(**other, kStudy).ok());
  for (int i = 0; i < 4; ++i) {
    auto a = (*other)->AcquireTrial("w", "cpu");
    EXPECT_EQ((**a).trial.params, first[i]);
    ASSERT_TRUE((*other)
                    ->CompleteTrial("w", (**a).lease, TrialState::kComplete, {{"acc", 0.1 * i}}, "")
                    .ok());
  }
}

TEST_F(CoordinatorTest, ReleasedTrialWaitsAgainWithoutSpendingARetry) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w1");
  EXPECT_EQ(coordinator_->ReleaseTrial("intruder", a.lease).code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(coordinator_->ReleaseTrial("w1", a.lease).ok());
  EXPECT_EQ(Trial(0).state, TrialState::kWaiting);
  EXPECT_EQ(Trial(0).retries, 0);
  // The lease is gone now: a second release and a late report are refused.
  EXPECT_EQ(coordinator_->ReleaseTrial("w1", a.lease).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(
      coordinator_->CompleteTrial("w1", a.lease, TrialState::kComplete, {{"acc", 1}}, "").code(),
      absl::StatusCode::kAborted);
  // The same trial, with the same parameters, goes to the next worker.
  Assignment b = Acquire("w2");
  EXPECT_EQ(b.lease.trial_number, 0);
  EXPECT_EQ(b.lease.attempt, 2);
  EXPECT_EQ(b.trial.params, a.trial.params);
  Restart();  // Stored, not only in memory.
  EXPECT_EQ(Trial(0).retries, 0);
  EXPECT_EQ(Trial(0).state, TrialState::kRunning);
}

TEST_F(CoordinatorTest, StopLeasingLeasesNothingButKeepsReportsWorking) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kStudy).ok());
  Assignment a = Acquire("w1");
  coordinator_->StopLeasing();
  auto none = coordinator_->AcquireTrial("w2", "cpu");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Complete("w1", a.lease, 0.5);
  EXPECT_EQ(Trial(0).state, TrialState::kComplete);
}

TEST_F(CoordinatorTest, BackupOfAStoreWithoutFilesIsUnimplemented) {
  EXPECT_EQ(coordinator_->Backup("/tmp/x.db").status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace vernier
