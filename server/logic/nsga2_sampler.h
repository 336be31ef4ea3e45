// Nsga2Sampler: the non-dominated sorting genetic algorithm II (Deb et al.,
// "A fast and elitist multiobjective genetic algorithm: NSGA-II", 2002) with
// Deb's constrained domination, for studies with one or more objectives.
//
// Generations come from trial numbers: generation g holds trials
// [g * population_size, (g + 1) * population_size). Generation 0 is drawn
// uniformly at random. The parents of generation g are the population_size
// best of (the parents of generation g - 1) + (the finished trials of
// generation g - 1), best by constrained non-dominated rank, then by crowding
// distance (elitist survival); COMPLETE trials are feasible, INFEASIBLE ones
// rank behind every feasible trial by their constraint violation, and trials
// that failed, were pruned or are still running take no part. Each child
// picks two parents by binary tournament on (rank, crowding), crosses them
// with `crossover_prob` (categoricals: uniform crossover; floats and ints:
// simulated binary crossover, eta 15, on UnitSpace's unit axes, each gene
// taken from either child with `swapping_prob`), and mutates each parameter
// with `mutation_prob` (default 1 / #params; numeric: polynomial mutation,
// eta 20; categorical: a uniform draw). A conditional parameter takes a
// parent's value when a parent has it, else a uniform draw.
//
// Rebuilt from the history alone, and deterministic for a seed and history:
// the parents are recomputed from the stored trials (Suggest), or kept per
// generation in a history index that drops what a changed trial affects
// (SuggestIndexed), and a child's random choices come from a generator
// seeded by (seed, trial number). Aware of RUNNING trials: a child equal to the parameters of any
// trial in the history (running ones included) is drawn again, up to a few
// times, so parallel workers do not get duplicates.
//
// Thread-safety: immutable after construction; Suggest() may be called
// concurrently.
#ifndef VERNIER_SERVER_LOGIC_NSGA2_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_NSGA2_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

class Nsga2Sampler : public Sampler {
 public:
  // REQUIRES: spec as ParseStudySpec validates it; at least one objective.
  Nsga2Sampler(const Nsga2Spec& spec, uint64_t seed, std::vector<ObjectiveSpec> objectives,
               std::vector<ConstraintSpec> constraints);

  // Never returns a value outside `space`.
  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

  // Incremental history: the parents of each generation, cached, so that a
  // suggestion does not replay every generation of a long study (see
  // Sampler::SuggestIndexed). The same suggestions as Suggest().
  std::unique_ptr<HistoryIndex> NewHistoryIndex() const override;
  ParamMap SuggestIndexed(const SearchSpace& space, absl::Span<const TrialRecord> trials,
                          const HistoryIndex& index, int64_t trial_number) const override;

  // The trial numbers of the parent population of `generation` (>= 0; empty
  // for generation 0), best first: from the whole history, or from `index`
  // (REQUIRES: from this sampler's NewHistoryIndex(), as SuggestIndexed
  // reads it). Exposed for tests.
  std::vector<int64_t> ParentNumbers(absl::Span<const TrialRecord* const> history,
                                     int64_t generation) const;
  std::vector<int64_t> ParentNumbers(absl::Span<const TrialRecord> trials,
                                     const HistoryIndex& index, int64_t generation) const;

 private:
  struct Individual;
  class ParentsIndex;

  // The individual of a trial that takes part in survival (COMPLETE with
  // every objective, or INFEASIBLE); nullopt for any other.
  std::optional<Individual> AsIndividual(const TrialRecord& trial) const;
  // One generation's elitist survival: the population_size best of `pool`.
  std::vector<Individual> Survivors(std::vector<Individual> pool) const;
  // A child of `parents` (a uniform draw when there are none), drawn again
  // while it repeats a trial of `history`.
  ParamMap Breed(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                 const std::vector<Individual>& parents, int64_t trial_number) const;

  std::vector<Individual> Parents(absl::Span<const TrialRecord* const> history,
                                  int64_t generation) const;

  const Nsga2Spec spec_;
  const uint64_t seed_;
  const std::vector<ObjectiveSpec> objectives_;
  const std::vector<ConstraintSpec> constraints_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_NSGA2_SAMPLER_H_
