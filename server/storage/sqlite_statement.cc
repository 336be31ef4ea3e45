#include "server/storage/sqlite_statement.h"

#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

absl::StatusCode CodeFor(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return absl::StatusCode::kAlreadyExists;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return absl::StatusCode::kNotFound;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
      return absl::StatusCode::kDataLoss;
    default:
      return absl::StatusCode::kInternal;
  }
}

// Runs `sql` (one statement) and hands its first row to `read`.
template <typename Read>
auto QueryFirstRow(sqlite3* db, absl::string_view sql, absl::string_view what, Read read)
    -> absl::StatusOr<decltype(read(std::declval<const SqliteStatement&>()))> {
  absl::StatusOr<SqliteStatement> statement = SqliteStatement::Prepare(db, sql, what);
  if (!statement.ok()) return statement.status();
  absl::StatusOr<bool> has_row = statement->Step(what);
  if (!has_row.ok()) return has_row.status();
  if (!*has_row) return absl::InternalError(absl::StrCat(what, ": no result"));
  return read(*statement);
}

}  // namespace

absl::Status SqliteError(int rc, absl::string_view what) {
  return absl::Status(CodeFor(rc),
                      absl::StrCat(what, ": ", sqlite3_errstr(rc), " (SQLite code ", rc, ")"));
}

absl::StatusOr<SqliteStatement> SqliteStatement::Prepare(sqlite3* db, absl::string_view sql,
                                                         absl::string_view what) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(rc, what);
  }
  if (stmt == nullptr || tail != sql.data() + sql.size()) {
    // Empty text, or more than one statement: a bug in our SQL.
    sqlite3_finalize(stmt);
    return absl::InternalError(absl::StrCat(what, ": not exactly one statement"));
  }
  return SqliteStatement(stmt);
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), bind_error_(other.bind_error_) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = other.bind_error_;
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::BindInt64(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void SqliteStatement::BindText(int index, absl::string_view value) {
  if (value.size() > static_cast<size_t>(INT_MAX)) {
    if (bind_error_ == 0) bind_error_ = SQLITE_TOOBIG;
    return;
  }
  const int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

absl::StatusOr<bool> SqliteStatement::Step(absl::string_view what) {
  if (bind_error_ != 0) return SqliteError(bind_error_, what);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, what);
}

absl::Status SqliteStatement::Run(absl::string_view what) {
  ScopedStatementReset reset(*this);
  absl::StatusOr<bool> has_row = Step(what);
  if (!has_row.ok()) return has_row.status();
  if (*has_row) return absl::InternalError(absl::StrCat(what, ": unexpected result row"));
  return absl::OkStatus();
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

void SqliteStatement::BindBlob(int index, absl::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    if (bind_error_ == 0) bind_error_ = SQLITE_TOOBIG;
    return;
  }
  // A zero-length blob, not NULL, for empty bytes (data() may be null).
  const int rc = sqlite3_bind_blob(stmt_, index, bytes.empty() ? "" : bytes.data(),
                                   static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

absl::string_view SqliteStatement::ColumnBlob(int column) const {
  const void* bytes = sqlite3_column_blob(stmt_, column);
  if (bytes == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(bytes),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

absl::string_view SqliteStatement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return absl::string_view();
  return absl::string_view(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
}

absl::Status ExecSql(sqlite3* db, const char* sql, absl::string_view what) {
  const int rc = sqlite3_exec(db, sql, /*callback=*/nullptr, /*arg=*/nullptr, /*errmsg=*/nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, what);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> QueryInt64(sqlite3* db, absl::string_view sql, absl::string_view what) {
  return QueryFirstRow(db, sql, what,
                       [](const SqliteStatement& row) { return row.ColumnInt64(0); });
}

absl::StatusOr<std::string> QueryText(sqlite3* db, absl::string_view sql, absl::string_view what) {
  return QueryFirstRow(db, sql, what,
                       [](const SqliteStatement& row) { return std::string(row.ColumnText(0)); });
}

}  // namespace vernier
