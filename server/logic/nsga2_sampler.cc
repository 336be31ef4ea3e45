#include "server/logic/nsga2_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "server/logic/multi_objective.h"
#include "server/logic/pareto.h"
#include "server/logic/random.h"
#include "server/logic/unit_space.h"

namespace vernier {

struct Nsga2Sampler::Individual {
  const TrialRecord* trial = nullptr;
  Point loss;
  double violation = 0;  // 0: feasible.
  int rank = 0;          // Non-dominated front within the population.
  double crowding = 0;
};

namespace {

constexpr double kSbxEta = 15;       // Distribution index of the crossover.
constexpr double kMutationEta = 20;  // Distribution index of the mutation.
constexpr int kDrawsAgainstDuplicates = 8;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::mt19937_64 Generator(uint64_t seed, int64_t trial_number) {
  return MakeGenerator(StreamSeed(seed).Number(trial_number).Word(stream_tag::kNsga2));
}

// Deb and Agrawal's simulated binary crossover of two coordinates in [0, 1]
// (the bounded form of Deb's NSGA-II code): two children spread around the
// parents, nearer to them the larger eta.
std::pair<double, double> Sbx(double y1, double y2, double u) {
  if (std::abs(y1 - y2) < 1e-14) return {y1, y2};
  if (y1 > y2) std::swap(y1, y2);
  const double exponent = 1.0 / (kSbxEta + 1);
  auto betaq = [&](double beta) {
    const double alpha = 2.0 - std::pow(beta, -(kSbxEta + 1));
    return u <= 1.0 / alpha ? std::pow(u * alpha, exponent)
                            : std::pow(1.0 / (2.0 - u * alpha), exponent);
  };
  const double spread = y2 - y1;
  const double c1 = 0.5 * ((y1 + y2) - betaq(1.0 + 2.0 * y1 / spread) * spread);
  const double c2 = 0.5 * ((y1 + y2) + betaq(1.0 + 2.0 * (1.0 - y2) / spread) * spread);
  return {std::clamp(c1, 0.0, 1.0), std::clamp(c2, 0.0, 1.0)};
}

// Deb's polynomial mutation of a coordinate in [0, 1].
double PolynomialMutation(double y, double u) {
  const double exponent = 1.0 / (kMutationEta + 1);
  double delta = 0;
  if (u < 0.5) {
    const double value = 2 * u + (1 - 2 * u) * std::pow(1 - y, kMutationEta + 1);
    delta = std::pow(value, exponent) - 1;
  } else {
    const double value = 2 * (1 - u) + 2 * (u - 0.5) * std::pow(y, kMutationEta + 1);
    delta = 1 - std::pow(value, exponent);
  }
  return std::clamp(y + delta, 0.0, 1.0);
}

// A parent as the crossover sees it: its parameters and, when they fit the
// current space, their unit coordinates.
struct Genome {
  const ParamMap* params = nullptr;
  std::optional<Eigen::VectorXd> z;

  bool Has(const ParamSpec& param) const { return params->count(param.name) > 0; }
};

}  // namespace

Nsga2Sampler::Nsga2Sampler(const Nsga2Spec& spec, uint64_t seed,
                           std::vector<ObjectiveSpec> objectives,
                           std::vector<ConstraintSpec> constraints)
    : spec_(spec),
      seed_(seed),
      objectives_(std::move(objectives)),
      constraints_(std::move(constraints)) {}

std::optional<Nsga2Sampler::Individual> Nsga2Sampler::AsIndividual(const TrialRecord& trial) const {
  if (!LearnsFrom(trial)) return std::nullopt;
  Individual individual;
  individual.trial = &trial;
  std::optional<Point> loss = ObjectiveLosses(trial, objectives_);
  if (trial.state == TrialState::kComplete) {
    if (!loss) return std::nullopt;
    individual.loss = std::move(*loss);
  } else if (trial.state == TrialState::kInfeasible) {
    individual.loss = loss ? std::move(*loss) : Point(objectives_.size(), kInf);
    // Stays infeasible even if its metrics now meet the constraints.
    individual.violation =
        std::max(ConstraintViolation(ConstraintMetrics(trial, constraints_), constraints_),
                 std::numeric_limits<double>::min());
  } else {
    return std::nullopt;
  }
  return individual;
}

std::vector<Nsga2Sampler::Individual> Nsga2Sampler::Survivors(std::vector<Individual> pool) const {
  const int64_t size = spec_.population_size;
  std::vector<Point> points;
  std::vector<double> violations;
  for (const Individual& individual : pool) {
    points.push_back(individual.loss);
    violations.push_back(individual.violation);
  }
  std::vector<Individual> population;
  std::vector<std::vector<int>> fronts = NonDominatedFronts(points, violations);
  for (size_t rank = 0; rank < fronts.size(); ++rank) {
    if (static_cast<int64_t>(population.size()) >= size) break;
    const std::vector<int>& front = fronts[rank];
    std::vector<double> crowding = CrowdingDistances(points, front);
    std::vector<size_t> order(front.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    // Most isolated first; ties by trial number, so the result is unique.
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (crowding[a] != crowding[b]) return crowding[a] > crowding[b];
      return pool[front[a]].trial->number < pool[front[b]].trial->number;
    });
    for (size_t k : order) {
      if (static_cast<int64_t>(population.size()) >= size) break;
      Individual chosen = pool[front[k]];
      chosen.rank = static_cast<int>(rank);
      chosen.crowding = crowding[k];
      population.push_back(std::move(chosen));
    }
  }
  return population;
}

