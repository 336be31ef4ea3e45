// Checkpoints outside pbt: a trial handed out again (its lease expired, or
// its worker handed it back) resumes from its own latest checkpoint, and a
// finished trial's checkpoints are deleted.
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/checkpoint_store.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/server/storage/sqlite_test_util.h"

namespace vernier {
namespace {

constexpr char kCheckpointedStudy[] = R"(
name: long
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.01, high: 1}
budget: {max_trials: 2, parallel: 2, max_retries: 3}
trainer: {command: [python3, trial.py]}
checkpoint: {every: 1}
)";

class ResumeCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

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

  Assignment Acquire(const std::string& worker) {
    auto assignment = coordinator_->AcquireTrial(worker, "cpu");
    EXPECT_TRUE(assignment.ok() && assignment->has_value());
    return assignment.ok() && assignment->has_value() ? **assignment : Assignment{};
  }

  absl::Status Upload(const std::string& worker, const LeaseKey& lease, int64_t step) {
    auto upload = coordinator_->StartCheckpointUpload(worker, lease, step);
    if (!upload.ok()) return upload.status();
    absl::Status appended = (*upload)->Append("state.json", "{}");
    if (!appended.ok()) return appended;
    return (*upload)->Commit();
  }

  // The steps the store holds for trial `trial` of study `study`.
  std::set<int64_t> Stored(const std::string& study, int64_t trial) {
    auto listed = checkpoints_->List();
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (!listed.ok()) return {};
    return (*listed)[study][trial];
  }

  ScratchDir dir_;
  MemoryStudyStore store_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(ResumeCoordinatorTest, ATrialWhoseLeaseExpiredResumesFromItsLatestCheckpoint) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kCheckpointedStudy).ok());
  const Assignment first = Acquire("a");
  EXPECT_TRUE(first.upload_checkpoints);
  EXPECT_EQ(first.resume_step, std::nullopt);
  for (int64_t step = 1; step <= 7; ++step) ASSERT_TRUE(Upload("a", first.lease, step).ok());
  EXPECT_EQ(Stored("long", 0).size(), static_cast<size_t>(kPbtCheckpointsKept));

  clock_.Advance(absl::Seconds(31));  // Worker "a" vanished.
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  Restart();  // And the server restarted meanwhile: the index comes from the store.
  const Assignment retry = Acquire("b");
  EXPECT_EQ(retry.lease.trial_number, 0);
  EXPECT_EQ(retry.lease.attempt, first.lease.attempt + 1);
  EXPECT_EQ(retry.resume_step, std::optional<int64_t>(7));
  // The new worker may fetch the trial's own checkpoint; the old one may not.
  const auto sink = [](absl::string_view, absl::string_view) { return true; };
  EXPECT_TRUE(coordinator_->DownloadCheckpoint("b", retry.lease, 0, 7, sink).ok());
  EXPECT_EQ(coordinator_->DownloadCheckpoint("a", first.lease, 0, 7, sink).code(),
            absl::StatusCode::kAborted);

  ASSERT_TRUE(Upload("b", retry.lease, 8).ok());
  ASSERT_TRUE(
      coordinator_->CompleteTrial("b", retry.lease, TrialState::kComplete, {{"acc", 0.9}}, "")
          .ok());
  EXPECT_THAT(Stored("long", 0), ::testing::IsEmpty());  // The trial is done with them.
}

TEST_F(ResumeCoordinatorTest, ATrialHandedBackResumesAndAFreshTrialDoesNot) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kCheckpointedStudy).ok());
  const Assignment first = Acquire("a");
  ASSERT_TRUE(Upload("a", first.lease, 2).ok());
  ASSERT_TRUE(coordinator_->ReleaseTrial("a", first.lease).ok());  // Drain.
  const Assignment again = Acquire("b");
  EXPECT_EQ(again.lease.trial_number, 0);
  EXPECT_EQ(again.resume_step, std::optional<int64_t>(2));
  const Assignment fresh = Acquire("b");
  EXPECT_EQ(fresh.lease.trial_number, 1);
  EXPECT_EQ(fresh.resume_step, std::nullopt);
}

TEST_F(ResumeCoordinatorTest, ATrialThatRanOutOfRetriesDropsItsCheckpoints) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, R"(
name: once
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.01, high: 1}
budget: {max_trials: 1, max_retries: 0}
trainer: {command: [python3, trial.py]}
checkpoint: {every: 2}
)")
                  .ok());
  const Assignment first = Acquire("a");
  ASSERT_TRUE(Upload("a", first.lease, 2).ok());
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(coordinator_->ExpireLeases().ok());
  EXPECT_THAT(Stored("once", 0), ::testing::IsEmpty());
}

TEST_F(ResumeCoordinatorTest, CheckpointsLeftByAFinishedTrialGoAtStartUp) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kCheckpointedStudy).ok());
  const Assignment first = Acquire("a");
  ASSERT_TRUE(
      coordinator_->CompleteTrial("a", first.lease, TrialState::kComplete, {{"acc", 0.5}}, "")
          .ok());
  // As if the server died between the trial's end and the deletion.
  auto writer = checkpoints_->StartWrite("long", 0, 3);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("state.json", "{}").ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  ASSERT_THAT(Stored("long", 0), ::testing::ElementsAre(3));
  Restart();
  EXPECT_THAT(Stored("long", 0), ::testing::IsEmpty());
}

TEST_F(ResumeCoordinatorTest, StudiesWithoutCheckpointsNeitherUploadNorResume) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, R"(
name: plain
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.01, high: 1}
budget: {max_trials: 1}
trainer: {command: [python3, trial.py]}
)")
                  .ok());
  const Assignment first = Acquire("a");
  EXPECT_FALSE(first.upload_checkpoints);
  EXPECT_EQ(first.resume_step, std::nullopt);
}

TEST_F(ResumeCoordinatorTest, TheBuiltInTrainerCheckpointsLongTrialsByDefault) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, R"(
name: builtin
objective: {metric: val_accuracy, goal: maximize}
params:
  lr: {type: float, low: 0.001, high: 0.1, log: true}
  epochs: {type: int, low: 2, high: 12}
budget: {max_trials: 1}
trainer: {dataset: fashion-mnist, model: mlp}
)")
                  .ok());
  const Assignment first = Acquire("a");
  EXPECT_TRUE(first.upload_checkpoints);
  EXPECT_EQ(first.settings.value("checkpoint_every", 0), 1);
}

}  // namespace
}  // namespace vernier
