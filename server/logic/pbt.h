// Population-based training (Jaderberg et al. 2017), the exploit-and-explore
// rule behind `pruner: {type: pbt}`: once per `interval` steps a trial in the
// bottom `quantile` of the population takes the checkpoint and the
// parameters of a trial in the top `quantile` (exploit), perturbed (explore).
//
// The decision is a pure function of (seed, the trials, the checkpoints the
// server holds), like the pruners (pruner.h): a restarted coordinator, rebuilt
// from the stored trials and the checkpoint directory, decides the same.
//
// Thread-safety: every method is const and may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_PBT_H_
#define VERNIER_SERVER_LOGIC_PBT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// How many checkpoints of each trial the server keeps (the latest ones).
inline constexpr int kPbtCheckpointsKept = 4;

// Trial number -> the steps at which the server holds its checkpoint.
using CheckpointIndex = std::map<int64_t, std::set<int64_t>>;

// What a lagging trial does: resume from `donor`'s checkpoint at `donor_step`
// with `params` (the donor's parameters, perturbed).
struct ExploitDecision {
  int64_t donor = 0;
  int64_t donor_step = 0;
  ParamMap params;
};

class PbtPolicy {
 public:
  // The spec went through NormalizeStudySpec (so spec.params names
  // parameters of `space` and spec.min_population is set). `space` must
  // outlive this.
  PbtPolicy(const PbtSpec& spec, const SearchSpace& space, uint64_t seed)
      : spec_(spec), space_(space), seed_(seed) {}

  // Whether `trial`, which has just reported `step` (already in
  // trial.intermediate), exploits, and how. `trials` are the study's trials
  // (may include `trial`).
  //
  // The rule, for asynchronous studies (trials reach a step at different
  // times, start late, or report irregular steps such as 1, 3, 7):
  //  - The boundary of `step` is b = the largest multiple of `interval` that is
  //    <= step. A trial is judged at EVERY report with b > 0, against b, until
  //    it exploits there. A trial whose last exploit was at a step of boundary
  //    >= b is not judged: not twice at one boundary, and not while it re-runs
  //    steps after resuming from a donor's earlier checkpoint.
  //  - The population at b: this trial and every trial that did not FAIL
  //    (running, complete or pruned) and reported the objective at a step
  //    >= b (it passed the boundary), each valued by its last objective value
  //    at a step <= `step`. NaN ranks last, ties go to the lower number.
  //  - With n >= min_population members and k = max(1, floor(n * quantile)),
  //    a trial ranked in the bottom k exploits one of the top k (not NaN) that
  //    has a checkpoint at a step <= `step` (its latest such), chosen at
  //    random among them; nullopt when the trial is not in the bottom k or no
  //    such donor exists. That checkpoint is not offered when it predates
  //    the donor's own last exploit (it holds a run the donor abandoned) or
  //    is the donor's oldest of kPbtCheckpointsKept (its next checkpoint
  //    deletes it, likely before the worker has fetched it). A population
  //    still too small is not final: the trial is judged again at its next
  //    report before the next boundary, by when more peers may have passed b
  //    (late arrivals).
  //  - The random draws (donor, then Perturb) depend on (seed, trial number,
  //    b) only: which report in the window gets judged depends on when the
  //    peers arrived; the draw does not.
  //
  // Why this valuation: Ray Tune's PBT ranks each trial's latest result,
  // whatever step it came from, so a trial that has trained longer looks
  // better. Here a peer that is ahead counts as it was at `step`; a peer
  // that is behind (between b and `step`) counts with its latest value, a
  // lag of less than `interval` steps that, for a metric that improves with
  // training, only makes the judged trial less likely to exploit (it errs
  // towards letting a run go on).
  std::optional<ExploitDecision> Decide(const ObjectiveSpec& objective, const TrialRecord& trial,
                                        int64_t step, absl::Span<const TrialRecord* const> trials,
                                        const CheckpointIndex& checkpoints) const;

  // The donor's parameters perturbed for `trial_number` at `step`: each
  // parameter named in spec.params is drawn afresh from its range with
  // probability resample_probability; otherwise a float or int is multiplied
  // by one of perturb_factors (chosen at random), then clamped to its bounds,
  // rounded to its step (ints to whole numbers), and a categorical is kept.
  // The other parameters are the donor's as they are (they may shape the
  // model, so the checkpoint would not fit otherwise). Deterministic for
  // (seed, trial_number, step); Decide passes the boundary as `step`.
  ParamMap Perturb(const ParamMap& donor, int64_t trial_number, int64_t step) const;

 private:
  const PbtSpec spec_;
  const SearchSpace& space_;
  const uint64_t seed_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_PBT_H_