std::vector<Nsga2Sampler::Individual> Nsga2Sampler::Parents(
    absl::Span<const TrialRecord* const> history, int64_t generation) const {
  const int64_t size = spec_.population_size;
  // The finished trials of each generation below `generation`.
  std::map<int64_t, std::vector<Individual>> by_generation;
  for (const TrialRecord* trial : history) {
    const int64_t g = trial->number / size;
    if (g >= generation) continue;
    if (std::optional<Individual> individual = AsIndividual(*trial)) {
      by_generation[g].push_back(*std::move(individual));
    }
  }
  std::vector<Individual> population;
  for (int64_t g = 0; g < generation; ++g) {
    std::vector<Individual> pool = std::move(population);
    auto it = by_generation.find(g);
    if (it != by_generation.end()) {
      for (Individual& individual : it->second) pool.push_back(std::move(individual));
    }
    population = Survivors(std::move(pool));
  }
  return population;
}

// The parents of each generation, computed once and kept while the trials
// they come from stay as they were: the parents of generation g depend on
// the trials of generations below g only, so a change to a trial of
// generation h drops the kept parents of the generations after h. Kept as
// trial numbers (the caller's trial records may move between calls).
class Nsga2Sampler::ParentsIndex : public HistoryIndex {
 public:
  explicit ParentsIndex(int64_t population_size) : size_(population_size) {}

  void Observe(const TrialRecord& trial) override {
    const size_t still_valid = static_cast<size_t>(trial.number / size_) + 1;
    if (kept_.size() > still_valid) kept_.resize(still_valid);
  }

  // Parents(<every trial of `trials`>, generation), from what is kept.
  // REQUIRES: trials[i].number == i.
  std::vector<Individual> Parents(const Nsga2Sampler& sampler, absl::Span<const TrialRecord> trials,
                                  int64_t generation) const {
    if (kept_.empty()) kept_.emplace_back();  // Generation 0 has no parents.
    while (static_cast<int64_t>(kept_.size()) <= generation) {
      const int64_t g = static_cast<int64_t>(kept_.size()) - 1;
      std::vector<Individual> pool = Resolve(kept_.back(), trials);
      const auto end = std::min<int64_t>((g + 1) * size_, static_cast<int64_t>(trials.size()));
      for (int64_t n = g * size_; n < end; ++n) {
        if (std::optional<Individual> individual = sampler.AsIndividual(trials[n])) {
          pool.push_back(*std::move(individual));
        }
      }
      std::vector<Individual> survivors = sampler.Survivors(std::move(pool));
      std::vector<Kept> kept;
      for (const Individual& individual : survivors) {
        kept.push_back({individual.trial->number, individual});
      }
      kept_.push_back(std::move(kept));
    }
    return Resolve(kept_[static_cast<size_t>(generation)], trials);
  }

 private:
  struct Kept {
    int64_t number;
    Individual individual;  // Its `trial` pointer is not used.
  };

  static std::vector<Individual> Resolve(const std::vector<Kept>& kept,
                                         absl::Span<const TrialRecord> trials) {
    std::vector<Individual> individuals;
    for (const Kept& k : kept) {
      individuals.push_back(k.individual);
      individuals.back().trial = &trials[static_cast<size_t>(k.number)];
    }
    return individuals;
  }

  const int64_t size_;
  // kept_[g]: the parents of generation g. Filled lazily by Parents(), which
  // the caller serialises with Observe() (HistoryIndex's contract).
  mutable std::vector<std::vector<Kept>> kept_;
};

std::unique_ptr<HistoryIndex> Nsga2Sampler::NewHistoryIndex() const {
  return std::make_unique<ParentsIndex>(spec_.population_size);
}

ParamMap Nsga2Sampler::SuggestIndexed(const SearchSpace& space,
                                      absl::Span<const TrialRecord> trials,
                                      const HistoryIndex& index, int64_t trial_number) const {
  std::vector<const TrialRecord*> history;
  history.reserve(trials.size());
  for (const TrialRecord& trial : trials) history.push_back(&trial);
  const int64_t generation = trial_number / spec_.population_size;
  return Breed(space, history,
               dynamic_cast<const ParentsIndex&>(index).Parents(*this, trials, generation),
               trial_number);
}

