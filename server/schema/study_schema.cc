#include "server/schema/study_schema.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/spec/study_yaml.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

absl::Status Missing(absl::string_view field, absl::string_view why = "") {
  return absl::InvalidArgumentError(absl::StrCat(field, ": missing", why));
}

// ---- Proto to structs ------------------------------------------------------

}  // namespace

absl::StatusOr<ParamValue> ParamValueFromProto(const v1::ParameterValue& value,
                                               absl::string_view path) {
  switch (value.kind_case()) {
    case v1::ParameterValue::kDoubleValue:
      return ParamValue(value.double_value());
    case v1::ParameterValue::kIntValue:
      return ParamValue(value.int_value());
    case v1::ParameterValue::kStringValue:
      return ParamValue(value.string_value());
    case v1::ParameterValue::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": a value without a kind"));
}

v1::ParameterValue ParamValueToProto(const ParamValue& value) {
  v1::ParameterValue out;
  if (const auto* d = std::get_if<double>(&value)) {
    out.set_double_value(*d);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    out.set_int_value(*i);
  } else {
    out.set_string_value(std::get<std::string>(value));
  }
  return out;
}

namespace {

absl::StatusOr<std::vector<ParamValue>> ValuesFromProto(
    const google::protobuf::RepeatedPtrField<v1::ParameterValue>& values, absl::string_view path) {
  std::vector<ParamValue> out;
  out.reserve(values.size());
  for (int i = 0; i < values.size(); ++i) {
    ASSIGN_OR_RETURN(ParamValue value,
                     ParamValueFromProto(values[i], absl::StrCat(path, "[", i, "]")));
    out.push_back(std::move(value));
  }
  return out;
}

absl::StatusOr<ParamSpec> ParamFromProto(const v1::ParameterSpec& proto) {
  const std::string path = absl::StrCat("params.", proto.name());
  ParamSpec param;
  param.name = proto.name();
  switch (proto.type_case()) {
    case v1::ParameterSpec::kFloatRange: {
      const v1::FloatRange& range = proto.float_range();
      param.type = ParamSpec::Type::kFloat;
      param.low = range.low();
      param.high = range.high();
      param.log = range.log();
      if (range.has_step()) param.step = range.step();
      break;
    }
    case v1::ParameterSpec::kIntRange: {
      const v1::IntRange& range = proto.int_range();
      param.type = ParamSpec::Type::kInt;
      param.low = static_cast<double>(range.low());
      param.high = static_cast<double>(range.high());
      param.log = range.log();
      if (range.has_step()) param.step = static_cast<double>(range.step());
      break;
    }
    case v1::ParameterSpec::kCategorical: {
      param.type = ParamSpec::Type::kCategorical;
      ASSIGN_OR_RETURN(param.values, ValuesFromProto(proto.categorical().values(),
                                                     absl::StrCat(path, ".values")));
      break;
    }
    case v1::ParameterSpec::TYPE_NOT_SET:
      return Missing(absl::StrCat(path, ".type"));
  }
  if (proto.has_when()) {
    Condition condition;
    condition.parent = proto.when().parent();
    ASSIGN_OR_RETURN(
        condition.values,
        ValuesFromProto(proto.when().values(), absl::StrCat(path, ".when.", condition.parent)));
    param.when = std::move(condition);
  }
  return param;
}

// The value of an optional proto field, else `fallback`.
template <typename T>
T Or(bool has, T value, T fallback) {
  return has ? value : fallback;
}

SamplerAlgorithm AlgorithmFromProto(const v1::SamplerSpec& proto) {
  switch (proto.algorithm_case()) {
    case v1::SamplerSpec::kTpe: {
      const v1::TpeSampler& p = proto.tpe();
      TpeSpec tpe;
      tpe.n_startup_trials =
          Or(p.has_n_startup_trials(), p.n_startup_trials(), tpe.n_startup_trials);
      tpe.n_ei_candidates = Or(p.has_n_ei_candidates(), p.n_ei_candidates(), tpe.n_ei_candidates);
      tpe.multivariate = Or(p.has_multivariate(), p.multivariate(), tpe.multivariate);
      tpe.constant_liar = Or(p.has_constant_liar(), p.constant_liar(), tpe.constant_liar);
      return tpe;
    }
    case v1::SamplerSpec::kGrid: {
      const v1::GridSampler& p = proto.grid();
      GridSpec grid;
      grid.resolution = Or(p.has_resolution(), p.resolution(), grid.resolution);
      grid.per_param.insert(p.resolution_per_param().begin(), p.resolution_per_param().end());
      return grid;
    }
    case v1::SamplerSpec::kSobol:
      return SobolSpec{};
    case v1::SamplerSpec::kGp: {
      GpSpec gp;
      gp.n_startup_trials =
          Or(proto.gp().has_n_startup_trials(), proto.gp().n_startup_trials(), gp.n_startup_trials);
      return gp;
    }
    case v1::SamplerSpec::kCmaes: {
      const v1::CmaesSampler& p = proto.cmaes();
      CmaesSpec cmaes;
      cmaes.sigma0 = Or(p.has_sigma0(), p.sigma0(), cmaes.sigma0);
      cmaes.popsize = Or(p.has_popsize(), p.popsize(), cmaes.popsize);
      cmaes.restarts = Or(p.has_restarts(), p.restarts(), cmaes.restarts);
      return cmaes;
    }
    case v1::SamplerSpec::kNsga2: {
      const v1::Nsga2Sampler& p = proto.nsga2();
      Nsga2Spec nsga2;
      nsga2.population_size =
          Or(p.has_population_size(), p.population_size(), nsga2.population_size);
      if (p.has_mutation_prob()) nsga2.mutation_prob = p.mutation_prob();
      nsga2.crossover_prob = Or(p.has_crossover_prob(), p.crossover_prob(), nsga2.crossover_prob);
      nsga2.swapping_prob = Or(p.has_swapping_prob(), p.swapping_prob(), nsga2.swapping_prob);
      return nsga2;
    }
    case v1::SamplerSpec::kRandom:
    case v1::SamplerSpec::ALGORITHM_NOT_SET:
      break;
  }
  return RandomSpec{};
}

// The step rule settings of median, percentile and threshold.
template <typename Rule, typename Proto>
void StepRuleFromProto(const Proto& p, Rule& rule) {
  rule.warmup_steps = Or(p.has_warmup_steps(), p.warmup_steps(), rule.warmup_steps);
  rule.interval = Or(p.has_interval(), p.interval(), rule.interval);
}

template <typename Rule, typename Proto>
void MinTrialsFromProto(const Proto& p, Rule& rule) {
  StepRuleFromProto(p, rule);
  rule.min_trials = Or(p.has_min_trials(), p.min_trials(), rule.min_trials);
}

absl::StatusOr<PrunerSpec> PrunerFromProto(const v1::PrunerSpec& proto, const std::string& path);

absl::StatusOr<PrunerRule> HalvingFromProto(const v1::PrunerSpec& proto, const std::string& path) {
  if (proto.has_asha()) {
    const v1::AshaPruner& p = proto.asha();
    AshaSpec asha;
    asha.min_resource = Or(p.has_min_resource(), p.min_resource(), asha.min_resource);
    asha.reduction_factor =
        Or(p.has_reduction_factor(), p.reduction_factor(), asha.reduction_factor);
    if (p.has_max_resource()) asha.max_resource = p.max_resource();
    asha.min_early_stopping_rate = Or(p.has_min_early_stopping_rate(), p.min_early_stopping_rate(),
                                      asha.min_early_stopping_rate);
    asha.bootstrap_count = Or(p.has_bootstrap_count(), p.bootstrap_count(), asha.bootstrap_count);
    return asha;
  }
  const v1::HyperbandPruner& p = proto.hyperband();
  if (!p.has_max_resource()) {
    return Missing(absl::StrCat(path, ".max_resource"), " (hyperband needs a trial's budget)");
  }
  HyperbandSpec hyperband;
  hyperband.min_resource = Or(p.has_min_resource(), p.min_resource(), hyperband.min_resource);
  hyperband.reduction_factor =
      Or(p.has_reduction_factor(), p.reduction_factor(), hyperband.reduction_factor);
  hyperband.max_resource = p.max_resource();
  hyperband.bootstrap_count =
      Or(p.has_bootstrap_count(), p.bootstrap_count(), hyperband.bootstrap_count);
  return hyperband;
}

absl::StatusOr<PrunerRule> PatienceFromProto(const v1::PatiencePruner& p, const std::string& path) {
  if (!p.has_patience()) return Missing(absl::StrCat(path, ".patience"));
  PatienceSpec patience;
  patience.patience = p.patience();
  patience.min_delta = Or(p.has_min_delta(), p.min_delta(), patience.min_delta);
  if (p.has_wrapped()) {
    ASSIGN_OR_RETURN(PrunerSpec wrapped, PrunerFromProto(p.wrapped(), path + ".wrapped"));
    patience.wrapped = std::make_shared<const PrunerSpec>(std::move(wrapped));
  }
  return patience;
}

PbtSpec PbtFromProto(const v1::PbtPruner& p) {
  PbtSpec pbt;
  pbt.interval = Or(p.has_interval(), p.interval(), pbt.interval);
  pbt.quantile = Or(p.has_quantile(), p.quantile(), pbt.quantile);
  pbt.resample_probability =
      Or(p.has_resample_probability(), p.resample_probability(), pbt.resample_probability);
  if (p.perturb_factors_size() > 0) {
    pbt.perturb_factors.assign(p.perturb_factors().begin(), p.perturb_factors().end());
  }
  pbt.params.assign(p.params().begin(), p.params().end());
  pbt.min_population = Or(p.has_min_population(), p.min_population(), pbt.min_population);
  return pbt;
}

absl::StatusOr<PrunerSpec> PrunerFromProto(const v1::PrunerSpec& proto, const std::string& path) {
  PrunerSpec pruner;
  switch (proto.rule_case()) {
    case v1::PrunerSpec::kMedian: {
      MedianSpec median;
      MinTrialsFromProto(proto.median(), median);
      pruner.rule = median;
      break;
    }
    case v1::PrunerSpec::kPercentile: {
      if (!proto.percentile().has_percentile()) return Missing(path + ".percentile");
      PercentileSpec percentile;
      MinTrialsFromProto(proto.percentile(), percentile);
      percentile.percentile = proto.percentile().percentile();
      pruner.rule = percentile;
      break;
    }
    case v1::PrunerSpec::kAsha:
    case v1::PrunerSpec::kHyperband: {
      ASSIGN_OR_RETURN(pruner.rule, HalvingFromProto(proto, path));
      break;
    }
    case v1::PrunerSpec::kThreshold: {
      const v1::ThresholdPruner& p = proto.threshold();
      ThresholdSpec threshold;
      StepRuleFromProto(p, threshold);
      if (p.has_lower()) threshold.lower = p.lower();
      if (p.has_upper()) threshold.upper = p.upper();
      pruner.rule = threshold;
      break;
    }
    case v1::PrunerSpec::kPatience: {
      ASSIGN_OR_RETURN(pruner.rule, PatienceFromProto(proto.patience(), path));
      break;
    }
    case v1::PrunerSpec::kPbt:
      pruner.rule = PbtFromProto(proto.pbt());
      break;
    case v1::PrunerSpec::kNone:
    case v1::PrunerSpec::RULE_NOT_SET:
      break;
  }
  return pruner;
}

BudgetSpec BudgetFromProto(const v1::Budget& p) {
  BudgetSpec budget;
  budget.max_trials = Or(p.has_max_trials(), p.max_trials(), budget.max_trials);
  budget.parallel = Or(p.has_parallel(), p.parallel(), budget.parallel);
  budget.max_failures = Or(p.has_max_failures(), p.max_failures(), budget.max_failures);
  if (p.has_target()) budget.target = p.target();
  if (p.has_max_seconds()) budget.max_seconds = p.max_seconds();
  if (p.has_patience_trials()) budget.patience_trials = p.patience_trials();
  budget.priority = Or(p.has_priority(), p.priority(), budget.priority);
  if (p.has_max_retries()) {
    // More than 1000 retries means "keep retrying"; the cap keeps it an int32.
    budget.max_retries = static_cast<int32_t>(
        std::clamp<int64_t>(p.max_retries(), std::numeric_limits<int32_t>::min(), 1000));
  }
  return budget;
}

ResourceSpec ResourcesFromProto(const v1::Resources& p) {
  ResourceSpec resources;
  if (p.has_gpus()) resources.gpus = p.gpus();
  if (p.has_gpu_memory_gb()) resources.gpu_memory_gb = p.gpu_memory_gb();
  if (p.has_cpus()) resources.cpus = p.cpus();
  if (p.has_memory_gb()) resources.memory_gb = p.memory_gb();
  return resources;
}

v1::Resources ResourcesToProto(const ResourceSpec& resources) {
  v1::Resources out;
  if (resources.gpus) out.set_gpus(*resources.gpus);
  if (resources.gpu_memory_gb) out.set_gpu_memory_gb(*resources.gpu_memory_gb);
  if (resources.cpus) out.set_cpus(*resources.cpus);
  if (resources.memory_gb) out.set_memory_gb(*resources.memory_gb);
  return out;
}

absl::StatusOr<nlohmann::json> SettingsFromProto(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  nlohmann::json settings = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!settings.is_object()) {
    return absl::InvalidArgumentError("trainer: settings_json must be a JSON object");
  }
  return settings;
}

