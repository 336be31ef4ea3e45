// StudySpec: the definition of a study as the coordinator's logic reads it,
// plain structs with no protobuf types. The schema behind it is the
// vernier.v1.StudySpec proto (proto/vernier/v1/study_spec.proto); the server
// converts a proto into these structs once, at its edge (server/schema), and
// back for storage. A spec is *normalised* when NormalizeStudySpec accepted it:
// every parameter comes after its `when` parent and the defaults that depend on
// other sections are resolved.
//
// Search algorithms and early-stopping rules are variants with one struct per
// kind, so each sampler or pruner reads exactly its own settings.
//
// Thread-safety: the structs are values; the functions are pure and
// thread-safe.
#ifndef VERNIER_SERVER_LOGIC_STUDY_SPEC_H_
#define VERNIER_SERVER_LOGIC_STUDY_SPEC_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/logic/types.h"

namespace vernier {

// ---- Search space ----------------------------------------------------------

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
  // Normalised: every parent comes before the parameters that depend on it.
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

// ---- Samplers --------------------------------------------------------------

// `random`: independent uniform draws.
struct RandomSpec {};

// `tpe`. Defaults follow Optuna's TPESampler, except constant_liar, which is on
// because a study usually runs several trials at once.
struct TpeSpec {
  int64_t n_startup_trials = 10;  // Finished trials drawn at random first; >= 1.
  int64_t n_ei_candidates = 24;   // Draws from l(x) scored by l(x)/g(x); >= 1.
  bool multivariate = true;       // One joint kernel over the unconditional params.
  bool constant_liar = true;      // Pending trials count as the worst ones.
};

// `grid`: how many points a float without a step gets. Ints, stepped floats
// and categoricals are enumerated exactly and take no resolution.
struct GridSpec {
  int64_t resolution = 5;                    // `resolution: 5`; >= 1.
  std::map<std::string, int64_t> per_param;  // `resolution: {lr: 7}`; >= 1.

  // The resolution of the float parameter `name`.
  int64_t ResolutionOf(const std::string& name) const {
    auto it = per_param.find(name);
    return it == per_param.end() ? resolution : it->second;
  }
};

// `sobol`: a scrambled Sobol sequence.
struct SobolSpec {};

// `gp`: Gaussian-process Bayesian optimisation.
struct GpSpec {
  int64_t n_startup_trials = 10;  // COMPLETE trials drawn quasi-randomly first; >= 1.
};

// `cmaes`.
struct CmaesSpec {
  double sigma0 = 1.0 / 6;  // Initial step size, as a share of each range; (0, 1].
  int64_t popsize = 0;      // Trials per generation; 0: 4 + floor(3 ln n); else >= 2.
  bool restarts = false;    // IPOP: restart with twice the population on stagnation.
};

// `nsga2`; defaults follow Optuna's NSGAIISampler.
struct Nsga2Spec {
  int64_t population_size = 50;         // Trials per generation; >= 2.
  std::optional<double> mutation_prob;  // Per parameter; nullopt: 1 / #params.
  double crossover_prob = 0.9;          // A child crosses two parents, else copies one.
  double swapping_prob = 0.5;           // Uniform crossover: take the second parent's gene.
};

using SamplerAlgorithm =
    std::variant<RandomSpec, TpeSpec, GridSpec, SobolSpec, GpSpec, CmaesSpec, Nsga2Spec>;

struct SamplerSpec {
  uint64_t seed = 0;  // From the study file, else StableSeed(study name).
  SamplerAlgorithm algorithm;

