#include "common/spec/study_yaml.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/limits.h"
#include "common/spec/yaml.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

using Json = nlohmann::ordered_json;

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Never throws: dump() throws on invalid UTF-8 unless told to replace it.
std::string Show(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Child(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

// ---- Typed reads of one value ------------------------------------------------

absl::Status CheckKeys(const Json& object, absl::string_view path,
                       const std::set<std::string>& allowed) {
  for (const auto& [key, value] : object.items()) {
    if (allowed.count(key) == 0) {
      return FieldError(
          Child(path, key),
          absl::StrCat("unknown key (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status RequireObject(const Json& value, absl::string_view path) {
  if (value.is_object()) return absl::OkStatus();
  return FieldError(path, absl::StrCat("must be a mapping, got ", Show(value)));
}

absl::StatusOr<std::string> ReadString(const Json& value, absl::string_view path) {
  if (!value.is_string()) {
    return FieldError(path, absl::StrCat("must be a string, got ", Show(value)));
  }
  return value.get<std::string>();
}

absl::StatusOr<double> ReadNumber(const Json& value, absl::string_view path) {
  if (!value.is_number()) {
    return FieldError(path, absl::StrCat("must be a number, got ", Show(value)));
  }
  const double number = value.get<double>();
  if (!std::isfinite(number)) return FieldError(path, "must be finite");
  return number;
}

absl::StatusOr<int64_t> ReadInt(const Json& value, absl::string_view path) {
  if (!value.is_number_integer()) {
    return FieldError(path, absl::StrCat("must be an integer, got ", Show(value)));
  }
  return value.get<int64_t>();
}

absl::StatusOr<bool> ReadBool(const Json& value, absl::string_view path) {
  if (!value.is_boolean()) {
    return FieldError(path, absl::StrCat("must be true or false, got ", Show(value)));
  }
  return value.get<bool>();
}

// Calls `read` with the value of `key` and its path when `object` has it.
absl::Status IfPresent(const Json& object, absl::string_view path, absl::string_view key,
                       const std::function<absl::Status(const Json&, const std::string&)>& read) {
  auto it = object.find(key);
  if (it == object.end()) return absl::OkStatus();
  return read(*it, Child(path, key));
}

// Typed setters of optional proto fields, for IfPresent.
template <typename Message>
auto SetInt(Message* message, void (Message::*set)(int64_t)) {
  return [message, set](const Json& value, const std::string& path) -> absl::Status {
    ASSIGN_OR_RETURN(int64_t number, ReadInt(value, path));
    (message->*set)(number);
    return absl::OkStatus();
  };
}

template <typename Message>
auto SetNumber(Message* message, void (Message::*set)(double)) {
  return [message, set](const Json& value, const std::string& path) -> absl::Status {
    ASSIGN_OR_RETURN(double number, ReadNumber(value, path));
    (message->*set)(number);
    return absl::OkStatus();
  };
}

template <typename Message>
auto SetBool(Message* message, void (Message::*set)(bool)) {
  return [message, set](const Json& value, const std::string& path) -> absl::Status {
    ASSIGN_OR_RETURN(bool flag, ReadBool(value, path));
    (message->*set)(flag);
    return absl::OkStatus();
  };
}

// `value` as a list of parameter values: a list, or one value standing for a
// list of one (`when: {opt: adam}`).
absl::Status ReadValueList(const Json& value, absl::string_view path,
                           google::protobuf::RepeatedPtrField<v1::ParameterValue>* out) {
  if (!value.is_array()) {
    ASSIGN_OR_RETURN(*out->Add(), ParameterValueFromJson(value, path));
    return absl::OkStatus();
  }
  for (size_t i = 0; i < value.size(); ++i) {
    ASSIGN_OR_RETURN(*out->Add(),
                     ParameterValueFromJson(value[i], absl::StrCat(path, "[", i, "]")));
  }
  return absl::OkStatus();
}

// ---- Objectives and constraints --------------------------------------------

absl::StatusOr<v1::Objective> ReadObjective(const Json& node, const std::string& path) {
  RETURN_IF_ERROR(RequireObject(node, path));
  RETURN_IF_ERROR(CheckKeys(node, path, {"metric", "goal"}));
  v1::Objective objective;
  if (!node.contains("metric")) return FieldError(Child(path, "metric"), "missing");
  ASSIGN_OR_RETURN(*objective.mutable_metric(),
                   ReadString(node.at("metric"), Child(path, "metric")));
  objective.set_goal(v1::GOAL_MAXIMIZE);
  if (node.contains("goal")) {
    ASSIGN_OR_RETURN(std::string goal, ReadString(node.at("goal"), Child(path, "goal")));
    if (goal == "minimize") {
      objective.set_goal(v1::GOAL_MINIMIZE);
    } else if (goal != "maximize") {
      return FieldError(Child(path, "goal"), absl::StrCat("unknown goal \"", goal,
                                                          "\" (expected maximize or minimize)"));
    }
  }
  return objective;
}

// `objective: {...}` or `objectives: [{...}, ...]`, exactly one of them.
absl::Status ReadObjectives(const Json& root, v1::StudySpec& spec) {
  const bool single = root.contains("objective");
  const bool several = root.contains("objectives");
  if (single && several) {
    return FieldError("objectives",
                      "give either objective (one metric) or objectives (a list), not both");
  }
  if (!several) {
    if (!single) return FieldError("objective", "missing (or give objectives: [...])");
    ASSIGN_OR_RETURN(*spec.add_objectives(), ReadObjective(root.at("objective"), "objective"));
    return absl::OkStatus();
  }
  const Json& list = root.at("objectives");
  if (!list.is_array()) {
    return FieldError("objectives", absl::StrCat("must be a list, got ", Show(list)));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    ASSIGN_OR_RETURN(*spec.add_objectives(),
                     ReadObjective(list[i], absl::StrCat("objectives[", i, "]")));
  }
  return absl::OkStatus();
}

absl::Status ReadConstraints(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("constraints")) return absl::OkStatus();
  const Json& list = root.at("constraints");
  if (!list.is_array()) {
    return FieldError("constraints", absl::StrCat("must be a list, got ", Show(list)));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = absl::StrCat("constraints[", i, "]");
    const Json& node = list[i];
    RETURN_IF_ERROR(RequireObject(node, path));
    RETURN_IF_ERROR(CheckKeys(node, path, {"metric", "min", "max"}));
    v1::Constraint* constraint = spec.add_constraints();
    if (!node.contains("metric")) return FieldError(Child(path, "metric"), "missing");
    ASSIGN_OR_RETURN(*constraint->mutable_metric(),
                     ReadString(node.at("metric"), Child(path, "metric")));
    RETURN_IF_ERROR(IfPresent(node, path, "min", SetNumber(constraint, &v1::Constraint::set_min)));
    RETURN_IF_ERROR(IfPresent(node, path, "max", SetNumber(constraint, &v1::Constraint::set_max)));
  }
  return absl::OkStatus();
}

// ---- Search space ----------------------------------------------------------

// `low` and `high` of an int parameter: numbers that are whole.
absl::StatusOr<int64_t> ReadIntBound(const Json& node, const std::string& path,
                                     absl::string_view key) {
  if (!node.contains(key)) return FieldError(Child(path, key), "missing");
  const Json& value = node.at(key);
  RETURN_IF_ERROR(ReadNumber(value, Child(path, key)).status());
  if (!value.is_number_integer()) {
    return FieldError(Child(path, key),
                      absl::StrCat("must be an integer for an int parameter, got ", Show(value)));
  }
  return value.get<int64_t>();
}

absl::Status ReadFloatRange(const Json& node, const std::string& path, v1::FloatRange& range) {
  for (const char* key : {"low", "high"}) {
    if (!node.contains(key)) return FieldError(Child(path, key), "missing");
  }
  ASSIGN_OR_RETURN(double low, ReadNumber(node.at("low"), Child(path, "low")));
  ASSIGN_OR_RETURN(double high, ReadNumber(node.at("high"), Child(path, "high")));
  range.set_low(low);
  range.set_high(high);
  RETURN_IF_ERROR(IfPresent(node, path, "log", SetBool(&range, &v1::FloatRange::set_log)));
  return IfPresent(node, path, "step", SetNumber(&range, &v1::FloatRange::set_step));
}

absl::Status ReadIntRange(const Json& node, const std::string& path, v1::IntRange& range) {
  ASSIGN_OR_RETURN(int64_t low, ReadIntBound(node, path, "low"));
  ASSIGN_OR_RETURN(int64_t high, ReadIntBound(node, path, "high"));
  range.set_low(low);
  range.set_high(high);
  RETURN_IF_ERROR(IfPresent(node, path, "log", SetBool(&range, &v1::IntRange::set_log)));
  return IfPresent(node, path, "step",
                   [&range](const Json& value, const std::string& step_path) -> absl::Status {
                     RETURN_IF_ERROR(ReadNumber(value, step_path).status());
                     if (!value.is_number_integer()) {
                       return FieldError(step_path, "must be an integer for an int parameter");
                     }
                     range.set_step(value.get<int64_t>());
                     return absl::OkStatus();
                   });
}

absl::Status ReadCondition(const Json& when, const std::string& path, v1::Condition& condition) {
  if (!when.is_object() || when.size() != 1) {
    return FieldError(path, "must map exactly one parameter to its value(s)");
  }
  condition.set_parent(when.begin().key());
  return ReadValueList(when.begin().value(), Child(path, condition.parent()),
                       condition.mutable_values());
}

absl::StatusOr<v1::ParameterSpec> ReadParam(const std::string& name, const Json& node) {
  const std::string path = absl::StrCat("params.", name);
  RETURN_IF_ERROR(RequireObject(node, path));
  v1::ParameterSpec param;
  param.set_name(name);
  if (!node.contains("type")) return FieldError(Child(path, "type"), "missing");
  ASSIGN_OR_RETURN(std::string type, ReadString(node.at("type"), Child(path, "type")));
  if (type == "float") {
    RETURN_IF_ERROR(CheckKeys(node, path, {"type", "low", "high", "log", "step", "when"}));
    RETURN_IF_ERROR(ReadFloatRange(node, path, *param.mutable_float_range()));
  } else if (type == "int") {
    RETURN_IF_ERROR(CheckKeys(node, path, {"type", "low", "high", "log", "step", "when"}));
    RETURN_IF_ERROR(ReadIntRange(node, path, *param.mutable_int_range()));
  } else if (type == "categorical") {
    RETURN_IF_ERROR(CheckKeys(node, path, {"type", "values", "when"}));
    const std::string values_path = Child(path, "values");
    if (!node.contains("values")) return FieldError(values_path, "missing");
    if (!node.at("values").is_array()) return FieldError(values_path, "must be a list");
    RETURN_IF_ERROR(ReadValueList(node.at("values"), values_path,
                                  param.mutable_categorical()->mutable_values()));
  } else {
    return FieldError(Child(path, "type"), absl::StrCat("unknown type \"", type,
                                                        "\" (expected float, int or categorical)"));
  }
  if (node.contains("when")) {
    RETURN_IF_ERROR(ReadCondition(node.at("when"), Child(path, "when"), *param.mutable_when()));
  }
  return param;
}

absl::Status ReadParams(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("params")) return FieldError("params", "missing");
  const Json& node = root.at("params");
  RETURN_IF_ERROR(RequireObject(node, "params"));
  for (const auto& [name, param] : node.items()) {
    ASSIGN_OR_RETURN(*spec.add_params(), ReadParam(name, param));
  }
  return absl::OkStatus();
}

// ---- Sampler ---------------------------------------------------------------

absl::Status ReadTpe(const Json& node, v1::TpeSampler& tpe) {
  RETURN_IF_ERROR(IfPresent(node, "sampler", "n_startup_trials",
                            SetInt(&tpe, &v1::TpeSampler::set_n_startup_trials)));
  RETURN_IF_ERROR(IfPresent(node, "sampler", "n_ei_candidates",
                            SetInt(&tpe, &v1::TpeSampler::set_n_ei_candidates)));
  RETURN_IF_ERROR(
      IfPresent(node, "sampler", "multivariate", SetBool(&tpe, &v1::TpeSampler::set_multivariate)));
  return IfPresent(node, "sampler", "constant_liar",
                   SetBool(&tpe, &v1::TpeSampler::set_constant_liar));
}

// `resolution: 5` or `resolution: {lr: 7, dropout: 3}`.
absl::Status ReadGrid(const Json& node, v1::GridSampler& grid) {
  if (!node.contains("resolution")) return absl::OkStatus();
  const Json& resolution = node.at("resolution");
  if (!resolution.is_object()) {
    ASSIGN_OR_RETURN(int64_t points, ReadInt(resolution, "sampler.resolution"));
    grid.set_resolution(points);
    return absl::OkStatus();
  }
  for (const auto& [name, value] : resolution.items()) {
    ASSIGN_OR_RETURN((*grid.mutable_resolution_per_param())[name],
                     ReadInt(value, absl::StrCat("sampler.resolution.", name)));
  }
  return absl::OkStatus();
}

absl::Status ReadCmaes(const Json& node, v1::CmaesSampler& cmaes) {
  RETURN_IF_ERROR(
      IfPresent(node, "sampler", "sigma0", SetNumber(&cmaes, &v1::CmaesSampler::set_sigma0)));
  RETURN_IF_ERROR(
      IfPresent(node, "sampler", "popsize", SetInt(&cmaes, &v1::CmaesSampler::set_popsize)));
  return IfPresent(node, "sampler", "restarts", SetBool(&cmaes, &v1::CmaesSampler::set_restarts));
}

absl::Status ReadNsga2(const Json& node, v1::Nsga2Sampler& nsga2) {
  RETURN_IF_ERROR(IfPresent(node, "sampler", "population_size",
                            SetInt(&nsga2, &v1::Nsga2Sampler::set_population_size)));
  if (node.contains("mutation_prob") && !node.at("mutation_prob").is_null()) {
    ASSIGN_OR_RETURN(double p, ReadNumber(node.at("mutation_prob"), "sampler.mutation_prob"));
    nsga2.set_mutation_prob(p);
  }
  RETURN_IF_ERROR(IfPresent(node, "sampler", "crossover_prob",
                            SetNumber(&nsga2, &v1::Nsga2Sampler::set_crossover_prob)));
  return IfPresent(node, "sampler", "swapping_prob",
                   SetNumber(&nsga2, &v1::Nsga2Sampler::set_swapping_prob));
}

// One entry of the table of samplers: its keys besides `type` and how its
// settings are read.
struct SamplerKind {
  std::set<std::string> keys;
  std::function<absl::Status(const Json&, v1::SamplerSpec&)> read;
};

const std::map<std::string, SamplerKind>& SamplerKinds() {
  static const auto* kinds = new std::map<std::string, SamplerKind>{
      {"random",
       {{"seed"},
        [](const Json&, v1::SamplerSpec& s) {
          s.mutable_random();
          return absl::OkStatus();
        }}},
      {"tpe",
       {{"seed", "n_startup_trials", "n_ei_candidates", "multivariate", "constant_liar"},
        [](const Json& node, v1::SamplerSpec& s) { return ReadTpe(node, *s.mutable_tpe()); }}},
      {"grid",
       {{"resolution"},
        [](const Json& node, v1::SamplerSpec& s) { return ReadGrid(node, *s.mutable_grid()); }}},
      {"sobol",
       {{"seed"},
        [](const Json&, v1::SamplerSpec& s) {
          s.mutable_sobol();
          return absl::OkStatus();
        }}},
      {"gp",
       {{"seed", "n_startup_trials"},
        [](const Json& node, v1::SamplerSpec& s) {
          return IfPresent(node, "sampler", "n_startup_trials",
                           SetInt(s.mutable_gp(), &v1::GpSampler::set_n_startup_trials));
        }}},
      {"cmaes",
       {{"seed", "sigma0", "popsize", "restarts"},
        [](const Json& node, v1::SamplerSpec& s) { return ReadCmaes(node, *s.mutable_cmaes()); }}},
      {"nsga2",
       {{"seed", "population_size", "mutation_prob", "crossover_prob", "swapping_prob"},
        [](const Json& node, v1::SamplerSpec& s) { return ReadNsga2(node, *s.mutable_nsga2()); }}},
  };
  return *kinds;
}

absl::Status ReadSampler(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("sampler")) return absl::OkStatus();
  const Json& node = root.at("sampler");
  RETURN_IF_ERROR(RequireObject(node, "sampler"));
  std::string type = "random";
  if (node.contains("type")) {
    ASSIGN_OR_RETURN(type, ReadString(node.at("type"), "sampler.type"));
  }
  auto kind = SamplerKinds().find(type);
  if (kind == SamplerKinds().end()) {
    return FieldError(
        "sampler.type",
        absl::StrCat("unknown sampler \"", type,
                     "\" (expected one of: random, tpe, grid, sobol, gp, cmaes, nsga2)"));
  }
  std::set<std::string> allowed = kind->second.keys;
  allowed.insert("type");
  RETURN_IF_ERROR(CheckKeys(node, "sampler", allowed));
  v1::SamplerSpec* sampler = spec.mutable_sampler();
  RETURN_IF_ERROR(kind->second.read(node, *sampler));
  if (node.contains("seed")) {
    ASSIGN_OR_RETURN(int64_t seed, ReadInt(node.at("seed"), "sampler.seed"));
    if (seed < 0) return FieldError("sampler.seed", absl::StrCat("must be >= 0, got ", seed));
    sampler->set_seed(static_cast<uint64_t>(seed));
  }
  return absl::OkStatus();
}

// ---- Pruner ----------------------------------------------------------------

absl::StatusOr<v1::PrunerSpec> ReadPruner(const Json& node, const std::string& path);

// The settings every pruner kind reads into its message: the key and the
// setter of one optional field.
template <typename Message>
struct IntField {
  const char* key;
  void (Message::*set)(int64_t);
};

template <typename Message>
absl::Status ReadInts(const Json& node, const std::string& path, Message& message,
                      std::initializer_list<IntField<Message>> fields) {
  for (const IntField<Message>& field : fields) {
    RETURN_IF_ERROR(IfPresent(node, path, field.key, SetInt(&message, field.set)));
  }
  return absl::OkStatus();
}

absl::Status ReadMedian(const Json& node, const std::string& path, v1::MedianPruner& rule) {
  return ReadInts<v1::MedianPruner>(node, path, rule,
                                    {{"warmup_steps", &v1::MedianPruner::set_warmup_steps},
                                     {"interval", &v1::MedianPruner::set_interval},
                                     {"min_trials", &v1::MedianPruner::set_min_trials}});
}

absl::Status ReadPercentile(const Json& node, const std::string& path, v1::PercentilePruner& rule) {
  RETURN_IF_ERROR(
      ReadInts<v1::PercentilePruner>(node, path, rule,
                                     {{"warmup_steps", &v1::PercentilePruner::set_warmup_steps},
                                      {"interval", &v1::PercentilePruner::set_interval},
                                      {"min_trials", &v1::PercentilePruner::set_min_trials}}));
  return IfPresent(node, path, "percentile",
                   SetNumber(&rule, &v1::PercentilePruner::set_percentile));
}

absl::Status ReadAsha(const Json& node, const std::string& path, v1::AshaPruner& rule) {
  return ReadInts<v1::AshaPruner>(
      node, path, rule,
      {{"min_resource", &v1::AshaPruner::set_min_resource},
       {"reduction_factor", &v1::AshaPruner::set_reduction_factor},
       {"max_resource", &v1::AshaPruner::set_max_resource},
       {"min_early_stopping_rate", &v1::AshaPruner::set_min_early_stopping_rate},
       {"bootstrap_count", &v1::AshaPruner::set_bootstrap_count}});
}

absl::Status ReadHyperband(const Json& node, const std::string& path, v1::HyperbandPruner& rule) {
  return ReadInts<v1::HyperbandPruner>(
      node, path, rule,
      {{"min_resource", &v1::HyperbandPruner::set_min_resource},
       {"reduction_factor", &v1::HyperbandPruner::set_reduction_factor},
       {"max_resource", &v1::HyperbandPruner::set_max_resource},
       {"bootstrap_count", &v1::HyperbandPruner::set_bootstrap_count}});
}

absl::Status ReadThreshold(const Json& node, const std::string& path, v1::ThresholdPruner& rule) {
  RETURN_IF_ERROR(
      ReadInts<v1::ThresholdPruner>(node, path, rule,
                                    {{"warmup_steps", &v1::ThresholdPruner::set_warmup_steps},
                                     {"interval", &v1::ThresholdPruner::set_interval}}));
  RETURN_IF_ERROR(
      IfPresent(node, path, "lower", SetNumber(&rule, &v1::ThresholdPruner::set_lower)));
  return IfPresent(node, path, "upper", SetNumber(&rule, &v1::ThresholdPruner::set_upper));
}

absl::Status ReadPatience(const Json& node, const std::string& path, v1::PatiencePruner& rule) {
  RETURN_IF_ERROR(
      IfPresent(node, path, "patience", SetInt(&rule, &v1::PatiencePruner::set_patience)));
  RETURN_IF_ERROR(
      IfPresent(node, path, "min_delta", SetNumber(&rule, &v1::PatiencePruner::set_min_delta)));
  if (!node.contains("wrapped")) return absl::OkStatus();
  const std::string wrapped_path = Child(path, "wrapped");
  RETURN_IF_ERROR(RequireObject(node.at("wrapped"), wrapped_path));
  ASSIGN_OR_RETURN(*rule.mutable_wrapped(), ReadPruner(node.at("wrapped"), wrapped_path));
  return absl::OkStatus();
}

absl::Status ReadPbt(const Json& node, const std::string& path, v1::PbtPruner& rule) {
  RETURN_IF_ERROR(
      ReadInts<v1::PbtPruner>(node, path, rule,
                              {{"interval", &v1::PbtPruner::set_interval},
                               {"min_population", &v1::PbtPruner::set_min_population}}));
  RETURN_IF_ERROR(
      IfPresent(node, path, "quantile", SetNumber(&rule, &v1::PbtPruner::set_quantile)));
  RETURN_IF_ERROR(IfPresent(node, path, "resample_probability",
                            SetNumber(&rule, &v1::PbtPruner::set_resample_probability)));
  if (node.contains("perturb_factors")) {
    const std::string list_path = Child(path, "perturb_factors");
    const Json& list = node.at("perturb_factors");
    if (!list.is_array() || list.empty()) {
      return FieldError(list_path, absl::StrCat("must be a non-empty list, got ", Show(list)));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      ASSIGN_OR_RETURN(double factor, ReadNumber(list[i], absl::StrCat(list_path, "[", i, "]")));
      rule.add_perturb_factors(factor);
    }
  }
  if (node.contains("params")) {
    const std::string list_path = Child(path, "params");
    const Json& list = node.at("params");
    if (!list.is_array() || list.empty()) {
      return FieldError(
          list_path, absl::StrCat("must be a non-empty list of parameter names, got ", Show(list)));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      ASSIGN_OR_RETURN(*rule.add_params(),
                       ReadString(list[i], absl::StrCat(list_path, "[", i, "]")));
    }
  }
  return absl::OkStatus();
}

// One entry of the table of pruners: its keys besides `type` and how its
// settings are read.
struct PrunerKind {
  std::set<std::string> keys;
  std::function<absl::Status(const Json&, const std::string&, v1::PrunerSpec&)> read;
};

const std::map<std::string, PrunerKind>& PrunerKinds() {
  static const auto* kinds = new std::map<std::string, PrunerKind>{
      {"none",
       {{},
        [](const Json&, const std::string&, v1::PrunerSpec& p) {
          p.mutable_none();
          return absl::OkStatus();
        }}},
      {"median",
       {{"warmup_steps", "interval", "min_trials"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadMedian(n, path, *p.mutable_median());
        }}},
      {"percentile",
       {{"warmup_steps", "interval", "min_trials", "percentile"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadPercentile(n, path, *p.mutable_percentile());
        }}},
      {"asha",
       {{"min_resource", "reduction_factor", "max_resource", "min_early_stopping_rate",
         "bootstrap_count"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadAsha(n, path, *p.mutable_asha());
        }}},
      {"hyperband",
       {{"min_resource", "reduction_factor", "max_resource", "bootstrap_count"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadHyperband(n, path, *p.mutable_hyperband());
        }}},
      {"threshold",
       {{"warmup_steps", "interval", "lower", "upper"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadThreshold(n, path, *p.mutable_threshold());
        }}},
      {"patience",
       {{"patience", "min_delta", "wrapped"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadPatience(n, path, *p.mutable_patience());
        }}},
      {"pbt",
       {{"interval", "quantile", "resample_probability", "perturb_factors", "params",
         "min_population"},
        [](const Json& n, const std::string& path, v1::PrunerSpec& p) {
          return ReadPbt(n, path, *p.mutable_pbt());
        }}},
  };
  return *kinds;
}

absl::StatusOr<v1::PrunerSpec> ReadPruner(const Json& node, const std::string& path) {
  std::string type = "none";
  if (node.contains("type")) {
    ASSIGN_OR_RETURN(type, ReadString(node.at("type"), Child(path, "type")));
  }
  auto kind = PrunerKinds().find(type);
  if (kind == PrunerKinds().end()) {
    return FieldError(Child(path, "type"),
                      absl::StrCat("unknown pruner \"", type,
                                   "\" (expected one of: none, median, percentile, asha, "
                                   "hyperband, threshold, patience, pbt)"));
  }
  std::set<std::string> allowed = kind->second.keys;
  allowed.insert("type");
  RETURN_IF_ERROR(CheckKeys(node, path, allowed));
  v1::PrunerSpec pruner;
  RETURN_IF_ERROR(kind->second.read(node, path, pruner));
  return pruner;
}

// ---- Budget, trainer, warm start -------------------------------------------

absl::Status ReadBudget(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("budget")) return absl::OkStatus();
  const Json& node = root.at("budget");
  RETURN_IF_ERROR(RequireObject(node, "budget"));
  RETURN_IF_ERROR(CheckKeys(node, "budget",
                            {"max_trials", "parallel", "max_failures", "max_retries", "target",
                             "max_seconds", "patience_trials", "priority"}));
  v1::Budget& budget = *spec.mutable_budget();
  RETURN_IF_ERROR(ReadInts<v1::Budget>(node, "budget", budget,
                                       {{"max_trials", &v1::Budget::set_max_trials},
                                        {"parallel", &v1::Budget::set_parallel},
                                        {"max_failures", &v1::Budget::set_max_failures},
                                        {"max_retries", &v1::Budget::set_max_retries},
                                        {"patience_trials", &v1::Budget::set_patience_trials},
                                        {"priority", &v1::Budget::set_priority}}));
  RETURN_IF_ERROR(IfPresent(node, "budget", "target", SetNumber(&budget, &v1::Budget::set_target)));
  return IfPresent(node, "budget", "max_seconds", SetNumber(&budget, &v1::Budget::set_max_seconds));
}

// The trainer's settings that are not fixed settings of the trial.
struct TrainerKeys {
  std::optional<std::vector<std::string>> command;
  bool external = false;
  v1::TrialLimits limits;
  Json settings = Json::object();
};

absl::StatusOr<TrainerKeys> ReadTrainerKeys(const Json& node) {
  TrainerKeys keys;
  for (const auto& [key, value] : node.items()) {
    const std::string path = Child("trainer", key);
    if (key == "command") {
      if (!value.is_array() || value.empty()) return FieldError(path, "must be a non-empty list");
      keys.command.emplace();
      for (size_t i = 0; i < value.size(); ++i) {
        ASSIGN_OR_RETURN(std::string arg, ReadString(value[i], absl::StrCat(path, "[", i, "]")));
        keys.command->push_back(std::move(arg));
      }
    } else if (key == "time_limit") {
      ASSIGN_OR_RETURN(double seconds, ReadNumber(value, path));
      keys.limits.set_time_limit_seconds(seconds);
    } else if (key == "stop_grace") {
      ASSIGN_OR_RETURN(double seconds, ReadNumber(value, path));
      keys.limits.set_stop_grace_seconds(seconds);
    } else if (key == "external") {
      ASSIGN_OR_RETURN(keys.external, ReadBool(value, path));
    } else {
      keys.settings[key] = value;
    }
  }
  return keys;
}

// `trainer: {external: true}` says that the user's own loop runs the trials
// (Ask/Tell); no worker runs them, so settings for a trial program would never
// be used: any other key is a mistake.
absl::Status CheckExternalTrainer(const Json& node) {
  for (const auto& [key, value] : node.items()) {
    if (key != "external") {
      return FieldError(Child("trainer", key),
                        "not allowed with trainer.external: true (the trials run in your own "
                        "ask/tell loop, not on workers)");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadTrainer(const Json& root, v1::StudySpec& spec) {
  v1::TrainerSpec* trainer = spec.mutable_trainer();
  if (!root.contains("trainer")) {
    trainer->mutable_builtin();
    return absl::OkStatus();
  }
  const Json& node = root.at("trainer");
  RETURN_IF_ERROR(RequireObject(node, "trainer"));
  ASSIGN_OR_RETURN(TrainerKeys keys, ReadTrainerKeys(node));
  if (keys.external) {
    RETURN_IF_ERROR(CheckExternalTrainer(node));
    trainer->mutable_external();
    return absl::OkStatus();
  }
  const std::string settings = keys.settings.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (keys.command) {
    v1::CommandTrainer* command = trainer->mutable_command();
    for (std::string& arg : *keys.command) command->add_argv(std::move(arg));
    command->set_settings_json(settings);
    *command->mutable_limits() = std::move(keys.limits);
    return absl::OkStatus();
  }
  v1::BuiltinTrainer* builtin = trainer->mutable_builtin();
  builtin->set_settings_json(settings);
  *builtin->mutable_limits() = std::move(keys.limits);
  return absl::OkStatus();
}

absl::Status ReadWarmStart(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("warm_start")) return absl::OkStatus();
  const Json& node = root.at("warm_start");
  RETURN_IF_ERROR(RequireObject(node, "warm_start"));
  RETURN_IF_ERROR(CheckKeys(node, "warm_start", {"study", "max_trials"}));
  v1::WarmStart* warm_start = spec.mutable_warm_start();
  if (!node.contains("study")) return FieldError("warm_start.study", "missing");
  ASSIGN_OR_RETURN(*warm_start->mutable_study(), ReadString(node.at("study"), "warm_start.study"));
  return IfPresent(node, "warm_start", "max_trials",
                   SetInt(warm_start, &v1::WarmStart::set_max_trials));
}

absl::Status ReadCheckpoint(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("checkpoint")) return absl::OkStatus();
  const Json& node = root.at("checkpoint");
  RETURN_IF_ERROR(RequireObject(node, "checkpoint"));
  RETURN_IF_ERROR(CheckKeys(node, "checkpoint", {"every"}));
  return IfPresent(node, "checkpoint", "every",
                   SetInt(spec.mutable_checkpoint(), &v1::CheckpointPolicy::set_every));
}

// A size in bytes: an integer, or a string of a number and a unit, "500MB",
// "1.5 GiB" (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024;
// B is one byte).
absl::StatusOr<int64_t> ReadByteSize(const Json& value, absl::string_view path) {
  if (value.is_number_integer()) return value.get<int64_t>();
  const auto bad = [&] {
    return FieldError(path, absl::StrCat("must be a size in bytes (an integer, or a number with "
                                         "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB), got ",
                                         Show(value)));
  };
  if (!value.is_string()) return bad();
  const std::string text = value.get<std::string>();
  size_t number_end = 0;
  while (number_end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[number_end])) || text[number_end] == '.')) {
    ++number_end;
  }
  double number = 0;
  if (number_end == 0 || !absl::SimpleAtod(text.substr(0, number_end), &number)) return bad();
  const std::string unit(absl::StripAsciiWhitespace(absl::string_view(text).substr(number_end)));
  static const std::map<std::string, double> kUnits = {
      {"B", 1},         {"KB", 1e3},      {"MB", 1e6},
      {"GB", 1e9},      {"TB", 1e12},     {"KiB", 1 << 10},
      {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1099511627776.0}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return bad();
  const double bytes = number * it->second;
  if (!(bytes < 9.2e18)) return FieldError(path, absl::StrCat("\"", text, "\" is too large"));
  return static_cast<int64_t>(std::llround(bytes));
}

absl::Status ReadArtifacts(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("artifacts")) return absl::OkStatus();
  const Json& node = root.at("artifacts");
  RETURN_IF_ERROR(RequireObject(node, "artifacts"));
  RETURN_IF_ERROR(CheckKeys(node, "artifacts", {"keep", "count", "max_bytes"}));
  v1::ArtifactPolicy* artifacts = spec.mutable_artifacts();
  if (node.contains("keep")) {
    ASSIGN_OR_RETURN(std::string keep, ReadString(node.at("keep"), "artifacts.keep"));
    if (keep == "best") {
      artifacts->set_keep(v1::ARTIFACT_KEEP_BEST);
    } else if (keep == "all") {
      artifacts->set_keep(v1::ARTIFACT_KEEP_ALL);
    } else if (keep == "none") {
      artifacts->set_keep(v1::ARTIFACT_KEEP_NONE);
    } else {
      return FieldError("artifacts.keep",
                        absl::StrCat("\"", keep, "\" (expected best, all or none)"));
    }
  }
  RETURN_IF_ERROR(
      IfPresent(node, "artifacts", "count", SetInt(artifacts, &v1::ArtifactPolicy::set_count)));
  if (node.contains("max_bytes")) {
    ASSIGN_OR_RETURN(int64_t max_bytes, ReadByteSize(node.at("max_bytes"), "artifacts.max_bytes"));
    artifacts->set_max_bytes(max_bytes);
  }
  return absl::OkStatus();
}

