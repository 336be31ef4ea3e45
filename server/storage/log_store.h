// LogStore: the output (stdout and stderr) of each attempt of each trial, as
// its worker ships it, kept as plain files beside the database so that a
// trial's log outlives the worker that ran it:
//
//   <root>/study-<name>/trial-<number>/attempt-<attempt>.log
//
// Offsets are positions in the attempt's whole log as the worker wrote it
// (its trial.log), from 0. A store keeps only the last `max_bytes` bytes of
// each attempt's log: older bytes are "cut", and a reader is told where the
// kept part starts, so offsets stay the same whatever was cut. Each file opens
// with a fixed-size header line holding the offset of its first byte; the
// file is compacted (rewritten into a temporary file, then renamed into
// place) once it holds a quarter more than `max_bytes`, so appends stay
// cheap and a reader never sees a half-written file.
//
// Appends are idempotent: data at offsets the store already has is skipped,
// so a worker that did not hear the answer simply sends again. Data that
// would leave a gap is refused (nothing is written) and the answer says
// where the log ends, so the worker resends from there.
//
// Appends are not fsynced: logs are for people, a sync per append would cost
// every trial, and what a crash of the machine loses is the tail that the
// worker (still holding the file) sends again when it hears the new end.
//
// Thread-safety: thread-safe. Appends are serialised; reads run in parallel
// with them and see a whole append or none of it.
#ifndef VERNIER_SERVER_STORAGE_LOG_STORE_H_
#define VERNIER_SERVER_STORAGE_LOG_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vernier {

// The default of LogStore::Open's max_bytes (vernier-server --max-log-bytes).
inline constexpr int64_t kDefaultMaxLogBytes = int64_t{4} << 20;
// The most one append may carry.
inline constexpr size_t kMaxLogAppendBytes = 1 << 20;

// One attempt of one trial.
struct LogKey {
  std::string study;
  int64_t trial = 0;
  int32_t attempt = 0;

  friend bool operator<(const LogKey& a, const LogKey& b) {
    return std::tie(a.study, a.trial, a.attempt) < std::tie(b.study, b.trial, b.attempt);
  }
};

// A piece of a stored log.
struct LogSlice {
  // The offset of data[0] in the attempt's log.
  int64_t offset = 0;
  std::string data;
  // The first offset the store still holds: the bytes before it were cut.
  int64_t first_kept = 0;
  // The log's end: how many bytes of it the store has received.
  int64_t end = 0;
};

class LogStore {
 public:
  // Uses (and creates) the directory `root`, keeping at most `max_bytes` of
  // each attempt's log. INVALID_ARGUMENT when max_bytes < 1; INTERNAL when
  // the directory cannot be created.
  static absl::StatusOr<std::unique_ptr<LogStore>> Open(const std::string& root,
                                                        int64_t max_bytes = kDefaultMaxLogBytes);

  // Stores `data` as the bytes of `key`'s log from `offset` on, and returns
  // the log's end afterwards. Bytes before the end are already stored and
  // skipped; when `offset` is past the end nothing is stored (the caller
  // sends again from the returned end). A partial write (a full disk) keeps
  // what was written and returns INTERNAL. INVALID_ARGUMENT for a negative
  // trial, attempt or offset, or data over kMaxLogAppendBytes; DATA_LOSS
  // when the stored file is damaged.
  absl::StatusOr<int64_t> Append(const LogKey& key, int64_t offset, absl::string_view data)
      ABSL_LOCKS_EXCLUDED(mu_);

  // At most `max_bytes` of `key`'s log from `offset`, or from first_kept when
  // `offset` is before it (the slice's offset says where it starts). A log
  // never written reads as empty, at offset 0 with end 0; an offset at or
  // past the end gives no data. INVALID_ARGUMENT for a negative offset;
  // DATA_LOSS when the stored file is damaged; INTERNAL when it cannot be
  // read.
  absl::StatusOr<LogSlice> Read(const LogKey& key, int64_t offset, size_t max_bytes) const;

  // Blocks until an append through this store takes `key`'s log past `end`,
  // or `timeout` passes. Returns whether it did.
  bool WaitForAppend(const LogKey& key, int64_t end, absl::Duration timeout) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Removes every log of `study`; OK when it has none. INTERNAL naming the
  // directory when the file system refuses.
  absl::Status DeleteStudy(const std::string& study) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t max_bytes() const { return max_bytes_; }
  const std::string& root() const { return root_; }

 private:
  LogStore(std::string root, int64_t max_bytes) : root_(std::move(root)), max_bytes_(max_bytes) {}
  std::string PathOf(const LogKey& key) const;
  // Rewrites the file at `path`, whose log ends at `end`, to hold only its
  // last max_bytes_ bytes.
  absl::Status Compact(const std::string& path, int64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string root_;
  const int64_t max_bytes_;

  mutable absl::Mutex mu_;
  // The end of every log appended to since Open, for WaitForAppend.
  std::map<LogKey, int64_t> ends_ ABSL_GUARDED_BY(mu_);
  uint64_t next_temp_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_LOG_STORE_H_
