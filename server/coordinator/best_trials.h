// The best trials of a study: one ranking for everything that asks for them
// (GetBestTrials, `vernier artifacts get --best`, artifact retention), so
// that the trial the CLI calls best is the one whose model is kept.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_COORDINATOR_BEST_TRIALS_H_
#define VERNIER_SERVER_COORDINATOR_BEST_TRIALS_H_

#include <vector>

#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The best COMPLETE trials of `trials`, best first, pointing into `trials`.
// One objective: those with a (non-NaN) objective value, ordered by it (ties
// by number), at most `count` (<= 0: 1). Several: the Pareto front
// (ParetoTrials), at most `count`, all when `count` <= 0. INFEASIBLE and
// refit trials are never best (a refit's metrics come from other data).
// One objective takes time linear in the trials (a partial sort): the
// summary of a running study ranks them on every call.
std::vector<const TrialRecord*> RankBestTrials(absl::Span<const TrialRecord> trials,
                                               absl::Span<const ObjectiveSpec> objectives,
                                               int count);

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_BEST_TRIALS_H_
