// SHA-256 of byte streams, as 64 lowercase hex digits: the checksum the
// server keeps for each artifact file and the CLI verifies after a download.
// A thin wrapper over OpenSSL's EVP interface.
//
// Thread-safety: a Sha256 object is used by one thread at a time; distinct
// objects are independent.
#ifndef VERNIER_COMMON_SHA256_H_
#define VERNIER_COMMON_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace vernier {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // The digest of everything given to Update, as lowercase hex. Call once.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The digest of `data` at once.
std::string Sha256Hex(absl::string_view data);

}  // namespace vernier

#endif  // VERNIER_COMMON_SHA256_H_
