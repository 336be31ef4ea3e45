#include "server/storage/sqlite_study_store.h"

#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/storage/sqlite_schema.h"
#include "tests/server/storage/sqlite_test_util.h"
#include "tests/server/storage/study_store_conformance.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::StatusIs;

std::unique_ptr<StudyStore> OpenInDir(const std::string& dir) {
  return VALUE_OR_FAIL(SqliteStudyStore::Open(absl::StrCat(dir, "/study.db")));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StudyStoreConformanceTest,
                         ::testing::Values(StudyStoreFactory{"Sqlite", OpenInDir},
                                           StudyStoreFactory{"SqliteReopened", OpenInDir,
                                                             /*reopen_before_load=*/true}),
                         StudyStoreFactoryName);

StudyRecord Study(const std::string& name) {
  StudyRecord study;
  study.name = name;
  study.spec.name = name;
  study.source_text = "objective: val_loss\n";
  study.create_time = absl::FromUnixMicros(1'700'000'000'000'000);
  return study;
}

TrialRecord Trial(const std::string& study, int64_t number) {
  TrialRecord trial;
  trial.study = study;
  trial.number = number;
  trial.params = {{"lr", 0.001 * static_cast<double>(number + 1)}, {"units", number}};
  trial.state = TrialState::kRunning;
  return trial;
}

Measurement Step(int64_t step) {
  return Measurement{step, {{"loss", 1.0 / static_cast<double>(step + 1)}}};
}

using ::vernier::testing::ReadFile;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// Everything in the store, rendered for comparisons; "" on failure.
std::string Dump(StudyStore& store) { return DebugString(VALUE_OR_FAIL(store.LoadAll())); }

class SqliteStudyStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStudyStore> OpenOrDie(SqliteStudyStore::Options options = {}) {
    return VALUE_OR_FAIL(SqliteStudyStore::Open(path_, options));
  }

  // Fills `store` with two studies, trials and measurements.
  static void Populate(StudyStore& store) {
    for (const char* name : {"b", "a"}) {
      ASSERT_OK(store.CreateStudy(Study(name)));
      for (int64_t number = 0; number < 3; ++number) {
        ASSERT_OK(store.PutTrial(Trial(name, number)));
        for (int64_t step = 0; step < 4; ++step) {
          ASSERT_OK(store.AddMeasurement(name, number, Step(step)));
        }
      }
    }
    ASSERT_OK(store.UpdateStudyState("b", StudyState::kStopped, "enough"));
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("study.db");
};

TEST_F(SqliteStudyStoreTest, OpenCreatesAVersionedWalDatabase) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_GE(SqliteStudyStore::SchemaVersion(), 1);

  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("PRAGMA user_version"), SqliteStudyStore::SchemaVersion());
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.QueryInt("PRAGMA application_id"), 0x56524E52);
  EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                         "('studies', 'trials', 'measurements')"),
            3);
}

TEST_F(SqliteStudyStoreTest, ReopenedStoreSeesEverything) {
  std::string before;
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    Populate(*store);
    before = Dump(*store);
  }
  ASSERT_THAT(before, HasSubstr("trial \"a\"#2"));
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(Dump(*store), before);
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("PRAGMA user_version"), SqliteStudyStore::SchemaVersion());
}

TEST_F(SqliteStudyStoreTest, NormalSyncStoresTheSame) {
  SqliteStudyStore::Options options;
  options.sync = SqliteStudyStore::Options::Sync::kNormal;
  std::string before;
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    Populate(*store);
    before = Dump(*store);
  }
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Dump(*store), before);
}

TEST_F(SqliteStudyStoreTest, InMemoryDatabaseWorks) {
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(":memory:");
  ASSERT_OK(store);
  Populate(**store);
  EXPECT_THAT(Dump(**store), HasSubstr("trial \"a\"#2"));
}

TEST_F(SqliteStudyStoreTest, NewerSchemaVersionIsRefusedNamingFileAndVersions) {
  ASSERT_NE(OpenOrDie(), nullptr);
  const int64_t future = SqliteStudyStore::SchemaVersion() + 1;
  RawDb(path_).Exec(absl::StrCat("PRAGMA user_version = ", future));

  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(path_);
  ASSERT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(store.status().message()),
              AllOf(HasSubstr(path_), HasSubstr(absl::StrCat("schema version ", future)),
                    HasSubstr(absl::StrCat("version ", SqliteStudyStore::SchemaVersion()))));
  EXPECT_EQ(RawDb(path_).QueryInt("PRAGMA user_version"), future);
}

