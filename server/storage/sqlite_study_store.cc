#include "server/storage/sqlite_study_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/schema/stored_spec.h"
#include "server/storage/record_codec.h"
#include "server/storage/sqlite_schema.h"
#include "server/storage/sqlite_statement.h"

namespace vernier {

// Every statement the store runs after Open(), compiled once.
struct SqliteStudyStore::Statements {
  static absl::StatusOr<std::unique_ptr<Statements>> Prepare(sqlite3* db);

  SqliteStatement begin_read;
  SqliteStatement begin_write;
  SqliteStatement commit;
  SqliteStatement rollback;
  SqliteStatement insert_study;
  SqliteStatement update_study_state;
  SqliteStatement update_study_spec;
  SqliteStatement upsert_trial;
  SqliteStatement upsert_measurement;
  SqliteStatement delete_study_measurements;
  SqliteStatement delete_study_trials;
  SqliteStatement delete_study;
  SqliteStatement select_studies;
  SqliteStatement select_trials;
  SqliteStatement select_measurements;
  // The same, for one study (?1).
  SqliteStatement select_study;
  SqliteStatement select_study_trials;
  SqliteStatement select_study_measurements;
  // The measurements of a range of one study's trials (?1, ?2 to ?3).
  SqliteStatement select_value_range;
  SqliteStatement select_last_values;  // Of one study (?1).
  SqliteStatement update_resting_summary;
};

namespace {

using Options = SqliteStudyStoreOptions;

// Disk work is timed on the steady clock: how long it took, whatever the
// wall clock did meanwhile.
absl::Duration SinceSteady(std::chrono::steady_clock::time_point start) {
  return absl::FromChrono(std::chrono::steady_clock::now() - start);
}

// Apply() runs the statements of one StudyWrite in one BEGIN IMMEDIATE
// transaction: SQLite takes the write lock at BEGIN (waiting up to
// busy_timeout) and the write is all or nothing.
constexpr char kInsertStudy[] = R"sql(
INSERT INTO studies (name, spec, state, state_reason, create_time_us, spec_version, spec_proto)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql";

constexpr char kUpdateStudyState[] = R"sql(
UPDATE studies SET state = ?2, state_reason = ?3 WHERE name = ?1)sql";

constexpr char kUpdateStudySpec[] = R"sql(
UPDATE studies SET spec_version = ?2, spec_proto = ?3 WHERE name = ?1)sql";

// An upsert updates the row in place. INSERT OR REPLACE would delete and
// re-insert it, which is only harmless while no foreign key ever cascades
// from trials to measurements.
constexpr char kUpsertTrial[] = R"sql(
INSERT INTO trials (study, number, params, state, final_metrics, failure_reason, worker_id,
                    attempt, retries, start_time_us, end_time_us, origin, exploits, excluded,
                    exclusion_reason)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
ON CONFLICT (study, number) DO UPDATE SET
  params = excluded.params, state = excluded.state, final_metrics = excluded.final_metrics,
  failure_reason = excluded.failure_reason, worker_id = excluded.worker_id,
  attempt = excluded.attempt, retries = excluded.retries,
  start_time_us = excluded.start_time_us, end_time_us = excluded.end_time_us,
  origin = excluded.origin, exploits = excluded.exploits, excluded = excluded.excluded,
  exclusion_reason = excluded.exclusion_reason)sql";

constexpr char kUpsertMeasurement[] = R"sql(
INSERT INTO measurements (study, number, step, metrics) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (study, number, step) DO UPDATE SET metrics = excluded.metrics)sql";

// Deleting a study: its measurements, its trials, then the study (the
// foreign keys point that way), in one transaction.
constexpr char kDeleteStudyMeasurements[] = R"sql(
DELETE FROM measurements WHERE study = ?1)sql";
constexpr char kDeleteStudyTrials[] = R"sql(
DELETE FROM trials WHERE study = ?1)sql";
constexpr char kDeleteStudy[] = R"sql(
DELETE FROM studies WHERE name = ?1)sql";

constexpr char kSelectStudies[] = R"sql(
SELECT name, spec, state, state_reason, create_time_us, spec_version, spec_proto, resting_summary
FROM studies ORDER BY id)sql";

// Both orders follow the tables' primary keys: scans, no sorting.
constexpr char kSelectTrials[] = R"sql(
SELECT study, number, params, state, final_metrics, failure_reason, worker_id, attempt, retries,
       start_time_us, end_time_us, origin, exploits, excluded, exclusion_reason
FROM trials ORDER BY study, number)sql";

constexpr char kSelectMeasurements[] = R"sql(
SELECT study, number, step, metrics FROM measurements ORDER BY study, number, step)sql";

constexpr char kSelectStudy[] = R"sql(
SELECT name, spec, state, state_reason, create_time_us, spec_version, spec_proto, resting_summary
FROM studies WHERE name = ?1)sql";

