// Parameter values given by a user rather than suggested by a sampler: the
// parameters of an enqueued trial (EnqueueTrial, `vernier study enqueue`) and
// those of trials copied from another study (warm_start).
//
// Every error is INVALID_ARGUMENT and starts with "params.NAME: ", followed by
// the value given and what was expected, so the server can hand it to the
// user as is.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_SERVER_LOGIC_GIVEN_PARAMS_H_
#define VERNIER_SERVER_LOGIC_GIVEN_PARAMS_H_

#include "absl/random/bit_gen_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// Checks one given value against `param` and returns it in the parameter's
// own type, as a sampler would have produced it:
//   - float: a double or an int, finite, inside [low, high]; with a step, on
//     the grid low + k * step (within 1e-9 of a step), snapped onto it.
//   - int: an int, or a double without a fraction (JSON has one number type),
//     inside [low, high] and on the grid low + k * step.
//   - categorical: one of `values` (numbers compare by value; a string that
//     spells a numeric value, or a number spelled by a string value, matches
//     too), returned as the value of the study file.
// Bounds and conditions of other parameters are not looked at.
absl::StatusOr<ParamValue> ConvertGivenValue(const ParamSpec& param, const ParamValue& value);

// Completes the parameters of an enqueued trial. Walks `space` parents first:
// a parameter whose `when` condition holds for the values chosen so far takes
// its given value (converted by ConvertGivenValue), else the value in
// `suggested` (the study's sampler's suggestion for this trial), else a
// uniform draw from `gen` (a child that a given parent switched on); a
// parameter whose condition does not hold is left out.
// INVALID_ARGUMENT naming the parameter and the value for a name that is not
// in `space`, a bad value, a given parameter whose condition does not hold
// for the chosen parents, or a given parameter whose parent was not given
// (the parent would be guessed; give it too).
absl::StatusOr<ParamMap> FillGivenParams(const SearchSpace& space, const ParamMap& given,
                                         const ParamMap& suggested, absl::BitGenRef gen);

// `params` converted by ConvertGivenValue when they are exactly what a trial
// of `space` could have: every name is in `space`, every value fits its
// parameter, every parameter whose condition holds is present and no other.
// INVALID_ARGUMENT naming the first parameter that does not fit. Used to
// decide which trials of another study a warm-started study can learn from.
absl::StatusOr<ParamMap> CheckCompleteParams(const SearchSpace& space, const ParamMap& params);

// `params` restricted to the names in `space` (for re-running another study's
// trials in a study with a different space).
ParamMap ParamsInSpace(const SearchSpace& space, const ParamMap& params);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_GIVEN_PARAMS_H_
