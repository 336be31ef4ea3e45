#include "common/placement_label.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace vernier {

bool IsLabelText(absl::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

}  // namespace vernier