// ?2 unbound (NULL) removes the summary.
constexpr char kUpdateRestingSummary[] = R"sql(
UPDATE studies SET resting_summary = ?2 WHERE name = ?1)sql";

constexpr char kSelectStudyTrials[] = R"sql(
SELECT study, number, params, state, final_metrics, failure_reason, worker_id, attempt, retries,
       start_time_us, end_time_us, origin, exploits, excluded, exclusion_reason
FROM trials WHERE study = ?1 ORDER BY number)sql";

// The last measurement of each trial of one study (?1).
constexpr char kSelectLastValues[] = R"sql(
SELECT m.study, m.number, m.step, m.metrics FROM measurements AS m
JOIN (SELECT number, max(step) AS step FROM measurements WHERE study = ?1 GROUP BY number) AS last
  ON m.number = last.number AND m.step = last.step
WHERE m.study = ?1 ORDER BY m.number)sql";

constexpr char kSelectValueRange[] = R"sql(
SELECT study, number, step, metrics FROM measurements
WHERE study = ?1 AND number BETWEEN ?2 AND ?3 ORDER BY number, step)sql";

constexpr char kSelectStudyMeasurements[] = R"sql(
SELECT study, number, step, metrics FROM measurements WHERE study = ?1 ORDER BY number, step)sql";

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

absl::Status NameFile(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("study database '", path, "': ", status.message()));
}

// Switches the database to WAL. This is the first access to the file: a file
// that is not a database fails here, before anything is written to it.
absl::Status EnableWal(sqlite3* db) {
  if (sqlite3_db_readonly(db, "main") == 1) {
    return absl::FailedPreconditionError("the file is read-only");
  }
  ASSIGN_OR_RETURN(const std::string mode,
                   QueryText(db, "PRAGMA journal_mode = WAL", "enabling WAL"));
  const char* file = sqlite3_db_filename(db, "main");
  const bool in_memory = file == nullptr || *file == '\0';
  if (mode != (in_memory ? "memory" : "wal")) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use WAL (journal mode stays '", mode, "')"));
  }
  return absl::OkStatus();
}

// Applies the connection settings that SQLite does not store in the file.
absl::Status Configure(sqlite3* db, const Options& options) {
  const int64_t busy_ms =
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options.busy_timeout), 0, INT_MAX);
  sqlite3_busy_timeout(db, static_cast<int>(busy_ms));
  if (options.exclusive_lock) {
    // Before WAL is enabled, so that SQLite keeps the WAL index in private
    // memory instead of a shared-memory file.
    RETURN_IF_ERROR(ExecSql(db, "PRAGMA locking_mode = EXCLUSIVE", "setting the locking mode"));
  }
  RETURN_IF_ERROR(EnableWal(db));
  RETURN_IF_ERROR(ExecSql(db,
                          options.sync == Options::Sync::kFull ? "PRAGMA synchronous = FULL"
                                                               : "PRAGMA synchronous = NORMAL",
                          "setting synchronous"));
  RETURN_IF_ERROR(ExecSql(db, "PRAGMA foreign_keys = ON", "enabling foreign keys"));
  ASSIGN_OR_RETURN(const int64_t foreign_keys,
                   QueryInt64(db, "PRAGMA foreign_keys", "checking foreign keys"));
  if (foreign_keys != 1) {
    return absl::FailedPreconditionError("this SQLite library does not enforce foreign keys");
  }
  return absl::OkStatus();
}

absl::StatusOr<DbHandle> OpenConnection(const std::string& path, const Options& options) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the store serialises every use of the connection itself.
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 /*zVfs=*/nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return SqliteError(rc, "opening");
  sqlite3_extended_result_codes(db.get(), 1);
  RETURN_IF_ERROR(Configure(db.get(), options));
  return db;
}

std::string TrialName(absl::string_view study, int64_t number) {
  return absl::StrCat("trial ", number, " of study '", study, "'");
}

