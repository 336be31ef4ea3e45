#include "server/logic/study_spec.h"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"
#include "server/logic/grid_sampler.h"
#include "server/logic/sobol_sampler.h"
#include "yaml-cpp/yaml.h"

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

// The offset of the first byte that is not part of well-formed UTF-8, or
// npos. Study files must be UTF-8: their strings become JSON (which nlohmann
// refuses to dump otherwise, with an exception) and proto3 strings.
size_t FirstInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    unsigned int code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, code = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, code = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, code = c & 0x07;
    } else {
      return i;
    }
    if (i + extra >= text.size()) return i;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return i;
      code = (code << 6) | (next & 0x3F);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF))) {
      return i;
    }
    i += extra + 1;
  }
  return absl::string_view::npos;
}

// ---- YAML -> JSON ---------------------------------------------------------

// Types a plain YAML scalar the way YAML 1.2's core schema does.
Json PlainScalarToJson(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  int64_t as_int = 0;
  if (text.find_first_of(".eE") == std::string::npos && absl::SimpleAtoi(text, &as_int)) {
    return as_int;
  }
  if (text == ".inf" || text == "+.inf") return std::numeric_limits<double>::infinity();
  if (text == "-.inf") return -std::numeric_limits<double>::infinity();
  if (text == ".nan" || text == ".NaN") return std::nan("");
  double as_double = 0;
  if (text.find_first_of("0123456789") != std::string::npos && absl::SimpleAtod(text, &as_double)) {
    return as_double;
  }
  return text;
}

absl::StatusOr<Json> YamlToJson(const YAML::Node& node, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Json(nullptr);
    case YAML::NodeType::Scalar:
      // Quoted scalars carry the "!" tag and stay strings.
      if (node.Tag() == "!") return Json(node.Scalar());
      return PlainScalarToJson(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        ASSIGN_OR_RETURN(Json item, YamlToJson(node[i], absl::StrCat(path, "[", i, "]")));
        out.push_back(std::move(item));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) return FieldError(path, "keys must be plain names");
        const std::string key = entry.first.Scalar();
        const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
        if (out.contains(key)) return FieldError(child, "duplicate key");
        ASSIGN_OR_RETURN(out[key], YamlToJson(entry.second, child));
      }
      return out;
    }
  }
  return FieldError(path, "unsupported YAML node");
}

absl::StatusOr<Json> ParseYaml(absl::string_view text) {
  if (const size_t bad = FirstInvalidUtf8(text); bad != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("study file: not valid UTF-8 (byte offset ", bad, ")"));
  }
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return YamlToJson(root, "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("study file: line ", e.mark.line + 1,
                                                   ", column ", e.mark.column + 1, ": ", e.msg));
  }
}

// ---- Field readers --------------------------------------------------------

std::string Child(absl::string_view path, absl::string_view key) {
  return absl::StrCat(path, ".", key);
}

