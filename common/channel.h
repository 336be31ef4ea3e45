// Channels to vernier-server for the CLI and the worker: plain text or TLS
// (with a client certificate for mutual TLS), a bearer token on every call,
// and bounded message sizes.
//
// Thread-safety: MakeChannel is thread-safe; the channel it returns is
// thread-safe (gRPC's contract).
#ifndef VERNIER_COMMON_CHANNEL_H_
#define VERNIER_COMMON_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace vernier {

// The largest message a client sends or accepts; the server has the same
// bound (server_runner.cc), so an oversized request fails fast on either side
// with RESOURCE_EXHAUSTED.
inline constexpr int kMaxClientMessageBytes = 16 << 20;

struct ChannelOptions {
  std::string address;  // host:port.
  // Sent as `authorization: Bearer <token>` on every call; empty: none.
  std::string token;
  // PEM CA bundle that signed the server's certificate; empty: plain text.
  std::string tls_ca_file;
  // PEM client certificate and key, for a server that requires client
  // certificates (--tls-client-ca); both or neither. REQUIRE tls_ca_file.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// The flags a program offers for ChannelOptions, so that every program names
// them the same: --token-file, --tls-ca, --tls-cert, --tls-key.
struct ChannelFlags {
  std::string token_file;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// ChannelOptions from flags: the token from --token-file, else from the
// environment variable VERNIER_TOKEN. Errors: ReadTokenFile's / ValidateToken's
// (INVALID_ARGUMENT, NOT_FOUND naming the flag and file).
absl::StatusOr<ChannelOptions> ChannelOptionsFromFlags(const std::string& address,
                                                       const ChannelFlags& flags);

// Creates the channel (it connects lazily). `args` may carry more settings
// (e.g. reconnect backoff); the message-size bounds are added here.
// Errors: INVALID_ARGUMENT when a client certificate comes without a key or
// without --tls-ca; the file errors of ReadSecretFile naming the flag.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelOptions& options, grpc::ChannelArguments args = grpc::ChannelArguments());

}  // namespace vernier

#endif  // VERNIER_COMMON_CHANNEL_H_