absl::Status WithContext(absl::string_view context, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

absl::StatusOr<StudyRecord> StudyFromRow(const SqliteStatement& row) {
  StudyRecord study;
  study.name = std::string(row.ColumnText(0));
  study.source_text = std::string(row.ColumnText(1));
  const int64_t spec_version = row.ColumnInt64(5);
  absl::StatusOr<StudySpec> spec =
      DecodeStoredSpec(spec_version, spec_version == 0 ? row.ColumnText(1) : row.ColumnBlob(6));
  if (!spec.ok()) return WithContext(absl::StrCat("study '", study.name, "'"), spec.status());
  study.spec = *std::move(spec);
  const int64_t state = row.ColumnInt64(2);
  if (!IsKnownStudyState(state)) {
    return absl::DataLossError(
        absl::StrCat("study '", study.name, "' has the unknown state ", state));
  }
  study.state = static_cast<StudyState>(state);
  study.state_reason = std::string(row.ColumnText(3));
  study.create_time = MicrosToTime(row.ColumnInt64(4));
  return study;
}

absl::StatusOr<TrialRecord> TrialFromRow(const SqliteStatement& row) {
  TrialRecord trial;
  trial.study = std::string(row.ColumnText(0));
  trial.number = row.ColumnInt64(1);
  absl::StatusOr<ParamMap> params = ParamsFromJson(row.ColumnText(2));
  if (!params.ok()) return WithContext(TrialName(trial.study, trial.number), params.status());
  trial.params = *std::move(params);
  const int64_t state = row.ColumnInt64(3);
  if (!IsKnownTrialState(state)) {
    return absl::DataLossError(
        absl::StrCat(TrialName(trial.study, trial.number), " has the unknown state ", state));
  }
  trial.state = static_cast<TrialState>(state);
  absl::StatusOr<MetricMap> final_metrics = MetricsFromJson(row.ColumnText(4));
  if (!final_metrics.ok()) {
    return WithContext(TrialName(trial.study, trial.number), final_metrics.status());
  }
  trial.final_metrics = *std::move(final_metrics);
  trial.failure_reason = std::string(row.ColumnText(5));
  trial.worker_id = std::string(row.ColumnText(6));
  trial.attempt = static_cast<int32_t>(row.ColumnInt64(7));
  trial.retries = static_cast<int32_t>(row.ColumnInt64(8));
  trial.start_time = MicrosToTime(row.ColumnInt64(9));
  trial.end_time = MicrosToTime(row.ColumnInt64(10));
  trial.origin = std::string(row.ColumnText(11));
  absl::StatusOr<std::vector<ExploitRecord>> exploits = ExploitsFromJson(row.ColumnText(12));
  if (!exploits.ok()) return WithContext(TrialName(trial.study, trial.number), exploits.status());
  trial.exploits = *std::move(exploits);
  trial.excluded = row.ColumnInt64(13) != 0;
  trial.exclusion_reason = std::string(row.ColumnText(14));
  return trial;
}

// Study name -> index in the loaded studies.
using StudyIndex = absl::flat_hash_map<std::string, size_t>;

absl::StatusOr<std::vector<StoredStudy>> LoadStudies(SqliteStatement& select, StudyIndex& index) {
  ScopedStatementReset reset(select);
  std::vector<StoredStudy> studies;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step("loading studies"));
    if (!has_row) break;
    ASSIGN_OR_RETURN(StudyRecord study, StudyFromRow(select));
    index.emplace(study.name, studies.size());
    StoredStudy& stored = studies.emplace_back();
    stored.study = std::move(study);
    stored.resting_summary = std::string(select.ColumnText(7));
  }
  return studies;
}

// The loaded study called `name`, or nullptr.
StoredStudy* FindStudy(std::vector<StoredStudy>& studies, const StudyIndex& index,
                       absl::string_view name) {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &studies[it->second];
}

// Appends each stored trial to its study; rows come ordered by number.
absl::Status LoadTrials(SqliteStatement& select, const StudyIndex& index,
                        std::vector<StoredStudy>& studies) {
  ScopedStatementReset reset(select);
  StoredStudy* study = nullptr;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step("loading trials"));
    if (!has_row) break;
    const absl::string_view name = select.ColumnText(0);
    if (study == nullptr || study->study.name != name) study = FindStudy(studies, index, name);
    if (study == nullptr) {
      return absl::DataLossError(absl::StrCat("a trial of unknown study '", name, "'"));
    }
    ASSIGN_OR_RETURN(TrialRecord trial, TrialFromRow(select));
    study->trials.push_back(std::move(trial));
  }
  return absl::OkStatus();
}

// The loaded trial `number` of `study`, or nullptr.
TrialRecord* FindTrial(std::vector<StoredStudy>& studies, const StudyIndex& index,
                       absl::string_view study, int64_t number) {
  StoredStudy* stored = FindStudy(studies, index, study);
  if (stored == nullptr) return nullptr;
  std::vector<TrialRecord>& trials = stored->trials;
  auto it = std::lower_bound(trials.begin(), trials.end(), number,
                             [](const TrialRecord& t, int64_t n) { return t.number < n; });
  return it != trials.end() && it->number == number ? &*it : nullptr;
}

