#include "server/logic/pbt.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "server/logic/pruner.h"
#include "server/logic/random.h"
#include "server/logic/sampler.h"

namespace vernier {
namespace {

// Separate streams for choosing the donor (stream_tag::kPbtDonor) and for
// perturbing (kPbtPerturb), so that adding a parameter to the space does not
// change which donor is chosen.
std::mt19937_64 StepGenerator(uint64_t seed, int64_t trial, int64_t step, uint32_t stream) {
  return MakeGenerator(StreamSeed(seed).Number(trial).Number(step).Word(stream));
}

// A member of the population at a step.
struct Member {
  const TrialRecord* trial = nullptr;
  double value = 0;
};

// The latest boundary at or before `step`: the largest multiple of
// `interval` that is <= step.
int64_t BoundaryOf(int64_t step, int64_t interval) { return step / interval * interval; }

// The value `trial` counts with when judged at `step` against `boundary`: its
// last objective value at a step <= `step`, when it reported the objective at
// some step >= `boundary` (it passed the boundary).
std::optional<double> MemberValue(const TrialRecord& trial, const std::string& metric,
                                  int64_t boundary, int64_t step) {
  if (!FirstValueAtOrAfter(trial, metric, boundary)) return std::nullopt;
  std::optional<double> exact = ValueAtStep(trial, metric, step);
  if (exact) return exact;
  std::optional<int64_t> previous = PreviousStep(trial, metric, step);
  if (!previous) return std::nullopt;
  return ValueAtStep(trial, metric, *previous);
}

// The checkpoint of `donor` (held: `held`) that an exploit at `step` may
// take: its latest at a step <= `step`, if that one was taken by the donor's
// current run (after the donor step of its own last exploit; an earlier one
// holds the run it abandoned, which its parameters no longer match) and is
// not the one the donor's next checkpoint drops (its oldest, when it holds
// kPbtCheckpointsKept): that would likely vanish before the worker fetches it.
std::optional<int64_t> OfferedCheckpoint(const TrialRecord& donor, const std::set<int64_t>& held,
                                         int64_t step) {
  auto after = held.upper_bound(step);
  if (after == held.begin()) return std::nullopt;
  const int64_t chosen = *std::prev(after);
  if (!donor.exploits.empty() && chosen <= donor.exploits.back().donor_step) return std::nullopt;
  if (held.size() >= static_cast<size_t>(kPbtCheckpointsKept) && chosen == *held.begin()) {
    return std::nullopt;
  }
  return chosen;
}

// Best first: better value, NaN last, then the lower trial number.
bool RanksBefore(Goal goal, const Member& a, const Member& b) {
  const bool a_nan = std::isnan(a.value), b_nan = std::isnan(b.value);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.value != b.value) return IsBetter(goal, a.value, b.value);
  return a.trial->number < b.trial->number;
}

double Clamp(double value, const ParamSpec& param) {
  return std::clamp(value, param.low, param.high);
}

// `value` on the grid low + k * step inside [low, high].
double SnapToGrid(double value, const ParamSpec& param, double step) {
  double snapped = param.low + std::round((value - param.low) / step) * step;
  while (snapped > param.high + 1e-12) snapped -= step;
  return std::max(snapped, param.low);
}

}  // namespace

std::optional<ExploitDecision> PbtPolicy::Decide(const ObjectiveSpec& objective,
                                                 const TrialRecord& trial, int64_t step,
                                                 absl::Span<const TrialRecord* const> trials,
                                                 const CheckpointIndex& checkpoints) const {
  const int64_t boundary = BoundaryOf(step, spec_.interval);
  if (step <= 0 || boundary <= 0) return std::nullopt;
  if (!trial.exploits.empty() &&
      BoundaryOf(trial.exploits.back().step, spec_.interval) >= boundary) {
    return std::nullopt;
  }
  std::vector<Member> population;
  std::optional<double> own = MemberValue(trial, objective.metric, boundary, step);
  if (!own) return std::nullopt;
  population.push_back({&trial, *own});
  for (const TrialRecord* other : trials) {
    if (!IsPeer(trial, *other)) continue;
    std::optional<double> value = MemberValue(*other, objective.metric, boundary, step);
    if (value) population.push_back({other, *value});
  }
  const auto n = static_cast<int64_t>(population.size());
  if (n < spec_.min_population) return std::nullopt;
  std::sort(population.begin(), population.end(), [&objective](const Member& a, const Member& b) {
    return RanksBefore(objective.goal, a, b);
  });
  const int64_t k =
      std::max<int64_t>(1, static_cast<int64_t>(std::floor(n * spec_.quantile + 1e-9)));
  int64_t rank = 0;
  while (population[rank].trial != &trial) ++rank;
  if (rank < n - k) return std::nullopt;

  std::vector<std::pair<const TrialRecord*, int64_t>> donors;  // With their checkpoint step.
  for (int64_t i = 0; i < k; ++i) {
    const TrialRecord* candidate = population[i].trial;
    if (candidate == &trial || std::isnan(population[i].value)) continue;
    auto held = checkpoints.find(candidate->number);
    if (held == checkpoints.end()) continue;
    std::optional<int64_t> offered = OfferedCheckpoint(*candidate, held->second, step);
    if (offered) donors.emplace_back(candidate, *offered);
  }
  if (donors.empty()) return std::nullopt;
  // Keyed on the boundary, not the step: which report in the window happens
  // to be judged depends on when the peers arrived, the draw does not.
  std::mt19937_64 gen = StepGenerator(seed_, trial.number, boundary, stream_tag::kPbtDonor);
  const auto& [donor, donor_step] = donors[UniformIndex(gen, donors.size())];
  return ExploitDecision{donor->number, donor_step, Perturb(donor->params, trial.number, boundary)};
}

ParamMap PbtPolicy::Perturb(const ParamMap& donor, int64_t trial_number, int64_t step) const {
  std::mt19937_64 gen = StepGenerator(seed_, trial_number, step, stream_tag::kPbtPerturb);
  ParamMap params = donor;
  for (const std::string& name : spec_.params) {
    const ParamSpec* param = space_.Find(name);
    auto value = params.find(name);
    if (param == nullptr || value == params.end()) continue;
    // Both draws are made for every parameter, so one parameter's outcome
    // never shifts the draws of the next.
    const bool resample = Bernoulli(gen, spec_.resample_probability);
    const double factor = spec_.perturb_factors[UniformIndex(gen, spec_.perturb_factors.size())];
    // A stream of its own per parameter, tagged by the next word of `gen`.
    std::mt19937_64 fresh =
        StepGenerator(seed_, trial_number, step, static_cast<uint32_t>(gen() & 0xffffffffu));
    if (resample) {
      value->second = SampleUniform(*param, fresh);
      continue;
    }
    if (param->type == ParamSpec::Type::kFloat) {
      const double* current = std::get_if<double>(&value->second);
      if (current == nullptr) continue;
      double next = Clamp(*current * factor, *param);
      if (param->step && !param->log) next = SnapToGrid(next, *param, *param->step);
      value->second = next;
    } else if (param->type == ParamSpec::Type::kInt) {
      const int64_t* current = std::get_if<int64_t>(&value->second);
      if (current == nullptr) continue;
      const double step_size = param->step.value_or(1);
      const double next =
          SnapToGrid(Clamp(static_cast<double>(*current) * factor, *param), *param, step_size);
      value->second = static_cast<int64_t>(std::llround(next));
    }
  }
  return params;
}

}  // namespace vernier