TEST_F(SqliteStudyStoreTest, NonDatabaseFileIsRefusedNamingPathAndLeftUntouched) {
  std::string garbage;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&garbage, "this is not a database, line ", i, "\n");
  WriteFile(path_, garbage);

  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(path_);
  ASSERT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(store.status().message()),
              AllOf(HasSubstr(path_), HasSubstr("not a database")));
  EXPECT_EQ(ReadFile(path_), garbage);
}

TEST_F(SqliteStudyStoreTest, OtherProgramsDatabaseIsRefusedAndLeftUntouched) {
  RawDb(path_).Exec("CREATE TABLE inventory (item TEXT); INSERT INTO inventory VALUES ('x')");
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(path_);
  ASSERT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(store.status().message()),
              AllOf(HasSubstr(path_), HasSubstr("not a Vernier database")));

  const std::string other_app = dir_.File("other_app.db");
  RawDb(other_app).Exec("PRAGMA application_id = 42");
  store = SqliteStudyStore::Open(other_app);
  ASSERT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(store.status().message()),
              AllOf(HasSubstr(other_app), HasSubstr("another application")));
  EXPECT_EQ(RawDb(other_app).QueryInt("SELECT count(*) FROM sqlite_master"), 0);
}

TEST_F(SqliteStudyStoreTest, PathInMissingDirectoryIsRefusedNamingIt) {
  const std::string path = dir_.File("no/such/dir/study.db");
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(path);
  ASSERT_THAT(store, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(path));
}

TEST_F(SqliteStudyStoreTest, UndecodableRowIsDataLossNamingTheTrial) {
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    Populate(*store);
  }
  RawDb(path_).Exec(
      "UPDATE trials SET params = '{\"lr\": [1, 2]}' WHERE study = 'a' AND number = 1");
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<StoredStudy>> loaded = store->LoadAll();
  ASSERT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(loaded.status().message()),
              AllOf(HasSubstr("trial 1 of study 'a'"), HasSubstr("lr")));

  RawDb(path_).Exec(
      "UPDATE trials SET params = '{}', state = 99 WHERE study = 'a' AND number = 1;"
      "UPDATE measurements SET metrics = 'oops' WHERE study = 'b' AND number = 2 AND step = 3");
  loaded = store->LoadAll();
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss));
  RawDb(path_).Exec("UPDATE trials SET state = 1 WHERE study = 'a' AND number = 1");
  loaded = store->LoadAll();
  ASSERT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("trial 2 of study 'b' step 3"));
}

TEST_F(SqliteStudyStoreTest, WriteWaitsForAShortLockAndFailsUnavailableOnALongOne) {
  SqliteStudyStore::Options options;
  options.busy_timeout = absl::Milliseconds(200);
  auto store = OpenOrDie(options);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->CreateStudy(Study("s")));

  RawDb other(path_);  // Another writer (as if another server) holds the lock.
  other.Exec("BEGIN IMMEDIATE");
  const absl::Time start = absl::Now();
  const absl::Status status = store->PutTrial(Trial("s", 0));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(status.message()),
              AllOf(Not(HasSubstr("INSERT")), Not(HasSubstr("trials (")), Not(HasSubstr(path_))));

  // A lock released within busy_timeout only delays the call.
  std::thread release([&other] {
    absl::SleepFor(absl::Milliseconds(50));
    other.Exec("COMMIT");
  });
  EXPECT_OK(store->PutTrial(Trial("s", 0)));
  release.join();
  EXPECT_THAT(Dump(*store), HasSubstr("trial \"s\"#0"));
}