std::vector<int64_t> Nsga2Sampler::ParentNumbers(absl::Span<const TrialRecord> trials,
                                                 const HistoryIndex& index,
                                                 int64_t generation) const {
  std::vector<int64_t> numbers;
  for (const Individual& individual :
       dynamic_cast<const ParentsIndex&>(index).Parents(*this, trials, generation)) {
    numbers.push_back(individual.trial->number);
  }
  return numbers;
}

std::vector<int64_t> Nsga2Sampler::ParentNumbers(absl::Span<const TrialRecord* const> history,
                                                 int64_t generation) const {
  std::vector<int64_t> numbers;
  for (const Individual& individual : Parents(history, generation)) {
    numbers.push_back(individual.trial->number);
  }
  return numbers;
}

ParamMap Nsga2Sampler::Suggest(const SearchSpace& space,
                               absl::Span<const TrialRecord* const> history,
                               int64_t trial_number) const {
  const int64_t generation = trial_number / spec_.population_size;
  return Breed(space, history,
               generation == 0 ? std::vector<Individual>() : Parents(history, generation),
               trial_number);
}

ParamMap Nsga2Sampler::Breed(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                             const std::vector<Individual>& parents, int64_t trial_number) const {
  std::mt19937_64 gen = Generator(seed_, trial_number);
  auto uniform_params = [&]() {
    ParamMap params;
    for (const ParamSpec& param : space.params) {
      if (ConditionHolds(param, params)) params[param.name] = SampleUniform(param, gen);
    }
    return params;
  };
  const UnitSpace unit(space);
  std::map<std::string, const UnitSpace::Axis*> axes;
  for (const UnitSpace::Axis& axis : unit.axes()) axes[axis.param->name] = &axis;
  const double mutation_prob = spec_.mutation_prob.value_or(
      1.0 / static_cast<double>(std::max<size_t>(1, space.params.size())));
  auto tournament = [&]() -> const Individual& {
    const size_t a = UniformIndex(gen, parents.size());
    const size_t b = UniformIndex(gen, parents.size());
    const Individual& x = parents[std::min(a, b)];
    const Individual& y = parents[std::max(a, b)];
    if (x.rank != y.rank) return x.rank < y.rank ? x : y;
    return y.crowding > x.crowding ? y : x;
  };

  auto child_params = [&]() {
    const Individual& first = tournament();
    const Individual& second = tournament();
    const Genome a{&first.trial->params, unit.Encode(first.trial->params)};
    const Genome b{&second.trial->params, unit.Encode(second.trial->params)};
    const bool cross = Bernoulli(gen, spec_.crossover_prob);
    ParamMap child;
    for (const ParamSpec& param : space.params) {
      if (!ConditionHolds(param, child)) continue;
      const UnitSpace::Axis& axis = *axes.at(param.name);
      const bool numeric = param.type != ParamSpec::Type::kCategorical && axis.width == 1;
      // Numeric genes need coordinates; a parent whose values no longer fit
      // the space lends none.
      const bool has_a = a.Has(param) && (!numeric || a.z);
      const bool has_b = b.Has(param) && (!numeric || b.z);
      const bool swap = Bernoulli(gen, spec_.swapping_prob);
      const double u = UniformReal(gen, 0.0, 1.0);
      const bool mutate = Bernoulli(gen, mutation_prob);
      const double mutation_u = UniformReal(gen, 0.0, 1.0);
      if (!has_a && !has_b) {
        child[param.name] = SampleUniform(param, gen);
        continue;
      }
      const Genome& main = has_a && !(cross && has_b && swap) ? a : b;
      if (!numeric) {
        child[param.name] = mutate ? SampleUniform(param, gen) : main.params->at(param.name);
        continue;
      }
      double y = (*main.z)[axis.offset];
      if (cross && has_a && has_b) {
        auto [c1, c2] = Sbx((*a.z)[axis.offset], (*b.z)[axis.offset], u);
        y = swap ? c2 : c1;
      }
      if (mutate) y = PolynomialMutation(y, mutation_u);
      Eigen::VectorXd z = Eigen::VectorXd::Zero(unit.dims());
      z[axis.offset] = y;
      child[param.name] = UnitSpace::Decode(axis, z);
    }
    return child;
  };

  ParamMap child;
  for (int attempt = 0; attempt < kDrawsAgainstDuplicates; ++attempt) {
    // Generation 0, or no parent has finished yet: a uniform draw.
    child = parents.empty() ? uniform_params() : child_params();
    const bool duplicate = std::any_of(history.begin(), history.end(),
                                       [&](const TrialRecord* t) { return t->params == child; });
    if (!duplicate) break;
  }
  return child;
}

}  // namespace vernier
