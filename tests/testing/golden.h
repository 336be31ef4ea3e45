// Golden files: a test renders what it computed as text and compares it with
// a file committed beside its input; any change shows up as a line diff in the
// failure. Setting VERNIER_UPDATE_GOLDEN=1 rewrites the files instead (then
// review the diff in git before committing). See tests/golden/README.md.
//
// Thread-safety: the functions are thread-safe, except that two updates of
// one file race.
#ifndef VERNIER_TESTS_TESTING_GOLDEN_H_
#define VERNIER_TESTS_TESTING_GOLDEN_H_

#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace vernier::testing {

// The environment variable that turns comparisons into updates.
inline constexpr char kUpdateGoldenEnv[] = "VERNIER_UPDATE_GOLDEN";

// True when kUpdateGoldenEnv is set to "1".
bool UpdatingGoldenFiles();

// Success when the file at `path` holds exactly `actual`. Otherwise a failure
// whose message names the file, shows LineDiff(file, actual) and says how to
// update it; a missing file is a failure too. When UpdatingGoldenFiles(),
// writes `actual` to `path` (a failure only if it cannot) and succeeds.
::testing::AssertionResult MatchesGoldenFile(const std::string& path, absl::string_view actual);

// The differences between two texts, line by line: unchanged lines prefixed
// with "  ", lines only in `expected` with "- ", lines only in `actual` with
// "+ ", and "@@ line N" before each group of changes (N: the line in
// `expected`); at most `context` unchanged lines around a change. Empty when
// the texts are equal.
std::string LineDiff(absl::string_view expected, absl::string_view actual, int context = 3);

// `value` with 17 significant digits ("%.17g"): enough to tell any two
// doubles apart, so a golden file catches a change in any bit.
std::string ExactDouble(double value);

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_TESTING_GOLDEN_H_