void LimitsFromProto(const v1::TrialLimits& limits, TrainerSpec& trainer) {
  trainer.time_limit = absl::Seconds(limits.time_limit_seconds());
  if (limits.has_stop_grace_seconds()) {
    trainer.stop_grace = absl::Seconds(limits.stop_grace_seconds());
  }
}

absl::StatusOr<TrainerSpec> TrainerFromProto(const v1::TrainerSpec& proto) {
  TrainerSpec trainer;
  switch (proto.program_case()) {
    case v1::TrainerSpec::kBuiltin: {
      ASSIGN_OR_RETURN(trainer.fixed, SettingsFromProto(proto.builtin().settings_json()));
      LimitsFromProto(proto.builtin().limits(), trainer);
      break;
    }
    case v1::TrainerSpec::kCommand: {
      const v1::CommandTrainer& command = proto.command();
      if (command.argv_size() == 0) {
        return absl::InvalidArgumentError("trainer.command: must be a non-empty list");
      }
      trainer.command.assign(command.argv().begin(), command.argv().end());
      ASSIGN_OR_RETURN(trainer.fixed, SettingsFromProto(command.settings_json()));
      LimitsFromProto(command.limits(), trainer);
      break;
    }
    case v1::TrainerSpec::kExternal:
      trainer.external = true;
      break;
    case v1::TrainerSpec::PROGRAM_NOT_SET:
      break;
  }
  return trainer;
}

