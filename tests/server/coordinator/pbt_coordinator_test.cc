// The coordinator's side of population-based training: the exploit answer,
// its durable record, and the checkpoint index.
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/checkpoint_store.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/server/storage/sqlite_test_util.h"

namespace vernier {
namespace {

constexpr char kPbtStudy[] = R"(
name: pop
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.01, high: 1}
pruner: {type: pbt, interval: 2, quantile: 0.25, resample_probability: 0}
budget: {max_trials: 4, parallel: 4}
trainer: {command: [python3, trial.py]}
)";

class PbtCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Restart();
    ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kPbtStudy).ok());
    for (int i = 0; i < 4; ++i) {
      auto assignment = coordinator_->AcquireTrial("w", "cpu");
      ASSERT_TRUE(assignment.ok() && assignment->has_value());
      leases_.push_back((*assignment)->lease);
      EXPECT_TRUE((*assignment)->upload_checkpoints);
    }
  }

  // A new coordinator over the same store and checkpoint directory, as after
  // a server restart.
  void Restart() {
    coordinator_.reset();
    checkpoints_.reset();
    auto opened = CheckpointStore::Open(dir_.path() + "/checkpoints");
    ASSERT_TRUE(opened.ok()) << opened.status();
    checkpoints_ = *std::move(opened);
    auto created = Coordinator::Create(&store_, &clock_, options_, checkpoints_.get());
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = std::move(*created);
  }

  // Uploads a one-file checkpoint of `lease`'s trial at `step`.
  absl::Status Upload(const LeaseKey& lease, int64_t step) {
    auto upload = coordinator_->StartCheckpointUpload("w", lease, step);
    if (!upload.ok()) return upload.status();
    absl::Status appended = (*upload)->Append("state.json", "{}");
    if (!appended.ok()) return appended;
    return (*upload)->Commit();
  }

  absl::Status AddCheckpoint(int trial, int64_t step) { return Upload(leases_[trial], step); }

  // Whether the worker holding `lease` may fetch trial `donor`'s checkpoint
  // at `step`; the files it would get are read to the end.
  absl::Status Download(const LeaseKey& lease, int64_t donor, int64_t step) {
    return coordinator_->DownloadCheckpoint(
        "w", lease, donor, step, [](absl::string_view, absl::string_view) { return true; });
  }

  // Whether the checkpoint store holds trial `trial`'s checkpoint at `step`.
  bool Stored(int64_t trial, int64_t step) {
    auto listed = checkpoints_->List();
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() && (*listed)["pop"][trial].count(step) > 0;
  }

  TrialAction Report(int trial, int64_t step, double acc, ExploitAnswer* exploit) {
    auto action =
        coordinator_->ReportProgress("w", leases_[trial], {step, {{"acc", acc}}}, exploit);
    EXPECT_TRUE(action.ok()) << action.status();
    return action.ok() ? *action : TrialAction::kStop;
  }

  TrialRecord Trial(int64_t number) {
    auto trials = coordinator_->ListTrials("pop");
    EXPECT_TRUE(trials.ok());
    return trials->trials.at(number);
  }

  ScratchDir dir_;
  MemoryStudyStore store_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<LeaseKey> leases_;
};

TEST_F(PbtCoordinatorTest, LaggingTrialExploitsTheLeaderDurably) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(AddCheckpoint(i, 2).ok());
  ExploitAnswer exploit;
  const double accs[] = {0.9, 0.8, 0.7};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Report(i, 1, accs[i] - 0.1, &exploit), TrialAction::kContinue);
    EXPECT_EQ(Report(i, 2, accs[i], &exploit), TrialAction::kContinue);
  }
  EXPECT_EQ(Report(3, 1, 0.05, &exploit), TrialAction::kContinue);  // Not an interval step.
  const ParamMap before = Trial(3).params;
  ASSERT_EQ(Report(3, 2, 0.1, &exploit), TrialAction::kExploit);
  EXPECT_EQ(exploit.donor, 0);
  EXPECT_EQ(exploit.donor_step, 2);

  // Stored before the answer: new parameters (trial 0's x times 0.8 or 1.2)
  // and the record of the exploit with the parameters before.
  const TrialRecord trial = Trial(3);
  EXPECT_EQ(trial.state, TrialState::kRunning);
  ASSERT_EQ(trial.exploits.size(), 1u);
  EXPECT_EQ(trial.exploits[0].step, 2);
  EXPECT_EQ(trial.exploits[0].donor, 0);
  EXPECT_EQ(trial.exploits[0].donor_step, 2);
  EXPECT_EQ(trial.exploits[0].params_before, before);
  const double donor_x = std::get<double>(Trial(0).params.at("x"));
  const double x = std::get<double>(trial.params.at("x"));
  EXPECT_TRUE(std::abs(x - std::min(1.0, donor_x * 1.2)) < 1e-12 ||
              std::abs(x - std::max(0.01, donor_x * 0.8)) < 1e-12)
      << x << " from " << donor_x;
  EXPECT_DOUBLE_EQ(std::get<double>(exploit.params.at("x")), x);

  // The same lease goes on; the restarted run reports step 3.
  EXPECT_EQ(Report(3, 3, 0.85, &exploit), TrialAction::kContinue);
  // A coordinator rebuilt from the store keeps the lineage.
  Restart();
  EXPECT_EQ(Trial(3).exploits, trial.exploits);
  EXPECT_EQ(Trial(3).params, trial.params);
}