// Appends each stored measurement to its trial; rows come ordered by trial,
// then step, so consecutive rows mostly belong to the same trial.
absl::Status LoadMeasurements(SqliteStatement& select, const StudyIndex& index,
                              std::vector<StoredStudy>& studies) {
  ScopedStatementReset reset(select);
  TrialRecord* trial = nullptr;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step("loading measurements"));
    if (!has_row) break;
    const absl::string_view study = select.ColumnText(0);
    const int64_t number = select.ColumnInt64(1);
    if (trial == nullptr || trial->number != number || trial->study != study) {
      trial = FindTrial(studies, index, study, number);
    }
    if (trial == nullptr) {
      return absl::DataLossError(
          absl::StrCat("a measurement of unknown ", TrialName(study, number)));
    }
    absl::StatusOr<MetricMap> metrics = MetricsFromJson(select.ColumnText(3));
    if (!metrics.ok()) {
      return WithContext(absl::StrCat(TrialName(study, number), " step ", select.ColumnInt64(2)),
                         metrics.status());
    }
    trial->intermediate.push_back(Measurement{select.ColumnInt64(2), *std::move(metrics)});
  }
  return absl::OkStatus();
}

// A backup goes to a new file in an existing directory, named absolutely so
// that it does not depend on the server's working directory.
absl::Status CheckBackupPath(const std::string& path) {
  const std::filesystem::path file(path);
  if (!file.is_absolute() || !file.has_filename()) {
    return absl::InvalidArgumentError(
        absl::StrCat("path: \"", path, "\" is not an absolute file path"));
  }
  std::error_code error;
  if (!std::filesystem::is_directory(file.parent_path(), error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("path: the directory of \"", path, "\" does not exist"));
  }
  if (std::filesystem::exists(std::filesystem::symlink_status(file, error))) {
    return absl::AlreadyExistsError(
        absl::StrCat("path: \"", path, "\" already exists; a backup never overwrites"));
  }
  return absl::OkStatus();
}

// Flushes the file's contents to disk.
absl::Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError("cannot reopen the backup to sync it");
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return absl::InternalError("cannot sync the backup to disk");
  return absl::OkStatus();
}

// Rewrites every study whose spec is stored in an older encoding
// (stored_spec.h) in today's, in one transaction. A stored spec is migrated,
// never validated again: DATA_LOSS (naming the study) only when it cannot be
// read at all.
absl::Status UpgradeStoredSpecs(sqlite3* db) {
  RETURN_IF_ERROR(ExecSql(db, "BEGIN IMMEDIATE", "locking the database to upgrade specs"));
  absl::Cleanup rollback = [db] { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); };
  ASSIGN_OR_RETURN(SqliteStatement select,
                   SqliteStatement::Prepare(db,
                                            "SELECT name, spec_version, spec, spec_proto FROM "
                                            "studies WHERE spec_version < ?1",
                                            "preparing the spec upgrade"));
  ASSIGN_OR_RETURN(SqliteStatement update,
                   SqliteStatement::Prepare(db,
                                            "UPDATE studies SET spec_version = ?2, spec_proto = ?3 "
                                            "WHERE name = ?1",
                                            "preparing the spec upgrade"));
  select.BindInt64(1, kStoredSpecVersion);
  std::vector<std::pair<std::string, std::string>> upgraded;  // name, encoded spec.
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step("reading specs to upgrade"));
    if (!has_row) break;
    const int64_t version = select.ColumnInt64(1);
    absl::StatusOr<StudySpec> spec =
        DecodeStoredSpec(version, version == 0 ? select.ColumnText(2) : select.ColumnBlob(3));
    if (!spec.ok()) {
      return WithContext(absl::StrCat("study '", select.ColumnText(0), "'"), spec.status());
    }
    upgraded.emplace_back(std::string(select.ColumnText(0)), EncodeStoredSpec(*spec));
  }
  for (const auto& [name, encoded] : upgraded) {
    update.BindText(1, name);
    update.BindInt64(2, kStoredSpecVersion);
    update.BindBlob(3, encoded);
    RETURN_IF_ERROR(update.Run("upgrading a stored spec"));
  }
  RETURN_IF_ERROR(ExecSql(db, "COMMIT", "committing the spec upgrade"));
  std::move(rollback).Cancel();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStudyStore::Statements>> SqliteStudyStore::Statements::Prepare(
    sqlite3* db) {
  ASSIGN_OR_RETURN(SqliteStatement begin_read, SqliteStatement::Prepare(db, "BEGIN DEFERRED"));
  ASSIGN_OR_RETURN(SqliteStatement begin_write, SqliteStatement::Prepare(db, "BEGIN IMMEDIATE"));
  ASSIGN_OR_RETURN(SqliteStatement commit, SqliteStatement::Prepare(db, "COMMIT"));
  ASSIGN_OR_RETURN(SqliteStatement rollback, SqliteStatement::Prepare(db, "ROLLBACK"));
  ASSIGN_OR_RETURN(SqliteStatement insert_study, SqliteStatement::Prepare(db, kInsertStudy));
  ASSIGN_OR_RETURN(SqliteStatement update_study_state,
                   SqliteStatement::Prepare(db, kUpdateStudyState));
  ASSIGN_OR_RETURN(SqliteStatement update_study_spec,
                   SqliteStatement::Prepare(db, kUpdateStudySpec));
  ASSIGN_OR_RETURN(SqliteStatement upsert_trial, SqliteStatement::Prepare(db, kUpsertTrial));
  ASSIGN_OR_RETURN(SqliteStatement upsert_measurement,
                   SqliteStatement::Prepare(db, kUpsertMeasurement));
  ASSIGN_OR_RETURN(SqliteStatement delete_study_measurements,
                   SqliteStatement::Prepare(db, kDeleteStudyMeasurements));
  ASSIGN_OR_RETURN(SqliteStatement delete_study_trials,
                   SqliteStatement::Prepare(db, kDeleteStudyTrials));
  ASSIGN_OR_RETURN(SqliteStatement delete_study, SqliteStatement::Prepare(db, kDeleteStudy));
  ASSIGN_OR_RETURN(SqliteStatement select_studies, SqliteStatement::Prepare(db, kSelectStudies));
  ASSIGN_OR_RETURN(SqliteStatement select_trials, SqliteStatement::Prepare(db, kSelectTrials));
  ASSIGN_OR_RETURN(SqliteStatement select_measurements,
                   SqliteStatement::Prepare(db, kSelectMeasurements));
  ASSIGN_OR_RETURN(SqliteStatement select_study, SqliteStatement::Prepare(db, kSelectStudy));
  ASSIGN_OR_RETURN(SqliteStatement select_study_trials,
                   SqliteStatement::Prepare(db, kSelectStudyTrials));
  ASSIGN_OR_RETURN(SqliteStatement select_value_range,
                   SqliteStatement::Prepare(db, kSelectValueRange));
  ASSIGN_OR_RETURN(SqliteStatement select_last_values,
                   SqliteStatement::Prepare(db, kSelectLastValues));
  ASSIGN_OR_RETURN(SqliteStatement select_study_measurements,
                   SqliteStatement::Prepare(db, kSelectStudyMeasurements));
  ASSIGN_OR_RETURN(SqliteStatement update_resting_summary,
                   SqliteStatement::Prepare(db, kUpdateRestingSummary));
  return absl::WrapUnique(new Statements{std::move(begin_read),
                                         std::move(begin_write),
                                         std::move(commit),
                                         std::move(rollback),
                                         std::move(insert_study),
                                         std::move(update_study_state),
                                         std::move(update_study_spec),
                                         std::move(upsert_trial),
                                         std::move(upsert_measurement),
                                         std::move(delete_study_measurements),
                                         std::move(delete_study_trials),
                                         std::move(delete_study),
                                         std::move(select_studies),
                                         std::move(select_trials),
                                         std::move(select_measurements),
                                         std::move(select_study),
                                         std::move(select_study_trials),
                                         std::move(select_study_measurements),
                                         std::move(select_value_range),
                                         std::move(select_last_values),
                                         std::move(update_resting_summary)});
}

