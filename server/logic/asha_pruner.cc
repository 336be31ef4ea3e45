#include "server/logic/asha_pruner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

absl::Status AtLeast(absl::string_view field, int64_t value, int64_t min_value) {
  if (value >= min_value) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("pruner.", field, ": must be >= ", min_value, ", got ", value));
}

absl::Status CheckOptions(const AshaPruner::Options& options) {
  RETURN_IF_ERROR(AtLeast("min_resource", options.min_resource, 1));
  RETURN_IF_ERROR(AtLeast("reduction_factor", options.reduction_factor, 2));
  RETURN_IF_ERROR(AtLeast("min_early_stopping_rate", options.min_early_stopping_rate, 0));
  RETURN_IF_ERROR(AtLeast("bootstrap_count", options.bootstrap_count, 0));
  if (options.max_resource) {
    RETURN_IF_ERROR(AtLeast("max_resource", *options.max_resource, options.min_resource));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AshaPruner>> AshaPruner::Create(const AshaSpec& spec) {
  Options options;
  options.min_resource = spec.min_resource;
  options.reduction_factor = spec.reduction_factor;
  options.max_resource = spec.max_resource;
  options.min_early_stopping_rate = spec.min_early_stopping_rate;
  options.bootstrap_count = spec.bootstrap_count;
  RETURN_IF_ERROR(CheckOptions(options));
  return std::make_unique<AshaPruner>(options);
}

std::vector<int64_t> AshaPruner::RungsIn(int64_t after, int64_t up_to) const {
  const int64_t rf = options_.reduction_factor;
  std::vector<int64_t> rungs;
  int64_t rung = options_.min_resource;
  for (int64_t i = 0; i < options_.min_early_stopping_rate; ++i) {
    if (rung > up_to / rf) return rungs;  // The first rung lies beyond up_to.
    rung *= rf;
  }
  while (rung <= up_to && !(options_.max_resource && rung >= *options_.max_resource)) {
    if (rung > after) rungs.push_back(rung);
    if (rung > up_to / rf) break;  // Also keeps rung * rf from overflowing.
    rung *= rf;
  }
  return rungs;
}

bool AshaPruner::ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial, int64_t step,
                             absl::Span<const TrialRecord* const> others) const {
  std::optional<double> value = ValueAtStep(trial, objective.metric, step);
  if (!value) return false;
  if (std::isnan(*value)) return true;
  std::optional<int64_t> previous = PreviousStep(trial, objective.metric, step);
  const int64_t after = previous.value_or(std::numeric_limits<int64_t>::min());
  for (int64_t rung : RungsIn(after, step)) {
    if (!Promotable(objective, trial, *value, rung, others)) return true;
  }
  return false;
}

bool AshaPruner::Promotable(const ObjectiveSpec& objective, const TrialRecord& trial, double value,
                            int64_t rung, absl::Span<const TrialRecord* const> others) const {
  std::vector<double> values = {value};
  for (const TrialRecord* other : others) {
    if (!IsPeer(trial, *other)) continue;
    std::optional<StepValue> at_rung = FirstValueAtOrAfter(*other, objective.metric, rung);
    if (at_rung && !std::isnan(at_rung->value)) values.push_back(at_rung->value);
  }
  const int64_t peers = static_cast<int64_t>(values.size()) - 1;
  if (peers < options_.bootstrap_count) return true;
  const int64_t keep =
      std::max<int64_t>(1, static_cast<int64_t>(values.size()) / options_.reduction_factor);
  auto kth = values.begin() + (keep - 1);
  std::nth_element(values.begin(), kth, values.end(),
                   [&](double a, double b) { return IsBetter(objective.goal, a, b); });
  return !IsBetter(objective.goal, *kth, value);
}

absl::StatusOr<std::unique_ptr<HyperbandPruner>> HyperbandPruner::Create(
    const HyperbandSpec& spec) {
  AshaPruner::Options options;
  options.min_resource = spec.min_resource;
  options.reduction_factor = spec.reduction_factor;
  options.max_resource = spec.max_resource;
  options.bootstrap_count = spec.bootstrap_count;
  RETURN_IF_ERROR(CheckOptions(options));
  const int64_t rf = options.reduction_factor;
  int num_brackets = 1;
  for (int64_t top = options.min_resource; top <= *options.max_resource / rf; top *= rf) {
    ++num_brackets;
  }
  std::vector<AshaPruner> brackets;
  std::vector<int64_t> cumulative_budget;
  double total = 0;
  for (int b = 0; b < num_brackets; ++b) {
    const int s = num_brackets - 1 - b;
    total += std::ceil(num_brackets * std::pow(static_cast<double>(rf), s) / (s + 1));
    if (total > 1e15) {
      return absl::InvalidArgumentError(absl::StrCat("pruner.max_resource: too many brackets (",
                                                     num_brackets, "), got ",
                                                     *options.max_resource));
    }
    cumulative_budget.push_back(static_cast<int64_t>(total));
    options.min_early_stopping_rate = b;
    brackets.emplace_back(options);
  }
  return std::unique_ptr<HyperbandPruner>(
      new HyperbandPruner(std::move(brackets), std::move(cumulative_budget)));
}

int HyperbandPruner::BracketOf(int64_t number) const {
  const int64_t total = cumulative_budget_.back();
  const int64_t slot = ((number % total) + total) % total;
  auto it = std::upper_bound(cumulative_budget_.begin(), cumulative_budget_.end(), slot);
  return static_cast<int>(it - cumulative_budget_.begin());
}

bool HyperbandPruner::ShouldPrune(const ObjectiveSpec& objective, const TrialRecord& trial,
                                  int64_t step, absl::Span<const TrialRecord* const> others) const {
  const int bracket = BracketOf(trial.number);
  std::vector<const TrialRecord*> same_bracket;
  for (const TrialRecord* other : others) {
    if (BracketOf(other->number) == bracket) same_bracket.push_back(other);
  }
  return brackets_[bracket].ShouldPrune(objective, trial, step, same_bracket);
}

}  // namespace vernier
