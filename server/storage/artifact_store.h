// ArtifactStore: the files trials leave for their users (what a trial program
// writes under $VERNIER_ARTIFACT_DIR: a trained model, plots, logs), kept by
// the server per (study, trial). Callers see only this interface, so an
// object-store implementation can replace the local directory later without
// touching them.
//
// A trial's artifacts are one set of files that is replaced whole: a Writer
// collects the files of one upload and Commit() makes them the trial's
// artifacts atomically (a reader sees the old set or the new one, never a
// part), so a retried trial's second upload replaces its first.
//
// Paths are relative artifact paths (common/artifact_path.h); every method
// refuses any other with INVALID_ARGUMENT naming it, so no caller can reach
// outside the store.
//
// Thread-safety: implementations are thread-safe. Writers for different
// trials run in parallel; Commit() and DeleteTrial() are serialised.
#ifndef VERNIER_SERVER_STORAGE_ARTIFACT_STORE_H_
#define VERNIER_SERVER_STORAGE_ARTIFACT_STORE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"

namespace vernier {

// The largest chunk Writer::Append takes and Read sends.
inline constexpr size_t kMaxArtifactChunkBytes = 1 << 20;
// The most files one trial's artifacts may hold.
inline constexpr int64_t kMaxArtifactFiles = 10000;

// One stored file.
struct StoredArtifact {
  int64_t trial = 0;
  std::string path;  // A valid artifact path.
  int64_t size_bytes = 0;
  std::string sha256;  // 64 lowercase hex digits.

  friend bool operator==(const StoredArtifact& a, const StoredArtifact& b) {
    return a.trial == b.trial && a.path == b.path && a.size_bytes == b.size_bytes &&
           a.sha256 == b.sha256;
  }
};

// Receives a file's contents in order: (path, data) with data at most
// kMaxArtifactChunkBytes; returns false to stop.
using ArtifactSink = std::function<bool(absl::string_view data)>;

class ArtifactStore {
 public:
  // The files of one upload. Destroying it without Commit() stores nothing
  // and removes what was written.
  class Writer {
   public:
    virtual ~Writer() = default;
    // Appends `data` to the file at `path` (created on first use). A file's
    // chunks come together: going back to an earlier file is
    // INVALID_ARGUMENT, as are a bad path (naming it), a path that is a
    // directory of an earlier file or under one, a chunk over
    // kMaxArtifactChunkBytes, more than kMaxArtifactFiles files, and more
    // bytes in all than the writer's max_bytes (naming both sizes and
    // "artifacts.max_bytes"). INTERNAL when the disk refuses.
    virtual absl::Status Append(absl::string_view path, absl::string_view data) = 0;
    // Makes the files written the trial's artifacts, replacing its earlier
    // ones; no file at all removes them. INTERNAL on a file-system error
    // (the trial then keeps its earlier artifacts).
    virtual absl::Status Commit() = 0;
    virtual int64_t bytes() const = 0;
    virtual int64_t files() const = 0;
  };

  virtual ~ArtifactStore() = default;

  // Starts an upload of the artifacts of `study`'s trial `trial`, at most
  // `max_bytes` in all. INVALID_ARGUMENT for a negative trial or a
  // max_bytes < 1.
  virtual absl::StatusOr<std::unique_ptr<Writer>> StartWrite(const std::string& study,
                                                             int64_t trial, int64_t max_bytes) = 0;

  // The trial's files, by path; empty when it has none.
  virtual absl::StatusOr<std::vector<StoredArtifact>> List(const std::string& study,
                                                           int64_t trial) const = 0;

  // The trials of `study` that have artifacts.
  virtual absl::StatusOr<std::set<int64_t>> Trials(const std::string& study) const = 0;

  // Sends the file at `path` of the trial to `sink` in chunks of at most
  // kMaxArtifactChunkBytes (an empty file as one empty chunk).
  // INVALID_ARGUMENT for a bad path; NOT_FOUND when the trial has no such
  // file (or it was deleted meanwhile); CANCELLED when `sink` returns false;
  // INTERNAL when it cannot be read.
  virtual absl::Status Read(const std::string& study, int64_t trial, const std::string& path,
                            const ArtifactSink& sink) const = 0;

  // Removes the trial's artifacts; OK when it has none.
  virtual absl::Status DeleteTrial(const std::string& study, int64_t trial) = 0;

  // Removes every artifact of `study`; OK when it has none.
  virtual absl::Status DeleteStudy(const std::string& study) = 0;
};

// The artifacts as plain files in a local directory, beside the database:
//
//   <root>/study-<name>/trial-<number>/manifest.json   paths, sizes, SHA-256
//   <root>/study-<name>/trial-<number>/files/<path>    the files
//
// An upload is written under <root>/tmp and renamed into place on Commit();
// the trial's earlier directory is first renamed away, then removed, so a
// reader in between sees no artifacts, never a mix. Open() removes what a
// stopped server left in <root>/tmp.
class LocalArtifactStore final : public ArtifactStore {
 public:
  // Uses (and creates) the directory `root`. INTERNAL when it cannot.
  static absl::StatusOr<std::unique_ptr<LocalArtifactStore>> Open(const std::string& root);

  absl::StatusOr<std::unique_ptr<Writer>> StartWrite(const std::string& study, int64_t trial,
                                                     int64_t max_bytes) override;
  absl::StatusOr<std::vector<StoredArtifact>> List(const std::string& study,
                                                   int64_t trial) const override;
  absl::StatusOr<std::set<int64_t>> Trials(const std::string& study) const override;
  absl::Status Read(const std::string& study, int64_t trial, const std::string& path,
                    const ArtifactSink& sink) const override;
  absl::Status DeleteTrial(const std::string& study, int64_t trial) override;
  absl::Status DeleteStudy(const std::string& study) override;

  const std::string& root() const { return root_; }

 private:
  class LocalWriter;
  explicit LocalArtifactStore(std::string root) : root_(std::move(root)) {}
  std::string StudyDir(const std::string& study) const;
  std::string TrialDir(const std::string& study, int64_t trial) const;
  // A fresh directory name under <root>/tmp.
  std::string TempPath(absl::string_view what);
  // Moves the written directory `temp_dir` into place for the trial.
  absl::Status Install(const std::string& temp_dir, const std::string& study, int64_t trial)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string root_;
  absl::Mutex mu_;
  uint64_t next_temp_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_ARTIFACT_STORE_H_