absl::StatusOr<std::unique_ptr<SqliteStudyStore>> SqliteStudyStore::Open(const std::string& path,
                                                                         Options options) {
  absl::StatusOr<DbHandle> db = OpenConnection(path, options);
  if (!db.ok()) return NameFile(path, db.status());
  const absl::Status migrated = MigrateSchema(db->get(), VernierMigrations());
  if (!migrated.ok()) return NameFile(path, migrated);
  const absl::Status upgraded = UpgradeStoredSpecs(db->get());
  if (!upgraded.ok()) return NameFile(path, upgraded);
  absl::StatusOr<std::unique_ptr<Statements>> statements = Statements::Prepare(db->get());
  if (!statements.ok()) return NameFile(path, statements.status());
  std::string sync_wal_path;
  if (options.group_commit) {
    // From here on commits reach the WAL unsynced; WaitDurable() syncs them.
    // (The migration above was still committed with the configured level.)
    const absl::Status normal =
        ExecSql(db->get(), "PRAGMA synchronous = NORMAL", "setting synchronous");
    if (!normal.ok()) return NameFile(path, normal);
    const char* file = sqlite3_db_filename(db->get(), "main");
    if (options.sync == Options::Sync::kFull && file != nullptr && *file != '\0') {
      sync_wal_path = sqlite3_filename_wal(file);
    }
  }
  return absl::WrapUnique(new SqliteStudyStore(db->release(), *std::move(statements),
                                               std::move(sync_wal_path), options.observer));
}

int64_t SqliteStudyStore::SchemaVersion() { return VernierSchemaVersion(); }

SqliteStudyStore::SqliteStudyStore(sqlite3* db, std::unique_ptr<Statements> statements,
                                   std::string sync_wal_path, SqliteStudyStoreObserver* observer)
    : db_(db),
      statements_(std::move(statements)),
      observer_(observer),
      sync_wal_path_(std::move(sync_wal_path)) {}

