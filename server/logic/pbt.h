// Population-based training (Jaderberg et al. 2017), the exploit-and-explore
// rule behind `pruner: {type: pbt}`: at every `interval`-th step a trial in
// the bottom `quantile` of the population takes the checkpoint and the
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
  // `spec.type` is "pbt" and the spec went through ParseStudySpec (so
  // spec.pbt.params names parameters of `space`). `space` must outlive this.
  PbtPolicy(const PrunerSpec& spec, const SearchSpace& space, uint64_t seed)
      : spec_(spec), space_(space), seed_(seed) {}

  // Whether `trial`, which has just reported `step` (already in
  // trial.intermediate), exploits, and how. `trials` are the study's trials
  // (may include `trial`).
  //
  // The rule: only at steps s > 0 that are multiples of `interval`, and only
  // once per step (a trial that already exploited at a step >= s, and resumed
  // from an earlier step, does not exploit again until the next interval).
  // The population at s is every trial that did not FAIL and reported the
  // objective at a step >= s (this trial included), each valued by its last
  // objective value at a step <= s; NaN ranks last, ties go to the lower
  // number. With n >= min_population members and k = max(1, floor(n *
  // quantile)), a trial ranked in the bottom k exploits one of the top k that
  // has a checkpoint at a step <= s (its latest such), chosen at random among
  // them; nullopt when none has one, or the trial is not in the bottom k.
  std::optional<ExploitDecision> Decide(const ObjectiveSpec& objective, const TrialRecord& trial,
                                        int64_t step, absl::Span<const TrialRecord* const> trials,
                                        const CheckpointIndex& checkpoints) const;

  // The donor's parameters perturbed for `trial_number` at `step`: each
  // parameter named in spec.pbt.params is drawn afresh from its range with
  // probability resample_probability; otherwise a float or int is multiplied
  // by one of perturb_factors (chosen at random), then clamped to its bounds,
  // rounded to its step (ints to whole numbers), and a categorical is kept.
  // The other parameters are the donor's as they are (they may shape the
  // model, so the checkpoint would not fit otherwise). Deterministic for
  // (seed, trial_number, step).
  ParamMap Perturb(const ParamMap& donor, int64_t trial_number, int64_t step) const;

 private:
  const PrunerSpec spec_;
  const SearchSpace& space_;
  const uint64_t seed_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_PBT_H_