absl::Status CheckKeys(const Json& object, absl::string_view path,
                       const std::set<std::string>& allowed) {
  for (const auto& [key, value] : object.items()) {
    if (allowed.count(key) == 0) {
      return FieldError(
          path.empty() ? key : Child(path, key),
          absl::StrCat("unknown key (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<const Json*> RequireObject(const Json& parent, absl::string_view key,
                                          absl::string_view path) {
  auto it = parent.find(key);
  if (it == parent.end()) return FieldError(path, "missing");
  if (!it->is_object()) return FieldError(path, absl::StrCat("must be a mapping, got ", Show(*it)));
  return &*it;
}

absl::StatusOr<std::string> ReadString(const Json& value, absl::string_view path) {
  if (!value.is_string())
    return FieldError(path, absl::StrCat("must be a string, got ", Show(value)));
  return value.get<std::string>();
}

absl::StatusOr<double> ReadNumber(const Json& value, absl::string_view path) {
  if (!value.is_number())
    return FieldError(path, absl::StrCat("must be a number, got ", Show(value)));
  double number = value.get<double>();
  if (!std::isfinite(number)) return FieldError(path, "must be finite");
  return number;
}

absl::StatusOr<int64_t> ReadInt(const Json& value, absl::string_view path, int64_t min_value) {
  if (!value.is_number_integer()) {
    return FieldError(path, absl::StrCat("must be an integer, got ", Show(value)));
  }
  int64_t number = value.get<int64_t>();
  if (number < min_value) {
    return FieldError(path, absl::StrCat("must be >= ", min_value, ", got ", number));
  }
  return number;
}

absl::StatusOr<bool> ReadBool(const Json& value, absl::string_view path) {
  if (!value.is_boolean())
    return FieldError(path, absl::StrCat("must be true or false, got ", Show(value)));
  return value.get<bool>();
}

absl::StatusOr<ParamValue> ReadParamValue(const Json& value, absl::string_view path) {
  if (value.is_number_integer()) return ParamValue(value.get<int64_t>());
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (!std::isfinite(number)) return FieldError(path, "must be finite");
    return ParamValue(number);
  }
  if (value.is_string()) return ParamValue(value.get<std::string>());
  if (value.is_boolean()) return ParamValue(std::string(value.get<bool>() ? "true" : "false"));
  return FieldError(path, absl::StrCat("must be a number or a string, got ", Show(value)));
}

absl::StatusOr<std::vector<ParamValue>> ReadValueList(const Json& value, absl::string_view path) {
  std::vector<ParamValue> values;
  if (!value.is_array()) {
    ASSIGN_OR_RETURN(ParamValue single, ReadParamValue(value, path));
    values.push_back(std::move(single));
    return values;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    ASSIGN_OR_RETURN(ParamValue item, ReadParamValue(value[i], absl::StrCat(path, "[", i, "]")));
    values.push_back(std::move(item));
  }
  return values;
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

// FNV-1a of the study name: a default seed that is the same in every process
// (absl::Hash is salted per process, so it cannot serve here).
uint64_t StableSeed(absl::string_view name) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  return hash & 0x7fffffffffffffffull;
}

// ---- Sections -------------------------------------------------------------

// One objective mapping, `{metric: m, goal: g}`, found at `path`.
absl::StatusOr<ObjectiveSpec> ParseObjectiveNode(const Json& node, const std::string& path) {
  if (!node.is_object()) {
    return FieldError(path, absl::StrCat("must be a mapping, got ", Show(node)));
  }
  RETURN_IF_ERROR(CheckKeys(node, path, {"metric", "goal"}));
  ObjectiveSpec objective;
  if (!node.contains("metric")) return FieldError(Child(path, "metric"), "missing");
  ASSIGN_OR_RETURN(objective.metric, ReadString(node.at("metric"), Child(path, "metric")));
  if (objective.metric.empty()) return FieldError(Child(path, "metric"), "must not be empty");
  if (node.contains("goal")) {
    ASSIGN_OR_RETURN(std::string goal, ReadString(node.at("goal"), Child(path, "goal")));
    if (goal == "maximize") {
      objective.goal = Goal::kMaximize;
    } else if (goal == "minimize") {
      objective.goal = Goal::kMinimize;
    } else {
      return FieldError(Child(path, "goal"), absl::StrCat("unknown goal \"", goal,
                                                          "\" (expected maximize or minimize)"));
    }
  }
  return objective;
}

absl::StatusOr<ObjectiveSpec> ParseObjective(const Json& root) {
  ASSIGN_OR_RETURN(const Json* node, RequireObject(root, "objective", "objective"));
  return ParseObjectiveNode(*node, "objective");
}

absl::Status ParseRange(const Json& node, absl::string_view path, ParamSpec& spec) {
  for (const char* key : {"low", "high"}) {
    if (!node.contains(key)) return FieldError(Child(path, key), "missing");
  }
  ASSIGN_OR_RETURN(spec.low, ReadNumber(node.at("low"), Child(path, "low")));
  ASSIGN_OR_RETURN(spec.high, ReadNumber(node.at("high"), Child(path, "high")));
  if (spec.type == ParamSpec::Type::kInt) {
    for (const char* key : {"low", "high"}) {
      if (!node.at(key).is_number_integer()) {
        return FieldError(
            Child(path, key),
            absl::StrCat("must be an integer for an int parameter, got ", Show(node.at(key))));
      }
    }
  }
  if (spec.low > spec.high) {
    return FieldError(path, absl::StrCat("low (", Show(node.at("low")), ") must be <= high (",
                                         Show(node.at("high")), ")"));
  }
  if (node.contains("log")) {
    ASSIGN_OR_RETURN(spec.log, ReadBool(node.at("log"), Child(path, "log")));
  }
  if (spec.log && spec.low <= 0) {
    return FieldError(Child(path, "low"),
                      absl::StrCat("must be > 0 on a log scale, got ", Show(node.at("low"))));
  }
  if (node.contains("step")) {
    ASSIGN_OR_RETURN(double step, ReadNumber(node.at("step"), Child(path, "step")));
    if (step <= 0) return FieldError(Child(path, "step"), absl::StrCat("must be > 0, got ", step));
    if (spec.type == ParamSpec::Type::kInt && !node.at("step").is_number_integer()) {
      return FieldError(Child(path, "step"), "must be an integer for an int parameter");
    }
    if (spec.log && step != 1) {
      return FieldError(Child(path, "step"), "cannot be combined with log: true");
    }
    spec.step = step;
  } else if (spec.type == ParamSpec::Type::kInt) {
    spec.step = 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<ParamSpec> ParseParam(const std::string& name, const Json& node) {
  const std::string path = absl::StrCat("params.", name);
  if (!IsValidName(name))
    return FieldError(path, "parameter names use letters, digits, -, _ and .");
  if (!node.is_object())
    return FieldError(path, absl::StrCat("must be a mapping, got ", Show(node)));
  ParamSpec spec;
  spec.name = name;
  if (!node.contains("type")) return FieldError(Child(path, "type"), "missing");
  ASSIGN_OR_RETURN(std::string type, ReadString(node.at("type"), Child(path, "type")));
  if (type == "float") {
    spec.type = ParamSpec::Type::kFloat;
    RETURN_IF_ERROR(CheckKeys(node, path, {"type", "low", "high", "log", "step", "when"}));
    RETURN_IF_ERROR(ParseRange(node, path, spec));
  } else if (type == "int") {
    spec.type = ParamSpec::Type::kInt;
    RETURN_IF_ERROR(CheckKeys(node, path, {"type", "low", "high", "log", "step", "when"}));
    RETURN_IF_ERROR(ParseRange(node, path, spec));
  } else if (type == "categorical") {
    spec.type = ParamSpec::Type::kCategorical;
    RETURN_IF_ERROR(CheckKeys(node, path, {"type", "values", "when"}));
    if (!node.contains("values")) return FieldError(Child(path, "values"), "missing");
    if (!node.at("values").is_array()) return FieldError(Child(path, "values"), "must be a list");
    ASSIGN_OR_RETURN(spec.values, ReadValueList(node.at("values"), Child(path, "values")));
    if (spec.values.empty()) return FieldError(Child(path, "values"), "must not be empty");
  } else {
    return FieldError(Child(path, "type"), absl::StrCat("unknown type \"", type,
                                                        "\" (expected float, int or categorical)"));
  }
  if (node.contains("when")) {
    const Json& when = node.at("when");
    const std::string when_path = Child(path, "when");
    if (!when.is_object() || when.size() != 1) {
      return FieldError(when_path, "must map exactly one parameter to its value(s)");
    }
    Condition condition;
    condition.parent = when.begin().key();
    ASSIGN_OR_RETURN(condition.values,
                     ReadValueList(when.begin().value(), Child(when_path, condition.parent)));
    if (condition.values.empty()) return FieldError(when_path, "needs at least one value");
    spec.when = std::move(condition);
  }
  return spec;
}

// Orders parameters so that parents come first; rejects unknown parents and
// cycles. Keeps file order otherwise.
absl::Status OrderByCondition(std::vector<ParamSpec>& params) {
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < params.size(); ++i) index[params[i].name] = i;
  for (const ParamSpec& param : params) {
    if (!param.when) continue;
    const std::string path = absl::StrCat("params.", param.name, ".when");
    auto parent = index.find(param.when->parent);
    if (parent == index.end()) {
      return FieldError(path, absl::StrCat("names unknown parameter \"", param.when->parent, "\""));
    }
    if (param.when->parent == param.name)
      return FieldError(path, "a parameter cannot depend on itself");
  }
  std::vector<ParamSpec> ordered;
  absl::flat_hash_set<std::string> placed;
  while (ordered.size() < params.size()) {
    bool progressed = false;
    for (const ParamSpec& param : params) {
      if (placed.contains(param.name)) continue;
      if (param.when && !placed.contains(param.when->parent)) continue;
      placed.insert(param.name);
      ordered.push_back(param);
      progressed = true;
    }
    if (!progressed) {
      for (const ParamSpec& param : params) {
        if (!placed.contains(param.name)) {
          return FieldError(absl::StrCat("params.", param.name, ".when"),
                            "conditions form a cycle");
        }
      }
    }
  }
  params = std::move(ordered);
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

absl::StatusOr<SearchSpace> ParseSearchSpace(const Json& root) {
  ASSIGN_OR_RETURN(const Json* node, RequireObject(root, "params", "params"));
  if (node->empty()) return FieldError("params", "must define at least one parameter");
  SearchSpace space;
  for (const auto& [name, param] : node->items()) {
    ASSIGN_OR_RETURN(ParamSpec spec, ParseParam(name, param));
    space.params.push_back(std::move(spec));
  }
  RETURN_IF_ERROR(OrderByCondition(space.params));
  RETURN_IF_ERROR(CheckConditionValues(space));
  return space;
}

absl::StatusOr<TpeSpec> ParseTpe(const Json& node) {
  TpeSpec tpe;
  if (node.contains("n_startup_trials")) {
    ASSIGN_OR_RETURN(tpe.n_startup_trials,
                     ReadInt(node.at("n_startup_trials"), "sampler.n_startup_trials", 1));
  }
  if (node.contains("n_ei_candidates")) {
    ASSIGN_OR_RETURN(tpe.n_ei_candidates,
                     ReadInt(node.at("n_ei_candidates"), "sampler.n_ei_candidates", 1));
  }
  if (node.contains("multivariate")) {
    ASSIGN_OR_RETURN(tpe.multivariate, ReadBool(node.at("multivariate"), "sampler.multivariate"));
  }
  if (node.contains("constant_liar")) {
    ASSIGN_OR_RETURN(tpe.constant_liar,
                     ReadBool(node.at("constant_liar"), "sampler.constant_liar"));
  }
  return tpe;
}

absl::StatusOr<GpSpec> ParseGp(const Json& node) {
  GpSpec gp;
  if (node.contains("n_startup_trials")) {
    ASSIGN_OR_RETURN(gp.n_startup_trials,
                     ReadInt(node.at("n_startup_trials"), "sampler.n_startup_trials", 1));
  }
  return gp;
}

absl::StatusOr<CmaesSpec> ParseCmaes(const Json& node) {
  CmaesSpec cmaes;
  if (node.contains("sigma0")) {
    ASSIGN_OR_RETURN(cmaes.sigma0, ReadNumber(node.at("sigma0"), "sampler.sigma0"));
    if (!(cmaes.sigma0 > 0 && cmaes.sigma0 <= 1)) {
      return FieldError(
          "sampler.sigma0",
          absl::StrCat("must be in (0, 1] (a share of each range), got ", cmaes.sigma0));
    }
  }
  if (node.contains("popsize")) {
    ASSIGN_OR_RETURN(cmaes.popsize, ReadInt(node.at("popsize"), "sampler.popsize", 2));
  }
  if (node.contains("restarts")) {
    ASSIGN_OR_RETURN(cmaes.restarts, ReadBool(node.at("restarts"), "sampler.restarts"));
  }
  return cmaes;
}

// `resolution: 5` or `resolution: {lr: 7, dropout: 3}`; only floats without a
// step take one, as the others are enumerated exactly.
absl::StatusOr<GridSpec> ParseGrid(const Json& node, const SearchSpace& space) {
  GridSpec grid;
  if (node.contains("resolution")) {
    const Json& resolution = node.at("resolution");
    if (resolution.is_object()) {
      for (const auto& [name, value] : resolution.items()) {
        const std::string path = absl::StrCat("sampler.resolution.", name);
        const ParamSpec* param = space.Find(name);
        if (param == nullptr) return FieldError(path, "no such parameter");
        if (param->type != ParamSpec::Type::kFloat || param->step) {
          return FieldError(path,
                            "only floats without a step take a resolution (the others are "
                            "enumerated exactly)");
        }
        ASSIGN_OR_RETURN(grid.per_param[name], ReadInt(value, path, 1));
      }
    } else {
      ASSIGN_OR_RETURN(grid.resolution, ReadInt(resolution, "sampler.resolution", 1));
    }
  }
  RETURN_IF_ERROR(GridPointCount(space, grid).status());
  return grid;
}

absl::StatusOr<Nsga2Spec> ParseNsga2(const Json& node);  // Below, with the multi-objective parts.

absl::StatusOr<SamplerSpec> ParseSampler(const Json& root, absl::string_view study_name,
                                         const SearchSpace& space) {
  SamplerSpec sampler;
  sampler.seed = StableSeed(study_name);
  if (!root.contains("sampler")) return sampler;
  ASSIGN_OR_RETURN(const Json* node, RequireObject(root, "sampler", "sampler"));
  if (node->contains("type")) {
    ASSIGN_OR_RETURN(sampler.type, ReadString(node->at("type"), "sampler.type"));
  }
  if (sampler.type == "random") {
    RETURN_IF_ERROR(CheckKeys(*node, "sampler", {"type", "seed"}));
  } else if (sampler.type == "tpe") {
    RETURN_IF_ERROR(CheckKeys(
        *node, "sampler",
        {"type", "seed", "n_startup_trials", "n_ei_candidates", "multivariate", "constant_liar"}));
    ASSIGN_OR_RETURN(sampler.tpe, ParseTpe(*node));
  } else if (sampler.type == "grid") {
    RETURN_IF_ERROR(CheckKeys(*node, "sampler", {"type", "resolution"}));
    ASSIGN_OR_RETURN(sampler.grid, ParseGrid(*node, space));
  } else if (sampler.type == "gp") {
    RETURN_IF_ERROR(CheckKeys(*node, "sampler", {"type", "seed", "n_startup_trials"}));
    ASSIGN_OR_RETURN(sampler.gp, ParseGp(*node));
  } else if (sampler.type == "cmaes") {
    RETURN_IF_ERROR(CheckKeys(*node, "sampler", {"type", "seed", "sigma0", "popsize", "restarts"}));
    ASSIGN_OR_RETURN(sampler.cmaes, ParseCmaes(*node));
  } else if (sampler.type == "nsga2") {
    RETURN_IF_ERROR(CheckKeys(
        *node, "sampler",
        {"type", "seed", "population_size", "mutation_prob", "crossover_prob", "swapping_prob"}));
    ASSIGN_OR_RETURN(sampler.nsga2, ParseNsga2(*node));
  } else if (sampler.type == "sobol") {
    RETURN_IF_ERROR(CheckKeys(*node, "sampler", {"type", "seed"}));
    if (space.params.size() > static_cast<size_t>(kSobolMaxDimensions)) {
      return FieldError("sampler.type",
                        absl::StrCat("sobol supports at most ", kSobolMaxDimensions,
                                     " parameters; the study has ", space.params.size()));
    }
  } else {
    return FieldError(
        "sampler.type",
        absl::StrCat("unknown sampler \"", sampler.type,
                     "\" (expected one of: random, tpe, grid, sobol, gp, cmaes, nsga2)"));
  }
  if (node->contains("seed")) {
    ASSIGN_OR_RETURN(int64_t seed, ReadInt(node->at("seed"), "sampler.seed", 0));
    sampler.seed = static_cast<uint64_t>(seed);
  }
  return sampler;
}

// Reads `key` of `node` into `out` when present; `path` names the mapping.
absl::Status MaybeReadInt(const Json& node, absl::string_view path, absl::string_view key,
                          int64_t min_value, int64_t& out) {
  auto it = node.find(key);
  if (it == node.end()) return absl::OkStatus();
  ASSIGN_OR_RETURN(out, ReadInt(*it, Child(path, key), min_value));
  return absl::OkStatus();
}

absl::Status MaybeReadNumber(const Json& node, absl::string_view path, absl::string_view key,
                             std::optional<double>& out) {
  auto it = node.find(key);
  if (it == node.end()) return absl::OkStatus();
  ASSIGN_OR_RETURN(out, ReadNumber(*it, Child(path, key)));
  return absl::OkStatus();
}

absl::Status ParseStepRule(const Json& node, absl::string_view path, PrunerSpec& pruner) {
  RETURN_IF_ERROR(MaybeReadInt(node, path, "warmup_steps", 0, pruner.warmup_steps));
  return MaybeReadInt(node, path, "interval", 1, pruner.interval);
}

absl::Status ParsePercentileRule(const Json& node, absl::string_view path, PrunerSpec& pruner) {
  RETURN_IF_ERROR(ParseStepRule(node, path, pruner));
  RETURN_IF_ERROR(MaybeReadInt(node, path, "min_trials", 1, pruner.min_trials));
  if (pruner.type == "median") return absl::OkStatus();
  std::optional<double> percentile;
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "percentile", percentile));
  if (!percentile) return FieldError(Child(path, "percentile"), "missing");
  if (*percentile < 0 || *percentile > 100) {
    return FieldError(Child(path, "percentile"),
                      absl::StrCat("must be in [0, 100], got ", *percentile));
  }
  pruner.percentile = *percentile;
  return absl::OkStatus();
}

absl::Status ParseHalving(const Json& node, absl::string_view path, PrunerSpec& pruner) {
  RETURN_IF_ERROR(MaybeReadInt(node, path, "min_resource", 1, pruner.min_resource));
  RETURN_IF_ERROR(MaybeReadInt(node, path, "reduction_factor", 2, pruner.reduction_factor));
  RETURN_IF_ERROR(MaybeReadInt(node, path, "bootstrap_count", 0, pruner.bootstrap_count));
  RETURN_IF_ERROR(
      MaybeReadInt(node, path, "min_early_stopping_rate", 0, pruner.min_early_stopping_rate));
  if (pruner.min_early_stopping_rate > 30) {
    return FieldError(Child(path, "min_early_stopping_rate"),
                      absl::StrCat("must be <= 30, got ", pruner.min_early_stopping_rate));
  }
  if (node.contains("max_resource")) {
    int64_t max_resource = 0;
    RETURN_IF_ERROR(MaybeReadInt(node, path, "max_resource", pruner.min_resource, max_resource));
    pruner.max_resource = max_resource;
  } else if (pruner.type == "hyperband") {
    return FieldError(Child(path, "max_resource"), "missing (hyperband needs a trial's budget)");
  }
  return absl::OkStatus();
}

absl::Status ParseThreshold(const Json& node, absl::string_view path, PrunerSpec& pruner) {
  RETURN_IF_ERROR(ParseStepRule(node, path, pruner));
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "lower", pruner.lower));
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "upper", pruner.upper));
  if (!pruner.lower && !pruner.upper) {
    return FieldError(path, "threshold needs lower, upper or both");
  }
  if (pruner.lower && pruner.upper && *pruner.lower > *pruner.upper) {
    return FieldError(Child(path, "lower"),
                      absl::StrCat("must be <= upper (", *pruner.upper, "), got ", *pruner.lower));
  }
  return absl::OkStatus();
}

