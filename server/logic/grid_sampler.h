// GridSampler: exhaustive search over a finite grid of the search space.
//
// The grid: categoricals take each of their values, ints every value on their
// step grid (default step 1), floats with a step every point of their step
// grid, and other floats `resolution` evenly spaced points from low to high
// (in log space for log floats; a single point is the midpoint). Conditional
// parameters form a tree: a parameter whose `when` names a parent combines
// only with the parent values that switch it on, so the grid holds no point
// in which an absent parameter varies.
//
// Order: the grid is enumerated like nested loops over the parameters in
// space order, the last one varying fastest (within a parent's value, its
// children are the inner loops). Trial n gets point n % Capacity(), so the
// suggestion depends on nothing but (space, resolution, n); the coordinator
// stops creating trials at Capacity().
//
// Thread-safety: immutable; Suggest() may be called concurrently.
#ifndef VERNIER_SERVER_LOGIC_GRID_SAMPLER_H_
#define VERNIER_SERVER_LOGIC_GRID_SAMPLER_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// Largest grid a study may ask for.
inline constexpr int64_t kMaxGridPoints = 10'000'000;

// Number of points of the grid `spec` defines over `space`. INVALID_ARGUMENT
// naming sampler.resolution when it exceeds kMaxGridPoints.
absl::StatusOr<int64_t> GridPointCount(const SearchSpace& space, const GridSpec& spec);

class GridSampler : public HistoryFreeSampler {
 public:
  // REQUIRES: GridPointCount(space, spec) succeeds for every space passed to
  // Suggest() (ParseStudySpec checks it).
  explicit GridSampler(const GridSpec& spec) : spec_(spec) {}

  ParamMap Suggest(const SearchSpace& space, absl::Span<const TrialRecord* const> history,
                   int64_t trial_number) const override;

  // The number of grid points.
  std::optional<int64_t> Capacity(const SearchSpace& space) const override;

 private:
  const GridSpec spec_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_GRID_SAMPLER_H_
