#include "server/logic/study_spec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/builtin_trainer.h"
#include "common/placement_label.h"
#include "common/status_macros.h"
#include "common/trial_protocol.h"
#include "server/logic/grid_sampler.h"
#include "server/logic/sobol_sampler.h"

namespace vernier {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

std::string Child(absl::string_view path, absl::string_view key) {
  return absl::StrCat(path, ".", key);
}

absl::Status AtLeast(absl::string_view path, int64_t value, int64_t min_value) {
  if (value >= min_value) return absl::OkStatus();
  return FieldError(path, absl::StrCat("must be >= ", min_value, ", got ", value));
}

absl::Status InUnitInterval(absl::string_view path, double value) {
  if (value >= 0 && value <= 1) return absl::OkStatus();
  return FieldError(path, absl::StrCat("must be in [0, 1], got ", value));
}

// The parameters some `when` names.
std::set<std::string> ConditionParents(const SearchSpace& space) {
  std::set<std::string> parents;
  for (const ParamSpec& param : space.params) {
    if (param.when) parents.insert(param.when->parent);
  }
  return parents;
}

// ---- Names, objectives, constraints ---------------------------------------

absl::Status CheckStudyName(const StudySpec& spec) {
  if (IsValidName(spec.name)) return absl::OkStatus();
  return FieldError("name", absl::StrCat("\"", spec.name,
                                         "\" is not a valid study name (1-64 letters, digits, "
                                         "-, _ or .)"));
}

absl::Status CheckObjectives(const StudySpec& spec) {
  if (spec.objectives.empty() || spec.objectives.size() > static_cast<size_t>(kMaxObjectives)) {
    return FieldError("objectives", absl::StrCat("must hold 1 to ", kMaxObjectives,
                                                 " objectives, got ", spec.objectives.size()));
  }
  const bool several = spec.objectives.size() > 1;
  for (size_t i = 0; i < spec.objectives.size(); ++i) {
    const std::string path = several ? absl::StrCat("objectives[", i, "]") : "objective";
    const std::string& metric = spec.objectives[i].metric;
    if (metric.empty()) return FieldError(Child(path, "metric"), "must not be empty");
    for (size_t j = 0; j < i; ++j) {
      if (spec.objectives[j].metric == metric) {
        return FieldError(Child(path, "metric"),
                          absl::StrCat("\"", metric, "\" is already an objective"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckConstraints(const StudySpec& spec) {
  for (size_t i = 0; i < spec.constraints.size(); ++i) {
    const std::string path = absl::StrCat("constraints[", i, "]");
    const ConstraintSpec& constraint = spec.constraints[i];
    if (constraint.metric.empty()) return FieldError(Child(path, "metric"), "must not be empty");
    if (!constraint.min && !constraint.max) return FieldError(path, "needs min, max or both");
    for (const std::optional<double>& bound : {constraint.min, constraint.max}) {
      if (bound && !std::isfinite(*bound)) {
        return FieldError(Child(path, bound == constraint.min ? "min" : "max"), "must be finite");
      }
    }
    if (constraint.min && constraint.max && *constraint.min > *constraint.max) {
      return FieldError(Child(path, "min"), absl::StrCat("must be <= max (", *constraint.max,
                                                         "), got ", *constraint.min));
    }
    for (size_t j = 0; j < i; ++j) {
      if (spec.constraints[j].metric == constraint.metric) {
        return FieldError(
            Child(path, "metric"),
            absl::StrCat("\"", constraint.metric,
                         "\" is already constrained (give min and max in one entry)"));
      }
    }
  }
  return absl::OkStatus();
}

// ---- Search space ----------------------------------------------------------

absl::Status CheckRange(const ParamSpec& param, const std::string& path) {
  if (!std::isfinite(param.low)) return FieldError(Child(path, "low"), "must be finite");
  if (!std::isfinite(param.high)) return FieldError(Child(path, "high"), "must be finite");
  if (param.low > param.high) {
    return FieldError(path,
                      absl::StrCat("low (", param.low, ") must be <= high (", param.high, ")"));
  }
  if (param.log && param.low <= 0) {
    return FieldError(Child(path, "low"),
                      absl::StrCat("must be > 0 on a log scale, got ", param.low));
  }
  if (!param.step) return absl::OkStatus();
  const double step = *param.step;
  if (!std::isfinite(step)) return FieldError(Child(path, "step"), "must be finite");
  if (step <= 0) return FieldError(Child(path, "step"), absl::StrCat("must be > 0, got ", step));
  if (param.type == ParamSpec::Type::kInt && step != std::floor(step)) {
    return FieldError(Child(path, "step"), "must be an integer for an int parameter");
  }
  if (param.log && step != 1) {
    return FieldError(Child(path, "step"), "cannot be combined with log: true");
  }
  return absl::OkStatus();
}

absl::Status CheckParam(const ParamSpec& param) {
  const std::string path = absl::StrCat("params.", param.name);
  if (!IsValidName(param.name)) {
    return FieldError(path, "parameter names use letters, digits, -, _ and .");
  }
  switch (param.type) {
    case ParamSpec::Type::kFloat:
      RETURN_IF_ERROR(CheckRange(param, path));
      break;
    case ParamSpec::Type::kInt:
      for (double bound : {param.low, param.high}) {
        if (bound != std::floor(bound)) {
          return FieldError(Child(path, bound == param.low ? "low" : "high"),
                            absl::StrCat("must be an integer for an int parameter, got ", bound));
        }
      }
      RETURN_IF_ERROR(CheckRange(param, path));
      break;
    case ParamSpec::Type::kCategorical:
      if (param.values.empty()) return FieldError(Child(path, "values"), "must not be empty");
      for (size_t i = 0; i < param.values.size(); ++i) {
        const double* number = std::get_if<double>(&param.values[i]);
        if (number != nullptr && !std::isfinite(*number)) {
          return FieldError(absl::StrCat(path, ".values[", i, "]"), "must be finite");
        }
      }
      break;
  }
  if (param.when && param.when->values.empty()) {
    return FieldError(Child(path, "when"), "needs at least one value");
  }
  return absl::OkStatus();
}

// `params` with every parent before the parameters whose `when` names it,
// otherwise in the given order. Parameters whose parent is missing, or that
// take part in a cycle, come last in the given order.
std::vector<ParamSpec> ParentsFirst(std::vector<ParamSpec> params) {
  std::vector<ParamSpec> ordered;
  ordered.reserve(params.size());
  absl::flat_hash_set<std::string> placed;
  std::vector<bool> taken(params.size(), false);
  for (bool progressed = true; progressed;) {
    progressed = false;
    for (size_t i = 0; i < params.size(); ++i) {
      if (taken[i] || (params[i].when && !placed.contains(params[i].when->parent))) continue;
      placed.insert(params[i].name);
      taken[i] = true;
      ordered.push_back(std::move(params[i]));
      progressed = true;
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!taken[i]) ordered.push_back(std::move(params[i]));
  }
  return ordered;
}

// Rejects repeated names, conditions on unknown parameters, on themselves or
// in a cycle.
absl::Status CheckConditions(const std::vector<ParamSpec>& params) {
  absl::flat_hash_set<std::string> names;
  for (const ParamSpec& param : params) {
    if (!names.insert(param.name).second) {
      return FieldError(absl::StrCat("params.", param.name), "defined twice");
    }
  }
  for (const ParamSpec& param : params) {
    if (!param.when) continue;
    const std::string path = absl::StrCat("params.", param.name, ".when");
    if (!names.contains(param.when->parent)) {
      return FieldError(path, absl::StrCat("names unknown parameter \"", param.when->parent, "\""));
    }
    if (param.when->parent == param.name) {
      return FieldError(path, "a parameter cannot depend on itself");
    }
  }
  absl::flat_hash_set<std::string> before;
  for (const ParamSpec& param : ParentsFirst(params)) {
    if (param.when && !before.contains(param.when->parent)) {
      return FieldError(absl::StrCat("params.", param.name, ".when"), "conditions form a cycle");
    }
    before.insert(param.name);
  }
  return absl::OkStatus();
}

absl::Status CheckConditionValues(const SearchSpace& space) {
  for (const ParamSpec& param : space.params) {
    if (!param.when) continue;
    const ParamSpec* parent = space.Find(param.when->parent);
    if (parent->type != ParamSpec::Type::kCategorical) continue;
    for (const ParamValue& value : param.when->values) {
      if (!ParamValueIn(value, parent->values)) {
        return FieldError(
            absl::StrCat("params.", param.name, ".when.", parent->name),
            absl::StrCat("\"", ParamValueToString(value), "\" is not a value of ", parent->name));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSearchSpace(const SearchSpace& space) {
  if (space.params.empty()) return FieldError("params", "must define at least one parameter");
  for (const ParamSpec& param : space.params) RETURN_IF_ERROR(CheckParam(param));
  RETURN_IF_ERROR(CheckConditions(space.params));
  return CheckConditionValues(space);
}

// ---- Sampler ---------------------------------------------------------------

absl::Status CheckGrid(const GridSpec& grid, const SearchSpace& space) {
  RETURN_IF_ERROR(AtLeast("sampler.resolution", grid.resolution, 1));
  for (const auto& [name, resolution] : grid.per_param) {
    const std::string path = absl::StrCat("sampler.resolution.", name);
    const ParamSpec* param = space.Find(name);
    if (param == nullptr) return FieldError(path, "no such parameter");
    if (param->type != ParamSpec::Type::kFloat || param->step) {
      return FieldError(path,
                        "only floats without a step take a resolution (the others are "
                        "enumerated exactly)");
    }
    RETURN_IF_ERROR(AtLeast(path, resolution, 1));
  }
  return GridPointCount(space, grid).status();
}

absl::Status CheckCmaes(const CmaesSpec& cmaes) {
  if (!(cmaes.sigma0 > 0 && cmaes.sigma0 <= 1)) {
    return FieldError(
        "sampler.sigma0",
        absl::StrCat("must be in (0, 1] (a share of each range), got ", cmaes.sigma0));
  }
  if (cmaes.popsize != 0) RETURN_IF_ERROR(AtLeast("sampler.popsize", cmaes.popsize, 2));
  return absl::OkStatus();
}

absl::Status CheckNsga2(const Nsga2Spec& nsga2) {
  RETURN_IF_ERROR(AtLeast("sampler.population_size", nsga2.population_size, 2));
  if (nsga2.mutation_prob) {
    RETURN_IF_ERROR(InUnitInterval("sampler.mutation_prob", *nsga2.mutation_prob));
  }
  RETURN_IF_ERROR(InUnitInterval("sampler.crossover_prob", nsga2.crossover_prob));
  return InUnitInterval("sampler.swapping_prob", nsga2.swapping_prob);
}

absl::Status CheckSampler(const SamplerSpec& sampler, const SearchSpace& space) {
  if (const auto* tpe = sampler.get<TpeSpec>()) {
    RETURN_IF_ERROR(AtLeast("sampler.n_startup_trials", tpe->n_startup_trials, 1));
    return AtLeast("sampler.n_ei_candidates", tpe->n_ei_candidates, 1);
  }
  if (const auto* grid = sampler.get<GridSpec>()) return CheckGrid(*grid, space);
  if (const auto* gp = sampler.get<GpSpec>()) {
    return AtLeast("sampler.n_startup_trials", gp->n_startup_trials, 1);
  }
  if (const auto* cmaes = sampler.get<CmaesSpec>()) return CheckCmaes(*cmaes);
  if (const auto* nsga2 = sampler.get<Nsga2Spec>()) return CheckNsga2(*nsga2);
  if (sampler.get<SobolSpec>() != nullptr &&
      space.params.size() > static_cast<size_t>(kSobolMaxDimensions)) {
    return FieldError("sampler.type",
                      absl::StrCat("sobol supports at most ", kSobolMaxDimensions,
                                   " parameters; the study has ", space.params.size()));
  }
  return absl::OkStatus();
}

// ---- Pruner ----------------------------------------------------------------

absl::Status CheckStepRule(absl::string_view path, int64_t warmup_steps, int64_t interval) {
  RETURN_IF_ERROR(AtLeast(Child(path, "warmup_steps"), warmup_steps, 0));
  return AtLeast(Child(path, "interval"), interval, 1);
}

absl::Status CheckPercentileRule(absl::string_view path, const MedianSpec& rule) {
  RETURN_IF_ERROR(CheckStepRule(path, rule.warmup_steps, rule.interval));
  return AtLeast(Child(path, "min_trials"), rule.min_trials, 1);
}

absl::Status CheckHalving(absl::string_view path, int64_t min_resource, int64_t reduction_factor,
                          int64_t bootstrap_count) {
  RETURN_IF_ERROR(AtLeast(Child(path, "min_resource"), min_resource, 1));
  RETURN_IF_ERROR(AtLeast(Child(path, "reduction_factor"), reduction_factor, 2));
  return AtLeast(Child(path, "bootstrap_count"), bootstrap_count, 0);
}

absl::Status CheckPruner(const PrunerSpec& pruner, absl::string_view path);

absl::Status CheckAsha(absl::string_view path, const AshaSpec& asha) {
  RETURN_IF_ERROR(
      CheckHalving(path, asha.min_resource, asha.reduction_factor, asha.bootstrap_count));
  RETURN_IF_ERROR(AtLeast(Child(path, "min_early_stopping_rate"), asha.min_early_stopping_rate, 0));
  if (asha.min_early_stopping_rate > 30) {
    return FieldError(Child(path, "min_early_stopping_rate"),
                      absl::StrCat("must be <= 30, got ", asha.min_early_stopping_rate));
  }
  if (asha.max_resource) {
    RETURN_IF_ERROR(AtLeast(Child(path, "max_resource"), *asha.max_resource, asha.min_resource));
  }
  return absl::OkStatus();
}

absl::Status CheckHyperband(absl::string_view path, const HyperbandSpec& hyperband) {
  RETURN_IF_ERROR(CheckHalving(path, hyperband.min_resource, hyperband.reduction_factor,
                               hyperband.bootstrap_count));
  return AtLeast(Child(path, "max_resource"), hyperband.max_resource, hyperband.min_resource);
}

absl::Status CheckThreshold(absl::string_view path, const ThresholdSpec& threshold) {
  RETURN_IF_ERROR(CheckStepRule(path, threshold.warmup_steps, threshold.interval));
  if (!threshold.lower && !threshold.upper) {
    return FieldError(path, "threshold needs lower, upper or both");
  }
  for (const std::optional<double>& bound : {threshold.lower, threshold.upper}) {
    if (bound && !std::isfinite(*bound)) {
      return FieldError(Child(path, bound == threshold.lower ? "lower" : "upper"),
                        "must be finite");
    }
  }
  if (threshold.lower && threshold.upper && *threshold.lower > *threshold.upper) {
    return FieldError(Child(path, "lower"), absl::StrCat("must be <= upper (", *threshold.upper,
                                                         "), got ", *threshold.lower));
  }
  return absl::OkStatus();
}

absl::Status CheckPatience(absl::string_view path, const PatienceSpec& patience) {
  RETURN_IF_ERROR(AtLeast(Child(path, "patience"), patience.patience, 1));
  if (!(patience.min_delta >= 0) || !std::isfinite(patience.min_delta)) {
    return FieldError(Child(path, "min_delta"),
                      absl::StrCat("must be >= 0, got ", patience.min_delta));
  }
  if (patience.wrapped == nullptr) return absl::OkStatus();
  const std::string wrapped_path = Child(path, "wrapped");
  const absl::string_view type = patience.wrapped->type();
  if (type == "none") {
    return FieldError(Child(wrapped_path, "type"),
                      "must not be \"none\" (omit wrapped for patience alone)");
  }
  if (type == "pbt") {
    return FieldError(Child(wrapped_path, "type"),
                      "must not be \"pbt\" (pbt never stops a trial; it exploits)");
  }
  return CheckPruner(*patience.wrapped, wrapped_path);
}

absl::Status CheckPbt(absl::string_view path, const PbtSpec& pbt) {
  RETURN_IF_ERROR(AtLeast(Child(path, "interval"), pbt.interval, 1));
  if (pbt.min_population != 0) {
    RETURN_IF_ERROR(AtLeast(Child(path, "min_population"), pbt.min_population, 2));
  }
  if (!(pbt.quantile > 0 && pbt.quantile <= 0.5)) {
    return FieldError(Child(path, "quantile"),
                      absl::StrCat("must be in (0, 0.5], got ", pbt.quantile));
  }
  if (!(pbt.resample_probability >= 0 && pbt.resample_probability <= 1)) {
    return FieldError(Child(path, "resample_probability"),
                      absl::StrCat("must be in [0, 1], got ", pbt.resample_probability));
  }
  const std::string factors = Child(path, "perturb_factors");
  if (pbt.perturb_factors.empty()) return FieldError(factors, "must be a non-empty list, got []");
  for (size_t i = 0; i < pbt.perturb_factors.size(); ++i) {
    const double factor = pbt.perturb_factors[i];
    if (!(factor > 0) || !std::isfinite(factor)) {
      return FieldError(absl::StrCat(factors, "[", i, "]"),
                        absl::StrCat("must be a finite number > 0, got ", factor));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPruner(const PrunerSpec& pruner, absl::string_view path) {
  if (const auto* median = pruner.get<MedianSpec>()) return CheckPercentileRule(path, *median);
  if (const auto* percentile = pruner.get<PercentileSpec>()) {
    RETURN_IF_ERROR(CheckPercentileRule(
        path, MedianSpec{percentile->warmup_steps, percentile->interval, percentile->min_trials}));
    if (!(percentile->percentile >= 0 && percentile->percentile <= 100)) {
      return FieldError(Child(path, "percentile"),
                        absl::StrCat("must be in [0, 100], got ", percentile->percentile));
    }
    return absl::OkStatus();
  }
  if (const auto* asha = pruner.get<AshaSpec>()) return CheckAsha(path, *asha);
  if (const auto* hyperband = pruner.get<HyperbandSpec>()) return CheckHyperband(path, *hyperband);
  if (const auto* threshold = pruner.get<ThresholdSpec>()) return CheckThreshold(path, *threshold);
  if (const auto* patience = pruner.get<PatienceSpec>()) return CheckPatience(path, *patience);
  if (const auto* pbt = pruner.get<PbtSpec>()) return CheckPbt(path, *pbt);
  return absl::OkStatus();
}

// Checks pruner.params against the search space: a parameter PBT changes
// must not be conditional nor a condition's parent, as a changed parent would
// leave its children without a value (or with a stale one).
absl::Status CheckPbtParams(const StudySpec& spec) {
  const auto* pbt = spec.pruner.get<PbtSpec>();
  if (pbt == nullptr) return absl::OkStatus();
  const std::set<std::string> parents = ConditionParents(spec.space);
  for (size_t i = 0; i < pbt->params.size(); ++i) {
    const std::string path = absl::StrCat("pruner.params[", i, "]");
    const ParamSpec* param = spec.space.Find(pbt->params[i]);
    if (param == nullptr) {
      return FieldError(path,
                        absl::StrCat("\"", pbt->params[i], "\" is not a parameter in params"));
    }
    if (param->when || parents.count(param->name) > 0) {
      return FieldError(path, absl::StrCat("\"", param->name,
                                           "\" takes part in a `when` condition; pbt cannot change "
                                           "it"));
    }
  }
  return absl::OkStatus();
}

// ---- Budget, trainer, warm start -------------------------------------------

absl::Status CheckBudget(BudgetSpec& budget) {
  RETURN_IF_ERROR(AtLeast("budget.max_trials", budget.max_trials, 1));
  RETURN_IF_ERROR(AtLeast("budget.parallel", budget.parallel, 1));
  RETURN_IF_ERROR(AtLeast("budget.max_failures", budget.max_failures, 0));
  RETURN_IF_ERROR(AtLeast("budget.priority", budget.priority, 1));
  if (budget.priority > kMaxPriority) {
    return FieldError("budget.priority",
                      absl::StrCat("must be at most ", kMaxPriority, ", got ", budget.priority));
  }
  return AtLeast("budget.max_retries", budget.max_retries, 0);
}

// An amount of `resources`: > 0 and at most `max`, when given.
absl::Status CheckAmount(absl::string_view key, const std::optional<double>& amount, double max) {
  if (!amount || (*amount > 0 && *amount <= max)) return absl::OkStatus();
  return FieldError(absl::StrCat("resources.", key),
                    absl::StrCat("must be > 0 and at most ", max, ", got ", *amount));
}

// `resources` and `placement`: what a trial needs of its slot.
absl::Status CheckPlacement(const StudySpec& spec) {
  const ResourceSpec& resources = spec.resources;
  if (resources.gpus && *resources.gpus != 0 && *resources.gpus != 1) {
    return FieldError(
        "resources.gpus",
        absl::StrCat("must be 0 (a CPU slot) or 1 (a GPU slot), got ", *resources.gpus));
  }
  RETURN_IF_ERROR(CheckAmount("gpu_memory_gb", resources.gpu_memory_gb, 100000));
  RETURN_IF_ERROR(CheckAmount("cpus", resources.cpus, 100000));
  RETURN_IF_ERROR(CheckAmount("memory_gb", resources.memory_gb, 1e7));
  if (resources.gpu_memory_gb && resources.gpus && *resources.gpus == 0) {
    return FieldError("resources.gpu_memory_gb", "asks for GPU memory of a CPU slot (gpus: 0)");
  }
  if (spec.placement.size() > kMaxPlacementLabels) {
    return FieldError("placement", absl::StrCat("at most ", kMaxPlacementLabels, " labels, got ",
                                                spec.placement.size()));
  }
  for (const auto& [key, value] : spec.placement) {
    if (!IsLabelText(key) || !IsLabelText(value)) {
      return FieldError(
          absl::StrCat("placement.", key),
          absl::StrCat("\"", key, ": ", value, "\": keys and values are ", kLabelTextRule));
    }
  }
  if (spec.trainer.external && (AsksForResources(resources) || !spec.placement.empty())) {
    return FieldError(AsksForResources(resources) ? "resources" : "placement",
                      "not used with trainer.external: true (no worker runs the trials)");
  }
  return absl::OkStatus();
}

// budget.target, max_seconds and patience_trials (stop_conditions.h).
absl::Status CheckStopConditions(const StudySpec& spec) {
  const BudgetSpec& budget = spec.budget;
  const bool several = spec.objectives.size() > 1;
  if (budget.target) {
    if (!std::isfinite(*budget.target)) {
      return FieldError("budget.target",
                        absl::StrCat("must be a finite number, got ", *budget.target));
    }
    if (several) {
      return FieldError("budget.target",
                        "applies to single-objective studies only (which objective would it be?)");
    }
  }
  if (budget.max_seconds && !(*budget.max_seconds > 0 && std::isfinite(*budget.max_seconds))) {
    return FieldError("budget.max_seconds",
                      absl::StrCat("must be > 0 seconds, got ", *budget.max_seconds));
  }
  if (budget.patience_trials) {
    RETURN_IF_ERROR(AtLeast("budget.patience_trials", *budget.patience_trials, 1));
    if (several) {
      return FieldError("budget.patience_trials",
                        "applies to single-objective studies only (better by which objective?)");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSeconds(absl::string_view path, absl::Duration duration) {
  if (duration >= absl::ZeroDuration() && duration != absl::InfiniteDuration()) {
    return absl::OkStatus();
  }
  return FieldError(path,
                    absl::StrCat("must be >= 0 seconds, got ", absl::ToDoubleSeconds(duration)));
}

// Checks a searched parameter against the built-in trainer's table of
// parameters.
absl::Status CheckBuiltinParamSpec(const ParamSpec& param) {
  const std::string path = absl::StrCat("params.", param.name);
  const BuiltinParam* builtin = FindBuiltinParam(param.name);
  if (builtin == nullptr) {
    return FieldError(path, "not a parameter of the built-in trainer (see vernier-train --help)");
  }
  if (builtin->kind == BuiltinParam::Kind::kInt && param.type == ParamSpec::Type::kFloat) {
    return FieldError(Child(path, "type"),
                      "must be int or categorical: the built-in trainer takes whole numbers here");
  }
  if (param.type == ParamSpec::Type::kCategorical) {
    for (size_t i = 0; i < param.values.size(); ++i) {
      nlohmann::json value;
      std::visit([&value](const auto& v) { value = v; }, param.values[i]);
      RETURN_IF_ERROR(CheckBuiltinValue(param.name, value, absl::StrCat(path, ".values[", i, "]")));
    }
    return absl::OkStatus();
  }
  for (double bound : {param.low, param.high}) {
    nlohmann::json value = param.type == ParamSpec::Type::kInt
                               ? nlohmann::json(static_cast<int64_t>(bound))
                               : nlohmann::json(bound);
    RETURN_IF_ERROR(
        CheckBuiltinValue(param.name, value, bound == param.low ? path + ".low" : path + ".high"));
  }
  return absl::OkStatus();
}

absl::Status CheckTrainer(const TrainerSpec& trainer, const SearchSpace& space) {
  RETURN_IF_ERROR(CheckSeconds("trainer.time_limit", trainer.time_limit));
  RETURN_IF_ERROR(CheckSeconds("trainer.stop_grace", trainer.stop_grace));
  if (!trainer.fixed.is_object()) return FieldError("trainer", "settings must be a mapping");
  for (const auto& [key, value] : trainer.fixed.items()) {
    if (space.Find(key) != nullptr) {
      return FieldError(Child("trainer", key),
                        "is also a searched parameter in params; keep one of them");
    }
  }
  if (!trainer.builtin()) return absl::OkStatus();
  for (const auto& [key, value] : trainer.fixed.items()) {
    if (FindBuiltinParam(key) == nullptr) {
      return FieldError(Child("trainer", key),
                        "not a setting of the built-in trainer (see vernier-train --help)");
    }
    RETURN_IF_ERROR(CheckBuiltinValue(key, value, Child("trainer", key)));
  }
  for (const ParamSpec& param : space.params) RETURN_IF_ERROR(CheckBuiltinParamSpec(param));
  return absl::OkStatus();
}

// Whether warm_start.study exists is the coordinator's check: the spec alone
// cannot tell.
absl::Status CheckWarmStart(const StudySpec& spec) {
  if (!spec.warm_start) return absl::OkStatus();
  const WarmStartSpec& warm_start = *spec.warm_start;
  if (!IsValidName(warm_start.study)) {
    return FieldError("warm_start.study",
                      absl::StrCat("\"", warm_start.study, "\" is not a valid study name"));
  }
  if (warm_start.study == spec.name) {
    return FieldError("warm_start.study", "cannot be the study itself");
  }
  if (warm_start.max_trials) {
    RETURN_IF_ERROR(AtLeast("warm_start.max_trials", *warm_start.max_trials, 1));
  }
  if (spec.sampler.get<GridSpec>() != nullptr) {
    // The grid gives trial n its point n; copies would take those numbers.
    return FieldError("warm_start",
                      "cannot be combined with sampler grid, which runs its points "
                      "by trial number");
  }
  return absl::OkStatus();
}

// The directory is on the worker nodes, which may have other working
// directories than the server: only an absolute path means one place.
absl::Status CheckTracking(const StudySpec& spec) {
  const std::string& dir = spec.tracking.tensorboard_dir;
  if (dir.empty()) return absl::OkStatus();
  if (spec.trainer.external) {
    return FieldError("tracking.tensorboard",
                      "the trials of an external trainer never run on a worker, which is what "
                      "writes the event files");
  }
  if (dir.front() != '/') {
    return FieldError("tracking.tensorboard",
                      absl::StrCat("\"", dir, "\" is not an absolute path"));
  }
  if (dir.find('\0') != std::string::npos) {
    return FieldError("tracking.tensorboard", "contains a NUL byte");
  }
  return absl::OkStatus();
}

// The largest value `name` takes in the built-in trainer's trials: a
// searched int parameter's upper bound, else its fixed setting, else its
// default. nullopt when it is not a number there.
std::optional<int64_t> BuiltinMaxSetting(const StudySpec& spec, absl::string_view name) {
  if (const ParamSpec* param = spec.space.Find(name)) {
    if (param->type != ParamSpec::Type::kCategorical) return static_cast<int64_t>(param->high);
    return std::nullopt;
  }
  const auto fixed = spec.trainer.fixed.find(std::string(name));
  if (fixed != spec.trainer.fixed.end()) {
    if (fixed->is_number()) return fixed->get<int64_t>();
    return std::nullopt;
  }
  const BuiltinParam* builtin = FindBuiltinParam(name);
  if (builtin == nullptr || !builtin->default_value.is_number()) return std::nullopt;
  return builtin->default_value.get<int64_t>();
}

int64_t DefaultCheckpointEvery(const StudySpec& spec) {
  if (const PbtSpec* pbt = spec.pruner.get<PbtSpec>()) return pbt->interval;
  if (!spec.trainer.builtin()) return 0;
  if (std::optional<int64_t> every = BuiltinMaxSetting(spec, "checkpoint_every")) {
    if (*every > 0) return *every;
  }
  const std::optional<int64_t> epochs = BuiltinMaxSetting(spec, "epochs");
  return epochs && *epochs >= kMinEpochsForDefaultCheckpoints ? 1 : 0;
}

// checkpoint.every as written: a pbt study checkpoints at its decision
// boundaries, and an external trainer's trials never reach a worker.
absl::Status CheckArtifacts(const ArtifactSpec& artifacts) {
  RETURN_IF_ERROR(AtLeast("artifacts.count", artifacts.count, 1));
  RETURN_IF_ERROR(AtLeast("artifacts.max_bytes", artifacts.max_bytes, 1));
  if (artifacts.max_bytes > kMaxArtifactBytes) {
    return FieldError(
        "artifacts.max_bytes",
        absl::StrCat(artifacts.max_bytes, " is above the most, ", kMaxArtifactBytes, " (1 TiB)"));
  }
  return absl::OkStatus();
}

absl::Status CheckCheckpoint(const StudySpec& spec) {
  if (!spec.checkpoint.every) return absl::OkStatus();
  const int64_t every = *spec.checkpoint.every;
  RETURN_IF_ERROR(AtLeast("checkpoint.every", every, 0));
  if (every > kMaxCheckpointEvery) {
    return FieldError("checkpoint.every",
                      absl::StrCat(every, " is above ", kMaxCheckpointEvery, " steps"));
  }
  if (every > 0 && spec.trainer.external) {
    return FieldError("checkpoint.every",
                      "the trials of an external trainer never run on a worker, which is what "
                      "uploads checkpoints");
  }
  const PbtSpec* pbt = spec.pruner.get<PbtSpec>();
  if (pbt != nullptr && every != pbt->interval) {
    return FieldError("checkpoint.every",
                      absl::StrCat(every, " differs from pruner.interval (", pbt->interval,
                                   "): a pbt study checkpoints at its decision boundaries; "
                                   "leave checkpoint out"));
  }
  return absl::OkStatus();
}

// What a multi-objective study cannot use: the model-based single-objective
// samplers and the pruners (pruning compares one metric, as in Optuna).
absl::Status CheckMultiObjective(const StudySpec& spec) {
  if (!spec.multi_objective()) return absl::OkStatus();
  const absl::string_view type = spec.sampler.type();
  if (type != "random" && type != "grid" && type != "sobol" && type != "nsga2") {
    return FieldError(
        "sampler.type",
        absl::StrCat("\"", type, "\" optimises one objective; the study has ",
                     spec.objectives.size(), " (use nsga2, or random, grid or sobol)"));
  }
  if (spec.pruner.type() != "none") {
    return FieldError(
        "pruner.type",
        absl::StrCat("\"", spec.pruner.type(), "\" prunes on one objective; a study with ",
                     spec.objectives.size(), " objectives takes pruner type none"));
  }
  return absl::OkStatus();
}

template <typename Variant>
absl::string_view NameOf(const Variant& variant, const char* const names[]) {
  return names[variant.index()];
}

}  // namespace

absl::string_view SamplerSpec::type() const {
  // In SamplerAlgorithm's order.
  static constexpr const char* kNames[] = {"random", "tpe",   "grid", "sobol",
                                           "gp",     "cmaes", "nsga2"};
  static_assert(std::variant_size_v<SamplerAlgorithm> == std::size(kNames));
  return NameOf(algorithm, kNames);
}

absl::string_view PrunerSpec::type() const {
  // In PrunerRule's order.
  static constexpr const char* kNames[] = {"none",      "median",    "percentile", "asha",
                                           "hyperband", "threshold", "patience",   "pbt"};
  static_assert(std::variant_size_v<PrunerRule> == std::size(kNames));
  return NameOf(rule, kNames);
}

const ParamSpec* SearchSpace::Find(absl::string_view name) const {
  for (const ParamSpec& param : params) {
    if (param.name == name) return &param;
  }
  return nullptr;
}

absl::Status NormalizeStudySpec(StudySpec& spec) {
  RETURN_IF_ERROR(CheckStudyName(spec));
  RETURN_IF_ERROR(CheckObjectives(spec));
  RETURN_IF_ERROR(CheckConstraints(spec));
  RETURN_IF_ERROR(CheckSearchSpace(spec.space));
  RETURN_IF_ERROR(CheckPbtParams(spec));
  ResolveStudySpecDefaults(spec);
  RETURN_IF_ERROR(CheckSampler(spec.sampler, spec.space));
  RETURN_IF_ERROR(CheckPruner(spec.pruner, "pruner"));
  RETURN_IF_ERROR(CheckBudget(spec.budget));
  RETURN_IF_ERROR(CheckStopConditions(spec));
  RETURN_IF_ERROR(CheckTrainer(spec.trainer, spec.space));
  RETURN_IF_ERROR(CheckWarmStart(spec));
  RETURN_IF_ERROR(CheckTracking(spec));
  RETURN_IF_ERROR(CheckCheckpoint(spec));
  RETURN_IF_ERROR(CheckArtifacts(spec.artifacts));
  RETURN_IF_ERROR(CheckPlacement(spec));
  return CheckMultiObjective(spec);
}

bool AsksForResources(const ResourceSpec& r) {
  return r.gpus || r.gpu_memory_gb || r.cpus || r.memory_gb;
}

absl::string_view ArtifactKeepName(ArtifactKeep keep) {
  switch (keep) {
    case ArtifactKeep::kAll:
      return "all";
    case ArtifactKeep::kNone:
      return "none";
    case ArtifactKeep::kBest:
    default:
      return "best";
  }
}

int64_t CheckpointEvery(const StudySpec& spec) {
  return spec.checkpoint.every ? *spec.checkpoint.every : DefaultCheckpointEvery(spec);
}

void ResolveStudySpecDefaults(StudySpec& spec) {
  if (!spec.objectives.empty()) spec.objective = spec.objectives.front();
  if (!spec.checkpoint.every) spec.checkpoint.every = DefaultCheckpointEvery(spec);
  spec.space.params = ParentsFirst(std::move(spec.space.params));
  for (ParamSpec& param : spec.space.params) {
    if (param.type == ParamSpec::Type::kInt && !param.step) param.step = 1;
  }
  auto* pbt = std::get_if<PbtSpec>(&spec.pruner.rule);
  if (pbt == nullptr) return;
  if (pbt->min_population == 0) pbt->min_population = std::max<int64_t>(2, spec.budget.parallel);
  if (!pbt->params.empty()) return;
  const std::set<std::string> parents = ConditionParents(spec.space);
  for (const ParamSpec& param : spec.space.params) {
    if (param.type == ParamSpec::Type::kFloat && !param.when && parents.count(param.name) == 0) {
      pbt->params.push_back(param.name);
    }
  }
}

uint64_t StableSeed(absl::string_view name) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  return hash & 0x7fffffffffffffffull;
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return name[0] != '.';
}

bool ParamValueIn(const ParamValue& value, const std::vector<ParamValue>& values) {
  auto as_number = [](const ParamValue& v) -> std::optional<double> {
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    return std::nullopt;
  };
  for (const ParamValue& candidate : values) {
    auto a = as_number(value);
    auto b = as_number(candidate);
    if (a && b ? *a == *b : value == candidate) return true;
  }
  return false;
}

nlohmann::json TrialParamsJson(const TrainerSpec& trainer, const ParamMap& params) {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [name, value] : params) {
    std::visit([&values, &name = name](const auto& v) { values[name] = v; }, value);
  }
  return OverlayTrialParams(trainer.fixed, values);
}

}  // namespace vernier
