// SqliteStudyStore: the durable StudyStore, one SQLite file in WAL mode.
//
// Every Apply() is one SQL transaction, committed (and, with the default
// Sync::kFull, synced to disk) before the call returns, so an acknowledged
// change survives kill -9 of the process and, with kFull, an OS crash or power
// loss. The file carries a schema version (PRAGMA user_version) and is
// migrated forward when opened (sqlite_schema.h), and so is every stored
// study spec (server/schema/stored_spec.h). Statements are compiled once at
// Open() and reused.
//
// Several stores (or processes) may open the same file: SQLite's locking
// keeps it consistent, and a write that waits for another connection longer
// than Options::busy_timeout fails with UNAVAILABLE and changes nothing. The
// coordinator is still meant to be the file's only writer: two coordinators
// would hand out the same trial numbers. Options::exclusive_lock enforces
// that.
//
// Error messages never contain SQL; Open()'s name the file, the others do not.
//
// Thread-safety: thread-safe. One connection, used under an internal mutex, so
// calls run one at a time.
#ifndef VERNIER_SERVER_STORAGE_SQLITE_STUDY_STORE_H_
#define VERNIER_SERVER_STORAGE_SQLITE_STUDY_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/logic/types.h"
#include "server/storage/study_store.h"

struct sqlite3;

namespace vernier {

class SqliteStatement;

// Told how long the store's disk work takes, for metrics (vernier-server's
// Prometheus histograms). Called on the writing thread, with the store's
// write lock held for Committed: implementations must be quick, thread-safe
// and must not call the store.
class SqliteStudyStoreObserver {
 public:
  virtual ~SqliteStudyStoreObserver() = default;
  // One write transaction (Apply) committed, BEGIN to COMMIT, in `elapsed`
  // (a wait for another connection's lock included). Without group commit
  // and with Sync::kFull this includes the fsync.
  virtual void Committed(absl::Duration elapsed) = 0;
  // One group-commit WAL fsync (WaitDurable) took `elapsed`; every write
  // waiting for it shared it.
  virtual void Synced(absl::Duration elapsed) = 0;
};

struct SqliteStudyStoreOptions {
  enum class Sync {
    // PRAGMA synchronous=FULL: each commit is fsync'ed before the call
    // returns. Survives process crashes, OS crashes and power loss.
    kFull,
    // PRAGMA synchronous=NORMAL: commits are synced at checkpoints only.
    // Survives process crashes (kill -9); an OS crash or power loss may lose
    // the last commits, never corrupting the file. Several times faster.
    kNormal,
  };
  Sync sync = Sync::kFull;

  // How long a call waits for a lock held by another connection before it
  // fails with UNAVAILABLE. Rounded down to milliseconds.
  absl::Duration busy_timeout = absl::Seconds(5);

  // When true the store holds the file locked for its whole life (SQLite's
  // EXCLUSIVE locking mode), so no other store, server or sqlite3 shell can
  // read or write it meanwhile: their Open() fails with UNAVAILABLE after
  // busy_timeout. Guards against two coordinators on one file.
  bool exclusive_lock = false;

  // Group commit. When true, with Sync::kFull, a write returns once committed
  // to the WAL (as kNormal: survives kill -9) but not yet synced, and
  // WaitDurable() syncs the WAL once for every write made before it: callers
  // that wait at the same time share one fsync, and writes go on while it
  // runs. Those WAL syncs plus SQLite's own at checkpoints make the same
  // guarantee as kFull (power loss included) for every write made before
  // WaitDurable() returned. Without it WaitDurable() is a no-op (kFull syncs
  // each write; kNormal never promises more). vernier-server turns it on.
  bool group_commit = false;

  // Borrowed; must outlive the store. Null: no one is told.
  SqliteStudyStoreObserver* observer = nullptr;
};

class SqliteStudyStore : public StudyStore {
 public:
  using Options = SqliteStudyStoreOptions;

  // Opens (creating it if missing) the study database at `path`, or the
  // private in-memory database ":memory:", and migrates its schema to
  // SchemaVersion(). Returns, with the path in the message:
  //   FAILED_PRECONDITION  the file is not an SQLite database, is another
  //                        program's database, has a newer schema version
  //                        than this build knows (both versions named),
  //                        cannot be opened or created (missing directory,
  //                        permissions), or cannot use WAL;
  //   UNAVAILABLE          another connection holds it locked (busy_timeout);
  //   DATA_LOSS            the file is corrupt, or a stored study spec
  //                        cannot be read at all (the study is named);
  //   INTERNAL             anything else, e.g. a failed migration (rolled
  //                        back: the file is left at its old version).
  static absl::StatusOr<std::unique_ptr<SqliteStudyStore>> Open(const std::string& path,
                                                                Options options = {});

  // The schema version this build writes into PRAGMA user_version.
  static int64_t SchemaVersion();

  SqliteStudyStore(const SqliteStudyStore&) = delete;
  SqliteStudyStore& operator=(const SqliteStudyStore&) = delete;
  // Closes the database (checkpointing the WAL if it is the last connection).
  ~SqliteStudyStore() override;