SqliteStudyStore::~SqliteStudyStore() {
  WaitDurable();
  {
    absl::MutexLock lock(&sync_mu_);
    if (wal_fd_ >= 0) ::close(wal_fd_);
  }
  absl::MutexLock lock(&mu_);
  statements_.reset();  // Statements must be finalized before the connection closes.
  sqlite3_close_v2(db_);
}

absl::Status SqliteStudyStore::Apply(const StudyWrite& write) {
  RETURN_IF_ERROR(ValidateWrite(write));
  absl::MutexLock lock(&mu_);
  const auto start = std::chrono::steady_clock::now();
  Statements& s = *statements_;
  RETURN_IF_ERROR(s.begin_write.Run("starting a write"));
  absl::Cleanup rollback = [&s] { s.rollback.Run("undoing a failed write").IgnoreError(); };
  RETURN_IF_ERROR(ApplyLocked(write));
  RETURN_IF_ERROR(s.commit.Run("committing a write"));
  std::move(rollback).Cancel();
  if (observer_ != nullptr) observer_->Committed(SinceSteady(start));
  Written();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStudyStore::DeleteStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  const auto start = std::chrono::steady_clock::now();
  Statements& s = *statements_;
  RETURN_IF_ERROR(s.begin_write.Run("starting a write"));
  absl::Cleanup rollback = [&s] { s.rollback.Run("undoing a failed delete").IgnoreError(); };
  s.delete_study_measurements.BindText(1, name);
  RETURN_IF_ERROR(s.delete_study_measurements.Run("deleting a study's measurements"));
  s.delete_study_trials.BindText(1, name);
  RETURN_IF_ERROR(s.delete_study_trials.Run("deleting a study's trials"));
  const auto trials = static_cast<int64_t>(sqlite3_changes(db_));
  s.delete_study.BindText(1, name);
  RETURN_IF_ERROR(s.delete_study.Run("deleting a study"));
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  }
  RETURN_IF_ERROR(s.commit.Run("committing a delete"));
  std::move(rollback).Cancel();
  if (observer_ != nullptr) observer_->Committed(SinceSteady(start));
  Written();
  return trials;
}

absl::Status SqliteStudyStore::ApplyLocked(const StudyWrite& write) {
  Statements& s = *statements_;
  if (write.create) {
    const StudyRecord& study = *write.create;
    SqliteStatement& insert = s.insert_study;
    insert.BindText(1, study.name);
    insert.BindText(2, study.source_text);
    insert.BindInt64(3, static_cast<int64_t>(study.state));
    insert.BindText(4, study.state_reason);
    insert.BindInt64(5, TimeToMicros(study.create_time));
    insert.BindInt64(6, kStoredSpecVersion);
    insert.BindBlob(7, EncodeStoredSpec(study.spec));
    const absl::Status status = insert.Run("creating a study");
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(absl::StrCat("study '", study.name, "' already exists"));
    }
    RETURN_IF_ERROR(status);
  }
  if (write.state) {
    SqliteStatement& update = s.update_study_state;
    update.BindText(1, write.study);
    update.BindInt64(2, static_cast<int64_t>(write.state->first));
    update.BindText(3, write.state->second);
    RETURN_IF_ERROR(update.Run("updating a study's state"));
    if (sqlite3_changes(db_) == 0) {
      return absl::NotFoundError(absl::StrCat("study '", write.study, "' not found"));
    }
  }
  if (write.spec) {
    SqliteStatement& update = s.update_study_spec;
    update.BindText(1, write.study);
    update.BindInt64(2, kStoredSpecVersion);
    update.BindBlob(3, EncodeStoredSpec(*write.spec));
    RETURN_IF_ERROR(update.Run("updating a study's spec"));
    if (sqlite3_changes(db_) == 0) {
      return absl::NotFoundError(absl::StrCat("study '", write.study, "' not found"));
    }
  }
  for (const TrialRecord& trial : write.trials) RETURN_IF_ERROR(PutTrialLocked(trial));
  for (const auto& [number, measurement] : write.measurements) {
    RETURN_IF_ERROR(AddMeasurementLocked(write.study, number, measurement));
  }
  return absl::OkStatus();
}

absl::Status SqliteStudyStore::PutTrialLocked(const TrialRecord& trial) {
  SqliteStatement& upsert = statements_->upsert_trial;
  upsert.BindText(1, trial.study);
  upsert.BindInt64(2, trial.number);
  upsert.BindText(3, ParamsToJson(trial.params));
  upsert.BindInt64(4, static_cast<int64_t>(trial.state));
  upsert.BindText(5, MetricsToJson(trial.final_metrics));
  upsert.BindText(6, trial.failure_reason);
  upsert.BindText(7, trial.worker_id);
  upsert.BindInt64(8, trial.attempt);
  upsert.BindInt64(9, trial.retries);
  upsert.BindInt64(10, TimeToMicros(trial.start_time));
  upsert.BindInt64(11, TimeToMicros(trial.end_time));
  upsert.BindText(12, trial.origin);
  upsert.BindText(13, ExploitsToJson(trial.exploits));
  upsert.BindInt64(14, trial.excluded ? 1 : 0);
  upsert.BindText(15, trial.exclusion_reason);
  const absl::Status status = upsert.Run("storing a trial");
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat("study '", trial.study, "' not found"));
  }
  return status;
}

