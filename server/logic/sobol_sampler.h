// SobolSampler: a scrambled Sobol low-discrepancy sequence (Sobol 1967, with
// the direction numbers of Joe and Kuo, "Constructing Sobol sequences with
// better two-dimensional projections", 2008, file new-joe-kuo-6.21201).
//
// Point n of the sequence goes to trial n, so suggestions ignore the history
// and spread evenly however many trials run in parallel. Dimension i serves
// the i-th parameter of the space (in space order); a conditional parameter
// reads its dimension only when its condition holds, so dimensions never shift
// between trials. A coordinate u in [0, 1) maps to the parameter's own space:
// log floats in log space, ints and stepped floats to the grid cell holding u,
// categoricals by index.
//
// Scrambling is a random digital shift: each dimension's 32-bit coordinates are
// XORed with a random integer drawn from the seed. This keeps the net
// structure (every dyadic box of volume 2^-m holds its share of the first 2^m
// points) while giving each seed a different sequence.
//
// Thread-safety: immutable; Suggest() may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_SOBOL_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_SOBOL_SAMPLER_H_

#include <array>
#include <cstdint>

#include "absl/types/span.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// Dimensions the direction-number table supports, hence the most parameters
// a sobol study may have.
inline constexpr int kSobolMaxDimensions = 21;

// Coordinate `dimension` (0-based) of unscrambled Sobol point `index`, as a
// 32-bit binary fraction (divide by 2^32 for [0, 1)). Dimension 0 is the van
// der Corput sequence 0, 1/2, 1/4, 3/4, ...
// REQUIRES: 0 <= dimension < kSobolMaxDimensions, 0 <= index < 2^32.
uint32_t SobolCoordinate(int dimension, uint64_t index);

class SobolSampler : public HistoryFreeSampler {
 public:
  explicit SobolSampler(uint64_t seed);

  // REQUIRES: space.params.size() <= kSobolMaxDimensions (ParseStudySpec
  // checks it). Trial numbers wrap around after 2^32 points.
  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

 private:
  std::array<uint32_t, kSobolMaxDimensions> shift_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_SOBOL_SAMPLER_H_
