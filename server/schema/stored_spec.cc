#include "server/schema/stored_spec.h"

#include "absl/strings/str_cat.h"
#include "common/spec/study_yaml.h"
#include "server/schema/study_schema.h"

namespace vernier {
namespace {

absl::Status Unreadable(int64_t version, const absl::Status& why) {
  return absl::DataLossError(
      absl::StrCat("a stored study spec of version ", version, " cannot be read: ", why.message()));
}

// Version 0: a study file's text, accepted when it was stored.
absl::StatusOr<StudySpec> FromStudyFile(absl::string_view text) {
  absl::StatusOr<v1::StudySpec> proto = StudySpecFromYaml(text, StudyInput::kStored);
  if (!proto.ok()) return Unreadable(0, proto.status());
  absl::StatusOr<StudySpec> spec = StudySpecFromProto(*proto);
  if (!spec.ok()) return Unreadable(0, spec.status());
  ResolveStudySpecDefaults(*spec);
  return spec;
}

// Version 1: a normalised vernier.v1.StudySpec.
absl::StatusOr<StudySpec> FromProtoBytes(absl::string_view bytes) {
  v1::StudySpec proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Unreadable(1, absl::InvalidArgumentError("not a vernier.v1.StudySpec"));
  }
  absl::StatusOr<StudySpec> spec = StudySpecFromProto(proto);
  if (!spec.ok()) return Unreadable(1, spec.status());
  return spec;
}

}  // namespace

std::string EncodeStoredSpec(const StudySpec& spec) {
  return StudySpecToProto(spec).SerializeAsString();
}

absl::StatusOr<StudySpec> DecodeStoredSpec(int64_t version, absl::string_view stored) {
  switch (version) {
    case 0:
      return FromStudyFile(stored);
    case 1:
      return FromProtoBytes(stored);
    default:
      return absl::DataLossError(absl::StrCat("a stored study spec has version ", version,
                                              ", newer than this build of Vernier knows (",
                                              kStoredSpecVersion, ")"));
  }
}

}  // namespace vernier
