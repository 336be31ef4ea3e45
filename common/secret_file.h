// Reading secrets (bearer tokens, TLS keys and certificates) from files and
// the environment, shared by the server, the worker and the CLI. No gRPC.
//
// Thread-safety: the functions are thread-safe (they only read files and the
// environment).
#ifndef VERNIER_COMMON_SECRET_FILE_H_
#define VERNIER_COMMON_SECRET_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier {

// Reads a whole file (a PEM certificate or key). `flag` names where the path
// came from (e.g. "--tls-cert") so that errors say which flag to fix.
// Errors: NOT_FOUND / PERMISSION_DENIED naming the flag and the path;
// INVALID_ARGUMENT when the file is empty or larger than 1 MiB.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path);

// Reads bearer tokens, one per line; blank lines and lines starting with '#'
// are skipped, surrounding whitespace is trimmed (several lines allow token
// rotation). Errors: those of ReadSecretFile; INVALID_ARGUMENT when no token is
// left, or a token is shorter than 16 characters or holds characters other
// than printable ASCII without spaces (they could not travel in a header).
absl::StatusOr<std::vector<std::string>> ReadTokenFile(absl::string_view flag,
                                                       const std::string& path);

// Checks one token as ReadTokenFile does; `source` names its origin (a flag or
// an environment variable) in the INVALID_ARGUMENT message, which never
// contains the token itself.
absl::Status ValidateToken(absl::string_view source, absl::string_view token);

// The token for a client: the first token of `token_file` when it is not
// empty, else the value of the environment variable `env_var` (trimmed), else
// "" (no token). Errors: those of ReadTokenFile / ValidateToken.
absl::StatusOr<std::string> ClientToken(const std::string& token_file, const char* env_var);

// Compares in time that depends only on the lengths, never on where the first
// difference is, so that a remote caller cannot find a token byte by byte.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace vernier

#endif  // VERNIER_COMMON_SECRET_FILE_H_
