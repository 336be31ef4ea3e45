#include "server/logic/random.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/numeric/bits.h"
#include "absl/numeric/int128.h"

// This file is compiled with -ffp-contract=off (server/logic/CMakeLists.txt):
// a fused multiply-add in lo + u * range would round differently on a target
// that has one, and the sequences must not depend on the target.

namespace vernier {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A word as a double in [0, 1): Abseil's GenerateRealFromBits<double,
// GeneratePositiveTag, /*IncludeZero=*/true>. The leading zeros of `bits` set
// the exponent, the 52 bits after the leading one the mantissa.
double RealFromBits(uint64_t bits) {
  if (bits == 0) return 0;
  const int leading_zeros = absl::countl_zero(bits);
  bits <<= leading_zeros;
  bits >>= 63 - 52;
  const uint64_t exponent = static_cast<uint64_t>(1022 - leading_zeros);
  const uint64_t ieee = (exponent << 52) | (bits & ((uint64_t{1} << 52) - 1));
  double result;
  std::memcpy(&result, &ieee, sizeof(result));
  return result;
}

// Uniform in [lo, lo + range) with range = hi - lo: the loop of
// absl::uniform_real_distribution<double>::operator(). REQUIRES: lo <= hi.
double DrawReal(absl::BitGenRef gen, double lo, double hi) {
  const double range = hi - lo;
  while (true) {
    const double sample = RealFromBits(gen());
    const double result = lo + (sample * range);
    if (result < hi || range <= 0 || !std::isfinite(range)) return result;
  }
}

// Uniform in [0, range]: absl::uniform_int_distribution<uint64_t>::Generate.
uint64_t DrawUpTo(absl::BitGenRef gen, uint64_t range) {
  uint64_t bits = gen();
  const uint64_t limit = range + 1;               // 0 when range is the whole of uint64_t.
  if ((range & limit) == 0) return bits & range;  // A power of two.
  absl::uint128 product = absl::uint128(bits) * limit;
  if (absl::Uint128Low64(product) < limit) {
    // 2^64 mod limit: products with a low word below it are the surplus that
    // would bias the high word.
    const uint64_t threshold = (std::numeric_limits<uint64_t>::max() - limit + 1) % limit;
    while (absl::Uint128Low64(product) < threshold) {
      bits = gen();
      product = absl::uint128(bits) * limit;
    }
  }
  return absl::Uint128High64(product);
}

}  // namespace

std::mt19937_64 MakeGenerator(const StreamSeed& seed) {
  std::seed_seq sequence(seed.words().begin(), seed.words().end());
  return std::mt19937_64(sequence);
}

std::mt19937 MakeGenerator32(const StreamSeed& seed) {
  std::seed_seq sequence(seed.words().begin(), seed.words().end());
  return std::mt19937(sequence);
}

double Uniform01(absl::BitGenRef gen) { return static_cast<double>(gen() >> 11) * 0x1.0p-53; }

double StandardNormal(absl::BitGenRef gen) {
  const double radius = std::sqrt(-2.0 * std::log(1.0 - Uniform01(gen)));
  return radius * std::cos(2.0 * kPi * Uniform01(gen));
}

double UniformReal(absl::BitGenRef gen, double lo, double hi) {
  if (!(lo <= hi && std::isfinite(hi - lo))) return lo;
  return DrawReal(gen, lo, hi);
}

double UniformRealClosed(absl::BitGenRef gen, double lo, double hi) {
  const double upper = std::nextafter(hi, std::numeric_limits<double>::max());
  if (!(lo <= upper && std::isfinite(upper - lo))) return lo;
  return DrawReal(gen, lo, upper);
}

int64_t UniformInt(absl::BitGenRef gen, int64_t lo, int64_t hi) {
  if (lo > hi) return lo;
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + DrawUpTo(gen, range));
}

size_t UniformIndex(absl::BitGenRef gen, size_t n) {
  return static_cast<size_t>(DrawUpTo(gen, n == 0 ? 0 : n - 1));
}

bool Bernoulli(absl::BitGenRef gen, double p) {
  constexpr uint64_t kTwoTo32 = uint64_t{1} << 32;
  while (true) {
    // p * 2^32 lies in [0, 2^32]; through int64_t because the hardware
    // converts doubles to signed integers.
    const auto cut = static_cast<uint64_t>(static_cast<int64_t>(p * kTwoTo32));
    const auto word = static_cast<uint32_t>(gen());
    if (word != cut) return word < cut;
    // A tie: accept with the probability the cut lost, exactly
    // (p - cut / 2^32 is representable), scaled by 2^32.
    const double remainder = (p - static_cast<double>(cut) / kTwoTo32) * kTwoTo32;
    if (remainder == 0) return false;
    p = remainder;
  }
}

}  // namespace vernier