absl::Status SqliteStudyStore::AddMeasurementLocked(absl::string_view study, int64_t trial_number,
                                                    const Measurement& measurement) {
  SqliteStatement& upsert = statements_->upsert_measurement;
  upsert.BindText(1, study);
  upsert.BindInt64(2, trial_number);
  upsert.BindInt64(3, measurement.step);
  upsert.BindText(4, MetricsToJson(measurement.metrics));
  const absl::Status status = upsert.Run("storing a measurement");
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat(TrialName(study, trial_number), " not found"));
  }
  return status;
}

absl::StatusOr<std::vector<StoredStudy>> SqliteStudyStore::LoadAll() {
  absl::MutexLock lock(&mu_);
  return LoadAllLocked(nullptr);
}

absl::StatusOr<std::vector<StoredStudy>> SqliteStudyStore::LoadAll(
    const ValuesFilter& wants_values) {
  absl::MutexLock lock(&mu_);
  return LoadAllLocked(&wants_values);
}

absl::StatusOr<std::vector<StoredStudy>> SqliteStudyStore::LoadAllLocked(
    const ValuesFilter* wants_values) {
  Statements& s = *statements_;
  // One read transaction, so the queries see the same snapshot.
  RETURN_IF_ERROR(s.begin_read.Run("starting to load"));
  absl::Cleanup rollback = [&s] { s.rollback.Run("ending a failed load").IgnoreError(); };
  StudyIndex index;
  ASSIGN_OR_RETURN(std::vector<StoredStudy> studies, LoadStudies(s.select_studies, index));
  if (wants_values == nullptr) {
    RETURN_IF_ERROR(LoadTrials(s.select_trials, index, studies));
    RETURN_IF_ERROR(LoadMeasurements(s.select_measurements, index, studies));
  } else {
    // Each study by its own range of the primary keys; a resting one not at
    // all.
    for (const StoredStudy& study : studies) {
      if (!study.resting_summary.empty()) continue;
      s.select_study_trials.BindText(1, study.study.name);
      RETURN_IF_ERROR(LoadTrials(s.select_study_trials, index, studies));
      SqliteStatement& select =
          (*wants_values)(study) ? s.select_study_measurements : s.select_last_values;
      select.BindText(1, study.study.name);
      RETURN_IF_ERROR(LoadMeasurements(select, index, studies));
    }
  }
  RETURN_IF_ERROR(s.commit.Run("finishing the load"));
  std::move(rollback).Cancel();
  return studies;
}

absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> SqliteStudyStore::LoadValues(
    absl::string_view study, int64_t first, int64_t last) {
  absl::MutexLock lock(&mu_);
  SqliteStatement& select = statements_->select_value_range;
  ScopedStatementReset reset(select);
  select.BindText(1, study);
  select.BindInt64(2, first);
  select.BindInt64(3, last);
  std::map<int64_t, std::vector<Measurement>> values;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step("loading intermediate values"));
    if (!has_row) break;
    const int64_t number = select.ColumnInt64(1);
    absl::StatusOr<MetricMap> metrics = MetricsFromJson(select.ColumnText(3));
    if (!metrics.ok()) {
      return WithContext(absl::StrCat(TrialName(study, number), " step ", select.ColumnInt64(2)),
                         metrics.status());
    }
    values[number].push_back(Measurement{select.ColumnInt64(2), *std::move(metrics)});
  }
  return values;
}

absl::StatusOr<StoredStudy> SqliteStudyStore::LoadStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  return LoadStudyLocked(name, statements_->select_study_measurements);
}

absl::StatusOr<StoredStudy> SqliteStudyStore::LoadStudyLastValues(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  return LoadStudyLocked(name, statements_->select_last_values);
}

absl::StatusOr<StoredStudy> SqliteStudyStore::LoadStudyLocked(absl::string_view name,
                                                              SqliteStatement& select_values) {
  Statements& s = *statements_;
  RETURN_IF_ERROR(s.begin_read.Run("starting to load"));
  absl::Cleanup rollback = [&s] { s.rollback.Run("ending a failed load").IgnoreError(); };
  StudyIndex index;
  s.select_study.BindText(1, name);
  ASSIGN_OR_RETURN(std::vector<StoredStudy> studies, LoadStudies(s.select_study, index));
  if (studies.empty()) return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  s.select_study_trials.BindText(1, name);
  RETURN_IF_ERROR(LoadTrials(s.select_study_trials, index, studies));
  select_values.BindText(1, name);
  RETURN_IF_ERROR(LoadMeasurements(select_values, index, studies));
  RETURN_IF_ERROR(s.commit.Run("finishing the load"));
  std::move(rollback).Cancel();
  return std::move(studies.front());
}

