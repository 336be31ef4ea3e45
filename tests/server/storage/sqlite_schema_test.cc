#include "server/storage/sqlite_schema.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/storage/sqlite_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::StatusIs;

// Migrations that leave a trace of each step in a table.
constexpr const char* kLogMigrations[] = {
    "CREATE TABLE log (step INTEGER)",
    "INSERT INTO log VALUES (2)",
    "INSERT INTO log VALUES (3); INSERT INTO log VALUES (33)",
};

class SqliteStoreSchemaTest : public ::testing::Test {
 protected:
  std::string Log() { return db_.QueryText("SELECT group_concat(step, ',') FROM log"); }

  testing::TempDir dir_;
  RawDb db_{dir_.File("schema.db")};
};

TEST_F(SqliteStoreSchemaTest, FreshDatabaseGetsEveryMigrationInOrder) {
  ASSERT_OK(MigrateSchema(db_.get(), kLogMigrations));
  EXPECT_EQ(db_.QueryInt("PRAGMA user_version"), 3);
  EXPECT_EQ(Log(), "2,3,33");
}

TEST_F(SqliteStoreSchemaTest, OnlyMissingMigrationsRun) {
  ASSERT_OK(MigrateSchema(db_.get(), absl::MakeSpan(kLogMigrations).first(2)));
  EXPECT_EQ(db_.QueryInt("PRAGMA user_version"), 2);
  ASSERT_OK(MigrateSchema(db_.get(), kLogMigrations));
  ASSERT_OK(MigrateSchema(db_.get(), kLogMigrations));  // Up to date: no-op.
  EXPECT_EQ(db_.QueryInt("PRAGMA user_version"), 3);
  EXPECT_EQ(Log(), "2,3,33");
}

TEST_F(SqliteStoreSchemaTest, FailedMigrationRollsEverythingBack) {
  const char* const broken[] = {"CREATE TABLE log (step INTEGER)", "INSERT INTO log VALUES (2)",
                                "INSERT INTO no_such_table VALUES (1)"};
  const absl::Status status = MigrateSchema(db_.get(), broken);
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("schema version 3"), Not(HasSubstr("no_such_table")),
                    Not(HasSubstr("INSERT"))));
  EXPECT_EQ(db_.QueryInt("PRAGMA user_version"), 0);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sqlite_master"), 0);
  EXPECT_TRUE(sqlite3_get_autocommit(db_.get()));  // No transaction left open.
}

TEST_F(SqliteStoreSchemaTest, NewerDatabaseIsRefusedWithBothVersions) {
  db_.Exec("PRAGMA user_version = 7");
  const absl::Status status = MigrateSchema(db_.get(), kLogMigrations);
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("schema version 7"), HasSubstr("version 3")));
  EXPECT_EQ(db_.QueryInt("PRAGMA user_version"), 7);
  EXPECT_TRUE(sqlite3_get_autocommit(db_.get()));
}

TEST_F(SqliteStoreSchemaTest, UnversionedDatabaseWithTablesIsRefused) {
  db_.Exec("CREATE TABLE theirs (x)");
  const absl::Status status = MigrateSchema(db_.get(), kLogMigrations);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'log'"), 0);
}

TEST_F(SqliteStoreSchemaTest, VernierMigrationsBuildTheStoreSchemaAndMarkTheFile) {
  EXPECT_EQ(VernierSchemaVersion(), static_cast<int64_t>(VernierMigrations().size()));
  ASSERT_OK(MigrateSchema(db_.get(), VernierMigrations()));
  EXPECT_EQ(db_.QueryInt("PRAGMA user_version"), VernierSchemaVersion());
  EXPECT_EQ(db_.QueryInt("PRAGMA application_id"), kVernierApplicationId);
  for (const char* table : {"studies", "trials", "measurements"}) {
    EXPECT_EQ(
        db_.QueryInt(absl::StrCat("SELECT count(*) FROM sqlite_master WHERE name = '", table, "'")),
        1)
        << table;
  }
}

TEST_F(SqliteStoreSchemaTest, LoadQueriesScanTheKeysWithoutSorting) {
  ASSERT_OK(MigrateSchema(db_.get(), VernierMigrations()));
  for (const char* query : {"SELECT * FROM trials ORDER BY study, number",
                            "SELECT * FROM measurements ORDER BY study, number, step"}) {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_.get(), absl::StrCat("EXPLAIN QUERY PLAN ", query).c_str(), -1,
                                 &stmt, nullptr),
              SQLITE_OK);
    std::string details;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      absl::StrAppend(&details, reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)), ";");
    }
    sqlite3_finalize(stmt);
    EXPECT_THAT(details, Not(HasSubstr("TEMP B-TREE"))) << query;
  }
}

}  // namespace
}  // namespace vernier
