// StudyStore: durable storage of studies, trials and intermediate results.
//
// The coordinator keeps the working state in memory and writes every change
// through a StudyStore before it acknowledges it; at start-up it rebuilds its
// state with LoadAll(). So a store is write-mostly: no query here sits on a hot
// path.
//
// Atomicity: Apply() writes one StudyWrite, everything in it or nothing, so
// that one coordinator operation (a trial's result plus the study's new state,
// a study with its warm-start copies) is never half stored, and memory can be
// kept equal to the store after any failure.
//
// Durability contract: when a mutating call returns OK, the change survives a
// crash of the process (kill -9). It survives an OS crash or power loss once
// WaitDurable() called after it returns (stores that sync every write make
// that a no-op; SqliteStudyStore with group_commit shares one disk sync among
// every write made before it). Whoever acknowledges a write to a client calls
// WaitDurable() first.
//
// Thread-safety: implementations are thread-safe.
#ifndef VERNIER_SERVER_STORAGE_STUDY_STORE_H_
#define VERNIER_SERVER_STORAGE_STUDY_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/study_record.h"
#include "server/logic/types.h"

namespace vernier {

// One atomic change to one study.
struct StudyWrite {
  // The study this write is about.
  std::string study;
  // Set: the study is new (its name is `study`); the rest of the write may
  // already add its trials.
  std::optional<StudyRecord> create;
  // Set: the study's new state and the reason for it.
  std::optional<std::pair<StudyState, std::string>> state;
  // Set: the study's spec as changed after its creation (its budget, by
  // `vernier study update`); the study file it was created from is kept.
  std::optional<StudySpec> spec;
  // Trials inserted, or replaced in every stored field but their
  // intermediate values (`intermediate` is ignored; only `measurements`
  // writes those), in order.
  std::vector<TrialRecord> trials;
  // Intermediate results (trial number, measurement), after `trials`; one at
  // a step already stored replaces it.
  std::vector<std::pair<int64_t, Measurement>> measurements;

  bool empty() const {
    return !create && !state && !spec && trials.empty() && measurements.empty();
  }
};

class StudyStore {
 public:
  virtual ~StudyStore() = default;

  // Writes everything in `write` or nothing. Errors (nothing is written):
  // ALREADY_EXISTS when `create` names a study that exists; NOT_FOUND when
  // the study does not exist (and is not created), or a measurement's trial
  // does not exist (nor is among `trials`); INVALID_ARGUMENT for a record the
  // store refuses (see record_codec.h) or `create` whose name is not `study`.
  virtual absl::Status Apply(const StudyWrite& write) = 0;

  // Deletes study `name` with its trials and their intermediate values, all
  // or nothing, as durable as Apply(); the name can then be created again
  // (as a new study, last in creation order). Returns how many trials were
  // deleted; NOT_FOUND when the study does not exist.
  virtual absl::StatusOr<int64_t> DeleteStudy(absl::string_view name) = 0;

  // Every study (in creation order) with its trials (by number) and their
  // intermediate values (by step).
  virtual absl::StatusOr<std::vector<StoredStudy>> LoadAll() = 0;

  // Like LoadAll(), but every intermediate value only of the studies for
  // which `wants_values` (given the study with its trials, their values not
  // loaded) returns true; the other studies' trials come with their last
  // measurement only (the highest step). A study with a resting summary
  // (SetRestingSummary) comes without its trials and is not given to
  // `wants_values`. So a server need not read, nor hold, the curves and
  // trials of studies that are over.
  using ValuesFilter = std::function<bool(const StoredStudy&)>;
  virtual absl::StatusOr<std::vector<StoredStudy>> LoadAll(const ValuesFilter& wants_values) = 0;

  // The intermediate values of `study`'s trials numbered first to last
  // (inclusive), by trial number, each by step; trials without any are
  // absent. An unknown study has none.
  virtual absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> LoadValues(
      absl::string_view study, int64_t first, int64_t last) = 0;

  // One study as LoadAll() would give it; NOT_FOUND when it does not exist.
  // For a caller that must see what a write that reported an error left
  // behind (it may have reached the disk, as a commit whose sync failed can).
  virtual absl::StatusOr<StoredStudy> LoadStudy(absl::string_view name) = 0;
  // LoadStudy(), but each trial with its last measurement only (as LoadAll
  // gives the studies it is not asked the values of).
  virtual absl::StatusOr<StoredStudy> LoadStudyLastValues(absl::string_view name) = 0;

  // Stores `summary` (non-empty) as study `name`'s resting summary, or with
  // nullopt removes it, as durable as Apply(). The store never reads it; a
  // study with one is loaded without its trials (LoadAll(wants_values)), so
  // whoever sets it clears it before changing the study. NOT_FOUND for an
  // unknown study.
  virtual absl::Status SetRestingSummary(absl::string_view name,
                                         const std::optional<std::string>& summary) = 0;

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

  // ---- One-part writes, for callers that change one thing ----

  // Adds a new study. ALREADY_EXISTS when the name is taken.
  absl::Status CreateStudy(const StudyRecord& study);
  // Sets a study's state and reason. NOT_FOUND for an unknown study.
  absl::Status UpdateStudyState(absl::string_view name, StudyState state, absl::string_view reason);
  // Inserts or replaces a trial (not its intermediate values). NOT_FOUND when
  // the study does not exist.
  absl::Status PutTrial(const TrialRecord& trial);
  // Records an intermediate result of a trial. NOT_FOUND when the trial does
  // not exist.
  absl::Status AddMeasurement(absl::string_view study, int64_t trial_number,
                              const Measurement& measurement);
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_STUDY_STORE_H_