absl::StatusOr<PrunerSpec> ParsePrunerNode(const Json& node, absl::string_view path);

absl::Status ParsePatience(const Json& node, absl::string_view path, PrunerSpec& pruner) {
  if (!node.contains("patience")) return FieldError(Child(path, "patience"), "missing");
  RETURN_IF_ERROR(MaybeReadInt(node, path, "patience", 1, pruner.patience));
  std::optional<double> min_delta;
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "min_delta", min_delta));
  if (min_delta && *min_delta < 0) {
    return FieldError(Child(path, "min_delta"), absl::StrCat("must be >= 0, got ", *min_delta));
  }
  pruner.min_delta = min_delta.value_or(0);
  if (!node.contains("wrapped")) return absl::OkStatus();
  const std::string wrapped_path = Child(path, "wrapped");
  ASSIGN_OR_RETURN(const Json* wrapped_node, RequireObject(node, "wrapped", wrapped_path));
  ASSIGN_OR_RETURN(PrunerSpec wrapped, ParsePrunerNode(*wrapped_node, wrapped_path));
  if (wrapped.type == "none") {
    return FieldError(Child(wrapped_path, "type"),
                      "must not be \"none\" (omit wrapped for patience alone)");
  }
  if (wrapped.type == "pbt") {
    return FieldError(Child(wrapped_path, "type"),
                      "must not be \"pbt\" (pbt never stops a trial; it exploits)");
  }
  pruner.wrapped = std::make_shared<const PrunerSpec>(std::move(wrapped));
  return absl::OkStatus();
}

