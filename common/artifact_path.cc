#include "common/artifact_path.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vernier {
namespace {

constexpr size_t kMaxSegmentBytes = 255;

bool IsPathByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '+' || c == '=' || c == ',' || c == '@';
}

absl::Status Refused(absl::string_view field, absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": \"", absl::CHexEscape(path.substr(0, 100)),
                   path.size() > 100 ? "..." : "", "\" is not a valid artifact path: ", why));
}

}  // namespace

absl::Status CheckArtifactPath(absl::string_view path, absl::string_view field) {
  if (path.empty()) return Refused(field, path, "empty");
  if (path.size() > kMaxArtifactPathBytes) {
    return Refused(field, path, absl::StrCat("longer than ", kMaxArtifactPathBytes, " bytes"));
  }
  if (path.front() == '/') return Refused(field, path, "absolute (it must be relative)");
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '/');
  if (segments.size() > kMaxArtifactPathSegments) {
    return Refused(field, path,
                   absl::StrCat("more than ", kMaxArtifactPathSegments, " directory levels"));
  }
  for (absl::string_view segment : segments) {
    if (segment.empty()) return Refused(field, path, "an empty segment (\"//\" or a trailing '/')");
    if (segment == "." || segment == "..") {
      return Refused(field, path, absl::StrCat("a \"", segment, "\" segment"));
    }
    if (segment.size() > kMaxSegmentBytes) {
      return Refused(field, path,
                     absl::StrCat("a segment longer than ", kMaxSegmentBytes, " bytes"));
    }
    const auto bad = std::find_if_not(segment.begin(), segment.end(), IsPathByte);
    if (bad != segment.end()) {
      return Refused(field, path,
                     absl::StrCat("the character '", absl::CHexEscape(absl::string_view(&*bad, 1)),
                                  "' (allowed: letters, digits and . _ - + = , @)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace vernier
