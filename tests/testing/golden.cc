#include "tests/testing/golden.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace vernier::testing {
namespace {

// Above this many cells the diff table would be large; the texts are then
// reported by their first differing line only.
constexpr size_t kMaxDiffCells = 4'000'000;

std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // The final newline.
  return lines;
}

// One step of an edit script: keep a line of both, drop one of `expected`, or
// add one of `actual`.
struct Edit {
  enum class Kind { kKeep, kDrop, kAdd };
  Kind kind;
  size_t expected_line;  // 0-based; for kAdd, the next line of `expected`.
  absl::string_view text;
};

// A shortest edit script by the longest common subsequence (O(n * m), fine
// for golden files of a few hundred lines).
std::vector<Edit> EditScript(const std::vector<absl::string_view>& a,
                             const std::vector<absl::string_view>& b) {
  const size_t n = a.size(), m = b.size();
  // common[i][j]: the LCS length of a[i..] and b[j..].
  std::vector<std::vector<int>> common(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      common[i][j] =
          a[i] == b[j] ? common[i + 1][j + 1] + 1 : std::max(common[i + 1][j], common[i][j + 1]);
    }
  }
  std::vector<Edit> script;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      script.push_back({Edit::Kind::kKeep, i, a[i]});
      ++i;
      ++j;
    } else if (i < n && (j == m || common[i + 1][j] >= common[i][j + 1])) {
      // Drops before adds, as diff(1) prints a changed line.
      script.push_back({Edit::Kind::kDrop, i, a[i]});
      ++i;
    } else {
      script.push_back({Edit::Kind::kAdd, i, b[j]});
      ++j;
    }
  }
  return script;
}

std::string FirstDifference(const std::vector<absl::string_view>& a,
                            const std::vector<absl::string_view>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return absl::StrCat("@@ line ", i + 1, " (texts too long for a full diff)\n- ",
                      i < a.size() ? a[i] : "<end>", "\n+ ", i < b.size() ? b[i] : "<end>", "\n");
}

}  // namespace

bool UpdatingGoldenFiles() {
  const char* value = std::getenv(kUpdateGoldenEnv);
  return value != nullptr && absl::string_view(value) == "1";
}

std::string LineDiff(absl::string_view expected, absl::string_view actual, int context) {
  if (expected == actual) return "";
  const std::vector<absl::string_view> a = Lines(expected);
  const std::vector<absl::string_view> b = Lines(actual);
  if (a == b) return "(the texts differ only in a final newline)\n";
  if (a.size() * b.size() > kMaxDiffCells) return FirstDifference(a, b);
  const std::vector<Edit> script = EditScript(a, b);
  // Show a kept line when a change lies within `context` lines of it.
  std::vector<bool> shown(script.size(), false);
  for (size_t k = 0; k < script.size(); ++k) {
    if (script[k].kind == Edit::Kind::kKeep) continue;
    const size_t from = k >= static_cast<size_t>(context) ? k - context : 0;
    const size_t to = std::min(script.size(), k + context + 1);
    for (size_t s = from; s < to; ++s) shown[s] = true;
  }
  std::string out;
  bool gap = true;
  for (size_t k = 0; k < script.size(); ++k) {
    if (!shown[k]) {
      gap = true;
      continue;
    }
    const Edit& edit = script[k];
    if (gap) absl::StrAppend(&out, "@@ line ", edit.expected_line + 1, "\n");
    gap = false;
    const char* prefix = edit.kind == Edit::Kind::kKeep   ? "  "
                         : edit.kind == Edit::Kind::kDrop ? "- "
                                                          : "+ ";
    absl::StrAppend(&out, prefix, edit.text, "\n");
  }
  return out;
}

::testing::AssertionResult MatchesGoldenFile(const std::string& path, absl::string_view actual) {
  if (UpdatingGoldenFiles()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(actual.data(), static_cast<std::streamsize>(actual.size()));
    out.close();
    if (!out) return ::testing::AssertionFailure() << "cannot write golden file " << path;
    return ::testing::AssertionSuccess();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ::testing::AssertionFailure()
           << "missing golden file " << path << "; to create it, run the test with "
           << kUpdateGoldenEnv << "=1";
  }
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string expected = contents.str();
  if (expected == actual) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "output differs from golden file " << path << " (- expected, + actual):\n"
         << LineDiff(expected, actual) << "If the change is intended, rerun with "
         << kUpdateGoldenEnv << "=1 and review the diff before committing.";
}

std::string ExactDouble(double value) { return absl::StrFormat("%.17g", value); }

}  // namespace vernier::testing
