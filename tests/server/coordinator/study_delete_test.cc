// Coordinator::DeleteStudy: a study goes with its trials and files, its name
// can be used again at once, running trials block it unless forced (and
// then their workers are refused), and the delete survives a restart.
#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/artifact_store.h"
#include "server/storage/checkpoint_store.h"
#include "server/storage/log_store.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vernier::testing::StatusIs;

constexpr char kWorkerStudy[] = R"(
name: doomed
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 4, parallel: 2}
trainer: {command: [python3, trial.py]}
)";

constexpr char kOtherStudy[] = R"(
name: bystander
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 4}
trainer: {external: true}
)";

// A coordinator over an in-memory study store and real file stores for
// checkpoints, artifacts and logs in a temporary directory.
class StudyDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto checkpoints = CheckpointStore::Open(dir_.File("checkpoints"));
    ASSERT_OK(checkpoints);
    checkpoints_ = *std::move(checkpoints);
    auto artifacts = LocalArtifactStore::Open(dir_.File("artifacts"));
    ASSERT_OK(artifacts);
    artifacts_ = *std::move(artifacts);
    auto logs = LogStore::Open(dir_.File("logs"));
    ASSERT_OK(logs);
    logs_ = *std::move(logs);
    options_.artifacts = artifacts_.get();
    options_.logs = logs_.get();
    Restart();
    ASSERT_OK(CreateStudyFromYaml(*coordinator_, kWorkerStudy));
    ASSERT_OK(CreateStudyFromYaml(*coordinator_, kOtherStudy));
  }

  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(&store_, &clock_, options_, checkpoints_.get());
    ASSERT_OK(created);
    coordinator_ = *std::move(created);
  }

  // Leases the next trial of "doomed" to `worker`.
  LeaseKey Lease(const std::string& worker) {
    absl::StatusOr<std::optional<Assignment>> assignment =
        coordinator_->AcquireTrial(worker, "cpu");
    EXPECT_TRUE(assignment.ok() && assignment->has_value());
    return (*assignment)->lease;
  }

  // Runs one trial of "doomed" to its end, with a checkpoint, an artifact
  // and a log on the way.
  void RunTrialWithFiles() {
    const LeaseKey lease = Lease("w");
    auto checkpoint = coordinator_->StartCheckpointUpload("w", lease, 1);
    ASSERT_OK(checkpoint);
    ASSERT_OK((*checkpoint)->Append("model.pt", "weights"));
    ASSERT_OK((*checkpoint)->Commit());
    auto artifact = coordinator_->StartArtifactUpload("w", lease);
    ASSERT_OK(artifact);
    ASSERT_OK((*artifact)->Append("model.pt", "weights"));
    ASSERT_OK((*artifact)->Commit());
    ASSERT_OK(coordinator_->AppendTrialLog("w", lease, 0, "epoch 1\n"));
    ASSERT_OK(coordinator_->ReportProgress("w", lease, Measurement{1, {{"loss", 0.5}}}));
    ASSERT_OK(coordinator_->CompleteTrial("w", lease, TrialState::kComplete, {{"loss", 0.4}}, ""));
  }

  // Whether any file store holds a directory of study "doomed".
  bool FilesOfDoomedExist() const {
    for (const char* store : {"checkpoints", "artifacts", "logs"}) {
      if (fs::exists(fs::path(dir_.File(store)) / "study-doomed")) return true;
    }
    return false;
  }

  ::vernier::testing::TempDir dir_;
  MemoryStudyStore store_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<LocalArtifactStore> artifacts_;
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(StudyDeleteTest, AFinishedStudyGoesWithItsTrialsAndFilesAndStaysGoneAfterARestart) {
  RunTrialWithFiles();
  ASSERT_TRUE(FilesOfDoomedExist());

  absl::StatusOr<DeletedStudy> deleted = coordinator_->DeleteStudy("doomed", /*force=*/false);
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->trials, 1);
  EXPECT_EQ(deleted->stopped, 0);
  EXPECT_FALSE(FilesOfDoomedExist());
  EXPECT_THAT(coordinator_->GetStudy("doomed"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(coordinator_->ListTrials("doomed"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(coordinator_->ListStudies().size(), 1u);
  EXPECT_EQ(coordinator_->ListStudies()[0].record.name, "bystander");

  Restart();
  EXPECT_THAT(coordinator_->GetStudy("doomed"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(coordinator_->GetStudy("bystander"));
}

TEST_F(StudyDeleteTest, TheNameCanBeUsedAgainByANewStudyThatStartsEmpty) {
  RunTrialWithFiles();
  ASSERT_OK(coordinator_->DeleteStudy("doomed", /*force=*/false));
  ASSERT_OK(CreateStudyFromYaml(*coordinator_, kWorkerStudy));
  absl::StatusOr<TrialsView> trials = coordinator_->ListTrials("doomed");
  ASSERT_OK(trials);
  EXPECT_THAT(trials->trials, IsEmpty());
  EXPECT_FALSE(FilesOfDoomedExist());
  // The new study is the newest: it comes last, after a restart too.
  Restart();
  ASSERT_EQ(coordinator_->ListStudies().size(), 2u);
  EXPECT_EQ(coordinator_->ListStudies()[1].record.name, "doomed");
  EXPECT_THAT(coordinator_->ListTrials("doomed")->trials, IsEmpty());
}

TEST_F(StudyDeleteTest, RunningTrialsBlockADeleteThatIsNotForced) {
  Lease("w1");
  Lease("w2");
  EXPECT_THAT(coordinator_->DeleteStudy("doomed", /*force=*/false),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("study \"doomed\" has 2 running trials (0, 1): stop the study and "
                                 "let them end, or delete it with --force")));
  EXPECT_OK(coordinator_->GetStudy("doomed"));
}

TEST_F(StudyDeleteTest, AForcedDeleteRefusesTheWorkersOfItsRunningTrials) {
  const LeaseKey lease = Lease("w");
  absl::StatusOr<DeletedStudy> deleted = coordinator_->DeleteStudy("doomed", /*force=*/true);
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->stopped, 1);
  // The worker learns at its next call that the trial is no longer its own.
  EXPECT_THAT(coordinator_->Heartbeat("w", {lease}), ::testing::ElementsAre(lease));
  EXPECT_THAT(coordinator_->ReportProgress("w", lease, Measurement{1, {{"loss", 0.5}}}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(coordinator_->CompleteTrial("w", lease, TrialState::kComplete, {{"loss", 0.4}}, ""),
              StatusIs(absl::StatusCode::kNotFound));
  // Workers are handed trials of the other studies only.
  absl::StatusOr<std::optional<Assignment>> next = coordinator_->AcquireTrial("w", "cpu");
  ASSERT_OK(next);
  EXPECT_FALSE(next->has_value());  // "bystander" runs through ask/tell.
}

TEST_F(StudyDeleteTest, AnUploadThatOutlivesItsStudyIsRefusedAndLeavesNoFiles) {
  const LeaseKey lease = Lease("w");
  auto upload = coordinator_->StartArtifactUpload("w", lease);
  ASSERT_OK(upload);
  ASSERT_OK((*upload)->Append("model.pt", "weights"));
  ASSERT_OK(coordinator_->DeleteStudy("doomed", /*force=*/true));
  EXPECT_THAT((*upload)->Commit(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("deleted")));
  upload->reset();
  EXPECT_FALSE(FilesOfDoomedExist());
}

TEST_F(StudyDeleteTest, AnUnknownStudyIsNotFound) {
  EXPECT_THAT(coordinator_->DeleteStudy("nope", /*force=*/true),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("study \"nope\" not found")));
}

}  // namespace
}  // namespace vernier