absl::Status ParsePbt(const Json& node, absl::string_view path, PrunerSpec& pruner) {
  PbtSpec& pbt = pruner.pbt;
  RETURN_IF_ERROR(MaybeReadInt(node, path, "interval", 1, pruner.interval));
  RETURN_IF_ERROR(MaybeReadInt(node, path, "min_population", 2, pbt.min_population));
  std::optional<double> number;
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "quantile", number));
  if (number && !(*number > 0 && *number <= 0.5)) {
    return FieldError(Child(path, "quantile"), absl::StrCat("must be in (0, 0.5], got ", *number));
  }
  pbt.quantile = number.value_or(pbt.quantile);
  number.reset();
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "resample_probability", number));
  if (number && !(*number >= 0 && *number <= 1)) {
    return FieldError(Child(path, "resample_probability"),
                      absl::StrCat("must be in [0, 1], got ", *number));
  }
  pbt.resample_probability = number.value_or(pbt.resample_probability);
  if (node.contains("perturb_factors")) {
    const std::string list_path = Child(path, "perturb_factors");
    const Json& list = node.at("perturb_factors");
    if (!list.is_array() || list.empty()) {
      return FieldError(list_path, absl::StrCat("must be a non-empty list, got ", Show(list)));
    }
    pbt.perturb_factors.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item = absl::StrCat(list_path, "[", i, "]");
      ASSIGN_OR_RETURN(double factor, ReadNumber(list[i], item));
      if (!(factor > 0) || !std::isfinite(factor)) {
        return FieldError(item, absl::StrCat("must be a finite number > 0, got ", factor));
      }
      pbt.perturb_factors.push_back(factor);
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
      ASSIGN_OR_RETURN(std::string name, ReadString(list[i], absl::StrCat(list_path, "[", i, "]")));
      pbt.params.push_back(std::move(name));
    }
  }
  return absl::OkStatus();
}

