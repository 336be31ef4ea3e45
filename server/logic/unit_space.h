// UnitSpace: a search space mapped onto the unit cube, for the samplers that
// model points as real vectors (gp, cmaes).
//
// Each parameter gets an axis of coordinates in [0, 1]:
//   - a float or int gets one coordinate, linear in the value, or in its
//     logarithm on a log scale. An int or stepped float owns the cell
//     [v - step/2, v + step/2] of each of its values, so every value gets the
//     same share of the axis; decoding rounds to the value whose cell holds
//     the coordinate. A log-scale float ignores `step`, as RandomSampler does.
//   - a categorical gets one coordinate per choice (one-hot); decoding takes
//     the largest.
//   - a parameter that can take only one value gets no coordinate.
// A parameter absent from a point (its `when` condition does not hold) is
// encoded as kInactive on each of its coordinates, so the points that lack it
// sit together and apart from none in particular.
//
// Thread-safety: immutable after construction; every method is const.
#ifndef VERNIER_SERVER_LOGIC_UNIT_SPACE_H_
#define VERNIER_SERVER_LOGIC_UNIT_SPACE_H_

#include <optional>
#include <vector>

#include "Eigen/Core"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

class UnitSpace {
 public:
  // The coordinate of an absent (inactive) numeric parameter; one-hot
  // coordinates of an absent categorical are all 0.
  static constexpr double kInactive = 0.5;

  struct Axis {
    const ParamSpec* param = nullptr;
    int offset = 0;  // Index of the first coordinate.
    int width = 0;   // 1 numeric, #choices categorical, 0 single-valued.
    double lo = 0;   // Numeric: the axis spans [lo, hi] in value (or log) units.
    double hi = 0;
  };

  // Axes for the parameters of `space` that `include` accepts (all when
  // null); the others get no coordinates and are never encoded or decoded.
  // `space` must outlive this object.
  explicit UnitSpace(const SearchSpace& space, bool (*include)(const ParamSpec&) = nullptr);

  int dims() const { return dims_; }
  const std::vector<Axis>& axes() const { return axes_; }

  // The coordinates of a stored point. nullopt when an included parameter
  // that is present has a value outside its range or of the wrong type (the
  // study file changed, say), so the point cannot be modelled.
  std::optional<Eigen::VectorXd> Encode(const ParamMap& params) const;

  // The value of `axis`'s parameter at coordinates `z` (clamped to [0, 1]):
  // always inside the parameter's range, on its grid, of its type.
  static ParamValue Decode(const Axis& axis, const Eigen::VectorXd& z);

  // Decodes every included parameter whose condition holds, in space order;
  // `params` may already hold values of parameters that are not included
  // (their conditions are read from it).
  void DecodeInto(const Eigen::VectorXd& z, ParamMap& params) const;

  // `z` made representable: decoded and encoded again, so ints and steps sit
  // at their values, one-hot blocks are exact, and absent parameters are
  // kInactive. Two points that decode alike have the same canonical form.
  Eigen::VectorXd Canonical(const Eigen::VectorXd& z) const;

 private:
  std::vector<Axis> axes_;
  int dims_ = 0;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_UNIT_SPACE_H_
