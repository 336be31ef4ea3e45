// Bounds on what a study definition may hold, checked where a definition
// comes in (a study file's text, or a typed spec sent to CreateStudy) before
// anything is expanded or built from it, so that one request cannot hold the
// server for seconds or exhaust its memory. Each is far above what a real
// study needs; a study beyond one is refused with INVALID_ARGUMENT naming the
// limit.
//
// Proto-free on purpose: the server's pure logic reads these too.
#ifndef VERNIER_COMMON_SPEC_LIMITS_H_
#define VERNIER_COMMON_SPEC_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vernier {

// The text of a study file (or of a file of parameter sets).
inline constexpr size_t kMaxStudyFileBytes = 1 << 20;
// YAML nodes once aliases are expanded: `*a` counts every node `&a` holds
// each time it is used, so nested aliases cannot multiply a small file into
// gigabytes (the "billion laughs").
inline constexpr int64_t kMaxYamlNodes = 100'000;
// Mappings and lists inside one another.
inline constexpr int kMaxYamlDepth = 32;
// Parameters of the search space.
inline constexpr size_t kMaxParameters = 1000;
// Values of one categorical parameter, or of one `when` condition.
inline constexpr size_t kMaxCategoricalValues = 1000;
// Metrics a study names as objectives and constraints together (a study has
// at most 8 objectives; NormalizeStudySpec says so).
inline constexpr size_t kMaxMetrics = 64;
// Entries of a list setting: trainer.command, pbt's perturb_factors and params.
inline constexpr size_t kMaxListEntries = 1000;
// Fixed trainer settings, and per-parameter grid resolutions.
inline constexpr size_t kMaxSettings = 1000;

// OK when `count` `things` at `field` are within `limit`; else
// INVALID_ARGUMENT, e.g. "params: 10000 parameters, more than the limit of 1000".
inline absl::Status CheckLimit(absl::string_view field, size_t count, size_t limit,
                               absl::string_view things) {
  if (count <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", count, " ", things, ", more than the limit of ", limit));
}

}  // namespace vernier

#endif  // VERNIER_COMMON_SPEC_LIMITS_H_