TEST_F(SqliteStudyStoreTest, TwoStoresOnOneFileInterleaveWithoutCorruptingIt) {
  auto first = OpenOrDie();
  auto second = OpenOrDie();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_OK(first->CreateStudy(Study("one")));
  ASSERT_OK(second->CreateStudy(Study("two")));
  EXPECT_THAT(second->CreateStudy(Study("one")), StatusIs(absl::StatusCode::kAlreadyExists));

  constexpr int kTrials = 25;
  auto write = [](SqliteStudyStore* store, const std::string& study, absl::Status* result) {
    for (int64_t number = 0; number < kTrials && result->ok(); ++number) {
      *result = store->PutTrial(Trial(study, number));
      for (int64_t step = 0; step < 2 && result->ok(); ++step) {
        *result = store->AddMeasurement(study, number, Step(step));
      }
    }
  };
  // Both stores write the same trials of both studies, as two servers would:
  // every call succeeds and the last writer of a row wins.
  absl::Status results[4];
  std::thread threads[] = {
      std::thread(write, first.get(), "one", &results[0]),
      std::thread(write, second.get(), "one", &results[1]),
      std::thread(write, first.get(), "two", &results[2]),
      std::thread(write, second.get(), "two", &results[3]),
  };
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& result : results) EXPECT_OK(result);

  const std::string seen_by_first = Dump(*first);
  EXPECT_EQ(Dump(*second), seen_by_first);
  absl::StatusOr<std::vector<StoredStudy>> loaded = first->LoadAll();
  ASSERT_OK(loaded);
  ASSERT_EQ(loaded->size(), 2);
  for (const StoredStudy& study : *loaded) {
    ASSERT_EQ(study.trials.size(), kTrials);
    for (const TrialRecord& trial : study.trials) EXPECT_EQ(trial.intermediate.size(), 2);
  }
  first.reset();
  second.reset();
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.QueryText("PRAGMA foreign_key_check"), "");
}

TEST_F(SqliteStudyStoreTest, ExclusiveLockKeepsEveryOtherOpenerOut) {
  ASSERT_NE(OpenOrDie(), nullptr);  // An existing, up-to-date file: no migration.
  SqliteStudyStore::Options exclusive;
  exclusive.exclusive_lock = true;
  auto owner = OpenOrDie(exclusive);
  ASSERT_NE(owner, nullptr);
  ASSERT_OK(owner->CreateStudy(Study("s")));

  SqliteStudyStore::Options impatient;
  impatient.busy_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> intruder =
      SqliteStudyStore::Open(path_, impatient);
  ASSERT_THAT(intruder, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(intruder.status().message()), HasSubstr(path_));

  ASSERT_OK(owner->PutTrial(Trial("s", 0)));
  owner.reset();  // Releases the lock.
  auto next = OpenOrDie(impatient);
  ASSERT_NE(next, nullptr);
  EXPECT_THAT(Dump(*next), HasSubstr("trial \"s\"#0"));
}

// A database written before trials had an origin (schema version 1) opens,
// is migrated, and its trials load as sampled ones (origin "").
TEST_F(SqliteStudyStoreTest, VersionOneDatabaseMigratesWithEmptyOrigins) {
  {
    RawDb raw(path_);
    ASSERT_OK(MigrateSchema(raw.get(), VernierMigrations().first(1)));
    raw.Exec(
        "INSERT INTO studies (name, spec, state, state_reason, create_time_us) "
        "VALUES ('old', '{name: old, objective: {metric: loss}, trainer: {command: [a]}, "
        "params: {x: {type: float, low: 0, high: 1}}}', 1, '', 0);"
        "INSERT INTO trials VALUES ('old', 0, '{}', 3, '{}', '', 'w', 1, 0, 0, 0)");
  }
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawDb(path_).QueryInt("PRAGMA user_version"), SqliteStudyStore::SchemaVersion());
  absl::StatusOr<std::vector<StoredStudy>> loaded = store->LoadAll();
  ASSERT_OK(loaded);
  ASSERT_EQ(loaded->size(), 1);
  ASSERT_EQ((*loaded)[0].trials.size(), 1);
  EXPECT_EQ((*loaded)[0].trials[0].origin, "");
  TrialRecord copy = (*loaded)[0].trials[0];
  copy.origin = "enqueued";
  ASSERT_OK(store->PutTrial(copy));
  loaded = store->LoadAll();
  ASSERT_OK(loaded);
  EXPECT_EQ((*loaded)[0].trials[0].origin, "enqueued");
}

}  // namespace
}  // namespace vernier
