// Sampler: a search algorithm that suggests the parameters of the next trial.
//
// Contract (after Vizier's Designer): a sampler is rebuilt from the stored
// trials alone, so a restarted coordinator continues the same search; for a
// given seed and history its suggestions are deterministic. `history` holds
// every other trial of the study, RUNNING ones included, so that parallel
// workers do not get near-duplicates.
//
// Thread-safety: Suggest() is const and may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

class Sampler {
 public:
  virtual ~Sampler() = default;

  // Suggests the parameters of trial `trial_number`. Parameters whose `when`
  // condition does not hold are left out.
  virtual ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                           int64_t trial_number) const = 0;

  // How many distinct trials the sampler can suggest for `space`, when that
  // is finite (a grid); the study then ends after min(max_trials, capacity)
  // trials. nullopt: unbounded.
  virtual std::optional<int64_t> Capacity(const SearchSpace& /*space*/) const {
    return std::nullopt;
  }
};

// Draws one value of `param` uniformly in its own space (log, step, int).
ParamValue SampleUniform(const ParamSpec& param, absl::BitGenRef gen);

// True when `param`'s condition holds for the values chosen so far.
bool ConditionHolds(const ParamSpec& param, const ParamMap& chosen);

// Independent uniform draws; the generator is seeded from (seed, trial number),
// so a trial's parameters do not depend on the order in which trials were
// suggested.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed) : seed_(seed) {}
  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

 private:
  const uint64_t seed_;
};

// The sampler a study's spec asks for; model-based samplers rank trials by
// `objective`. INVALID_ARGUMENT for an unknown type.
absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(const SamplerSpec& spec,
                                                     const ObjectiveSpec& objective);

// The sampler of a whole study: as above, and `nsga2`, which ranks trials by
// all of the study's objectives and constraints. INVALID_ARGUMENT for an
// unknown type.
absl::StatusOr<std::unique_ptr<Sampler>> MakeSampler(const StudySpec& spec);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_SAMPLER_H_
