// The trial state machine: the one place that says which state changes are
// allowed.
//
//   WAITING -> RUNNING                      (leased to a worker)
//   RUNNING -> COMPLETE | PRUNED | FAILED | INFEASIBLE
//   RUNNING -> WAITING                      (lease lost, retries remain)
//   WAITING -> FAILED                       (given up without running)
#ifndef VERNIER_SERVER_LOGIC_TRIAL_STATE_MACHINE_H_
#define VERNIER_SERVER_LOGIC_TRIAL_STATE_MACHINE_H_

#include "absl/status/status.h"
#include "server/logic/types.h"

namespace vernier {

// OK when `from` -> `to` is allowed; FAILED_PRECONDITION naming both states
// otherwise.
absl::Status CheckTransition(TrialState from, TrialState to);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_TRIAL_STATE_MACHINE_H_
