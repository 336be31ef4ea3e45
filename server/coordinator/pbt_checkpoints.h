// PbtCheckpoints: one study's checkpoints and population-based training. It
// keeps the index of the checkpoints the server holds for the study's trials
// (which a retried trial resumes from), is the only part of the coordinator
// that talks to the CheckpointStore, and holds the study's pbt policy (pruner
// type pbt), the one rule that reads other trials' checkpoints.
//
// Thread-safety: not thread-safe; the owning Study guards it with its lock.
// The store itself is thread-safe, and the file transfers it does run outside
// that lock (see Study).
#ifndef VERNIER_SERVER_COORDINATOR_PBT_CHECKPOINTS_H_
#define VERNIER_SERVER_COORDINATOR_PBT_CHECKPOINTS_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "server/logic/pbt.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"
#include "server/storage/checkpoint_store.h"

namespace vernier {

class PbtCheckpoints {
 public:
  // `spec` (normalised) must outlive this; `store` may be null, when the
  // server keeps no checkpoints (an in-memory database).
  PbtCheckpoints(const StudySpec& spec, CheckpointStore* store);

  // Whether the study exploits (pruner type pbt).
  bool pbt() const { return policy_ != nullptr; }
  // The store, or null.
  CheckpointStore* store() const { return store_; }

  // Whether `trial`, which has just reported `step` (already in its
  // intermediate values), exploits, and how; nullopt when it goes on (and
  // always in a study without pbt). See PbtPolicy::Decide.
  std::optional<ExploitDecision> DecideExploit(const TrialRecord& trial, int64_t step,
                                               absl::Span<const TrialRecord* const> trials) const;
  // After `trial` exploited from a checkpoint at `donor_step`: its own
  // checkpoints after that step belong to the run it abandons.
  void ForgetAfter(int64_t trial, int64_t donor_step);

  // A checkpoint of `trial` at `step` is now in the store: indexes it,
  // forgetting the trial's later ones (as the store does) and its oldest
  // beyond kPbtCheckpointsKept.
  void Add(int64_t trial, int64_t step);
  // The step a new attempt of `trial` resumes after: its latest checkpoint
  // taken since its last exploit (earlier ones belong to the run the exploit
  // abandoned). nullopt when there is none, or no store.
  std::optional<int64_t> ResumeStep(const TrialRecord& trial) const;
  // `trial` has finished. Outside pbt nothing reads its checkpoints any more:
  // they are dropped from the index and the store (a file-system error only
  // leaves files behind). A pbt study keeps them: a finished trial may still
  // be a donor.
  void DropFinished(int64_t trial);

  // At start-up: the checkpoints the store holds for this study.
  void Restore(const CheckpointIndex& stored);

  // OK when the worker running `trial` may fetch trial `donor`'s checkpoint
  // at `step`: the server holds it, or it is the one the trial's last exploit
  // was given (which stays fetchable while its files last, even after the
  // donor's own exploit dropped it from the index). NOT_FOUND otherwise.
  absl::Status CheckDownload(const TrialRecord& trial, int64_t donor, int64_t step) const;

 private:
  const std::string& study_;
  CheckpointStore* const store_;
  const std::unique_ptr<PbtPolicy> policy_;  // pbt studies only.
  const ObjectiveSpec& objective_;
  CheckpointIndex index_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_PBT_CHECKPOINTS_H_
