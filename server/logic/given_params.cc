#include "server/logic/given_params.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/logic/sampler.h"

namespace vernier {
namespace {

// How far off its step grid a float may be, as a share of the step: values
// typed in decimal (0.15 with step 0.05) are not exact multiples in binary.
constexpr double kStepTolerance = 1e-9;

std::string Quote(const ParamValue& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return absl::StrCat("\"", *text, "\"");
  return ParamValueToString(value);
}

absl::Status ParamError(const std::string& name, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("params.", name, ": ", problem));
}

std::string ValuesList(const std::vector<ParamValue>& values) {
  std::vector<std::string> shown;
  for (const ParamValue& value : values) shown.push_back(Quote(value));
  return absl::StrCat("[", absl::StrJoin(shown, ", "), "]");
}

std::string ConditionText(const ParamSpec& param) {
  return absl::StrCat(param.name, " exists only when ", param.when->parent, " is ",
                      param.when->values.size() == 1
                          ? Quote(param.when->values[0])
                          : absl::StrCat("one of ", ValuesList(param.when->values)));
}

std::optional<double> AsNumber(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::nullopt;
}

absl::Status CheckBounds(const ParamSpec& param, double number, const ParamValue& value) {
  if (number < param.low || number > param.high) {
    return ParamError(
        param.name, absl::StrCat(Quote(value), " is outside [", ParamValueToString(param.low), ", ",
                                 ParamValueToString(param.high), "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParamValue> ConvertFloat(const ParamSpec& param, const ParamValue& value) {
  const std::optional<double> number = AsNumber(value);
  if (!number) {
    return ParamError(param.name,
                      absl::StrCat("a float parameter needs a number, got ", Quote(value)));
  }
  if (!std::isfinite(*number)) {
    return ParamError(param.name, absl::StrCat("must be finite, got ", Quote(value)));
  }
  if (absl::Status bounds = CheckBounds(param, *number, value); !bounds.ok()) return bounds;
  if (!param.step) return ParamValue(*number);
  const double steps = (*number - param.low) / *param.step;
  const double k = std::round(steps);
  if (std::abs(steps - k) > kStepTolerance) {
    return ParamError(param.name, absl::StrCat(Quote(value), " is not on the step grid ",
                                               ParamValueToString(param.low), " + k * ",
                                               ParamValueToString(*param.step)));
  }
  return ParamValue(std::min(param.low + k * *param.step, param.high));
}

absl::StatusOr<ParamValue> ConvertInt(const ParamSpec& param, const ParamValue& value) {
  int64_t number = 0;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    number = *i;
  } else if (const auto* d = std::get_if<double>(&value);
             d != nullptr && std::isfinite(*d) && std::trunc(*d) == *d && std::abs(*d) < 9e15) {
    number = static_cast<int64_t>(*d);
  } else {
    return ParamError(param.name,
                      absl::StrCat("an int parameter needs a whole number, got ", Quote(value)));
  }
  if (absl::Status bounds = CheckBounds(param, static_cast<double>(number), value); !bounds.ok()) {
    return bounds;
  }
  const auto low = static_cast<int64_t>(param.low);
  const auto step = static_cast<int64_t>(param.step.value_or(1));
  if ((number - low) % step != 0) {
    return ParamError(
        param.name, absl::StrCat(Quote(value), " is not on the step grid ", low, " + k * ", step));
  }
  return ParamValue(number);
}

absl::StatusOr<ParamValue> ConvertCategorical(const ParamSpec& param, const ParamValue& value) {
  for (const ParamValue& choice : param.values) {
    if (ParamValueIn(value, {choice})) return choice;
  }
  // `--param batch_size=64` against values ["64"], or "64" against [64].
  for (const ParamValue& choice : param.values) {
    if (ParamValueToString(choice) == ParamValueToString(value)) return choice;
  }
  return ParamError(param.name,
                    absl::StrCat(Quote(value), " is not one of ", ValuesList(param.values)));
}

std::string Names(const SearchSpace& space) {
  std::vector<std::string> names;
  for (const ParamSpec& param : space.params) names.push_back(param.name);
  return absl::StrJoin(names, ", ");
}

absl::Status CheckNamesInSpace(const SearchSpace& space, const ParamMap& given) {
  for (const auto& [name, value] : given) {
    if (space.Find(name) == nullptr) {
      return ParamError(name, absl::StrCat("not a parameter of the study (", Quote(value),
                                           " given; its parameters: ", Names(space), ")"));
    }
  }
  return absl::OkStatus();
}

// The error for a given parameter whose condition does not hold.
absl::Status ConditionError(const ParamSpec& param, const ParamValue& value,
                            const ParamMap& chosen) {
  auto parent = chosen.find(param.when->parent);
  return ParamError(
      param.name,
      absl::StrCat(Quote(value), " given, but ", ConditionText(param), " (", param.when->parent,
                   " is ", parent == chosen.end() ? "absent" : Quote(parent->second), ")"));
}

}  // namespace

absl::StatusOr<ParamValue> ConvertGivenValue(const ParamSpec& param, const ParamValue& value) {
  switch (param.type) {
    case ParamSpec::Type::kFloat:
      return ConvertFloat(param, value);
    case ParamSpec::Type::kInt:
      return ConvertInt(param, value);
    case ParamSpec::Type::kCategorical:
      return ConvertCategorical(param, value);
  }
  return ParamError(param.name, "unknown parameter type");
}

absl::StatusOr<ParamMap> FillGivenParams(const SearchSpace& space, const ParamMap& given,
                                         const ParamMap& suggested, absl::BitGenRef gen) {
  if (absl::Status names = CheckNamesInSpace(space, given); !names.ok()) return names;
  ParamMap chosen;
  for (const ParamSpec& param : space.params) {
    auto mine = given.find(param.name);
    if (mine != given.end() && param.when && given.count(param.when->parent) == 0) {
      return ParamError(param.name,
                        absl::StrCat(Quote(mine->second), " given, but ", ConditionText(param),
                                     "; give ", param.when->parent, " too"));
    }
    if (!ConditionHolds(param, chosen)) {
      if (mine != given.end()) return ConditionError(param, mine->second, chosen);
      continue;
    }
    if (mine != given.end()) {
      absl::StatusOr<ParamValue> value = ConvertGivenValue(param, mine->second);
      if (!value.ok()) return value.status();
      chosen[param.name] = *std::move(value);
    } else if (auto sampled = suggested.find(param.name); sampled != suggested.end()) {
      chosen[param.name] = sampled->second;
    } else {
      chosen[param.name] = SampleUniform(param, gen);
    }
  }
  return chosen;
}

absl::StatusOr<ParamMap> CheckCompleteParams(const SearchSpace& space, const ParamMap& params) {
  if (absl::Status names = CheckNamesInSpace(space, params); !names.ok()) return names;
  ParamMap chosen;
  for (const ParamSpec& param : space.params) {
    auto mine = params.find(param.name);
    const bool active = ConditionHolds(param, chosen);
    if (!active) {
      if (mine != params.end()) return ConditionError(param, mine->second, chosen);
      continue;
    }
    if (mine == params.end()) return ParamError(param.name, "missing");
    absl::StatusOr<ParamValue> value = ConvertGivenValue(param, mine->second);
    if (!value.ok()) return value.status();
    chosen[param.name] = *std::move(value);
  }
  return chosen;
}

ParamMap ParamsInSpace(const SearchSpace& space, const ParamMap& params) {
  ParamMap kept;
  for (const auto& [name, value] : params) {
    if (space.Find(name) != nullptr) kept[name] = value;
  }
  return kept;
}

}  // namespace vernier
