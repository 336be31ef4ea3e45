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
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// An index of one study's trials that a sampler keeps across suggestions, so
// that a suggestion need not re-read a long history (Sampler::NewHistoryIndex).
// The caller owns it, one per study, and rebuilds it after a restart by
// observing every stored trial: it holds nothing the trials do not.
//
// Thread-safety: not thread-safe; the caller serialises Observe() and the
// suggestions that read the index.
class HistoryIndex {
 public:
  virtual ~HistoryIndex() = default;

  // Records `trial` as it is now: a new trial, or the new state, parameters
  // or values of one observed before (the same number). Called after every
  // change; the latest call for a number wins.
  virtual void Observe(const TrialRecord& trial) = 0;
};

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

  // ---- Incremental history (optional) ----
  // A sampler whose suggestion reads only a bounded part of a long history
  // (TPE: the best trials and the newest others) keeps an index of it, so
  // that the cost of a suggestion does not grow with the study.

  // A new, empty index for this sampler; nullptr (the default) when the
  // sampler keeps none.
  virtual std::unique_ptr<HistoryIndex> NewHistoryIndex() const { return nullptr; }

  // Returns exactly what Suggest(space, <pointers to every trial of `trials`>,
  // trial_number) returns, reading `index` instead of scanning the history
  // where it can. REQUIRES: trials[i].number == i; `index` came from this
  // sampler's NewHistoryIndex() (or is ignored) and has observed every trial
  // of `trials` in its current state, and no other. The default scans.
  virtual ParamMap SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                                  const HistoryIndex& index, int64_t trial_number) const;

  // ---- Suggestions outside the study's lock ----
  // A suggestion in two parts, so that a slow one does not hold up the rest
  // of the study: PrepareSuggestion reads the history while the caller holds
  // the study's lock and returns a function that computes the suggestion
  // from what it copied. The function may run later, on any thread, without
  // the lock and while the study changes; it returns exactly what
  // SuggestIndexed(space, trials, *index, trial_number) (or, without an
  // index, Suggest over every trial) returned at PrepareSuggestion. `space`
  // must outlive the function.
  //
  // The default computes the suggestion at once and the function only hands
  // it back: right for samplers whose suggestion costs about as much as
  // copying its inputs (random, sobol, grid, tpe, cmaes, nsga2). gp, whose
  // model fit takes tens of milliseconds, copies its inputs instead.
  using PreparedSuggestion = std::function<ParamMap()>;
  virtual PreparedSuggestion PrepareSuggestion(const SearchSpace& space,
                                               absl::Span<const TrialRecord> trials,
                                               const HistoryIndex* index,
                                               int64_t trial_number) const;
};

// Draws one value of `param` uniformly in its own space (log, step, int).
ParamValue SampleUniform(const ParamSpec& param, absl::BitGenRef gen);

// True when `param`'s condition holds for the values chosen so far.
bool ConditionHolds(const ParamSpec& param, const ParamMap& chosen);

// Independent uniform draws; the generator is seeded from (seed, trial number),
// so a trial's parameters do not depend on the order in which trials were
// suggested.
// A sampler whose suggestion reads no history (only the seed and the trial
// number): its index records nothing, so a suggestion costs the same in a
// study of any length.
class HistoryFreeSampler : public Sampler {
 public:
  std::unique_ptr<HistoryIndex> NewHistoryIndex() const override;
  ParamMap SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                          const HistoryIndex& index, int64_t trial_number) const override;
};

class RandomSampler : public HistoryFreeSampler {
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
