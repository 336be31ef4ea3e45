// A database written by the previous release (tests/testdata/schema_v3.db:
// schema version 3, study files stored as text; made by
// tests/testdata/make_schema_v3_db.sh with the binaries of commit b317d2e)
// opens, runs and resumes under this one.
#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/schema/stored_spec.h"
#include "server/schema/study_schema.h"
#include "server/storage/sqlite_schema.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::vernier::testing::IsOk;

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.File("vernier.db");
    std::filesystem::copy_file(std::string(VERNIER_SOURCE_DIR) + "/tests/testdata/schema_v3.db",
                               db_);
    Open();
  }

  void Open() {
    coordinator_.reset();
    store_.reset();
    ASSERT_OK_AND_ASSIGN(store_, SqliteStudyStore::Open(db_));
    ASSERT_OK_AND_ASSIGN(coordinator_, Coordinator::Create(store_.get(), &clock_, options_));
  }

  TrialRecord Trial(const std::string& study, int64_t number) {
    auto trials = coordinator_->ListTrials(study);
    EXPECT_THAT(trials, IsOk());
    return trials.ok() ? trials->trials.at(number) : TrialRecord{};
  }

  vernier::testing::TempDir dir_;
  std::string db_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<SqliteStudyStore> store_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(UpgradeTest, EveryStudyOpensWithTheSpecItsFileDefined) {
  std::vector<std::string> names;
  for (const StudyView& view : coordinator_->ListStudies()) {
    names.push_back(view.record.name);
    // Migrated, not re-validated; yet the same as the file read today.
    ASSERT_OK_AND_ASSIGN(StudySpec today, ParseStudySpec(view.record.source_text));
    EXPECT_EQ(EncodeStoredSpec(view.record.spec), EncodeStoredSpec(today)) << view.record.name;
  }
  EXPECT_THAT(names, ElementsAre("asked", "worker-run", "mo", "pbt-cmaes", "sobol-patience",
                                 "threshold-stopped", "warm", "builtin-grid"));
  EXPECT_EQ(coordinator_->GetStudy("threshold-stopped")->record.state, StudyState::kStopped);
  EXPECT_EQ(Trial("asked", 2).state, TrialState::kPruned);
  EXPECT_EQ(Trial("asked", 0).intermediate.size(), 2u);
  EXPECT_EQ(Trial("warm", 0).origin, "warm_start:asked#0");
  EXPECT_EQ(Trial("mo", 1).state, TrialState::kInfeasible);
  EXPECT_EQ(coordinator_->GetStudy("builtin-grid")->record.spec.sampler.type(), "grid");
}

TEST_F(UpgradeTest, TheDatabaseIsMigratedOnceToTheTypedSpecs) {
  coordinator_.reset();
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, SqliteStudyStore::Open(db_));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredStudy> studies, store_->LoadAll());
  EXPECT_EQ(studies.size(), 8u);
  EXPECT_EQ(SqliteStudyStore::SchemaVersion(), 6);
  for (const StoredStudy& study : studies) {
    for (const TrialRecord& trial : study.trials) EXPECT_FALSE(trial.excluded);  // Version 5.
    EXPECT_EQ(study.resting_summary, "") << study.study.name;                    // Version 6.
  }
}

TEST_F(UpgradeTest, StudiesRunAndResume) {
  // An asked trial, running across the upgrade, is told; the enqueued one is
  // handed out next.
  ASSERT_THAT(coordinator_->Tell("asked", 3, TrialState::kComplete, 0.125, {}, ""), IsOk());
  ASSERT_OK_AND_ASSIGN(TrialView next, coordinator_->Ask("asked"));
  EXPECT_EQ(next.trial.number, 4);
  EXPECT_EQ(next.trial.origin, "enqueued");

  // The worker that ran worker-run#1 died with the old server; its lease
  // runs out and another worker picks the trial up.
  EXPECT_EQ(Trial("worker-run", 1).state, TrialState::kRunning);
  clock_.Advance(absl::Seconds(31));
  ASSERT_OK_AND_ASSIGN(std::optional<Assignment> assignment,
                       coordinator_->AcquireTrial("new-worker", "cpu"));
  ASSERT_TRUE(assignment.has_value());
  EXPECT_EQ(assignment->lease.study, "worker-run");
  EXPECT_EQ(assignment->lease.trial_number, 1);
  EXPECT_EQ(assignment->lease.attempt, 2);
  EXPECT_EQ(assignment->trial.retries, 1);
  ASSERT_THAT(coordinator_->ReportProgress("new-worker", assignment->lease, {1, {{"loss", 0.7}}}),
              IsOk());
  ASSERT_THAT(coordinator_->CompleteTrial("new-worker", assignment->lease, TrialState::kComplete,
                                          {{"loss", 0.5}}, ""),
              IsOk());

  // After a restart, everything is where it was.
  Open();
  EXPECT_EQ(Trial("asked", 3).state, TrialState::kComplete);
  EXPECT_EQ(Trial("asked", 4).state, TrialState::kRunning);
  EXPECT_EQ(Trial("worker-run", 1).state, TrialState::kComplete);
  EXPECT_EQ(Trial("worker-run", 1).final_metrics.at("loss"), 0.5);
  ASSERT_OK_AND_ASSIGN(std::optional<Assignment> last,
                       coordinator_->AcquireTrial("new-worker", "cpu"));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->lease.study, "worker-run");
  EXPECT_EQ(last->lease.trial_number, 2);
}

}  // namespace
}  // namespace vernier