TEST_F(PbtCoordinatorTest, NoExploitWithoutADonorCheckpointOrForOldCallers) {
  ExploitAnswer exploit;
  const double accs[] = {0.9, 0.8, 0.7};
  for (int i = 0; i < 3; ++i) Report(i, 2, accs[i], &exploit);
  EXPECT_EQ(Report(3, 2, 0.1, &exploit), TrialAction::kContinue);  // No checkpoint of trial 0.
  ASSERT_TRUE(AddCheckpoint(0, 2).ok());
  // Without an ExploitAnswer to fill in, a pbt study answers CONTINUE.
  auto action = coordinator_->ReportProgress("w", leases_[3], {2, {{"acc", 0.1}}});
  ASSERT_TRUE(action.ok());
  EXPECT_EQ(*action, TrialAction::kContinue);
  EXPECT_EQ(Report(3, 2, 0.1, &exploit), TrialAction::kExploit);
}

TEST_F(PbtCoordinatorTest, CheckpointsNeedTheLeaseAndAreIndexed) {
  LeaseKey stale = leases_[1];
  stale.attempt++;
  EXPECT_EQ(Upload(stale, 2).code(), absl::StatusCode::kAborted);
  EXPECT_FALSE(Stored(1, 2));  // Nothing is stored for a lease the worker lost.
  EXPECT_EQ(AddCheckpoint(1, -1).code(), absl::StatusCode::kInvalidArgument);
  {
    // The store fails to install the checkpoint: the error comes back, and
    // nothing is indexed.
    auto upload = coordinator_->StartCheckpointUpload("w", leases_[1], 2);
    ASSERT_TRUE(upload.ok()) << upload.status();
    ASSERT_TRUE((*upload)->Append("state.json", "{}").ok());
    std::filesystem::remove_all(checkpoints_->root() + "/tmp");
    EXPECT_EQ((*upload)->Commit().code(), absl::StatusCode::kInternal);
  }
  EXPECT_EQ(Download(leases_[3], 1, 2).code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(AddCheckpoint(1, 2).ok());
  EXPECT_TRUE(Stored(1, 2));
  EXPECT_TRUE(Download(leases_[3], 1, 2).ok());
  EXPECT_EQ(Download(stale, 1, 2).code(), absl::StatusCode::kAborted);
  // Only the last kPbtCheckpointsKept are kept.
  for (int64_t step = 4; step <= 2 * (kPbtCheckpointsKept + 1); step += 2) {
    ASSERT_TRUE(AddCheckpoint(1, step).ok());
  }
  EXPECT_EQ(Download(leases_[3], 1, 2).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Download(leases_[3], 1, 4).ok());

  // After a restart the index comes from the checkpoint store.
  Restart();
  EXPECT_EQ(Download(leases_[3], 1, 2).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Download(leases_[3], 1, 4).ok());
}

TEST_F(PbtCoordinatorTest, LateArrivalExploitsBetweenBoundariesOnceAcrossARestart) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(AddCheckpoint(i, 2).ok());
  ExploitAnswer exploit;
  // Trial 3 is fast and bad: alone past boundary 2, it is not judged yet.
  EXPECT_EQ(Report(3, 1, 0.1, &exploit), TrialAction::kContinue);
  EXPECT_EQ(Report(3, 2, 0.1, &exploit), TrialAction::kContinue);
  const double accs[] = {0.9, 0.8, 0.7};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Report(i, 1, accs[i] - 0.1, &exploit), TrialAction::kContinue);
    EXPECT_EQ(Report(i, 2, accs[i], &exploit), TrialAction::kContinue);
  }
  // Its next report, still before boundary 4, finds the whole population.
  ASSERT_EQ(Report(3, 3, 0.1, &exploit), TrialAction::kExploit);
  EXPECT_EQ(exploit.donor, 0);
  EXPECT_EQ(exploit.donor_step, 2);
  ASSERT_EQ(Trial(3).exploits.size(), 1u);
  EXPECT_EQ(Trial(3).exploits[0].step, 3);

  // A restarted coordinator, rebuilt from the store and the checkpoint
  // index, does not judge the resumed run again at boundary 2.
  Restart();
  EXPECT_EQ(Report(3, 3, 0.05, &exploit), TrialAction::kContinue);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Report(i, 4, accs[i], &exploit), TrialAction::kContinue);
  ASSERT_EQ(Report(3, 4, 0.05, &exploit), TrialAction::kExploit);  // The next boundary.
  EXPECT_EQ(Trial(3).exploits.size(), 2u);
}

TEST_F(PbtCoordinatorTest, AnExploitsCheckpointStaysFetchableAfterTheDonorExploits) {
  ASSERT_TRUE(AddCheckpoint(0, 2).ok());
  ASSERT_TRUE(AddCheckpoint(1, 1).ok());
  ExploitAnswer exploit;
  const double accs[] = {0.9, 0.8, 0.7};
  for (int i = 0; i < 3; ++i) {
    Report(i, 1, accs[i] - 0.1, &exploit);
    Report(i, 2, accs[i], &exploit);
  }
  Report(3, 1, 0.05, &exploit);
  ASSERT_EQ(Report(3, 2, 0.1, &exploit), TrialAction::kExploit);
  ASSERT_EQ(exploit.donor, 0);
  ASSERT_EQ(exploit.donor_step, 2);
  // Before trial 3's worker fetches it, the donor collapses and exploits
  // trial 1's step 1, which drops its own step 2 from the index.
  ASSERT_EQ(Report(0, 3, 0.0, &exploit), TrialAction::kExploit);
  ASSERT_EQ(exploit.donor, 1);
  ASSERT_EQ(exploit.donor_step, 1);
  EXPECT_TRUE(Download(leases_[3], 0, 2).ok());
  // Only for the trial it was given to.
  EXPECT_EQ(Download(leases_[2], 0, 2).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vernier
