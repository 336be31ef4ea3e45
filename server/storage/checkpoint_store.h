// CheckpointStore: the trial checkpoints that population-based training (pbt)
// moves between workers, and from which a retried trial resumes, kept as
// plain files beside the database:
//
//   <root>/study-<name>/trial-<number>/step-<step>/<file>...
//
// A checkpoint is written into a private temporary directory under
// <root>/tmp and renamed into place when complete, so a reader sees a whole
// checkpoint or none. Each trial keeps its latest kPbtCheckpointsKept
// checkpoints; storing one at step s also drops the trial's checkpoints at
// steps > s, which belong to a run it abandoned (a retry or an exploit that
// resumed from an earlier step).
//
// The files are not in SQLite on purpose: they are large, written once and
// read rarely, and losing them costs only a lost exploit (the trials
// themselves never depend on them).
//
// Thread-safety: thread-safe. Writers for different (study, trial, step)
// keys run in parallel; Commit() and the pruning it does are serialised.
#ifndef VERNIER_SERVER_STORAGE_CHECKPOINT_STORE_H_
#define VERNIER_SERVER_STORAGE_CHECKPOINT_STORE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/logic/pbt.h"

namespace vernier {

// Bounds on what a worker may upload.
inline constexpr size_t kMaxCheckpointChunkBytes = 1 << 20;
inline constexpr int64_t kMaxCheckpointBytes = int64_t{4} << 30;
inline constexpr size_t kMaxCheckpointFiles = 64;

// Whether `name` may name a checkpoint file: 1-128 of [A-Za-z0-9._-], not
// "." or "..".
bool IsValidCheckpointFileName(absl::string_view name);

class CheckpointStore {
 public:
  // One checkpoint being written. Destroying it without Commit() removes
  // what was written.
  class Writer {
   public:
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // Appends `data` to `file` (created on first use). Files are written one
    // after another: going back to an earlier file is INVALID_ARGUMENT, as
    // are a bad name, a chunk over kMaxCheckpointChunkBytes, more than
    // kMaxCheckpointFiles files or kMaxCheckpointBytes in all. INTERNAL when
    // the disk refuses.
    absl::Status Append(absl::string_view file, absl::string_view data);

    // Makes the checkpoint visible (replacing one at the same key) and prunes
    // the trial's checkpoints as the class comment says. INVALID_ARGUMENT
    // when no file was written; INTERNAL on a file-system error.
    absl::Status Commit();

    int64_t bytes() const { return bytes_; }

   private:
    friend class CheckpointStore;
    Writer(CheckpointStore* store, std::string temp_dir, std::string study, int64_t trial,
           int64_t step)
        : store_(store),
          temp_dir_(std::move(temp_dir)),
          study_(std::move(study)),
          trial_(trial),
          step_(step) {}
    absl::Status CloseFile();

    CheckpointStore* const store_;
    const std::string temp_dir_;
    const std::string study_;
    const int64_t trial_;
    const int64_t step_;
    std::vector<std::string> files_;  // In the order written.
    std::FILE* out_ = nullptr;        // files_.back(), while open.
    int64_t bytes_ = 0;
    bool committed_ = false;
  };

  // Uses (and creates) the directory `root`; removes temporary directories
  // an earlier run left behind. INTERNAL when it cannot be created.
  static absl::StatusOr<std::unique_ptr<CheckpointStore>> Open(const std::string& root);

  // Starts writing the checkpoint of `study`'s trial `trial` at `step`.
  // INVALID_ARGUMENT for a negative trial or step.
  absl::StatusOr<std::unique_ptr<Writer>> StartWrite(const std::string& study, int64_t trial,
                                                     int64_t step);

  // The files of a stored checkpoint, as full paths, sorted by name.
  // NOT_FOUND when there is none.
  absl::StatusOr<std::vector<std::string>> Files(const std::string& study, int64_t trial,
                                                 int64_t step) const;

  // Sends the files of a stored checkpoint, in name order, to `sink` in
  // chunks of at most kMaxCheckpointChunkBytes (an empty file as one empty
  // chunk); a file larger than a chunk comes as consecutive chunks of the
  // same file. Stops with CANCELLED when `sink` returns false. NOT_FOUND when
  // there is no such checkpoint (or a file vanished meanwhile); INTERNAL when
  // a file cannot be read.
  absl::Status Read(
      const std::string& study, int64_t trial, int64_t step,
      const std::function<bool(absl::string_view file, absl::string_view data)>& sink) const;

  // Removes every checkpoint of `study`'s trial `trial` (none is fine).
  // INTERNAL naming the directory when the file system refuses.
  absl::Status DeleteTrial(const std::string& study, int64_t trial);

  // Removes every checkpoint of `study` (none is fine). INTERNAL naming the
  // directory when the file system refuses.
  absl::Status DeleteStudy(const std::string& study);

  // Every stored checkpoint: study -> trial -> steps.
  absl::StatusOr<std::map<std::string, CheckpointIndex>> List() const;

  const std::string& root() const { return root_; }

 private:
  explicit CheckpointStore(std::string root) : root_(std::move(root)) {}
  std::string TrialDir(const std::string& study, int64_t trial) const;
  // Renames `temp_dir` into place and prunes, under mu_.
  absl::Status Install(const std::string& temp_dir, const std::string& study, int64_t trial,
                       int64_t step);

  const std::string root_;
  absl::Mutex mu_;
  uint64_t next_temp_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_CHECKPOINT_STORE_H_