// Checks pruner.pbt.params against the search space and fills in the defaults
// that depend on other sections. A parameter PBT changes must not be
// conditional nor a condition's parent: a changed parent would leave its
// children without a value (or with a stale one).
absl::Status ResolvePbt(StudySpec& spec) {
  PbtSpec& pbt = spec.pruner.pbt;
  if (pbt.min_population == 0) pbt.min_population = std::max<int64_t>(2, spec.budget.parallel);
  std::set<std::string> parents;
  for (const ParamSpec& param : spec.space.params) {
    if (param.when) parents.insert(param.when->parent);
  }
  for (size_t i = 0; i < pbt.params.size(); ++i) {
    const std::string path = absl::StrCat("pruner.params[", i, "]");
    const ParamSpec* param = spec.space.Find(pbt.params[i]);
    if (param == nullptr) {
      return FieldError(path, absl::StrCat("\"", pbt.params[i], "\" is not a parameter in params"));
    }
    if (param->when || parents.count(param->name) > 0) {
      return FieldError(path, absl::StrCat("\"", param->name,
                                           "\" takes part in a `when` condition; pbt cannot change "
                                           "it"));
    }
  }
  if (pbt.params.empty()) {
    for (const ParamSpec& param : spec.space.params) {
      if (param.type == ParamSpec::Type::kFloat && !param.when && parents.count(param.name) == 0) {
        pbt.params.push_back(param.name);
      }
    }
  }
  return absl::OkStatus();
}

