// Helpers for the SQLite store's tests: a raw SQLite connection to inspect or
// tamper with a study database behind the store's back. Scratch directories
// are testing::TempDir (tests/testing/temp_dir.h).
#ifndef VERNIER_TESTS_SERVER_STORAGE_SQLITE_TEST_UTIL_H_
#define VERNIER_TESTS_SERVER_STORAGE_SQLITE_TEST_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vernier {

// The old name of testing::TempDir, kept only for
// tests/server/coordinator/warm_start_test.cc; remove it once that test says
// testing::TempDir. (TempDir is header-only, so its users need no new link.)
using ScratchDir = ::vernier::testing::TempDir;

// A plain SQLite connection. Failures are test failures.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close_v2(db_); }

  sqlite3* get() const { return db_; }

  // Runs `sql`; returns SQLite's result code (and fails the test unless it is
  // `expected`).
  int Exec(const std::string& sql, int expected = SQLITE_OK) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, expected) << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
    return rc;
  }

  // The first column of the first row of `sql`, as text ("" when no row).
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return "";
    }
    std::string result;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return result;
  }

  int64_t QueryInt(const std::string& sql) {
    const std::string text = QueryText(sql);
    return text.empty() ? -1 : std::stoll(text);
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace vernier

#endif  // VERNIER_TESTS_SERVER_STORAGE_SQLITE_TEST_UTIL_H_
