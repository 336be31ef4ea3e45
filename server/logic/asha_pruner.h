// Successive-halving pruners: ASHA (asynchronous successive halving, Li et al.
// 2020, as Optuna's SuccessiveHalvingPruner) and Hyperband (several ASHA
// brackets, as Optuna's HyperbandPruner). Both are pure functions of the
// trials' values (see pruner.h); the rung a value belongs to is worked out from
// the steps, never stored.
//
// Thread-safety: ShouldPrune() is const and may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_ASHA_PRUNER_H_
#define VERNIER_SERVER_LOGIC_ASHA_PRUNER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/logic/pruner.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// Rungs sit at steps min_resource * rf^(min_early_stopping_rate + k), k >= 0,
// below max_resource when it is set (a trial that reached its full budget is
// never stopped). A trial's value at a rung is its value at its first reported
// step >= the rung step, so a trial that skips over a rung is judged at the
// step where it crosses it, against the other trials' values where they
// crossed it; crossing several rungs at once judges each one.
//
// At a rung, with n values recorded there so far (peers and the trial itself;
// NaN values are not recorded), the trial continues iff its value is at least
// as good as the k-th best, k = max(1, floor(n / rf)): the top 1/rf continue,
// and a trial alone at a rung continues (the asynchronous rule). While fewer
// than bootstrap_count peers reached the rung, the trial continues (Optuna
// prunes it instead; we never stop a trial for want of company). A NaN value
// at any reported step is pruned.
class AshaPruner : public Pruner {
 public:
  struct Options {
    int64_t min_resource = 1;             // >= 1
    int64_t reduction_factor = 3;         // >= 2
    std::optional<int64_t> max_resource;  // >= min_resource when set.
    int64_t min_early_stopping_rate = 0;  // >= 0
    int64_t bootstrap_count = 0;          // >= 0
  };

  // INVALID_ARGUMENT naming the field when an option is out of range.
  static absl::StatusOr<std::unique_ptr<AshaPruner>> Create(const AshaSpec& spec);

  // REQUIRES: `options` in range (see Options).
  explicit AshaPruner(const Options& options) : options_(options) {}

  bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                   absl::Span<const TrialRecord* const> others) const override;

  // The rung steps in (after, up_to], ascending.
  std::vector<int64_t> RungsIn(int64_t after, int64_t up_to) const;

 private:
  bool Promotable(const ObjectiveSpec& objective, const TrialRecord& trial, double value,
                  int64_t rung, absl::Span<const TrialRecord* const> others) const;

  const Options options_;
};

// Hyperband: brackets b = 0 .. B-1, B = floor(log_rf(max_resource /
// min_resource)) + 1; bracket b is an AshaPruner whose first rung is at
// min_resource * rf^b (the last bracket has no rung and never prunes). Trial
// number n goes to a bracket by a weighted round robin over n, bracket b
// getting ceil(B * rf^s / (s + 1)) of every cycle, s = B - 1 - b (the trial
// counts of Hyperband's brackets, as Optuna allots them). A trial is compared
// only with the peers of its own bracket.
class HyperbandPruner : public Pruner {
 public:
  // INVALID_ARGUMENT naming the field when a setting is out of range or
  // max_resource is missing.
  static absl::StatusOr<std::unique_ptr<HyperbandPruner>> Create(const HyperbandSpec& spec);

  bool ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                   absl::Span<const TrialRecord* const> others) const override;

  int NumBrackets() const { return static_cast<int>(brackets_.size()); }
  // The bracket of trial number `number`, in [0, NumBrackets()).
  int BracketOf(int64_t number) const;

 private:
  HyperbandPruner(std::vector<AshaPruner> brackets, std::vector<int64_t> cumulative_budget)
      : brackets_(std::move(brackets)), cumulative_budget_(std::move(cumulative_budget)) {}

  const std::vector<AshaPruner> brackets_;
  // cumulative_budget_[b]: trials per cycle in brackets 0..b.
  const std::vector<int64_t> cumulative_budget_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_ASHA_PRUNER_H_
