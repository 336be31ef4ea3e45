#include "server/logic/sampler.h"

#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/logic/cmaes_sampler.h"
#include "server/logic/gp_sampler.h"
#include "server/logic/grid_sampler.h"
#include "server/logic/nsga2_sampler.h"
#include "server/logic/random.h"
#include "server/logic/sobol_sampler.h"
#include "server/logic/tpe_sampler.h"

namespace vernier {
namespace {

std::vector<const TrialRecord*> Pointers(absl::Span<const TrialRecord> trials) {
  std::vector<const TrialRecord*> history;
  history.reserve(trials.size());
  for (const TrialRecord& trial : trials) history.push_back(&trial);
  return history;
}

double SnapToStep(double value, double low, double high, double step) {
  double snapped = low + std::round((value - low) / step) * step;
  // Never leave [low, high] through rounding: step down to the last grid point.
  while (snapped > high + 1e-12) snapped -= step;
  return std::max(snapped, low);
}

double SampleFloat(const ParamSpec& param, absl::BitGenRef gen) {
  if (param.low == param.high) return param.low;
  if (param.log) {
    return std::exp(UniformRealClosed(gen, std::log(param.low), std::log(param.high)));
  }
  double value = UniformRealClosed(gen, param.low, param.high);
  return param.step ? SnapToStep(value, param.low, param.high, *param.step) : value;
}

int64_t SampleInt(const ParamSpec& param, absl::BitGenRef gen) {
  const auto low = static_cast<int64_t>(param.low);
  const auto high = static_cast<int64_t>(param.high);
  if (param.log) {
    // Uniform in log space over [low - 0.5, high + 0.5], then rounded, so
    // every integer gets its share of the log scale.
    double draw =
        std::exp(UniformRealClosed(gen, std::log(low - 0.5 + 1e-9), std::log(high + 0.5)));
    return std::clamp<int64_t>(std::llround(draw), low, high);
  }
  const auto step = static_cast<int64_t>(param.step.value_or(1));
  const int64_t points = (high - low) / step;
  return low + step * UniformInt(gen, 0, points);
}

}  // namespace

ParamValue SampleUniform(const ParamSpec& param, absl::BitGenRef gen) {
  switch (param.type) {
    case ParamSpec::Type::kFloat:
      return SampleFloat(param, gen);
    case ParamSpec::Type::kInt:
      return SampleInt(param, gen);
    case ParamSpec::Type::kCategorical:
      return param.values[UniformIndex(gen, param.values.size())];
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
  std::mt19937_64 gen = MakeGenerator(StreamSeed(seed_).Number(trial_number));
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
  return Suggest(space, Pointers(trials), trial_number);
}

Sampler::PreparedSuggestion Sampler::PrepareSuggestion(const SearchSpace& space,
                                                       absl::Span<const TrialRecord> trials,
                                                       const HistoryIndex* index,
                                                       int64_t trial_number) const {
  ParamMap params = index != nullptr ? SuggestIndexed(space, trials, *index, trial_number)
                                     : Suggest(space, Pointers(trials), trial_number);
  return [params = std::move(params)] { return params; };
}

namespace {

// One factory per kind of search algorithm (std::visit over SamplerAlgorithm).
struct SamplerFactory {
  uint64_t seed;
  const ObjectiveSpec& objective;
  const std::vector<ObjectiveSpec>& objectives;
  const std::vector<ConstraintSpec>& constraints;

  std::unique_ptr<Sampler> operator()(const RandomSpec&) const {
    return std::make_unique<RandomSampler>(seed);
  }
  std::unique_ptr<Sampler> operator()(const TpeSpec& tpe) const {
    return std::make_unique<TpeSampler>(tpe, seed, objective);
  }
  std::unique_ptr<Sampler> operator()(const GridSpec& grid) const {
    return std::make_unique<GridSampler>(grid);
  }
  std::unique_ptr<Sampler> operator()(const SobolSpec&) const {
    return std::make_unique<SobolSampler>(seed);
  }
  std::unique_ptr<Sampler> operator()(const GpSpec& gp) const {
    return std::make_unique<GpSampler>(gp, seed, objective);
  }
  std::unique_ptr<Sampler> operator()(const CmaesSpec& cmaes) const {
    return std::make_unique<CmaesSampler>(cmaes, seed, objective);
  }
  std::unique_ptr<Sampler> operator()(const Nsga2Spec& nsga2) const {
    return std::make_unique<Nsga2Sampler>(nsga2, seed, objectives, constraints);
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(const SamplerSpec& spec,
                                                     const ObjectiveSpec& objective) {
  const std::vector<ObjectiveSpec> objectives = {objective};
  const std::vector<ConstraintSpec> constraints;
  return std::visit(SamplerFactory{spec.seed, objective, objectives, constraints}, spec.algorithm);
}

absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(const StudySpec& spec) {
  return std::visit(
      SamplerFactory{spec.sampler.seed, spec.objective, spec.objectives, spec.constraints},
      spec.sampler.algorithm);
}

}  // namespace vernier
