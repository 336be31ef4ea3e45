// Artifact retention: which trials' files (what their programs left in
// $VERNIER_ARTIFACT_DIR) a study keeps under its `artifacts` policy. The
// Study asks after each trial ends and deletes the rest from the
// ArtifactStore.
//
//   keep: best   the best `count` COMPLETE trials (RankBestTrials: the
//                Pareto front, in rank order, for several objectives)
//   keep: all    every trial
//   keep: none   none (workers upload nothing)
//
// Whatever the policy: a refit trial's files are kept (they are the study's
// final model), and so are those of a trial that has not ended (its upload
// comes just before its end, so a trial still RUNNING may already have
// files that are about to rank). A trial that fell out of the best never
// comes back in under one objective; on a Pareto front capped by `count`
// it could, but its files are gone by then.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_COORDINATOR_ARTIFACT_RETENTION_H_
#define VERNIER_SERVER_COORDINATOR_ARTIFACT_RETENTION_H_

#include <cstdint>
#include <set>
#include <vector>

#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The most bytes of artifacts `trial` may upload: policy.max_bytes when the
// policy could keep its files, 0 (upload nothing) under keep: none, unless
// it is a refit.
int64_t ArtifactUploadLimit(const ArtifactSpec& policy, const TrialRecord& trial);

// Of the trials in `stored` (those with artifacts), the ones whose files
// must go, ascending. `trials` is the whole study, indexed by number;
// numbers in `stored` that it lacks are deleted too (nothing refers to them).
std::vector<int64_t> ArtifactTrialsToDelete(const ArtifactSpec& policy,
                                            absl::Span<const TrialRecord> trials,
                                            absl::Span<const ObjectiveSpec> objectives,
                                            const std::set<int64_t>& stored);

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_ARTIFACT_RETENTION_H_