ObjectiveSpec ObjectiveFromProto(const v1::Objective& proto) {
  return ObjectiveSpec{proto.metric(),
                       proto.goal() == v1::GOAL_MINIMIZE ? Goal::kMinimize : Goal::kMaximize};
}

// ---- Structs to proto ------------------------------------------------------

void ValuesToProto(const std::vector<ParamValue>& values,
                   google::protobuf::RepeatedPtrField<v1::ParameterValue>* out) {
  for (const ParamValue& value : values) *out->Add() = ParamValueToProto(value);
}

v1::ParameterSpec ParamToProto(const ParamSpec& param) {
  v1::ParameterSpec out;
  out.set_name(param.name);
  switch (param.type) {
    case ParamSpec::Type::kFloat: {
      v1::FloatRange* range = out.mutable_float_range();
      range->set_low(param.low);
      range->set_high(param.high);
      range->set_log(param.log);
      if (param.step) range->set_step(*param.step);
      break;
    }
    case ParamSpec::Type::kInt: {
      v1::IntRange* range = out.mutable_int_range();
      range->set_low(static_cast<int64_t>(param.low));
      range->set_high(static_cast<int64_t>(param.high));
      range->set_log(param.log);
      range->set_step(static_cast<int64_t>(param.step.value_or(1)));
      break;
    }
    case ParamSpec::Type::kCategorical:
      ValuesToProto(param.values, out.mutable_categorical()->mutable_values());
      break;
  }
  if (param.when) {
    out.mutable_when()->set_parent(param.when->parent);
    ValuesToProto(param.when->values, out.mutable_when()->mutable_values());
  }
  return out;
}

