// Study files (YAML, or JSON, which is YAML too) into the typed study schema,
// vernier.v1.StudySpec: the conversion at the edge, done once, by the CLI (so
// that it sends a typed spec) or by CreateStudy for a client that sends the
// file's text.
//
// The conversion checks the file's *structure*: known keys, the type of each
// value (a number, an integer, a list, ...), required keys, the names of
// goals, parameter types, samplers and pruners, and the input limits of
// common/spec/limits.h. Values are not range-checked here and defaults are not
// filled in: the server validates and normalises every spec, however it came
// (server/logic NormalizeStudySpec), so that rule lives in one place.
//
// Every error is INVALID_ARGUMENT with a message that starts with the path of
// the offending key as the file spells it ("params.lr.low: ...", "sampler.type:
// unknown sampler \"bayes\" (expected one of: ...)") and shows the bad value.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_COMMON_SPEC_STUDY_YAML_H_
#define VERNIER_COMMON_SPEC_STUDY_YAML_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/study_spec.pb.h"

namespace vernier {

// Where a study file comes from.
enum class StudyInput {
  // From a user: bounded by every limit of common/spec/limits.h.
  kNew,
  // Stored by a version of Vernier that kept study files as text: accepted
  // when it was created, so read without the input limits, which may be newer
  // than the study (an upgrade must never refuse a stored study).
  kStored,
};

// Converts a study file's text. Errors about the text as a whole (syntax,
// encoding, limits) start with "study file: ".
absl::StatusOr<v1::StudySpec> StudySpecFromYaml(absl::string_view text,
                                                StudyInput input = StudyInput::kNew);

// Checks the counts and sizes of a spec against common/spec/limits.h:
// objectives, constraints, parameters, values of a categorical or a `when`,
// grid resolutions, pbt lists, command arguments, trainer settings.
// INVALID_ARGUMENT naming the field, the count and the limit. For typed specs
// from a client; StudySpecFromYaml checks its result with it.
absl::Status CheckStudySpecLimits(const v1::StudySpec& spec);

// A parameter value as study files write it: an int, a float or a string
// (true and false become "true" and "false"). INVALID_ARGUMENT naming `path`
// for anything else (null, a list, a mapping, a non-finite float).
absl::StatusOr<v1::ParameterValue> ParameterValueFromJson(const nlohmann::ordered_json& value,
                                                          absl::string_view path);

}  // namespace vernier

#endif  // VERNIER_COMMON_SPEC_STUDY_YAML_H_