absl::Status ReadResources(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("resources")) return absl::OkStatus();
  const Json& node = root.at("resources");
  RETURN_IF_ERROR(RequireObject(node, "resources"));
  RETURN_IF_ERROR(CheckKeys(node, "resources", {"gpus", "gpu_memory_gb", "cpus", "memory_gb"}));
  v1::Resources& resources = *spec.mutable_resources();
  RETURN_IF_ERROR(
      ReadInts<v1::Resources>(node, "resources", resources, {{"gpus", &v1::Resources::set_gpus}}));
  for (const auto& [key, set] :
       std::vector<std::pair<const char*, void (v1::Resources::*)(double)>>{
           {"gpu_memory_gb", &v1::Resources::set_gpu_memory_gb},
           {"cpus", &v1::Resources::set_cpus},
           {"memory_gb", &v1::Resources::set_memory_gb}}) {
    RETURN_IF_ERROR(IfPresent(node, "resources", key, SetNumber(&resources, set)));
  }
  return absl::OkStatus();
}

// `placement: {KEY: VALUE, ...}`: worker labels, as strings.
absl::Status ReadPlacement(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("placement")) return absl::OkStatus();
  const Json& node = root.at("placement");
  RETURN_IF_ERROR(RequireObject(node, "placement"));
  for (const auto& [key, value] : node.items()) {
    ASSIGN_OR_RETURN(std::string label, ReadString(value, Child("placement", key)));
    (*spec.mutable_placement())[key] = std::move(label);
  }
  return absl::OkStatus();
}

