// The schema of a Vernier study database and how a file is brought up to it.
//
// The schema version lives in `PRAGMA user_version`. kVernierMigrations()[i]
// moves a database from version i to version i + 1; a fresh file is version 0.
// Migrations are append-only: once released, an entry is never edited, and a
// schema change is a new entry. MigrateSchema applies the missing ones in
// order, all in one transaction. Files are marked as Vernier's with
// `PRAGMA application_id` so that other SQLite files are refused rather than
// altered.
//
// Thread-safety: MigrateSchema uses the connection it is given; the caller
// serialises use of that connection. Other connections are kept out by the
// transaction (BEGIN IMMEDIATE).
#ifndef VERNIER_SERVER_STORAGE_SQLITE_SCHEMA_H_
#define VERNIER_SERVER_STORAGE_SQLITE_SCHEMA_H_

#include <sqlite3.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace vernier {

// `PRAGMA application_id` of a Vernier study database: "VRNR" in ASCII.
inline constexpr int64_t kVernierApplicationId = 0x56524E52;

// The forward migrations of the study database, oldest first.
absl::Span<const char* const> VernierMigrations();

// The schema version this build writes: VernierMigrations().size().
int64_t VernierSchemaVersion();

// Brings the database on `db` to version migrations.size() by applying, in one
// BEGIN IMMEDIATE transaction, the migrations it lacks; a database already at
// that version is left as it is. Returns:
//   FAILED_PRECONDITION  the database is newer than `migrations` knows (the
//                        message gives both versions), carries another
//                        application's id, or has tables but version 0 (some
//                        other program's database); nothing is changed;
//   UNAVAILABLE          another connection holds the database locked;
//   INTERNAL             a migration failed; everything is rolled back;
//   other codes          per SqliteError (e.g. the file is not a database).
// Messages do not name the file; the caller adds that.
absl::Status MigrateSchema(sqlite3* db, absl::Span<const char* const> migrations);

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_SQLITE_SCHEMA_H_
