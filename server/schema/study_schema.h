// The study schema at the server's edge: the typed vernier.v1.StudySpec (what
// clients send and what the database stores) converted to and from the plain
// StudySpec structs the coordinator's logic reads (server/logic/study_spec.h),
// which include no protobuf types.
//
// The conversions are mechanical. StudySpecFromProto fills in the defaults of
// absent optional fields and checks what the proto's types cannot (a
// parameter without a type, a setting a kind requires); it never
// range-checks values: NormalizeStudySpec does that, once, when a study is
// created. StudySpecToProto writes every field explicitly, so a stored spec
// reads back the same whatever the defaults of a later version.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_SERVER_SCHEMA_STUDY_SCHEMA_H_
#define VERNIER_SERVER_SCHEMA_STUDY_SCHEMA_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/study_spec.h"
#include "vernier/v1/study_spec.pb.h"

namespace vernier {

// The proto as plain structs, with the defaults of absent fields. The sampler
// seed defaults to StableSeed(name). INVALID_ARGUMENT naming the field (as
// the study file spells it) for a parameter without a type, an objective or
// condition value that cannot be read, a percentile, hyperband or patience
// pruner without its required setting, trainer settings that are not a JSON
// object, or no objective.
absl::StatusOr<StudySpec> StudySpecFromProto(const v1::StudySpec& proto);

// The spec with every field set (REQUIRES: normalised, see
// NormalizeStudySpec): StudySpecFromProto(StudySpecToProto(s)) == s.
v1::StudySpec StudySpecToProto(const StudySpec& spec);

// One parameter value to and from the proto. ParamValueFromProto's
// INVALID_ARGUMENT names `path` for a value without a kind.
v1::ParameterValue ParamValueToProto(const ParamValue& value);
absl::StatusOr<ParamValue> ParamValueFromProto(const v1::ParameterValue& value,
                                               absl::string_view path);

// A study file's text as a spec, not yet validated: StudySpecFromYaml then
// StudySpecFromProto (what CreateStudy does with a study file; the
// coordinator validates). INVALID_ARGUMENT naming the field, or the limit
// the text exceeds.
absl::StatusOr<StudySpec> StudySpecFromFile(absl::string_view yaml);

// A study file as a normalised spec: StudySpecFromFile, then
// NormalizeStudySpec; INVALID_ARGUMENT naming the field.
absl::StatusOr<StudySpec> ParseStudySpec(absl::string_view yaml);

// A typed spec from a client: the input limits (CheckStudySpecLimits), then
// StudySpecFromProto. Not yet validated: Coordinator::CreateStudy normalises
// every spec it is given.
absl::StatusOr<StudySpec> StudySpecFromRequest(const v1::StudySpec& proto);

}  // namespace vernier

#endif  // VERNIER_SERVER_SCHEMA_STUDY_SCHEMA_H_