absl::Status SqliteStudyStore::SetRestingSummary(absl::string_view name,
                                                 const std::optional<std::string>& summary) {
  if (summary && summary->empty()) {
    return absl::InvalidArgumentError("a resting summary cannot be empty");
  }
  absl::MutexLock lock(&mu_);
  const auto start = std::chrono::steady_clock::now();
  SqliteStatement& update = statements_->update_resting_summary;
  update.BindText(1, name);
  if (summary) update.BindText(2, *summary);
  RETURN_IF_ERROR(update.Run("storing a study's resting summary"));
  if (sqlite3_changes(db_) == 0) {
    return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  }
  if (observer_ != nullptr) observer_->Committed(SinceSteady(start));
  Written();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStudyStore::Backup(const std::string& path) {
  RETURN_IF_ERROR(CheckBackupPath(path));
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(SqliteStatement vacuum,
                     SqliteStatement::Prepare(db_, "VACUUM INTO ?1", "preparing a backup"));
    vacuum.BindText(1, path);
    RETURN_IF_ERROR(vacuum.Run("backing up the database"));
  }
  RETURN_IF_ERROR(SyncFile(path));
  std::error_code error;
  const std::uintmax_t bytes = std::filesystem::file_size(path, error);
  if (error) return absl::InternalError("cannot read the size of the backup");
  return static_cast<int64_t>(bytes);
}

absl::Status SqliteStudyStore::Checkpoint() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      SqliteStatement checkpoint,
      SqliteStatement::Prepare(db_, "PRAGMA wal_checkpoint(TRUNCATE)", "preparing a checkpoint"));
  ASSIGN_OR_RETURN(bool has_row, checkpoint.Step("checkpointing the WAL"));
  // The row is (busy, WAL frames, frames checkpointed); busy = 1 means another
  // connection kept the checkpoint from finishing.
  if (has_row && checkpoint.ColumnInt64(0) != 0) {
    return absl::UnavailableError("checkpointing the WAL: the database is busy");
  }
  return absl::OkStatus();
}

// ---- Group commit ----

namespace {

// Ends the process: a write may have been lost between the page cache and
// the disk, so nothing may be acknowledged any more (see WaitDurable()).
[[noreturn]] void DieUnsynced(const std::string& wal_path, const char* what, int error) {
  std::fprintf(stderr,
               "vernier: FATAL: %s '%s' failed (%s); stopping so that no write that may be "
               "lost is acknowledged; a restart reloads the database\n",
               what, wal_path.c_str(), std::strerror(error));
  std::abort();
}

}  // namespace

void SqliteStudyStore::WaitDurable() {
  if (sync_wal_path_.empty()) return;
  const uint64_t target = written_.load(std::memory_order_acquire);
  absl::MutexLock lock(&sync_mu_);
  while (durable_ < target) {
    if (syncing_) {
      sync_done_.Wait(&sync_mu_);
      continue;
    }
    // Lead: one fsync covers every write counted so far (each finished its
    // write() calls into the WAL before it was counted).
    syncing_ = true;
    const uint64_t covered = written_.load(std::memory_order_acquire);
    if (wal_fd_ < 0) {
      // The WAL exists: a counted write committed into it, and this
      // connection keeps it until the store closes.
      wal_fd_ = ::open(sync_wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd_ < 0) DieUnsynced(sync_wal_path_, "opening the WAL", errno);
      // Its directory entry too, once, in case the WAL was just created.
      const std::string dir = std::filesystem::path(sync_wal_path_).parent_path().string();
      const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_CLOEXEC);
      if (dir_fd < 0 || ::fsync(dir_fd) != 0) DieUnsynced(dir, "syncing the directory of", errno);
      ::close(dir_fd);
    }
    const int fd = wal_fd_;
    sync_mu_.Unlock();
    const auto start = std::chrono::steady_clock::now();
    const int synced = ::fdatasync(fd);
    const int error = errno;
    if (synced == 0 && observer_ != nullptr) observer_->Synced(SinceSteady(start));
    sync_mu_.Lock();
    if (synced != 0) DieUnsynced(sync_wal_path_, "syncing the WAL", error);
    syncing_ = false;
    durable_ = std::max(durable_, covered);
    ++syncs_;
    sync_done_.SignalAll();
  }
}

int64_t SqliteStudyStore::DurableSyncs() {
  absl::MutexLock lock(&sync_mu_);
  return syncs_;
}

}  // namespace vernier