// The keys each pruner type reads, besides "type".
const std::map<std::string, std::set<std::string>>& PrunerKeys() {
  static const auto* keys = new std::map<std::string, std::set<std::string>>{
      {"none", {}},
      {"median", {"warmup_steps", "interval", "min_trials"}},
      {"percentile", {"warmup_steps", "interval", "min_trials", "percentile"}},
      {"asha",
       {"min_resource", "reduction_factor", "max_resource", "min_early_stopping_rate",
        "bootstrap_count"}},
      {"hyperband", {"min_resource", "reduction_factor", "max_resource", "bootstrap_count"}},
      {"threshold", {"warmup_steps", "interval", "lower", "upper"}},
      {"patience", {"patience", "min_delta", "wrapped"}},
      {"pbt",
       {"interval", "quantile", "resample_probability", "perturb_factors", "params",
        "min_population"}},
  };
  return *keys;
}

absl::StatusOr<PrunerSpec> ParsePrunerNode(const Json& node, absl::string_view path) {
  PrunerSpec pruner;
  if (node.contains("type")) {
    ASSIGN_OR_RETURN(pruner.type, ReadString(node.at("type"), Child(path, "type")));
  }
  auto keys = PrunerKeys().find(pruner.type);
  if (keys == PrunerKeys().end()) {
    return FieldError(Child(path, "type"),
                      absl::StrCat("unknown pruner \"", pruner.type,
                                   "\" (expected one of: none, median, percentile, asha, "
                                   "hyperband, threshold, patience, pbt)"));
  }
  std::set<std::string> allowed = keys->second;
  allowed.insert("type");
  RETURN_IF_ERROR(CheckKeys(node, path, allowed));
  const std::string& type = pruner.type;
  if (type == "median" || type == "percentile") {
    RETURN_IF_ERROR(ParsePercentileRule(node, path, pruner));
  } else if (type == "asha" || type == "hyperband") {
    RETURN_IF_ERROR(ParseHalving(node, path, pruner));
  } else if (type == "threshold") {
    RETURN_IF_ERROR(ParseThreshold(node, path, pruner));
  } else if (type == "patience") {
    RETURN_IF_ERROR(ParsePatience(node, path, pruner));
  } else if (type == "pbt") {
    RETURN_IF_ERROR(ParsePbt(node, path, pruner));
  }
  return pruner;
}

absl::StatusOr<PrunerSpec> ParsePruner(const Json& root) {
  if (!root.contains("pruner")) return PrunerSpec();
  ASSIGN_OR_RETURN(const Json* node, RequireObject(root, "pruner", "pruner"));
  return ParsePrunerNode(*node, "pruner");
}

absl::StatusOr<BudgetSpec> ParseBudget(const Json& root) {
  BudgetSpec budget;
  if (!root.contains("budget")) return budget;
  ASSIGN_OR_RETURN(const Json* node, RequireObject(root, "budget", "budget"));
  RETURN_IF_ERROR(
      CheckKeys(*node, "budget", {"max_trials", "parallel", "max_failures", "max_retries"}));
  if (node->contains("max_trials")) {
    ASSIGN_OR_RETURN(budget.max_trials, ReadInt(node->at("max_trials"), "budget.max_trials", 1));
  }
  if (node->contains("parallel")) {
    ASSIGN_OR_RETURN(budget.parallel, ReadInt(node->at("parallel"), "budget.parallel", 1));
  }
  if (node->contains("max_failures")) {
    ASSIGN_OR_RETURN(budget.max_failures,
                     ReadInt(node->at("max_failures"), "budget.max_failures", 0));
  }
  if (node->contains("max_retries")) {
    ASSIGN_OR_RETURN(int64_t retries, ReadInt(node->at("max_retries"), "budget.max_retries", 0));
    budget.max_retries = static_cast<int32_t>(std::min<int64_t>(retries, 1000));
  }
  return budget;
}

absl::StatusOr<absl::Duration> ReadSeconds(const Json& value, absl::string_view path) {
  ASSIGN_OR_RETURN(double seconds, ReadNumber(value, path));
  if (seconds < 0) return FieldError(path, absl::StrCat("must be >= 0 seconds, got ", seconds));
  return absl::Seconds(seconds);
}

// Checks a fixed trainer setting or a searched parameter against the built-in
// trainer's table of parameters.
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

