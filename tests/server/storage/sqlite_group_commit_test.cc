// SqliteStudyStore with Options::group_commit: writes commit to the WAL
// unsynced, WaitDurable() syncs once for every write made before it.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/storage/sqlite_test_util.h"
#include "tests/server/storage/study_store_conformance.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::Not;
using ::vernier::testing::IsOk;

std::unique_ptr<SqliteStudyStore> OpenGroupCommit(const std::string& path) {
  SqliteStudyStore::Options options;
  options.group_commit = true;
  return VALUE_OR_FAIL(SqliteStudyStore::Open(path, options));
}

// The whole StudyStore contract holds with group commit too.
INSTANTIATE_TEST_SUITE_P(SqliteGroupCommit, StudyStoreConformanceTest,
                         ::testing::Values(StudyStoreFactory{
                             "SqliteGroupCommit",
                             [](const std::string& dir) -> std::unique_ptr<StudyStore> {
                               return OpenGroupCommit(absl::StrCat(dir, "/study.db"));
                             },
                             /*reopen_before_load=*/true}),
                         StudyStoreFactoryName);

StudyRecord Study(const std::string& name) {
  StudyRecord study;
  study.name = name;
  study.spec.name = name;
  study.source_text = "name: " + name;
  return study;
}

TrialRecord Trial(const std::string& study, int64_t number) {
  TrialRecord trial;
  trial.study = study;
  trial.number = number;
  trial.state = TrialState::kRunning;
  trial.params["x"] = 0.5 * static_cast<double>(number);
  return trial;
}

TEST(SqliteGroupCommitTest, OneSyncCoversEveryWriteBeforeIt) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStudyStore> store = OpenGroupCommit(dir.File("g.db"));
  ASSERT_NE(store, nullptr);
  store->WaitDurable();  // Nothing written yet: no sync.
  EXPECT_EQ(store->DurableSyncs(), 0);
  ASSERT_OK(store->CreateStudy(Study("s")));
  ASSERT_OK(store->PutTrial(Trial("s", 0)));
  ASSERT_OK(store->PutTrial(Trial("s", 1)));
  store->WaitDurable();
  EXPECT_EQ(store->DurableSyncs(), 1);
  store->WaitDurable();  // Already durable: returns without a sync.
  EXPECT_EQ(store->DurableSyncs(), 1);
  // A failed write is not a ticket.
  EXPECT_THAT(store->PutTrial(Trial("nope", 0)), Not(IsOk()));
  store->WaitDurable();
  EXPECT_EQ(store->DurableSyncs(), 1);
  ASSERT_OK(store->AddMeasurement("s", 0, Measurement{1, {{"m", 1.0}}}));
  store->WaitDurable();
  EXPECT_EQ(store->DurableSyncs(), 2);
}

TEST(SqliteGroupCommitTest, WithoutGroupCommitOrFileWaitDurableNeverSyncs) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> plain =
      SqliteStudyStore::Open(dir.File("p.db"));
  ASSERT_OK(plain);
  ASSERT_OK((*plain)->CreateStudy(Study("s")));
  (*plain)->WaitDurable();
  EXPECT_EQ((*plain)->DurableSyncs(), 0);  // kFull already synced the write.
  std::unique_ptr<SqliteStudyStore> memory = OpenGroupCommit(":memory:");
  ASSERT_NE(memory, nullptr);
  ASSERT_OK(memory->CreateStudy(Study("s")));
  memory->WaitDurable();
  EXPECT_EQ(memory->DurableSyncs(), 0);
}

// Many writers, each waiting for its own write: every wait returns, nothing
// is lost across a reopen, and no more syncs than waits happen (fewer when
// waits overlap, which the scheduler decides, so not asserted).
TEST(SqliteGroupCommitTest, ConcurrentWritersAllBecomeDurable) {
  testing::TempDir dir;
  const std::string path = dir.File("c.db");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  {
    std::unique_ptr<SqliteStudyStore> store = OpenGroupCommit(path);
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->CreateStudy(Study("s")));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&store, t] {
        for (int i = 0; i < kPerThread; ++i) {
          EXPECT_OK(store->PutTrial(Trial("s", t * kPerThread + i)));
          store->WaitDurable();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_GE(store->DurableSyncs(), 1);
    EXPECT_LE(store->DurableSyncs(), 1 + kThreads * kPerThread);
  }
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> reopened = SqliteStudyStore::Open(path);
  ASSERT_OK(reopened);
  absl::StatusOr<std::vector<StoredStudy>> loaded = (*reopened)->LoadAll();
  ASSERT_OK(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->at(0).trials.size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace vernier
