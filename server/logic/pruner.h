// Pruner: an early-stopping rule across trials. A pruner is a pure function of
// this trial's values and the other trials' values; the answer to a worker's
// ReportProgress is its decision. Pruners keep no state between calls, so a
// restarted coordinator, rebuilt from the stored trials, decides the same.
//
// A "step" is the step a trial reports with its intermediate values (epochs for
// the built-in trainer). Steps may be irregular or missing; each pruner says
// how it copes. A measurement without the objective metric is ignored. Peers
// are the other trials of the study that did not FAIL: a failed run says
// nothing about how good its parameters are.
//
// Thread-safety: ShouldPrune() is const and may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_PRUNER_H_
#define VERNIER_SERVER_LOGIC_PRUNER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

class Pruner {
 public:
  virtual ~Pruner() = default;

  // Whether `trial`, which has just reported `step` (already in
  // trial.intermediate), should stop. `others` are the study's trials; it may
  // contain `trial` itself (same number), which every pruner skips.
  virtual bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                           absl::Span<const TrialRecord* const> others) const = 0;
};

// Never prunes.
class NoPruner : public Pruner {
 public:
  bool ShouldPrune(const ObjectiveSpec&, const TrialRecord&, int64_t,
                   absl::Span<const TrialRecord* const>) const override {
    return false;
  }
};

// Percentile stopping rule (as Optuna's PercentilePruner): prunes a trial whose
// best value so far is worse than the `percentile`-th percentile, counted from
// the best end, of the peers' values at the same step (percentile 25 keeps the
// best quarter; percentiles interpolate linearly). It decides at the first
// reported step at or after warmup_steps + k * interval, and only when at
// least `min_trials` peers reported exactly that step (peers that skipped it
// are not counted, so irregular reporting makes it more lenient, never less).
// A NaN value at a deciding step is pruned; NaN peer values are ignored.
class PercentilePruner : public Pruner {
 public:
  // REQUIRES: 0 <= spec.percentile <= 100, spec.interval >= 1.
  explicit PercentilePruner(const PercentileSpec& spec) : spec_(spec) {}
  bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                   absl::Span<const TrialRecord* const> others) const override;

 private:
  const PercentileSpec spec_;
};

// Median stopping rule: the percentile rule at 50.
class MedianPruner : public PercentilePruner {
 public:
  explicit MedianPruner(const MedianSpec& spec)
      : PercentilePruner(
            PercentileSpec{spec.warmup_steps, spec.interval, spec.min_trials, /*percentile=*/50}) {}
};

// Prunes a trial whose value at the reported step is NaN (at any step, warm-up
// or not), below `lower` or above `upper` (at the steps the percentile rule
// decides at). Looks at no other trial.
class ThresholdPruner : public Pruner {
 public:
  // REQUIRES: spec.interval >= 1.
  explicit ThresholdPruner(const ThresholdSpec& spec) : spec_(spec) {}
  bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                   absl::Span<const TrialRecord* const> others) const override;

 private:
  const ThresholdSpec spec_;
};

// Early stopping on a trial's own curve, optionally gated by another pruner.
// "Stalled" at step s: the trial has a value at some step <= s - patience, and
// no value at steps in (s - patience, s] beats the best of those earlier
// values by more than min_delta (NaN never counts as an improvement). Patience
// is counted in steps, not reports, so irregular reporting does not stretch it.
//
// As Optuna's PatientPruner, the trial is pruned only when it has stalled AND
// the wrapped pruner (if any) says prune: patience holds back a pruner that
// would act on a trial that is still improving. Without `wrapped`, a stalled
// trial is pruned. Unlike Optuna, min_delta is the improvement needed (as in
// Keras' EarlyStopping), not a tolerance for getting worse.
class PatiencePruner : public Pruner {
 public:
  // `wrapped` may be null; spec.wrapped is not read (the caller built `wrapped`).
  PatiencePruner(const PatienceSpec& spec, std::unique_ptr<Pruner> wrapped)
      : spec_(spec), wrapped_(std::move(wrapped)) {}
  bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                   absl::Span<const TrialRecord* const> others) const override;

 private:
  bool Stalled(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step) const;

  const PatienceSpec spec_;
  const std::unique_ptr<Pruner> wrapped_;
};

// ---- Helpers shared by the pruners -----------------------------------------

// The value of `metric` that `trial` reported at `step`, if any.
std::optional<double> ValueAtStep(const TrialRecord& trial, const std::string& metric,
                                  int64_t step);

// The first measurement of `metric` at a step >= `step`: {step, value}.
struct StepValue {
  int64_t step = 0;
  double value = 0;
};
std::optional<StepValue> FirstValueAtOrAfter(const TrialRecord& trial, const std::string& metric,
                                             int64_t step);

// The step of `trial`'s last measurement of `metric` before `step`, if any.
std::optional<int64_t> PreviousStep(const TrialRecord& trial, const std::string& metric,
                                    int64_t step);

// Whether `other` counts as a peer of `trial`: another trial that did not FAIL.
bool IsPeer(const TrialRecord& trial, const TrialRecord& other);

// Whether `a` is strictly better than `b` for `goal`.
bool IsBetter(Goal goal, double a, double b);

// The q-th percentile (0-100) of `values`, interpolated linearly between the
// closest ranks (numpy's default). REQUIRES: !values.empty().
double Percentile(std::vector<double> values, double q);

// The pruner a study's spec asks for (pbt: a NoPruner, as pbt never stops a
// trial; see PbtPolicy). INVALID_ARGUMENT for settings NormalizeStudySpec
// would have rejected, or a hyperband with too many brackets.
absl::StatusOr<std::unique_ptr<Pruner>> MakePruner(const PrunerSpec& spec);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_PRUNER_H_