absl::StatusOr<TrainerSpec> ParseTrainer(const Json& root, const SearchSpace& space) {
  TrainerSpec trainer;
  const Json empty = Json::object();
  const Json* node = &empty;
  if (root.contains("trainer")) {
    ASSIGN_OR_RETURN(node, RequireObject(root, "trainer", "trainer"));
  }
  for (const auto& [key, value] : node->items()) {
    const std::string path = Child("trainer", key);
    if (key == "command") {
      if (!value.is_array() || value.empty()) return FieldError(path, "must be a non-empty list");
      for (size_t i = 0; i < value.size(); ++i) {
        ASSIGN_OR_RETURN(std::string arg, ReadString(value[i], absl::StrCat(path, "[", i, "]")));
        trainer.command.push_back(std::move(arg));
      }
    } else if (key == "time_limit") {
      ASSIGN_OR_RETURN(trainer.time_limit, ReadSeconds(value, path));
    } else if (key == "stop_grace") {
      ASSIGN_OR_RETURN(trainer.stop_grace, ReadSeconds(value, path));
    } else if (key == "external") {
      ASSIGN_OR_RETURN(trainer.external, ReadBool(value, path));
    } else {
      if (space.Find(key) != nullptr) {
        return FieldError(path, "is also a searched parameter in params; keep one of them");
      }
      trainer.fixed[key] = nlohmann::json::parse(value.dump());
    }
  }
  if (trainer.external) RETURN_IF_ERROR(CheckExternalTrainer(*node));
  if (!trainer.builtin()) return trainer;
  for (const auto& [key, value] : trainer.fixed.items()) {
    if (FindBuiltinParam(key) == nullptr) {
      return FieldError(Child("trainer", key),
                        "not a setting of the built-in trainer (see vernier-train --help)");
    }
    RETURN_IF_ERROR(CheckBuiltinValue(key, value, Child("trainer", key)));
  }
  for (const ParamSpec& param : space.params) RETURN_IF_ERROR(CheckBuiltinParamSpec(param));
  return trainer;
}

// `warm_start: {study: OLD, max_trials: K}`; nullopt when absent. Whether OLD
// exists is the coordinator's check: the file alone cannot tell.
absl::StatusOr<std::optional<WarmStartSpec>> ParseWarmStart(const Json& root,
                                                            const StudySpec& spec) {
  if (!root.contains("warm_start")) return std::nullopt;
  ASSIGN_OR_RETURN(const Json* node, RequireObject(root, "warm_start", "warm_start"));
  RETURN_IF_ERROR(CheckKeys(*node, "warm_start", {"study", "max_trials"}));
  WarmStartSpec warm_start;
  if (!node->contains("study")) return FieldError("warm_start.study", "missing");
  ASSIGN_OR_RETURN(warm_start.study, ReadString(node->at("study"), "warm_start.study"));
  if (!IsValidName(warm_start.study)) {
    return FieldError("warm_start.study",
                      absl::StrCat("\"", warm_start.study, "\" is not a valid study name"));
  }
  if (warm_start.study == spec.name) {
    return FieldError("warm_start.study", "cannot be the study itself");
  }
  if (node->contains("max_trials")) {
    ASSIGN_OR_RETURN(warm_start.max_trials,
                     ReadInt(node->at("max_trials"), "warm_start.max_trials", 1));
  }
  if (spec.sampler.type == "grid") {
    // The grid gives trial n its point n; copies would take those numbers.
    return FieldError("warm_start",
                      "cannot be combined with sampler grid, which runs its points "
                      "by trial number");
  }
  return warm_start;
}

// ---- Multi-objective studies and constraints ------------------------------

// `objective: {...}` or `objectives: [{...}, ...]`, exactly one of them.
absl::StatusOr<std::vector<ObjectiveSpec>> ParseObjectives(const Json& root) {
  const bool single = root.contains("objective");
  const bool several = root.contains("objectives");
  if (single && several) {
    return FieldError("objectives",
                      "give either objective (one metric) or objectives (a list), not both");
  }
  if (!several) {
    if (!single) return FieldError("objective", "missing (or give objectives: [...])");
    ASSIGN_OR_RETURN(ObjectiveSpec objective, ParseObjective(root));
    return std::vector<ObjectiveSpec>{std::move(objective)};
  }
  const Json& list = root.at("objectives");
  if (!list.is_array()) {
    return FieldError("objectives", absl::StrCat("must be a list, got ", Show(list)));
  }
  if (list.empty() || list.size() > static_cast<size_t>(kMaxObjectives)) {
    return FieldError("objectives", absl::StrCat("must hold 1 to ", kMaxObjectives,
                                                 " objectives, got ", list.size()));
  }
  std::vector<ObjectiveSpec> objectives;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = absl::StrCat("objectives[", i, "]");
    ASSIGN_OR_RETURN(ObjectiveSpec objective, ParseObjectiveNode(list[i], path));
    for (const ObjectiveSpec& earlier : objectives) {
      if (earlier.metric == objective.metric) {
        return FieldError(Child(path, "metric"),
                          absl::StrCat("\"", objective.metric, "\" is already an objective"));
      }
    }
    objectives.push_back(std::move(objective));
  }
  return objectives;
}

absl::StatusOr<ConstraintSpec> ParseConstraint(const Json& node, const std::string& path) {
  if (!node.is_object()) {
    return FieldError(path, absl::StrCat("must be a mapping, got ", Show(node)));
  }
  RETURN_IF_ERROR(CheckKeys(node, path, {"metric", "min", "max"}));
  ConstraintSpec constraint;
  if (!node.contains("metric")) return FieldError(Child(path, "metric"), "missing");
  ASSIGN_OR_RETURN(constraint.metric, ReadString(node.at("metric"), Child(path, "metric")));
  if (constraint.metric.empty()) return FieldError(Child(path, "metric"), "must not be empty");
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "min", constraint.min));
  RETURN_IF_ERROR(MaybeReadNumber(node, path, "max", constraint.max));
  if (!constraint.min && !constraint.max) return FieldError(path, "needs min, max or both");
  if (constraint.min && constraint.max && *constraint.min > *constraint.max) {
    return FieldError(Child(path, "min"), absl::StrCat("must be <= max (", *constraint.max,
                                                       "), got ", *constraint.min));
  }
  return constraint;
}

