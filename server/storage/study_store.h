// StudyStore: durable storage of studies, trials and intermediate results.
//
// The coordinator keeps the working state in memory and writes every change
// through a StudyStore before it acknowledges it; at start-up it rebuilds its
// state with LoadAll(). So a store is write-mostly: no query here sits on a hot
// path.
//
// Durability contract: when a mutating call returns OK, the change survives a
// crash of the process (kill -9). It survives an OS crash or power loss once
// WaitDurable() called after it returns (stores that sync every write make
// that a no-op; SqliteStudyStore with group_commit shares one disk sync among
// every write made before it). Whoever acknowledges a write to a client calls
// WaitDurable() first.
//
// Thread-safety: implementations are thread-safe; the coordinator nevertheless
// serialises its calls.
#ifndef VERNIER_SERVER_STORAGE_STUDY_STORE_H_
#define VERNIER_SERVER_STORAGE_STUDY_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/types.h"

namespace vernier {

class StudyStore {
 public:
  virtual ~StudyStore() = default;

  // Adds a new study. ALREADY_EXISTS when the name is taken.
  virtual absl::Status CreateStudy(const StudyRecord& study) = 0;

  // Sets a study's state and reason. NOT_FOUND for an unknown study.
  virtual absl::Status UpdateStudyState(absl::string_view name, StudyState state,
                                        absl::string_view reason) = 0;

  // Inserts the trial, or replaces every stored field of it except its
  // intermediate values (which only AddMeasurement writes; `trial.intermediate`
  // is ignored). NOT_FOUND when the study does not exist.
  virtual absl::Status PutTrial(const TrialRecord& trial) = 0;

  // Records an intermediate result of a trial; a measurement at a step already
  // stored replaces it. NOT_FOUND when the trial does not exist.
  virtual absl::Status AddMeasurement(absl::string_view study, int64_t trial_number,
                                      const Measurement& measurement) = 0;

  // Every study (in creation order) with its trials (by number) and their
  // intermediate values (by step).
  virtual absl::StatusOr<std::vector<StoredStudy>> LoadAll() = 0;

  // Copies everything stored, as one consistent snapshot, into a new file at
  // `path`, which another store can open; returns the file's size in bytes.
  // INVALID_ARGUMENT (naming the path) when `path` is not absolute or its
  // directory does not exist; ALREADY_EXISTS when a file is there (it is never
  // overwritten). Stores without files answer UNIMPLEMENTED.
  virtual absl::StatusOr<int64_t> Backup(const std::string& /*path*/) {
    return absl::UnimplementedError("this store cannot be backed up to a file");
  }

  // Returns once every mutating call that returned before this call began is
  // durable as the store promises (see the contract above). Never fails: a
  // store that cannot make acknowledged-to-be writes durable ends the process
  // (a restart reloads what the disk holds), as nothing written may be
  // acknowledged otherwise. Safe to call from many threads at once; must not
  // be called while holding a lock that the store's writers need.
  virtual void WaitDurable() {}
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_STUDY_STORE_H_