// Each alternative of SamplerAlgorithm into its message.
struct AlgorithmToProto {
  v1::SamplerSpec& out;

  void operator()(const RandomSpec&) const { out.mutable_random(); }
  void operator()(const TpeSpec& tpe) const {
    v1::TpeSampler* p = out.mutable_tpe();
    p->set_n_startup_trials(tpe.n_startup_trials);
    p->set_n_ei_candidates(tpe.n_ei_candidates);
    p->set_multivariate(tpe.multivariate);
    p->set_constant_liar(tpe.constant_liar);
  }
  void operator()(const GridSpec& grid) const {
    v1::GridSampler* p = out.mutable_grid();
    p->set_resolution(grid.resolution);
    p->mutable_resolution_per_param()->insert(grid.per_param.begin(), grid.per_param.end());
  }
  void operator()(const SobolSpec&) const { out.mutable_sobol(); }
  void operator()(const GpSpec& gp) const {
    out.mutable_gp()->set_n_startup_trials(gp.n_startup_trials);
  }
  void operator()(const CmaesSpec& cmaes) const {
    v1::CmaesSampler* p = out.mutable_cmaes();
    p->set_sigma0(cmaes.sigma0);
    p->set_popsize(cmaes.popsize);
    p->set_restarts(cmaes.restarts);
  }
  void operator()(const Nsga2Spec& nsga2) const {
    v1::Nsga2Sampler* p = out.mutable_nsga2();
    p->set_population_size(nsga2.population_size);
    if (nsga2.mutation_prob) p->set_mutation_prob(*nsga2.mutation_prob);
    p->set_crossover_prob(nsga2.crossover_prob);
    p->set_swapping_prob(nsga2.swapping_prob);
  }
};

