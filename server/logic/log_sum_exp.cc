#include "server/logic/log_sum_exp.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace vernier {
namespace {

// A term this far below the largest is lost in the rounding of the sum.
constexpr double kNegligibleLogTerm = -40.0;

double BitsToDouble(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint64_t DoubleToBits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// ExpOfNonPositive, inlined where it is called in a loop.
inline double InlineExpOfNonPositive(double x) {
  // x = n ln 2 + r with n an integer and |r| <= ln(2) / 2, so e^x = 2^n e^r.
  constexpr double kLog2E = 1.4426950408889634074;
  // Adding 1.5 * 2^52 rounds to an integer held in the low bits of the sum.
  constexpr double kRoundingShift = 0x1.8p52;
  // ln 2 in two parts (Cody and Waite): n * kLn2High is exact for |n| < 2^11.
  constexpr double kLn2High = 0x1.62e42fee00000p-1;
  constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
  const double shifted = x * kLog2E + kRoundingShift;
  const double n = shifted - kRoundingShift;
  const double r = (x - n * kLn2High) - n * kLn2Low;
  // e^r by its Taylor series to degree 13: the remainder is below 1e-17
  // relative for |r| <= 0.347.
  double p = 1.0 / 6227020800.0;  // 1 / 13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^n: n (two's complement) sits in the low bits of `shifted`; moved into
  // the exponent field and biased, it is the bit pattern of 2^n.
  const uint64_t two_to_n = (DoubleToBits(shifted) << 52) + (uint64_t{1023} << 52);
  return p * BitsToDouble(two_to_n);
}

}  // namespace

double ExpOfNonPositive(double x) { return InlineExpOfNonPositive(x); }

double LogSumExp(absl::Span<const double> values, std::vector<double>& scratch) {
  double max = -std::numeric_limits<double>::infinity();
  bool nan = false;
  for (double v : values) {
    max = std::max(max, v);
    nan |= std::isnan(v);
  }
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  if (!std::isfinite(max)) return max;
  // Gather the terms that count (in a mixture of hundreds of narrow kernels,
  // a fifth or fewer), then exponentiate them in a loop without branches.
  scratch.resize(values.size());
  size_t kept = 0;
  for (double v : values) {
    const double x = v - max;
    scratch[kept] = x;
    kept += x >= kNegligibleLogTerm ? 1 : 0;
  }
  double* terms = scratch.data();
  for (size_t i = 0; i < kept; ++i) terms[i] = InlineExpOfNonPositive(terms[i]);
  double sum = 0;
  for (size_t i = 0; i < kept; ++i) sum += terms[i];
  return max + std::log(sum);
}

}  // namespace vernier
