#include "server/logic/sampler.h"

#include <cmath>
#include <random>
#include <vector>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "server/logic/cmaes_sampler.h"
#include "server/logic/gp_sampler.h"
#include "server/logic/grid_sampler.h"
#include "server/logic/nsga2_sampler.h"
#include "server/logic/sobol_sampler.h"
#include "server/logic/tpe_sampler.h"

namespace vernier {
namespace {

double SnapToStep(double value, double low, double high, double step) {
  double snapped = low + std::round((value - low) / step) * step;
  // Never leave [low, high] through rounding: step down to the last grid point.
  while (snapped > high + 1e-12) snapped -= step;
  return std::max(snapped, low);
}

double SampleFloat(const ParamSpec& param, absl::BitGenRef gen) {
  if (param.low == param.high) return param.low;
  if (param.log) {
    return std::exp(
        absl::Uniform(absl::IntervalClosed, gen, std::log(param.low), std::log(param.high)));
  }
  double value = absl::Uniform(absl::IntervalClosed, gen, param.low, param.high);
  return param.step ? SnapToStep(value, param.low, param.high, *param.step) : value;
}

int64_t SampleInt(const ParamSpec& param, absl::BitGenRef gen) {
  const auto low = static_cast<int64_t>(param.low);
  const auto high = static_cast<int64_t>(param.high);
  if (param.log) {
    // Uniform in log space over [low - 0.5, high + 0.5], then rounded, so
    // every integer gets its share of the log scale.
    double draw = std::exp(
        absl::Uniform(absl::IntervalClosed, gen, std::log(low - 0.5 + 1e-9), std::log(high + 0.5)));
    return std::clamp<int64_t>(std::llround(draw), low, high);
  }
  const auto step = static_cast<int64_t>(param.step.value_or(1));
  const int64_t points = (high - low) / step;
  return low + step * absl::Uniform<int64_t>(absl::IntervalClosed, gen, 0, points);
}

}  // namespace

ParamValue SampleUniform(const ParamSpec& param, absl::BitGenRef gen) {
  switch (param.type) {
    case ParamSpec::Type::kFloat:
      return SampleFloat(param, gen);
    case ParamSpec::Type::kInt:
      return SampleInt(param, gen);
    case ParamSpec::Type::kCategorical:
      return param.values[absl::Uniform<size_t>(gen, 0, param.values.size())];
  }
  return 0.0;
}

bool ConditionHolds(const ParamSpec& param, const ParamMap& chosen) {
  if (!param.when) return true;
  auto parent = chosen.find(param.when->parent);
  return parent != chosen.end() && ParamValueIn(parent->second, param.when->values);
}

ParamMap RandomSampler::Suggest(const SearchSpace& space,
                                absl::Span<const TrialRecord* const> /*history*/,
                                int64_t trial_number) const {
  std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                    static_cast<uint32_t>(trial_number), static_cast<uint32_t>(trial_number >> 32)};
  std::mt19937_64 gen(seq);
  ParamMap params;
  for (const ParamSpec& param : space.params) {
    if (!ConditionHolds(param, params)) continue;
    params[param.name] = SampleUniform(param, gen);
  }
  return params;
}

namespace {

class EmptyHistoryIndex : public HistoryIndex {
 public:
  void Observe(const TrialRecord& /*trial*/) override {}
};

}  // namespace

std::unique_ptr<HistoryIndex> HistoryFreeSampler::NewHistoryIndex() const {
  return std::make_unique<EmptyHistoryIndex>();
}

ParamMap HistoryFreeSampler::SuggestIndexed(const SearchSpace& space,
                                            absl::Span<const TrialRecord> /*trials*/,
                                            const HistoryIndex& /*index*/,
                                            int64_t trial_number) const {
  return Suggest(space, {}, trial_number);
}

ParamMap Sampler::SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                                 const HistoryIndex& /*index*/, int64_t trial_number) const {
  std::vector<const TrialRecord*> history;
  history.reserve(trials.size());
  for (const TrialRecord& trial : trials) history.push_back(&trial);
  return Suggest(space, history, trial_number);
}

absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(const SamplerSpec& spec,
                                                     const ObjectiveSpec& objective) {
  if (spec.type == "random") return std::make_unique<RandomSampler>(spec.seed);
  if (spec.type == "tpe") return std::make_unique<TpeSampler>(spec.tpe, spec.seed, objective);
  if (spec.type == "grid") return std::make_unique<GridSampler>(spec.grid);
  if (spec.type == "sobol") return std::make_unique<SobolSampler>(spec.seed);
  if (spec.type == "gp") return std::make_unique<GpSampler>(spec.gp, spec.seed, objective);
  if (spec.type == "cmaes") {
    return std::make_unique<CmaesSampler>(spec.cmaes, spec.seed, objective);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("sampler.type: unknown sampler \"", spec.type, "\""));
}

absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(const StudySpec& spec) {
  if (spec.sampler.type == "nsga2") {
    return std::make_unique<Nsga2Sampler>(spec.sampler.nsga2, spec.sampler.seed, spec.objectives,
                                          spec.constraints);
  }
  return MakeSampler(spec.sampler, spec.objective);
}

}  // namespace vernier
