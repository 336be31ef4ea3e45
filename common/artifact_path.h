// Artifact paths: the names under which a trial's files (what it left in
// $VERNIER_ARTIFACT_DIR) travel from the worker to the server and from the
// server to a user's directory. One rule for all three, so that a path the
// worker sends is one the server stores and the CLI writes, and none of them
// can reach outside the directory it is relative to.
//
// A valid path is relative and '/'-separated: 1 to kMaxArtifactPathSegments
// segments of 1-255 bytes each, every byte a letter, digit or one of
// ". _ - + = , @", no segment "." or "..", kMaxArtifactPathBytes in all.
// So no absolute path, no "..", no empty segment ("a//b", "a/"), no
// backslash, space, control byte or NUL, nothing a shell or a table would
// have to quote.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_COMMON_ARTIFACT_PATH_H_
#define VERNIER_COMMON_ARTIFACT_PATH_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace vernier {

inline constexpr size_t kMaxArtifactPathBytes = 512;
inline constexpr size_t kMaxArtifactPathSegments = 16;

// OK when `path` is a valid artifact path; otherwise INVALID_ARGUMENT whose
// message starts with `field` and names the path (cut to 100 bytes, control
// bytes escaped) and the rule it breaks.
absl::Status CheckArtifactPath(absl::string_view path, absl::string_view field = "path");

}  // namespace vernier

#endif  // VERNIER_COMMON_ARTIFACT_PATH_H_
