// StudySpec: a study file (YAML, or JSON which is YAML too) parsed and
// validated into plain structs.
//
// Every error is INVALID_ARGUMENT with a message that starts with the path of
// the offending field ("params.lr.low: ...") and shows the bad value, so the
// CLI and the server can hand it to the user as is.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_SERVER_LOGIC_STUDY_SPEC_H_
#define VERNIER_SERVER_LOGIC_STUDY_SPEC_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/logic/types.h"

namespace vernier {

// `when: {parent: [values...]}`: the parameter exists only while the parent
// parameter exists and takes one of `values`.
struct Condition {
  std::string parent;
  std::vector<ParamValue> values;
};

struct ParamSpec {
  enum class Type { kFloat, kInt, kCategorical };

  std::string name;
  Type type = Type::kFloat;
  double low = 0;  // kFloat, kInt: inclusive bounds.
  double high = 0;
  bool log = false;                // Sample uniformly in log space; low > 0.
  std::optional<double> step;      // kFloat: optional grid; kInt: >= 1 (default 1).
  std::vector<ParamValue> values;  // kCategorical: the choices, in file order.
  std::optional<Condition> when;
};

struct SearchSpace {
  // Ordered so that every parent comes before the parameters that depend on it.
  std::vector<ParamSpec> params;

  const ParamSpec* Find(absl::string_view name) const;
};

struct ObjectiveSpec {
  std::string metric;
  Goal goal = Goal::kMaximize;
};

// The most objectives a study may have (`objectives: [...]`).
inline constexpr int kMaxObjectives = 8;

// `constraints: [{metric: memory_gb, max: 4.0}]`: a COMPLETE trial whose final
// value of `metric` lies outside [min, max] (or is missing or NaN) ends
// INFEASIBLE. At least one bound is set; min <= max.
struct ConstraintSpec {
  std::string metric;
  std::optional<double> min;
  std::optional<double> max;
};

// Settings of NSGA-II (`sampler: {type: nsga2}`); defaults follow Optuna's
// NSGAIISampler.
struct Nsga2Spec {
  int64_t population_size = 50;         // Trials per generation; >= 2.
  std::optional<double> mutation_prob;  // Per parameter; nullopt: 1 / #params.
  double crossover_prob = 0.9;          // A child crosses two parents, else copies one.
  double swapping_prob = 0.5;           // Uniform crossover: take the second parent's gene.
};

// Settings of the Tree-structured Parzen Estimator (`sampler: {type: tpe}`).
// Defaults follow Optuna's TPESampler, except constant_liar, which is on
// because a study usually runs several trials at once.
struct TpeSpec {
  int64_t n_startup_trials = 10;  // Finished trials drawn at random first; >= 1.
  int64_t n_ei_candidates = 24;   // Draws from l(x) scored by l(x)/g(x); >= 1.
  bool multivariate = true;       // One joint kernel over the unconditional params.
  bool constant_liar = true;      // Pending trials count as the worst ones.
};

// Settings of the grid search (`sampler: {type: grid}`): how many points a
// float without a step gets. Ints, stepped floats and categoricals are
// enumerated exactly and take no resolution.
struct GridSpec {
  int64_t resolution = 5;                    // `resolution: 5`; >= 1.
  std::map<std::string, int64_t> per_param;  // `resolution: {lr: 7}`; >= 1.

  // The resolution of the float parameter `name`.
  int64_t ResolutionOf(const std::string& name) const {
    auto it = per_param.find(name);
    return it == per_param.end() ? resolution : it->second;
  }
};

// Settings of Gaussian-process Bayesian optimisation (`sampler: {type: gp}`).
struct GpSpec {
  int64_t n_startup_trials = 10;  // COMPLETE trials drawn quasi-randomly first; >= 1.
};

// Settings of CMA-ES (`sampler: {type: cmaes}`).
struct CmaesSpec {
  double sigma0 = 1.0 / 6;  // Initial step size, as a share of each range; (0, 1].
  int64_t popsize = 0;      // Trials per generation; 0: 4 + floor(3 ln n); else >= 2.
  bool restarts = false;    // IPOP: restart with twice the population on stagnation.
};

struct SamplerSpec {
  std::string type = "random";  // "random" | "tpe" | "grid" | "sobol" | "gp" | "cmaes"
  uint64_t seed = 0;            // From the file, else derived from the study name.
  TpeSpec tpe;                  // type "tpe" only.
  GridSpec grid;                // type "grid" only.
  GpSpec gp;                    // type "gp" only.
  CmaesSpec cmaes;              // type "cmaes" only.
  Nsga2Spec nsga2;              // type "nsga2" (also a valid type) only.
};

// Settings of the early-stopping rule (`pruner: {type: ...}`). A "step" is the
// step a trial reports with its intermediate values (epochs for the built-in
// trainer). Each field says which types read it; the parser rejects the keys a
// type does not read.
// Settings of population-based training (`pruner: {type: pbt}`); its decision
// interval is PrunerSpec::interval. See server/logic/pbt.h.
struct PbtSpec {
  double quantile = 0.25;              // Bottom share exploits the top share; (0, 0.5].
  double resample_probability = 0.25;  // A parameter is drawn afresh instead; [0, 1].
  std::vector<double> perturb_factors = {0.8, 1.2};  // Else multiplied by one; each > 0.
  std::vector<std::string> params;                   // May change; empty: every float parameter.
  int64_t min_population = 0;  // Trials at a step before deciding; 0: budget.parallel.
};

struct PrunerSpec {
  // "none" | "median" | "percentile" | "asha" | "hyperband" | "threshold" |
  // "patience" | "pbt".
  std::string type = "none";

