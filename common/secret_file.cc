#include "common/secret_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

// Certificates and token lists are a few KiB; anything larger is a mistake
// (a wrong path) and is not read into memory.
constexpr std::streamoff kMaxSecretBytes = 1 << 20;
constexpr size_t kMinTokenLength = 16;

}  // namespace

absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) {
    const int error = errno;
    const std::string message = absl::StrCat(flag, ": cannot read ", path, ": ", strerror(error));
    return error == EACCES ? absl::PermissionDeniedError(message) : absl::NotFoundError(message);
  }
  const std::streamoff size = file.tellg();
  if (size <= 0 || size > kMaxSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " is ", size <= 0 ? "empty" : "larger than 1 MiB"));
  }
  file.seekg(0);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

absl::Status ValidateToken(absl::string_view source, absl::string_view token) {
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": a token must have at least ",
                                                   kMinTokenLength, " characters, got ",
                                                   token.size()));
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": a token may hold only printable ASCII characters without spaces"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadTokenFile(absl::string_view flag,
                                                       const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSecretFile(flag, path));
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    RETURN_IF_ERROR(ValidateToken(absl::StrCat(flag, " ", path), line));
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " holds no token"));
  }
  return tokens;
}

absl::StatusOr<std::string> ClientToken(const std::string& token_file, const char* env_var) {
  if (!token_file.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> tokens, ReadTokenFile("--token-file", token_file));
    return tokens.front();
  }
  const char* env = std::getenv(env_var);
  if (env == nullptr) return std::string();
  const std::string token(absl::StripAsciiWhitespace(env));
  if (token.empty()) return token;
  RETURN_IF_ERROR(ValidateToken(env_var, token));
  return token;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Walks the longer length whatever the contents; the length difference is
  // folded into the result instead of returning early.
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace vernier