v1::PrunerSpec PrunerToProto(const PrunerSpec& pruner);

// Each alternative of PrunerRule into its message.
struct RuleToProto {
  v1::PrunerSpec& out;

  template <typename Proto, typename Rule>
  static void StepRule(const Rule& rule, Proto* p) {
    p->set_warmup_steps(rule.warmup_steps);
    p->set_interval(rule.interval);
  }

  void operator()(const NoPrunerSpec&) const { out.mutable_none(); }
  void operator()(const MedianSpec& median) const {
    StepRule(median, out.mutable_median());
    out.mutable_median()->set_min_trials(median.min_trials);
  }
  void operator()(const PercentileSpec& percentile) const {
    v1::PercentilePruner* p = out.mutable_percentile();
    StepRule(percentile, p);
    p->set_min_trials(percentile.min_trials);
    p->set_percentile(percentile.percentile);
  }
  void operator()(const AshaSpec& asha) const {
    v1::AshaPruner* p = out.mutable_asha();
    p->set_min_resource(asha.min_resource);
    p->set_reduction_factor(asha.reduction_factor);
    if (asha.max_resource) p->set_max_resource(*asha.max_resource);
    p->set_min_early_stopping_rate(asha.min_early_stopping_rate);
    p->set_bootstrap_count(asha.bootstrap_count);
  }
  void operator()(const HyperbandSpec& hyperband) const {
    v1::HyperbandPruner* p = out.mutable_hyperband();
    p->set_min_resource(hyperband.min_resource);
    p->set_reduction_factor(hyperband.reduction_factor);
    p->set_max_resource(hyperband.max_resource);
    p->set_bootstrap_count(hyperband.bootstrap_count);
  }
  void operator()(const ThresholdSpec& threshold) const {
    v1::ThresholdPruner* p = out.mutable_threshold();
    StepRule(threshold, p);
    if (threshold.lower) p->set_lower(*threshold.lower);
    if (threshold.upper) p->set_upper(*threshold.upper);
  }
  void operator()(const PatienceSpec& patience) const {
    v1::PatiencePruner* p = out.mutable_patience();
    p->set_patience(patience.patience);
    p->set_min_delta(patience.min_delta);
    if (patience.wrapped != nullptr) *p->mutable_wrapped() = PrunerToProto(*patience.wrapped);
  }
  void operator()(const PbtSpec& pbt) const {
    v1::PbtPruner* p = out.mutable_pbt();
    p->set_interval(pbt.interval);
    p->set_quantile(pbt.quantile);
    p->set_resample_probability(pbt.resample_probability);
    for (double factor : pbt.perturb_factors) p->add_perturb_factors(factor);
    for (const std::string& name : pbt.params) p->add_params(name);
    p->set_min_population(pbt.min_population);
  }
};

