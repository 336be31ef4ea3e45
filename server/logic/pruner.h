// Pruner: an early-stopping rule across trials. A pruner is a function of this
// trial's values and the other trials' values at the same steps; the answer
// to a worker's ReportProgress is its decision.
//
// Thread-safety: ShouldPrune() is const and may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_PRUNER_H_
#define VERNIER_SERVER_LOGIC_PRUNER_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

class Pruner {
 public:
  virtual ~Pruner() = default;

  // Whether `trial`, which has just reported `step` (already in
  // trial.intermediate), should stop. `others` are the study's other trials.
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

// Median stopping rule: prunes a trial whose best value so far is worse than
// the median of the other trials' values at the same step. Not before
// `warmup_steps`, only at steps that are multiples of `interval`, and only when
// at least `min_trials` other (non-FAILED) trials reported that step. A NaN
// value is always pruned.
class MedianPruner : public Pruner {
 public:
  explicit MedianPruner(const PrunerSpec& spec) : spec_(spec) {}
  bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                   absl::Span<const TrialRecord* const> others) const override;

 private:
  const PrunerSpec spec_;
};

// The value of `metric` that `trial` reported at `step`, if any.
std::optional<double> ValueAtStep(const TrialRecord& trial, const std::string& metric,
                                  int64_t step);

// The pruner a study's spec asks for. INVALID_ARGUMENT for an unknown type.
absl::StatusOr<std::unique_ptr<Pruner>> MakePruner(const PrunerSpec& spec);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_PRUNER_H_
