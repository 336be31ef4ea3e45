#include "server/logic/unit_space.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "server/logic/sampler.h"

namespace vernier {
namespace {

bool IsLogScale(const ParamSpec& param) { return param.log; }

// The grid spacing of a numeric parameter in value units; 0 for a continuous
// one.
double StepOf(const ParamSpec& param) {
  if (param.log && param.type == ParamSpec::Type::kFloat) return 0;
  if (param.type == ParamSpec::Type::kInt) return param.step.value_or(1);
  return param.step.value_or(0);
}

// Values low + k * step, k in [0, points).
int64_t GridPoints(const ParamSpec& param, double step) {
  return static_cast<int64_t>(std::floor((param.high - param.low) / step + 1e-9)) + 1;
}

bool SingleValued(const ParamSpec& param) {
  if (param.type == ParamSpec::Type::kCategorical) return param.values.size() <= 1;
  return param.low == param.high;
}

std::optional<double> AsNumber(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::nullopt;
}

// Value (not log) of grid point k.
double GridValue(const ParamSpec& param, double step, int64_t k) {
  return std::min(param.low + static_cast<double>(k) * step, param.high);
}

}  // namespace

UnitSpace::UnitSpace(const SearchSpace& space, bool (*include)(const ParamSpec&)) {
  for (const ParamSpec& param : space.params) {
    if (include != nullptr && !include(param)) continue;
    Axis axis;
    axis.param = &param;
    axis.offset = dims_;
    if (SingleValued(param)) {
      axis.width = 0;
    } else if (param.type == ParamSpec::Type::kCategorical) {
      axis.width = static_cast<int>(param.values.size());
    } else {
      axis.width = 1;
      const double step = StepOf(param);
      // Each grid value owns a cell of width step; the ends are widened by
      // half a cell so that the first and last values get full cells.
      double lo = param.low - 0.5 * step;
      double hi = step > 0 ? param.low + (GridPoints(param, step) - 0.5) * step : param.high;
      if (IsLogScale(param)) {
        lo = std::log(lo);
        hi = std::log(hi);
      }
      axis.lo = lo;
      axis.hi = hi;
    }
    dims_ += axis.width;
    axes_.push_back(axis);
  }
}

std::optional<Eigen::VectorXd> UnitSpace::Encode(const ParamMap& params) const {
  Eigen::VectorXd z = Eigen::VectorXd::Zero(dims_);
  for (const Axis& axis : axes_) {
    if (axis.width == 0) continue;
    const ParamSpec& param = *axis.param;
    auto it = params.find(param.name);
    if (param.type == ParamSpec::Type::kCategorical) {
      if (it == params.end()) continue;  // Inactive: all zeros.
      bool found = false;
      for (int i = 0; i < axis.width && !found; ++i) {
        if (ParamValueIn(it->second, {param.values[i]})) {
          z[axis.offset + i] = 1.0;
          found = true;
        }
      }
      if (!found) return std::nullopt;
      continue;
    }
    if (it == params.end()) {
      z[axis.offset] = kInactive;
      continue;
    }
    std::optional<double> x = AsNumber(it->second);
    if (!x || !std::isfinite(*x)) return std::nullopt;
    const double slack = 1e-9 * std::max(1.0, std::abs(param.high - param.low));
    if (*x < param.low - slack || *x > param.high + slack) return std::nullopt;
    const double u = IsLogScale(param) ? std::log(std::max(*x, param.low)) : *x;
    z[axis.offset] = std::clamp((u - axis.lo) / (axis.hi - axis.lo), 0.0, 1.0);
  }
  return z;
}

ParamValue UnitSpace::Decode(const Axis& axis, const Eigen::VectorXd& z) {
  const ParamSpec& param = *axis.param;
  if (param.type == ParamSpec::Type::kCategorical) {
    if (axis.width == 0) return param.values.front();
    int best = 0;
    for (int i = 1; i < axis.width; ++i) {
      if (z[axis.offset + i] > z[axis.offset + best]) best = i;
    }
    return param.values[best];
  }
  const bool is_int = param.type == ParamSpec::Type::kInt;
  if (axis.width == 0) {
    return is_int ? ParamValue(static_cast<int64_t>(param.low)) : ParamValue(param.low);
  }
  const double t = std::clamp(z[axis.offset], 0.0, 1.0);
  double x = axis.lo + t * (axis.hi - axis.lo);
  if (IsLogScale(param)) x = std::exp(x);
  const double step = StepOf(param);
  if (step > 0) {
    const int64_t points = GridPoints(param, step);
    const auto k = std::clamp<int64_t>(std::llround((x - param.low) / step), 0, points - 1);
    x = GridValue(param, step, k);
  }
  x = std::clamp(x, param.low, param.high);
  if (is_int) {
    return std::clamp<int64_t>(std::llround(x), static_cast<int64_t>(param.low),
                               static_cast<int64_t>(param.high));
  }
  return x;
}

void UnitSpace::DecodeInto(const Eigen::VectorXd& z, ParamMap& params) const {
  for (const Axis& axis : axes_) {
    if (!ConditionHolds(*axis.param, params)) continue;
    params[axis.param->name] = Decode(axis, z);
  }
}

Eigen::VectorXd UnitSpace::Canonical(const Eigen::VectorXd& z) const {
  ParamMap params;
  DecodeInto(z, params);
  // Decoded values always fit, so Encode cannot fail here.
  return *Encode(params);
}

}  // namespace vernier