v1::PrunerSpec PrunerToProto(const PrunerSpec& pruner) {
  v1::PrunerSpec out;
  std::visit(RuleToProto{out}, pruner.rule);
  return out;
}

v1::TrialLimits LimitsToProto(const TrainerSpec& trainer) {
  v1::TrialLimits limits;
  limits.set_time_limit_seconds(absl::ToDoubleSeconds(trainer.time_limit));
  limits.set_stop_grace_seconds(absl::ToDoubleSeconds(trainer.stop_grace));
  return limits;
}

v1::TrainerSpec TrainerToProto(const TrainerSpec& trainer) {
  v1::TrainerSpec out;
  if (trainer.external) {
    out.mutable_external();
    return out;
  }
  const std::string settings =
      trainer.fixed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (trainer.builtin()) {
    out.mutable_builtin()->set_settings_json(settings);
    *out.mutable_builtin()->mutable_limits() = LimitsToProto(trainer);
    return out;
  }
  v1::CommandTrainer* command = out.mutable_command();
  for (const std::string& arg : trainer.command) command->add_argv(arg);
  command->set_settings_json(settings);
  *command->mutable_limits() = LimitsToProto(trainer);
  return out;
}

// A study stored before artifacts existed has none set: the defaults.
ArtifactSpec ArtifactsFromProto(const v1::ArtifactPolicy& proto) {
  ArtifactSpec artifacts;
  if (proto.keep() == v1::ARTIFACT_KEEP_ALL) artifacts.keep = ArtifactKeep::kAll;
  if (proto.keep() == v1::ARTIFACT_KEEP_NONE) artifacts.keep = ArtifactKeep::kNone;
  if (proto.has_count()) artifacts.count = proto.count();
  if (proto.has_max_bytes()) artifacts.max_bytes = proto.max_bytes();
  return artifacts;
}

v1::ArtifactPolicy ArtifactsToProto(const ArtifactSpec& artifacts) {
  v1::ArtifactPolicy proto;
  proto.set_keep(artifacts.keep == ArtifactKeep::kAll    ? v1::ARTIFACT_KEEP_ALL
                 : artifacts.keep == ArtifactKeep::kNone ? v1::ARTIFACT_KEEP_NONE
                                                         : v1::ARTIFACT_KEEP_BEST);
  proto.set_count(artifacts.count);
  proto.set_max_bytes(artifacts.max_bytes);
  return proto;
}

}  // namespace

absl::StatusOr<StudySpec> StudySpecFromProto(const v1::StudySpec& proto) {
  StudySpec spec;
  spec.name = proto.name();
  for (const v1::Objective& objective : proto.objectives()) {
    spec.objectives.push_back(ObjectiveFromProto(objective));
  }
  if (!spec.objectives.empty()) spec.objective = spec.objectives.front();
  for (const v1::Constraint& constraint : proto.constraints()) {
    ConstraintSpec bound{constraint.metric(), std::nullopt, std::nullopt};
    if (constraint.has_min()) bound.min = constraint.min();
    if (constraint.has_max()) bound.max = constraint.max();
    spec.constraints.push_back(std::move(bound));
  }
  for (const v1::ParameterSpec& param : proto.params()) {
    ASSIGN_OR_RETURN(ParamSpec converted, ParamFromProto(param));
    spec.space.params.push_back(std::move(converted));
  }
  spec.sampler.seed = proto.sampler().has_seed() ? proto.sampler().seed() : StableSeed(spec.name);
  spec.sampler.algorithm = AlgorithmFromProto(proto.sampler());
  ASSIGN_OR_RETURN(spec.pruner, PrunerFromProto(proto.pruner(), "pruner"));
  spec.budget = BudgetFromProto(proto.budget());
  ASSIGN_OR_RETURN(spec.trainer, TrainerFromProto(proto.trainer()));
  if (proto.has_warm_start()) {
    WarmStartSpec warm_start;
    warm_start.study = proto.warm_start().study();
    if (proto.warm_start().has_max_trials()) {
      warm_start.max_trials = proto.warm_start().max_trials();
    }
    spec.warm_start = std::move(warm_start);
  }
  spec.tracking.tensorboard_dir = proto.tracking().tensorboard_dir();
  if (proto.checkpoint().has_every()) spec.checkpoint.every = proto.checkpoint().every();
  spec.artifacts = ArtifactsFromProto(proto.artifacts());
  spec.resources = ResourcesFromProto(proto.resources());
  spec.placement.insert(proto.placement().begin(), proto.placement().end());
  return spec;
}

