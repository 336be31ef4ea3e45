#include "server/storage/sqlite_schema.h"

#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/storage/sqlite_statement.h"

namespace vernier {
namespace {

// Version 1: studies, trials and their measurements.
//  - studies.id orders studies by creation (AUTOINCREMENT never reuses one).
//  - trials and measurements are WITHOUT ROWID tables clustered on their keys,
//    so loading them in key order is a sequential scan without a sort.
//  - params / metrics are JSON text (record_codec.h); times are microseconds
//    since the Unix epoch; states are the numeric enum values of types.h.
//  - Enum ranges are checked in code, not with CHECK constraints, so that a
//    new state needs no table rebuild.
constexpr char kMigrationTo1[] = R"sql(
CREATE TABLE studies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  state INTEGER NOT NULL,
  state_reason TEXT NOT NULL,
  create_time_us INTEGER NOT NULL
);
CREATE TABLE trials (
  study TEXT NOT NULL REFERENCES studies (name),
  number INTEGER NOT NULL,
  params TEXT NOT NULL,
  state INTEGER NOT NULL,
  final_metrics TEXT NOT NULL,
  failure_reason TEXT NOT NULL,
  worker_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  retries INTEGER NOT NULL,
  start_time_us INTEGER NOT NULL,
  end_time_us INTEGER NOT NULL,
  PRIMARY KEY (study, number)
) WITHOUT ROWID;
CREATE TABLE measurements (
  study TEXT NOT NULL,
  number INTEGER NOT NULL,
  step INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (study, number, step),
  FOREIGN KEY (study, number) REFERENCES trials (study, number)
) WITHOUT ROWID;
PRAGMA application_id = 1448234578;
)sql";

// Version 2: trials.origin (TrialRecord::origin): where a trial came from
// (sampled, enqueued by a user, or copied by warm_start). Older trials were
// all sampled, hence the default.
constexpr char kMigrationTo2[] = R"sql(
ALTER TABLE trials ADD COLUMN origin TEXT NOT NULL DEFAULT '';
)sql";

// Version 3: the exploit records of population-based training (pbt), JSON
// (record_codec.h); "[]" for every trial of another study.
constexpr char kMigrationTo3[] = R"sql(
ALTER TABLE trials ADD COLUMN exploits TEXT NOT NULL DEFAULT '[]';
)sql";

// Version 4: a study's definition is stored typed (server/schema/stored_spec.h):
// spec_proto holds it in the encoding of spec_version. `spec` keeps the study
// file as submitted, for people (empty for a study created from a typed
// spec). Older rows are version 0 (the definition is the file in `spec`);
// SqliteStudyStore::Open rewrites them to the current version.
constexpr char kMigrationTo4[] = R"sql(
ALTER TABLE studies ADD COLUMN spec_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE studies ADD COLUMN spec_proto BLOB NOT NULL DEFAULT x'';
)sql";

// Version 5: trials a user excluded from what the study learns from
// (TrialRecord::excluded) and why. No trial was excluded before.
constexpr char kMigrationTo5[] = R"sql(
ALTER TABLE trials ADD COLUMN excluded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN exclusion_reason TEXT NOT NULL DEFAULT '';
)sql";

// Version 6: what the server wrote when it unloaded the trials of a study
// that is over (StudyStore::SetRestingSummary); NULL while it holds them.
constexpr char kMigrationTo6[] = R"sql(
ALTER TABLE studies ADD COLUMN resting_summary TEXT;
)sql";

constexpr const char* kMigrations[] = {kMigrationTo1, kMigrationTo2, kMigrationTo3,
                                       kMigrationTo4, kMigrationTo5, kMigrationTo6};

static_assert(kVernierApplicationId == 1448234578, "keep kMigrationTo1 in step");

// Checks that a database at schema `version` is Vernier's (or empty) and can be
// brought to version `latest`.
absl::Status CheckMigratable(sqlite3* db, int64_t version, int64_t latest) {
  ASSIGN_OR_RETURN(const int64_t application_id,
                   QueryInt64(db, "PRAGMA application_id", "reading the application id"));
  if (application_id != 0 && application_id != kVernierApplicationId) {
    return absl::FailedPreconditionError(absl::StrCat(
        "is an SQLite database of another application (application_id ", application_id, ")"));
  }
  if (version > latest) {
    return absl::FailedPreconditionError(
        absl::StrCat("has schema version ", version, ", newer than version ", latest,
                     ", the newest this build of Vernier knows; use a newer vernier-server"));
  }
  if (version == 0) {
    ASSIGN_OR_RETURN(const int64_t tables,
                     QueryInt64(db, "SELECT count(*) FROM sqlite_master", "reading the schema"));
    if (tables > 0) {
      return absl::FailedPreconditionError(
          "is an SQLite database with tables but no Vernier schema version; not a Vernier "
          "database");
    }
  }
  return absl::OkStatus();
}

// Applies migrations [from, migrations.size()) and records the new version.
absl::Status ApplyMigrations(sqlite3* db, int64_t from, absl::Span<const char* const> migrations) {
  for (size_t i = static_cast<size_t>(from); i < migrations.size(); ++i) {
    const absl::Status status = ExecSql(db, migrations[i], "migrating");
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("migration to schema version ", i + 1, " failed: ", status.message()));
    }
  }
  const std::string set_version = absl::StrCat("PRAGMA user_version = ", migrations.size());
  return ExecSql(db, set_version.c_str(), "recording the schema version");
}

}  // namespace

absl::Span<const char* const> VernierMigrations() { return kMigrations; }

int64_t VernierSchemaVersion() { return static_cast<int64_t>(VernierMigrations().size()); }

absl::Status MigrateSchema(sqlite3* db, absl::Span<const char* const> migrations) {
  RETURN_IF_ERROR(ExecSql(db, "BEGIN IMMEDIATE", "locking the database to check its schema"));
  absl::Cleanup rollback = [db] { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); };
  ASSIGN_OR_RETURN(const int64_t version,
                   QueryInt64(db, "PRAGMA user_version", "reading the schema version"));
  const auto latest = static_cast<int64_t>(migrations.size());
  RETURN_IF_ERROR(CheckMigratable(db, version, latest));
  if (version < latest) RETURN_IF_ERROR(ApplyMigrations(db, version, migrations));
  RETURN_IF_ERROR(ExecSql(db, "COMMIT", "committing the schema"));
  std::move(rollback).Cancel();
  return absl::OkStatus();
}

}  // namespace vernier
