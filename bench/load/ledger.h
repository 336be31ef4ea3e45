// The load generator's ledger: what the simulated workers sent and what the
// server acknowledged, and the check of that record against the database read
// back after the run. Pure functions and plain structs; no gRPC, no clock.
//
// Definitions (the contract vernier-load checks; see also load_gen.cc):
//
//  - A *write* is one ReportProgress (step >= 1) or CompleteTrial (step
//    kFinalStep) of one attempt of one trial. It is *acknowledged* when the
//    call returned OK to the worker that sent it. A write whose call failed
//    (UNAVAILABLE while the server was down, ABORTED, a deadline) or whose
//    answer its worker never saw (it "died" during the call) is
//    unacknowledged: the server may or may not have stored it, and either is
//    correct. A call retried after UNAVAILABLE is the same write.
//  - Every write carries a value unique to (trial, attempt, step)
//    (ValueFor), so a stored value says which attempt wrote it.
//  - A step is *lost* when a report of it was acknowledged and the stored
//    measurement of that step is missing, or was written by an attempt older
//    than the newest attempt whose report of that step was acknowledged. A
//    newer attempt (leased after the older one's lease expired) re-reporting
//    the step replaces the value; that is not a loss. In particular, for the
//    attempt that completed a trial every acknowledged step is stored with
//    its value.
//  - A result is *lost* when a CompleteTrial was acknowledged and the trial is
//    not COMPLETE with exactly the final value that attempt sent (and as that
//    attempt).
//  - *Duplicated*: a trial with more than one acknowledged CompleteTrial (two
//    attempts both told their result was accepted), or one (trial, attempt)
//    handed out by AcquireTrial more than once (two holders of one lease).
//  - *Corrupt*: a stored value that no worker sent for that trial and step, or
//    a COMPLETE trial for which no CompleteTrial was ever sent.
//
// Thread-safety: none needed (the check runs once, after the workers ended).
#ifndef VERNIER_BENCH_LOAD_LEDGER_H_
#define VERNIER_BENCH_LOAD_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/logic/study_record.h"

namespace vernier::load {

// The step of a CompleteTrial write.
inline constexpr int32_t kFinalStep = -1;
// Attempts and steps must stay below this for ValueFor to encode them.
inline constexpr int32_t kEncodingLimit = 1024;

// The value sent for (trial, attempt, step): the integer
// (trial * 1024 + attempt) * 1024 + step + 1, exact in a double for any
// trial below 2^33. REQUIRES: 0 <= attempt < kEncodingLimit and
// kFinalStep <= step < kEncodingLimit - 1.
double ValueFor(int64_t trial, int32_t attempt, int32_t step);

// One write a worker sent (see the header comment).
struct Write {
  int64_t trial = 0;
  int32_t attempt = 0;
  int32_t step = kFinalStep;
  bool acknowledged = false;
};

// One lease AcquireTrial handed out (an OK answer with a lease).
struct Grant {
  int64_t trial = 0;
  int32_t attempt = 0;
};

struct LedgerCheck {
  int64_t lost_steps = 0;
  int64_t lost_results = 0;
  int64_t duplicated_results = 0;  // Trials with > 1 acknowledged CompleteTrial.
  int64_t duplicated_leases = 0;   // (trial, attempt) pairs granted > 1 time.
  int64_t corrupt = 0;
  // The first of each kind, for the report; empty when there is none.
  std::string first_lost, first_duplicated, first_corrupt;

  // What the database holds, for the report.
  int64_t trials = 0;
  int64_t complete = 0;
  int64_t complete_unacknowledged = 0;  // COMPLETE, but no CompleteTrial was acknowledged.
  int64_t running = 0, waiting = 0, failed = 0, other = 0;
  int64_t measurements = 0;
  int64_t requeued = 0;  // Sum of the trials' `retries`: leases that expired.

  int64_t lost() const { return lost_steps + lost_results; }
  int64_t duplicated() const { return duplicated_results + duplicated_leases; }
};

// Checks `writes` and `grants` against `study` as read back from the
// database (see the definitions above).
LedgerCheck CheckLedger(const std::vector<Write>& writes, const std::vector<Grant>& grants,
                        const StoredStudy& study);

}  // namespace vernier::load

#endif  // VERNIER_BENCH_LOAD_LEDGER_H_