v1::StudySpec StudySpecToProto(const StudySpec& spec) {
  v1::StudySpec out;
  out.set_name(spec.name);
  for (const ObjectiveSpec& objective : spec.objectives) {
    v1::Objective* o = out.add_objectives();
    o->set_metric(objective.metric);
    o->set_goal(objective.goal == Goal::kMinimize ? v1::GOAL_MINIMIZE : v1::GOAL_MAXIMIZE);
  }
  for (const ConstraintSpec& constraint : spec.constraints) {
    v1::Constraint* c = out.add_constraints();
    c->set_metric(constraint.metric);
    if (constraint.min) c->set_min(*constraint.min);
    if (constraint.max) c->set_max(*constraint.max);
  }
  for (const ParamSpec& param : spec.space.params) *out.add_params() = ParamToProto(param);
  out.mutable_sampler()->set_seed(spec.sampler.seed);
  std::visit(AlgorithmToProto{*out.mutable_sampler()}, spec.sampler.algorithm);
  *out.mutable_pruner() = PrunerToProto(spec.pruner);
  v1::Budget* budget = out.mutable_budget();
  budget->set_max_trials(spec.budget.max_trials);
  budget->set_parallel(spec.budget.parallel);
  budget->set_max_failures(spec.budget.max_failures);
  budget->set_max_retries(spec.budget.max_retries);
  if (spec.budget.target) budget->set_target(*spec.budget.target);
  if (spec.budget.max_seconds) budget->set_max_seconds(*spec.budget.max_seconds);
  if (spec.budget.patience_trials) budget->set_patience_trials(*spec.budget.patience_trials);
  budget->set_priority(spec.budget.priority);
  *out.mutable_trainer() = TrainerToProto(spec.trainer);
  if (spec.warm_start) {
    out.mutable_warm_start()->set_study(spec.warm_start->study);
    if (spec.warm_start->max_trials) {
      out.mutable_warm_start()->set_max_trials(*spec.warm_start->max_trials);
    }
  }
  if (!spec.tracking.tensorboard_dir.empty()) {
    out.mutable_tracking()->set_tensorboard_dir(spec.tracking.tensorboard_dir);
  }
  if (spec.checkpoint.every) out.mutable_checkpoint()->set_every(*spec.checkpoint.every);
  *out.mutable_artifacts() = ArtifactsToProto(spec.artifacts);
  if (AsksForResources(spec.resources)) *out.mutable_resources() = ResourcesToProto(spec.resources);
  out.mutable_placement()->insert(spec.placement.begin(), spec.placement.end());
  return out;
}

absl::StatusOr<StudySpec> StudySpecFromFile(absl::string_view yaml) {
  ASSIGN_OR_RETURN(v1::StudySpec proto, StudySpecFromYaml(yaml));
  return StudySpecFromProto(proto);
}

absl::StatusOr<StudySpec> ParseStudySpec(absl::string_view yaml) {
  ASSIGN_OR_RETURN(StudySpec spec, StudySpecFromFile(yaml));
  RETURN_IF_ERROR(NormalizeStudySpec(spec));
  return spec;
}

absl::StatusOr<StudySpec> StudySpecFromRequest(const v1::StudySpec& proto) {
  RETURN_IF_ERROR(CheckStudySpecLimits(proto));
  return StudySpecFromProto(proto);
}

}  // namespace vernier
