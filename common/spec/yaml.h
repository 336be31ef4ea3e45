// The one place YAML text comes in: study files and files of parameter sets,
// turned into JSON values typed as study files are. Bounded before anything
// expands (common/spec/limits.h): the text's size, the nodes once aliases are
// expanded, the nesting depth.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_COMMON_SPEC_YAML_H_
#define VERNIER_COMMON_SPEC_YAML_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace vernier {

// How much of a YAML document is read before it is refused.
struct YamlBounds {
  size_t max_bytes = 0;
  int64_t max_nodes = 0;  // Once aliases are expanded.
  int max_depth = 0;

  // The limits of common/spec/limits.h, for input from users.
  static YamlBounds ForInput();
  // No limit but yaml-cpp's own nesting limit, for text that was accepted
  // before (a stored study file).
  static YamlBounds Unlimited();
};

// YAML (or JSON) text as JSON, typed as study files are: plain scalars by
// YAML 1.2's core schema (64 is an int, 0.01 a float, adam a string, ~ and
// null are null), quoted scalars stay strings, mappings keep their order.
// INVALID_ARGUMENT (never an exception, never a crash) for text that is not
// UTF-8 (with the byte offset), a syntax error (with its line and column),
// a mapping key that is not a plain name or appears twice (with the key's
// path), and for text beyond the limits: more than kMaxStudyFileBytes bytes,
// more than kMaxYamlNodes nodes after alias expansion, or nesting deeper than
// kMaxYamlDepth (each message names the limit). Messages about the document as
// a whole (syntax, encoding, limits) start with "<label>: " when `label` is
// not empty, e.g. "study file: line 3, column 7: ..."; those about one key
// start with the key's path.
absl::StatusOr<nlohmann::ordered_json> ParseYamlDocument(
    absl::string_view text, absl::string_view label,
    const YamlBounds& bounds = YamlBounds::ForInput());

// ParseYamlDocument without a label: for a value given on a command line or
// a file the caller names itself.
absl::StatusOr<nlohmann::ordered_json> ParseYamlText(absl::string_view text);

}  // namespace vernier

#endif  // VERNIER_COMMON_SPEC_YAML_H_