  // median, percentile, threshold.
  int64_t warmup_steps = 0;  // No decision before this step.
  int64_t interval = 1;      // Decide at the first reported step of each interval.
  // median, percentile.
  int64_t min_trials = 1;  // Other trials needed at a step before pruning.
  double percentile = 50;  // Keep the trials in the best `percentile` %; 0-100.

  // asha, hyperband.
  int64_t min_resource = 1;             // Step of the first rung; >= 1.
  int64_t reduction_factor = 3;         // Rungs grow, survivors shrink, by it; >= 2.
  std::optional<int64_t> max_resource;  // A trial's full budget; hyperband needs it.
  int64_t min_early_stopping_rate = 0;  // asha: first rung at min_resource * rf^this.
  int64_t bootstrap_count = 0;          // Other trials at a rung before deciding.

  // threshold: prune a value below `lower` or above `upper`.
  std::optional<double> lower;
  std::optional<double> upper;

  // patience.
  int64_t patience = 1;                       // Steps without improvement; >= 1.
  double min_delta = 0;                       // Smallest change that counts as improvement; >= 0.
  std::shared_ptr<const PrunerSpec> wrapped;  // Optional; never "none".

  // pbt (also reads `interval`).
  PbtSpec pbt;
};

struct BudgetSpec {
  int64_t max_trials = 10;
  int64_t parallel = 1;      // Trials of this study running at once.
  int64_t max_failures = 3;  // The study stops when more trials fail.
  int32_t max_retries = 2;   // Times a trial whose worker vanished is re-queued.
};

struct TrainerSpec {
  // argv of a user program; empty means the built-in vernier-train.
  std::vector<std::string> command;
  // Fixed settings handed to every trial under its sampled parameters.
  nlohmann::json fixed = nlohmann::json::object();
  absl::Duration time_limit = absl::ZeroDuration();  // Zero: no limit.
  absl::Duration stop_grace = absl::Seconds(10);
  // `external: true`: the trials run in the user's own loop through Ask/Tell;
  // workers never lease them. Excludes every other trainer key.
  bool external = false;

  bool builtin() const { return command.empty() && !external; }
};

// `warm_start: {study: OLD, max_trials: K}`: at creation the study copies the
// COMPLETE trials of study OLD that fit its space (the best `max_trials` of
// them; all when absent) as finished trials its sampler learns from. Copies
// are not run again and do not count toward budget.max_trials.
struct WarmStartSpec {
  std::string study;
  std::optional<int64_t> max_trials;  // >= 1 when set.
};

struct StudySpec {
  std::string name;
  ObjectiveSpec objective;  // The first (or only) objective.
  SearchSpace space;
  SamplerSpec sampler;
  PrunerSpec pruner;
  BudgetSpec budget;
  TrainerSpec trainer;
  std::optional<WarmStartSpec> warm_start;
  // Every objective in file order, 1 to kMaxObjectives of them, distinct
  // metrics; objectives[0] == objective. More than one makes the study
  // multi-objective: its best trials are the Pareto front.
  std::vector<ObjectiveSpec> objectives;
  std::vector<ConstraintSpec> constraints;  // Distinct metrics; may be empty.

  bool multi_objective() const { return objectives.size() > 1; }
};

// Parses and validates a study file. INVALID_ARGUMENT names the field and the
// value: unknown keys, wrong types, low > high, log scale with low <= 0, an
// empty categorical, `when` naming an unknown parameter or forming a cycle, an
// unknown sampler/pruner/model/dataset/optimizer, an invalid study name;
// both or neither of `objective` and `objectives`, a repeated objective or
// constraint metric, a constraint without bounds, and with several objectives
// a sampler other than random, grid, sobol or nsga2 or a pruner other than
// none.
absl::StatusOr<StudySpec> ParseStudySpec(absl::string_view text);

// True when `value` is one of `values` (numbers compare by value, so 64 and
// 64.0 match).
bool ParamValueIn(const ParamValue& value, const std::vector<ParamValue>& values);

// The JSON handed to a trial: `fixed` trainer settings overlaid with `params`.
nlohmann::json TrialParamsJson(const TrainerSpec& trainer, const ParamMap& params);

// YAML (or JSON) text as JSON, typed as study files are: plain scalars by
// YAML 1.2's core schema (64 is an int, 0.01 a float, adam a string), quoted
// scalars stay strings. INVALID_ARGUMENT with the line and column of a syntax
// error, or for text that is not UTF-8. For files of parameter sets.
absl::StatusOr<nlohmann::ordered_json> ParseYamlText(absl::string_view text);

// A parameter value from JSON: an int, a float or a string (true and false
// become "true" and "false", as in study files). INVALID_ARGUMENT naming
// `path` for anything else.
absl::StatusOr<ParamValue> ParamValueFromJson(const nlohmann::ordered_json& value,
                                              absl::string_view path);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_STUDY_SPEC_H_