  // The study file's name of the algorithm: "random", "tpe", "grid", "sobol",
  // "gp", "cmaes" or "nsga2".
  absl::string_view type() const;
  // The algorithm's settings, or null when the sampler is another kind.
  template <typename Algorithm>
  const Algorithm* get() const {
    return std::get_if<Algorithm>(&algorithm);
  }
};

// ---- Pruners ---------------------------------------------------------------
// A "step" is the step a trial reports with its intermediate values (epochs for
// the built-in trainer).

// `none`.
struct NoPrunerSpec {};

// `median`: the percentile rule at 50 (see PercentileSpec).
struct MedianSpec {
  int64_t warmup_steps = 0;  // No decision before this step.
  int64_t interval = 1;      // Decide at the first reported step of each interval; >= 1.
  int64_t min_trials = 1;    // Other trials needed at a step before pruning; >= 1.
};

// `percentile`: keep the trials in the best `percentile` %.
struct PercentileSpec {
  int64_t warmup_steps = 0;
  int64_t interval = 1;
  int64_t min_trials = 1;
  double percentile = 50;  // 0-100.
};

// `asha`: asynchronous successive halving.
struct AshaSpec {
  int64_t min_resource = 1;             // Step of the first rung; >= 1.
  int64_t reduction_factor = 3;         // Rungs grow, survivors shrink, by it; >= 2.
  std::optional<int64_t> max_resource;  // A trial's full budget.
  int64_t min_early_stopping_rate = 0;  // First rung at min_resource * rf^this.
  int64_t bootstrap_count = 0;          // Other trials at a rung before deciding.
};

// `hyperband`: several asha brackets.
struct HyperbandSpec {
  int64_t min_resource = 1;
  int64_t reduction_factor = 3;
  int64_t max_resource = 1;  // A trial's full budget; required.
  int64_t bootstrap_count = 0;
};

// `threshold`: prune a value below `lower` or above `upper`.
struct ThresholdSpec {
  int64_t warmup_steps = 0;
  int64_t interval = 1;
  std::optional<double> lower;
  std::optional<double> upper;
};

struct PrunerSpec;

// `patience`: a trial that has not improved for `patience` steps.
struct PatienceSpec {
  int64_t patience = 1;                       // Steps without improvement; >= 1.
  double min_delta = 0;                       // Smallest change that counts as improvement; >= 0.
  std::shared_ptr<const PrunerSpec> wrapped;  // Optional; never none or pbt.
};

// `pbt`: population-based training; see server/logic/pbt.h.
struct PbtSpec {
  int64_t interval = 1;                // Decision boundaries every `interval` steps; >= 1.
  double quantile = 0.25;              // Bottom share exploits the top share; (0, 0.5].
  double resample_probability = 0.25;  // A parameter is drawn afresh instead; [0, 1].
  std::vector<double> perturb_factors = {0.8, 1.2};  // Else multiplied by one; each > 0.
  std::vector<std::string> params;                   // May change; empty: every float parameter.
  int64_t min_population = 0;  // Trials at a step before deciding; 0: budget.parallel.
};

using PrunerRule = std::variant<NoPrunerSpec, MedianSpec, PercentileSpec, AshaSpec, HyperbandSpec,
                                ThresholdSpec, PatienceSpec, PbtSpec>;

struct PrunerSpec {
  PrunerRule rule;

  // The study file's name of the rule: "none", "median", "percentile",
  // "asha", "hyperband", "threshold", "patience" or "pbt".
  absl::string_view type() const;
  // The rule's settings, or null when the pruner is another kind.
  template <typename Rule>
  const Rule* get() const {
    return std::get_if<Rule>(&rule);
  }
};

// ---- Budget, trainer, warm start -------------------------------------------

struct BudgetSpec {
  int64_t max_trials = 10;
  int64_t parallel = 1;      // Trials of this study running at once.
  int64_t max_failures = 3;  // The study stops when more trials fail.
  int32_t max_retries = 2;   // Times a trial whose worker vanished is re-queued.
  // Stop conditions (server/logic/stop_conditions.h); unset: none.
  std::optional<double> target;            // The study COMPLETEs once a trial reaches it.
  std::optional<double> max_seconds;       // Wall-clock budget from the study's creation.
  std::optional<int64_t> patience_trials;  // COMPLETE trials in a row, none better.
  // The study's weight in the fair share of the workers' slots among ACTIVE
  // studies (server/logic/placement.h): 1 to kMaxPriority.
  int64_t priority = 1;
};

// The largest budget.priority.
inline constexpr int64_t kMaxPriority = 1000;
// The most labels a study's placement may require.
inline constexpr size_t kMaxPlacementLabels = 16;

// `resources: {gpus: 1, gpu_memory_gb: 40, cpus: 4, memory_gb: 16}`: what one
// trial needs of the slot that runs it. Unset fields ask nothing: a study
// without `resources` runs on any slot (the built-in trainer uses the GPU of
// a GPU slot and the CPU of a CPU slot). gpus 0 asks for a CPU slot, 1 for a
// GPU slot.
struct ResourceSpec {
  std::optional<int64_t> gpus;  // 0 or 1.
  std::optional<double> gpu_memory_gb;
  std::optional<double> cpus;
  std::optional<double> memory_gb;
};

// Whether `resources` asks for anything.
bool AsksForResources(const ResourceSpec& resources);

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

// `tracking: {tensorboard: DIR}`: the workers write each trial's parameters,
// curves and final metrics as a TensorBoard event file under
// DIR/<study>/trial-<number>/ (worker/tensorboard_writer.h).
struct TrackingSpec {
  std::string tensorboard_dir;  // Absolute, on the worker nodes; empty: none.
};

// `checkpoint: {every: N}`: the trials save a checkpoint every N steps
// (epochs), which the worker uploads, so a trial whose worker vanished or
// that was handed back resumes from its last checkpoint on any worker.
struct CheckpointSpec {
  // Set as written, or by ResolveStudySpecDefaults: a pbt study's
  // pruner.interval, else 1 for a built-in trainer whose trials may run
  // kMinEpochsForDefaultCheckpoints epochs or more, else 0 (none).
  std::optional<int64_t> every;
};

// A built-in trainer whose trials may run at least this many epochs
// checkpoints every epoch unless the study file says otherwise: a lost trial
// then costs at most one epoch, and shorter trials are cheaper to rerun
// than to checkpoint.
inline constexpr int64_t kMinEpochsForDefaultCheckpoints = 5;
// The largest checkpoint.every a study file may give.
inline constexpr int64_t kMaxCheckpointEvery = 1000;

// `artifacts: {keep: best, count: 5, max_bytes: 1GB}`: which trials' files
// (what they left in $VERNIER_ARTIFACT_DIR) the server keeps
// (server/coordinator/artifact_retention.h). A refit trial's are always kept.
enum class ArtifactKeep { kBest, kAll, kNone };
struct ArtifactSpec {
  ArtifactKeep keep = ArtifactKeep::kBest;
  int64_t count = 5;                     // kBest: how many trials; >= 1.
  int64_t max_bytes = int64_t{1} << 30;  // Per trial; 1 to kMaxArtifactBytes.
};
// The largest artifacts.max_bytes a study file may give: 1 TiB.
inline constexpr int64_t kMaxArtifactBytes = int64_t{1} << 40;
// "best", "all", "none": the study file's spelling.
absl::string_view ArtifactKeepName(ArtifactKeep keep);

struct StudySpec {
  std::string name;
  ObjectiveSpec objective;  // The first (or only) objective.
  SearchSpace space;
  SamplerSpec sampler;
  PrunerSpec pruner;
  BudgetSpec budget;
  TrainerSpec trainer;
  std::optional<WarmStartSpec> warm_start;
  TrackingSpec tracking;
  CheckpointSpec checkpoint;
  ArtifactSpec artifacts;
  ResourceSpec resources;
  // `placement: {gpu: h100, zone: eu-1}`: labels a slot's worker must carry
  // (vernier-worker --label) to run the study's trials.
  std::map<std::string, std::string> placement;
  // Every objective in file order, 1 to kMaxObjectives of them, distinct
  // metrics; objectives[0] == objective. More than one makes the study
  // multi-objective: its best trials are the Pareto front.
  std::vector<ObjectiveSpec> objectives;
  std::vector<ConstraintSpec> constraints;  // Distinct metrics; may be empty.

