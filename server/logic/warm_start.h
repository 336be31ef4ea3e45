// Warm start (`warm_start: {study: OLD}` in a study file): which trials of an
// older study a new study copies, and how the copies look.
//
// Thread-safety: the function is pure and thread-safe.
#ifndef VERNIER_SERVER_LOGIC_WARM_START_H_
#define VERNIER_SERVER_LOGIC_WARM_START_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

struct WarmStartCopies {
  // The copies, numbered 0, 1, ... for the new study in the old study's
  // trial order: COMPLETE, with the old final metrics and intermediate
  // values, origin kOriginWarmStartPrefix + "OLD#n".
  std::vector<TrialRecord> trials;
  // COMPLETE trials of the old study that do not fit (parameters outside the
  // new space, or no value of the new objective metric), and why
  // the first of them does not.
  int64_t skipped = 0;
  std::string first_skip_reason;
};

// The trials `spec` (which has a warm_start) copies from `old_trials`, the
// trials of study spec.warm_start->study: the COMPLETE ones whose parameters
// pass CheckCompleteParams for spec.space and which report spec's objective
// metric (not NaN); of those, the best spec.warm_start->max_trials by spec's
// objective (ties: lower number first).
WarmStartCopies SelectWarmStartTrials(const StudySpec& spec,
                                      const std::vector<TrialRecord>& old_trials);

// The note a creation answers with: "warm_start: copied 12 COMPLETE trials of
// study \"old\"; skipped 3 that do not fit its space (first: ...)".
std::string WarmStartNote(const StudySpec& spec, const WarmStartCopies& copies);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_WARM_START_H_