absl::StatusOr<std::vector<ConstraintSpec>> ParseConstraints(const Json& root) {
  std::vector<ConstraintSpec> constraints;
  if (!root.contains("constraints")) return constraints;
  const Json& list = root.at("constraints");
  if (!list.is_array()) {
    return FieldError("constraints", absl::StrCat("must be a list, got ", Show(list)));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = absl::StrCat("constraints[", i, "]");
    ASSIGN_OR_RETURN(ConstraintSpec constraint, ParseConstraint(list[i], path));
    for (const ConstraintSpec& earlier : constraints) {
      if (earlier.metric == constraint.metric) {
        return FieldError(
            Child(path, "metric"),
            absl::StrCat("\"", constraint.metric,
                         "\" is already constrained (give min and max in one entry)"));
      }
    }
    constraints.push_back(std::move(constraint));
  }
  return constraints;
}

absl::StatusOr<Nsga2Spec> ParseNsga2(const Json& node) {
  Nsga2Spec nsga2;
  RETURN_IF_ERROR(MaybeReadInt(node, "sampler", "population_size", 2, nsga2.population_size));
  if (node.contains("mutation_prob") && !node.at("mutation_prob").is_null()) {
    ASSIGN_OR_RETURN(double p, ReadNumber(node.at("mutation_prob"), "sampler.mutation_prob"));
    if (p < 0 || p > 1) {
      return FieldError("sampler.mutation_prob", absl::StrCat("must be in [0, 1], got ", p));
    }
    nsga2.mutation_prob = p;
  }
  for (auto [key, out] : {std::pair<const char*, double*>{"crossover_prob", &nsga2.crossover_prob},
                          {"swapping_prob", &nsga2.swapping_prob}}) {
    if (!node.contains(key)) continue;
    const std::string path = Child("sampler", key);
    ASSIGN_OR_RETURN(*out, ReadNumber(node.at(key), path));
    if (*out < 0 || *out > 1) {
      return FieldError(path, absl::StrCat("must be in [0, 1], got ", *out));
    }
  }
  return nsga2;
}

// What a multi-objective study cannot use: the model-based single-objective
// samplers and the pruners (pruning compares one metric, as in Optuna).
absl::Status CheckMultiObjective(const StudySpec& spec) {
  if (!spec.multi_objective()) return absl::OkStatus();
  const std::string& type = spec.sampler.type;
  if (type != "random" && type != "grid" && type != "sobol" && type != "nsga2") {
    return FieldError(
        "sampler.type",
        absl::StrCat("\"", type, "\" optimises one objective; the study has ",
                     spec.objectives.size(), " (use nsga2, or random, grid or sobol)"));
  }
  if (spec.pruner.type != "none") {
    return FieldError(
        "pruner.type",
        absl::StrCat("\"", spec.pruner.type, "\" prunes on one objective; a study with ",
                     spec.objectives.size(), " objectives takes pruner type none"));
  }
  return absl::OkStatus();
}

}  // namespace

const ParamSpec* SearchSpace::Find(absl::string_view name) const {
  for (const ParamSpec& param : params) {
    if (param.name == name) return &param;
  }
  return nullptr;
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
  nlohmann::json out = trainer.fixed;
  for (const auto& [name, value] : params) {
    std::visit([&out, &name = name](const auto& v) { out[name] = v; }, value);
  }
  return out;
}

absl::StatusOr<nlohmann::ordered_json> ParseYamlText(absl::string_view text) {
  absl::StatusOr<Json> parsed = ParseYaml(text);
  if (parsed.ok()) return parsed;
  absl::string_view message = parsed.status().message();
  absl::ConsumePrefix(&message, "study file: ");
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<ParamValue> ParamValueFromJson(const nlohmann::ordered_json& value,
                                              absl::string_view path) {
  return ReadParamValue(value, path);
}

absl::StatusOr<StudySpec> ParseStudySpec(absl::string_view text) {
  ASSIGN_OR_RETURN(Json root, ParseYaml(text));
  if (!root.is_object()) return FieldError("study file", "must be a YAML mapping");
  RETURN_IF_ERROR(CheckKeys(root, "",
                            {"name", "objective", "objectives", "constraints", "params", "sampler",
                             "pruner", "budget", "trainer", "warm_start"}));
  StudySpec spec;
  if (!root.contains("name")) return FieldError("name", "missing");
  ASSIGN_OR_RETURN(spec.name, ReadString(root.at("name"), "name"));
  if (!IsValidName(spec.name)) {
    return FieldError("name", absl::StrCat("\"", spec.name,
                                           "\" is not a valid study name (1-64 letters, digits, "
                                           "-, _ or .)"));
  }
  ASSIGN_OR_RETURN(spec.objectives, ParseObjectives(root));
  spec.objective = spec.objectives.front();
  ASSIGN_OR_RETURN(spec.constraints, ParseConstraints(root));
  ASSIGN_OR_RETURN(spec.space, ParseSearchSpace(root));
  ASSIGN_OR_RETURN(spec.sampler, ParseSampler(root, spec.name, spec.space));
  ASSIGN_OR_RETURN(spec.pruner, ParsePruner(root));
  ASSIGN_OR_RETURN(spec.budget, ParseBudget(root));
  ASSIGN_OR_RETURN(spec.trainer, ParseTrainer(root, spec.space));
  ASSIGN_OR_RETURN(spec.warm_start, ParseWarmStart(root, spec));
  RETURN_IF_ERROR(CheckMultiObjective(spec));
  if (spec.pruner.type == "pbt") RETURN_IF_ERROR(ResolvePbt(spec));
  return spec;
}

}  // namespace vernier