absl::Status ReadTracking(const Json& root, v1::StudySpec& spec) {
  if (!root.contains("tracking")) return absl::OkStatus();
  const Json& node = root.at("tracking");
  RETURN_IF_ERROR(RequireObject(node, "tracking"));
  RETURN_IF_ERROR(CheckKeys(node, "tracking", {"tensorboard"}));
  if (!node.contains("tensorboard")) return absl::OkStatus();
  ASSIGN_OR_RETURN(*spec.mutable_tracking()->mutable_tensorboard_dir(),
                   ReadString(node.at("tensorboard"), "tracking.tensorboard"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::ParameterValue> ParameterValueFromJson(const nlohmann::ordered_json& value,
                                                          absl::string_view path) {
  v1::ParameterValue out;
  if (value.is_number_integer()) {
    out.set_int_value(value.get<int64_t>());
  } else if (value.is_number_float()) {
    const double number = value.get<double>();
    if (!std::isfinite(number)) return FieldError(path, "must be finite");
    out.set_double_value(number);
  } else if (value.is_string()) {
    ASSIGN_OR_RETURN(*out.mutable_string_value(), ReadString(value, path));
  } else if (value.is_boolean()) {
    out.set_string_value(value.get<bool>() ? "true" : "false");
  } else {
    return FieldError(path, absl::StrCat("must be a number or a string, got ", Show(value)));
  }
  return out;
}

absl::StatusOr<v1::StudySpec> StudySpecFromYaml(absl::string_view text, StudyInput input) {
  ASSIGN_OR_RETURN(
      Json root, ParseYamlDocument(
                     text, "study file",
                     input == StudyInput::kNew ? YamlBounds::ForInput() : YamlBounds::Unlimited()));
  if (!root.is_object()) return FieldError("study file", "must be a YAML mapping");
  RETURN_IF_ERROR(CheckKeys(
      root, "",
      {"name", "objective", "objectives", "constraints", "params", "sampler", "pruner", "budget",
       "trainer", "warm_start", "tracking", "checkpoint", "artifacts", "resources", "placement"}));
  v1::StudySpec spec;
  if (!root.contains("name")) return FieldError("name", "missing");
  ASSIGN_OR_RETURN(*spec.mutable_name(), ReadString(root.at("name"), "name"));
  RETURN_IF_ERROR(ReadObjectives(root, spec));
  RETURN_IF_ERROR(ReadConstraints(root, spec));
  RETURN_IF_ERROR(ReadParams(root, spec));
  RETURN_IF_ERROR(ReadSampler(root, spec));
  if (root.contains("pruner")) {
    RETURN_IF_ERROR(RequireObject(root.at("pruner"), "pruner"));
    ASSIGN_OR_RETURN(*spec.mutable_pruner(), ReadPruner(root.at("pruner"), "pruner"));
  }
  RETURN_IF_ERROR(ReadBudget(root, spec));
  RETURN_IF_ERROR(ReadTrainer(root, spec));
  RETURN_IF_ERROR(ReadWarmStart(root, spec));
  RETURN_IF_ERROR(ReadTracking(root, spec));
  RETURN_IF_ERROR(ReadCheckpoint(root, spec));
  RETURN_IF_ERROR(ReadArtifacts(root, spec));
  RETURN_IF_ERROR(ReadResources(root, spec));
  RETURN_IF_ERROR(ReadPlacement(root, spec));
  if (input == StudyInput::kNew) RETURN_IF_ERROR(CheckStudySpecLimits(spec));
  return spec;
}

absl::Status CheckStudySpecLimits(const v1::StudySpec& spec) {
  RETURN_IF_ERROR(CheckLimit("objectives and constraints",
                             spec.objectives_size() + spec.constraints_size(), kMaxMetrics,
                             "metrics"));
  RETURN_IF_ERROR(CheckLimit("params", spec.params_size(), kMaxParameters, "parameters"));
  for (const v1::ParameterSpec& param : spec.params()) {
    const std::string path = absl::StrCat("params.", param.name());
    RETURN_IF_ERROR(CheckLimit(Child(path, "values"), param.categorical().values_size(),
                               kMaxCategoricalValues, "values"));
    RETURN_IF_ERROR(CheckLimit(Child(path, "when"), param.when().values_size(),
                               kMaxCategoricalValues, "values"));
  }
  RETURN_IF_ERROR(CheckLimit("sampler.resolution",
                             spec.sampler().grid().resolution_per_param_size(), kMaxSettings,
                             "entries"));
  for (const v1::PrunerSpec* pruner = &spec.pruner(); pruner != nullptr;
       pruner = pruner->has_patience() && pruner->patience().has_wrapped()
                    ? &pruner->patience().wrapped()
                    : nullptr) {
    RETURN_IF_ERROR(CheckLimit("pruner.perturb_factors", pruner->pbt().perturb_factors_size(),
                               kMaxListEntries, "factors"));
    RETURN_IF_ERROR(
        CheckLimit("pruner.params", pruner->pbt().params_size(), kMaxListEntries, "names"));
  }
  RETURN_IF_ERROR(CheckLimit("trainer.command", spec.trainer().command().argv_size(),
                             kMaxListEntries, "arguments"));
  const size_t settings = std::max(spec.trainer().command().settings_json().size(),
                                   spec.trainer().builtin().settings_json().size());
  return CheckLimit("trainer", settings, kMaxStudyFileBytes, "bytes of settings");
}

}  // namespace vernier
