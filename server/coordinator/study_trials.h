// StudyTrials: the working state of one study: its record, its trials, the
// counts by state, the queue of WAITING trials and the sampler's history
// index. Every change goes through Commit(), the one place that enforces the
// study's invariants: trial numbers are dense (trials[i].number == i), state
// changes follow the trial state machine, the change is written through the
// store as one atomic StudyWrite *before* memory changes, and the counts,
// queue, index and lease table follow (a trial that starts running on a worker,
// or reports, gets its lease renewed from now). So memory equals the store
// after any successful or failed Commit.
//
// Thread-safety: not thread-safe; the owning Study guards it with its lock.
#ifndef VERNIER_SERVER_COORDINATOR_STUDY_TRIALS_H_
#define VERNIER_SERVER_COORDINATOR_STUDY_TRIALS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/coordinator/lease_table.h"
#include "server/logic/sampler.h"
#include "server/logic/study_record.h"
#include "server/logic/types.h"
#include "server/storage/study_store.h"

namespace vernier {

// The worker id of trials handed out by Ask. Such a trial has no lease: it
// never expires, survives restarts as RUNNING, and only Tell ends it. No
// worker can hold it: worker calls naming this id are refused.
inline constexpr char kAskedWorkerId[] = "(ask)";

class StudyTrials {
 public:
  // One change, committed all or nothing.
  struct Change {
    // The study itself is new: the write creates its record.
    bool create_study = false;
    // New trials (numbered from trials().size() on, in order) or new
    // versions of existing ones; their `intermediate` is ignored (a new
    // version keeps the stored values, a new trial starts with none).
    std::vector<TrialRecord> trials;
    // Intermediate results (trial number, measurement), after `trials`; one
    // at a step already held replaces it.
    std::vector<std::pair<int64_t, Measurement>> measurements;
    // The study's new state and the reason for it.
    std::optional<std::pair<StudyState, std::string>> study_state;
    // The study's spec with a new budget (Study::Update).
    std::optional<StudySpec> spec;
  };

  // `record` is the study's; `index` the sampler's history index (may be
  // null); `leases` (which must outlive this) gets a lease for every trial
  // that runs on a worker.
  StudyTrials(StudyRecord record, std::unique_ptr<HistoryIndex> index, LeaseTable* leases);

  // At start-up, before any Commit: the stored trials, ascending by number.
  // RUNNING trials on a worker get a fresh lease, so live workers keep them.
  // DATA_LOSS when a number is missing.
  absl::Status Load(std::vector<TrialRecord> trials);

  // OK when `change` keeps the invariants: FAILED_PRECONDITION for a state
  // change the trial state machine forbids, INTERNAL for a new trial out of
  // sequence.
  absl::Status Check(const Change& change) const;
  // Check(), then writes `change` through `store` (one StudyWrite), then
  // applies it here. On an error nothing changes here; the store's error may
  // leave the write on disk all the same (a commit whose sync failed), so
  // the caller reloads the study from the store (see Study).
  absl::Status Commit(StudyStore& store, Change change);
  // Ends every lease of the study's trials (before the study is reloaded).
  void ReleaseLeases();
  // Keeps only the last measurement of each trial (a study at rest: the store
  // holds the others). The history index is not told: a study at rest makes
  // no suggestion, and is reloaded whole before it changes.
  void KeepLastValues();

  const StudyRecord& record() const { return record_; }
  const std::vector<TrialRecord>& trials() const { return trials_; }
  // Trial `number`, or NOT_FOUND naming it.
  absl::StatusOr<const TrialRecord*> Find(int64_t number) const;
  int64_t Count(TrialState state) const;
  const std::map<TrialState, int64_t>& counts() const { return counts_; }
  // The lowest-numbered WAITING trial, if any.
  std::optional<int64_t> FirstWaiting() const;
  // Trials that count toward budget.max_trials: all but warm_start copies.
  int64_t BudgetedTrials() const;
  // The sampler's index of trials(), observed after every change; may be null.
  const HistoryIndex* history_index() const { return history_index_.get(); }

 private:
  // Applies a committed trial to memory: a new one (with the intermediate
  // values it carries) or a new version of one held (keeping the held values).
  void Put(TrialRecord trial);
  void Observe(int64_t number);
  void SyncLease(const TrialRecord& trial);

  StudyRecord record_;
  std::vector<TrialRecord> trials_;  // trials_[i].number == i.
  std::map<TrialState, int64_t> counts_;
  std::set<int64_t> waiting_;  // Numbers of WAITING trials.
  int64_t copied_ = 0;         // Trials copied by warm_start (IsWarmStartCopy).
  std::unique_ptr<HistoryIndex> history_index_;
  LeaseTable* leases_;  // Set at construction.
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_STUDY_TRIALS_H_
