#include "server/logic/sobol_sampler.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "server/logic/random.h"

namespace vernier {
namespace {

constexpr int kBits = 32;

// One row of Joe and Kuo's table: the degree s of the primitive polynomial,
// its inner coefficients a (bits a_1 .. a_{s-1}, a_1 the highest), and the
// initial direction integers m_1 .. m_s.
struct Primitive {
  int s;
  uint32_t a;
  uint32_t m[7];
};

// Dimensions 2..21 of new-joe-kuo-6.21201; dimension 1 is van der Corput.
constexpr Primitive kTable[kSobolMaxDimensions - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
};

using Directions = std::array<std::array<uint32_t, kBits>, kSobolMaxDimensions>;

// v[d][k-1] = v_k of dimension d, a binary fraction scaled by 2^32:
// v_k = m_k / 2^k for k <= s, then the recurrence of the polynomial
// v_k = a_1 v_{k-1} ^ ... ^ a_{s-1} v_{k-s+1} ^ v_{k-s} ^ (v_{k-s} >> s).
Directions MakeDirections() {
  Directions v{};
  for (int k = 1; k <= kBits; ++k) v[0][k - 1] = uint32_t{1} << (kBits - k);
  for (int d = 1; d < kSobolMaxDimensions; ++d) {
    const Primitive& p = kTable[d - 1];
    for (int k = 1; k <= kBits; ++k) {
      if (k <= p.s) {
        v[d][k - 1] = p.m[k - 1] << (kBits - k);
        continue;
      }
      uint32_t value = v[d][k - p.s - 1] ^ (v[d][k - p.s - 1] >> p.s);
      for (int j = 1; j < p.s; ++j) {
        if ((p.a >> (p.s - 1 - j)) & 1) value ^= v[d][k - j - 1];
      }
      v[d][k - 1] = value;
    }
  }
  return v;
}

const Directions& SobolDirections() {
  static const Directions directions = MakeDirections();
  return directions;
}

// Maps u in [0, 1) to `param`'s own space.
ParamValue FromUnit(const ParamSpec& param, double u) {
  auto cell = [u](int64_t cells) {
    return std::min<int64_t>(static_cast<int64_t>(u * cells), cells - 1);
  };
  switch (param.type) {
    case ParamSpec::Type::kCategorical:
      return param.values[static_cast<size_t>(cell(static_cast<int64_t>(param.values.size())))];
    case ParamSpec::Type::kInt: {
      const auto low = static_cast<int64_t>(param.low);
      const auto high = static_cast<int64_t>(param.high);
      if (param.log) {
        // As RandomSampler: log-uniform over [low - 0.5, high + 0.5], rounded.
        const double lo = std::log(low - 0.5 + 1e-9);
        const double value = std::exp(lo + u * (std::log(high + 0.5) - lo));
        return std::clamp<int64_t>(std::llround(value), low, high);
      }
      const auto step = static_cast<int64_t>(param.step.value_or(1));
      return low + step * cell((high - low) / step + 1);
    }
    case ParamSpec::Type::kFloat: {
      if (param.low == param.high) return param.low;
      if (param.step) {
        const auto points =
            static_cast<int64_t>(std::floor((param.high - param.low) / *param.step + 1e-9)) + 1;
        return std::min(param.low + static_cast<double>(cell(points)) * *param.step, param.high);
      }
      if (param.log) {
        const double low = std::log(param.low);
        return std::clamp(std::exp(low + u * (std::log(param.high) - low)), param.low, param.high);
      }
      return param.low + u * (param.high - param.low);
    }
  }
  return 0.0;
}

}  // namespace

uint32_t SobolCoordinate(int dimension, uint64_t index) {
  const auto& v = SobolDirections()[static_cast<size_t>(dimension)];
  uint32_t x = 0;
  for (int bit = 0; bit < kBits && (index >> bit) != 0; ++bit) {
    if ((index >> bit) & 1) x ^= v[bit];
  }
  return x;
}

SobolSampler::SobolSampler(uint64_t seed) {
  std::mt19937 gen = MakeGenerator32(StreamSeed(seed).Word(stream_tag::kSobolScramble));
  for (uint32_t& shift : shift_) shift = static_cast<uint32_t>(gen());
}

ParamMap SobolSampler::Suggest(const SearchSpace& space,
                               absl::Span<const TrialRecord* const> /*history*/,
                               int64_t trial_number) const {
  const uint64_t index = static_cast<uint64_t>(trial_number) & 0xffffffffu;
  ParamMap params;
  for (size_t d = 0; d < space.params.size(); ++d) {
    const ParamSpec& param = space.params[d];
    if (!ConditionHolds(param, params)) continue;
    const uint32_t x = SobolCoordinate(static_cast<int>(d), index) ^ shift_[d];
    params[param.name] = FromUnit(param, std::ldexp(static_cast<double>(x), -kBits));
  }
  return params;
}

}  // namespace vernier