  // StudyStore. Beyond the interface's codes, each call may return:
  //   INVALID_ARGUMENT  a write that ValidateWrite (record_codec.h) refuses;
  //   UNAVAILABLE       another connection held the file longer than
  //                     busy_timeout; nothing was written, retry later;
  //   RESOURCE_EXHAUSTED the disk is full; nothing was written;
  //   DATA_LOSS         (LoadAll) a stored row cannot be decoded or the file
  //                     is corrupt; the message names the study and trial;
  //   INTERNAL          any other SQLite failure.
  absl::Status Apply(const StudyWrite& write) override;
  // Reads everything in one read transaction (a consistent snapshot) with
  // three queries, whatever the number of trials.
  absl::StatusOr<std::vector<StoredStudy>> LoadAll() override;
  absl::StatusOr<std::vector<StoredStudy>> LoadAll(const ValuesFilter& wants_values) override;
  absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> LoadValues(absl::string_view study,
                                                                         int64_t first,
                                                                         int64_t last) override;
  // The same three queries, for one study.
  absl::StatusOr<StoredStudy> LoadStudy(absl::string_view name) override;
  absl::StatusOr<StoredStudy> LoadStudyLastValues(absl::string_view name) override;
  absl::Status SetRestingSummary(absl::string_view name,
                                 const std::optional<std::string>& summary) override;
  absl::StatusOr<int64_t> DeleteStudy(absl::string_view name) override;
  // With VACUUM INTO, on this connection: safe while the store is in use,
  // even with exclusive_lock; other calls wait for it. The copy is synced to
  // disk before the call returns. Beyond the interface's codes:
  // RESOURCE_EXHAUSTED (disk full; a partial file may be left),
  // FAILED_PRECONDITION (the file cannot be created), INTERNAL.
  absl::StatusOr<int64_t> Backup(const std::string& path) override;

  // Moves every change from the WAL into the database file and truncates the
  // WAL to zero bytes (PRAGMA wal_checkpoint(TRUNCATE)). For a clean stop.
  // UNAVAILABLE when another connection keeps the checkpoint from finishing;
  // INTERNAL for other SQLite failures.
  absl::Status Checkpoint();

  // StudyStore. With group_commit and kFull: the caller whose write is not
  // yet durable and finds no sync running syncs the WAL for everyone (the
  // store's mutex is not held during the fsync, so writes continue); the
  // others wait for that sync, then return or start the next one. A failed
  // fsync aborts the process: the kernel may have dropped the unwritten pages,
  // so nothing written since the last good sync may be acknowledged, and a
  // restart reloads what the disk holds (as PostgreSQL panics on fsync
  // failure).
  void WaitDurable() override;

  // WAL fsyncs made by WaitDurable() so far; for tests and measurements.
  int64_t DurableSyncs();

 private:
  struct Statements;  // The compiled statements; defined in the .cc file.

  SqliteStudyStore(sqlite3* db, std::unique_ptr<Statements> statements, std::string sync_wal_path,
                   SqliteStudyStoreObserver* observer);

  // Counts one write that returned OK, for WaitDurable().
  void Written() { written_.fetch_add(1, std::memory_order_release); }

  // LoadAll(*wants_values), or with every value when it is null (one scan).
  absl::StatusOr<std::vector<StoredStudy>> LoadAllLocked(const ValuesFilter* wants_values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One study with its trials, and their values as `select_values` (one of
  // the statements) gives them.
  absl::StatusOr<StoredStudy> LoadStudyLocked(absl::string_view name,
                                              SqliteStatement& select_values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The statements of Apply(), inside its transaction.
  absl::Status ApplyLocked(const StudyWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutTrialLocked(const TrialRecord& trial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddMeasurementLocked(absl::string_view study, int64_t trial_number,
                                    const Measurement& measurement)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  // Owned; closed by the destructor. Constant after construction; used only
  // under mu_ (an SQLite connection is not shared between threads here).
  sqlite3* const db_;
  std::unique_ptr<Statements> statements_ ABSL_PT_GUARDED_BY(mu_);

  SqliteStudyStoreObserver* const observer_;  // May be null. Constant.

  // Group commit. The WAL file that WaitDurable() syncs; empty when it syncs
  // nothing (no group_commit, kNormal, or an in-memory database).
  const std::string sync_wal_path_;
  // Writes that returned OK so far: tickets 1, 2, ... in the order they
  // reached SQLite. Incremented after each write, under mu_.
  std::atomic<uint64_t> written_{0};
  // Lock order: sync_mu_ is never taken while mu_ is held.
  absl::Mutex sync_mu_;
  absl::CondVar sync_done_;
  uint64_t durable_ ABSL_GUARDED_BY(sync_mu_) = 0;  // Writes 1..durable_ are synced.
  bool syncing_ ABSL_GUARDED_BY(sync_mu_) = false;  // A caller is in fsync.
  int wal_fd_ ABSL_GUARDED_BY(sync_mu_) = -1;       // Opened at the first sync.
  int64_t syncs_ ABSL_GUARDED_BY(sync_mu_) = 0;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_SQLITE_STUDY_STORE_H_