  bool multi_objective() const { return objectives.size() > 1; }
};

// Steps between the checkpoints of `spec`'s trials (0: none) once
// normalised: checkpoint.every, else a pbt study's interval.
int64_t CheckpointEvery(const StudySpec& spec);

// Validates `spec` and normalises it in place: orders the parameters parents
// first and resolves the defaults that depend on other sections (pbt's
// min_population and params). Idempotent: a normalised spec passes unchanged.
// INVALID_ARGUMENT with a message that starts with the path of the offending
// field as the study file spells it ("params.lr.low: ...") and shows the bad
// value: an invalid study or parameter name, low > high, a log scale with
// low <= 0, an empty categorical, `when` naming an unknown parameter or
// forming a cycle, a setting out of its range, an unknown built-in trainer
// parameter or value, a repeated objective or constraint metric, a
// constraint without bounds, a sampler or pruner a multi-objective study
// cannot use, a grid beyond kMaxGridPoints.
//
// This is the only place a study's definition is validated. It runs when a
// study is created, never on a stored study: a later version that validates
// more strictly must still load every study an earlier one accepted.
absl::Status NormalizeStudySpec(StudySpec& spec);

// The normalisation of NormalizeStudySpec without its checks: parameters
// parents first (those whose parent is missing or in a cycle last), int steps
// default to 1, `objective` is objectives[0], pbt's min_population and params
// defaults. For a stored spec, which was validated when it was created.
void ResolveStudySpecDefaults(StudySpec& spec);

// The default sampler seed of a study named `name`: FNV-1a of the name, the
// same in every process and release.
uint64_t StableSeed(absl::string_view name);

// True when `name` may name a study or a parameter: 1-64 letters, digits,
// '-', '_' or '.', not starting with '.' (so it is safe as a path component).
bool IsValidName(absl::string_view name);

// True when `value` is one of `values` (numbers compare by value, so 64 and
// 64.0 match).
bool ParamValueIn(const ParamValue& value, const std::vector<ParamValue>& values);

// The JSON handed to a trial: `fixed` trainer settings overlaid with `params`.
nlohmann::json TrialParamsJson(const TrainerSpec& trainer, const ParamMap& params);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_STUDY_SPEC_H_
