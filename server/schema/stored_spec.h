// How a study's spec is stored, and how a stored spec is read back by a later
// version of Vernier: migrated forward, never validated again, so that an
// upgrade can always open an existing database.
//
// Versions (the `spec_version` column of the studies table):
//   0  the study file's text, as submitted (databases of schema version 3 and
//      older); read with the YAML reader without input limits, and
//      normalised as the server of that time did.
//   1  vernier.v1.StudySpec, normalised, in protobuf's binary encoding.
// A later change of meaning adds a version and a step from the one before.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_SERVER_SCHEMA_STORED_SPEC_H_
#define VERNIER_SERVER_SCHEMA_STORED_SPEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/study_spec.h"

namespace vernier {

// The version EncodeStoredSpec writes.
inline constexpr int64_t kStoredSpecVersion = 1;

// `spec` (normalised) in the stored form of kStoredSpecVersion.
std::string EncodeStoredSpec(const StudySpec& spec);

// A stored spec of any version up to kStoredSpecVersion, migrated to today's
// structs. DATA_LOSS (naming the version) when the bytes are not a spec of
// that version, or the version is unknown (newer than this build).
absl::StatusOr<StudySpec> DecodeStoredSpec(int64_t version, absl::string_view stored);

}  // namespace vernier

#endif  // VERNIER_SERVER_SCHEMA_STORED_SPEC_H_
