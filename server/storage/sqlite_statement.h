// Small RAII helpers over the SQLite C API, for the SQLite study store only:
// a compiled statement that is prepared once and reused, one-shot helpers for
// set-up code, and the one place where SQLite result codes become
// absl::Status.
//
// Error messages built here hold a caller-supplied description and SQLite's
// generic text for the result code (sqlite3_errstr), never SQL text and never
// sqlite3_errmsg (which can quote SQL or schema names).
//
// Thread-safety: none. A statement belongs to one connection; the caller
// serialises all use of that connection.
#ifndef VERNIER_SERVER_STORAGE_SQLITE_STATEMENT_H_
#define VERNIER_SERVER_STORAGE_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier {

// Maps an SQLite result code (primary or extended) to a Status whose message
// is "<what>: <SQLite's text for rc> (SQLite code <rc>)":
//   BUSY, LOCKED                          -> UNAVAILABLE (retry later)
//   CONSTRAINT_PRIMARYKEY, _UNIQUE        -> ALREADY_EXISTS
//   CONSTRAINT_FOREIGNKEY                 -> NOT_FOUND (missing parent row)
//   FULL                                  -> RESOURCE_EXHAUSTED
//   NOTADB, CANTOPEN, READONLY, PERM      -> FAILED_PRECONDITION (fix the file)
//   CORRUPT                               -> DATA_LOSS
//   anything else                         -> INTERNAL
// REQUIRES: rc is an error code (not OK, ROW or DONE).
absl::Status SqliteError(int rc, absl::string_view what);

// A compiled statement, prepared once and reused. Move-only; finalizes the
// statement on destruction.
class SqliteStatement {
 public:
  // Compiles the single statement `sql` on `db` (borrowed; must outlive the
  // statement). INTERNAL when it does not compile, which is a bug in our SQL;
  // FAILED_PRECONDITION / DATA_LOSS / UNAVAILABLE when the file is the
  // problem (see SqliteError).
  // `what` describes the statement in error messages.
  static absl::StatusOr<SqliteStatement> Prepare(sqlite3* db, absl::string_view sql,
                                                 absl::string_view what = "preparing a statement");

  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Bind the 1-based parameter `index`. Text is copied. A failure is kept and
  // returned by the next Step() or Run().
  void BindInt64(int index, int64_t value);
  void BindText(int index, absl::string_view value);
  void BindBlob(int index, absl::string_view bytes);

  // Runs the statement one step. Returns true when a row is ready to read,
  // false when the statement has finished, or SqliteError(rc, what).
  absl::StatusOr<bool> Step(absl::string_view what);

  // Runs a statement that returns no rows to completion, then resets it.
  // Returns SqliteError(rc, what) on failure (the statement is reset too).
  absl::Status Run(absl::string_view what);

  // Columns of the current row (0-based). REQUIRES: the last Step() returned
  // true. A text view is valid until the next Step() or Reset(); NULL reads
  // as empty text or 0.
  int64_t ColumnInt64(int column) const;
  absl::string_view ColumnText(int column) const;
  absl::string_view ColumnBlob(int column) const;

  // Makes the statement ready for its next use: resets it and clears its
  // bindings.
  void Reset();

 private:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  sqlite3_stmt* stmt_;  // Owned.
  int bind_error_ = 0;  // First bind failure since the last Reset(), or 0.
};

// Resets a statement when the scope ends, whichever way it ends, so a cached
// statement never stays half-run (holding a read lock) after an early return.
class ScopedStatementReset {
 public:
  explicit ScopedStatementReset(SqliteStatement& statement) : statement_(statement) {}
  ScopedStatementReset(const ScopedStatementReset&) = delete;
  ScopedStatementReset& operator=(const ScopedStatementReset&) = delete;
  ~ScopedStatementReset() { statement_.Reset(); }

 private:
  SqliteStatement& statement_;
};

// One-shot helpers for set-up code (opening, migrations).
// ExecSql runs `sql`, which may hold several statements; the others run one
// statement and read the first column of its first row. Errors as
// SqliteError(rc, what); QueryInt64 / QueryText return INTERNAL when the
// statement yields no row.
absl::Status ExecSql(sqlite3* db, const char* sql, absl::string_view what);
absl::StatusOr<int64_t> QueryInt64(sqlite3* db, absl::string_view sql, absl::string_view what);
absl::StatusOr<std::string> QueryText(sqlite3* db, absl::string_view sql, absl::string_view what);

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_SQLITE_STATEMENT_H_
