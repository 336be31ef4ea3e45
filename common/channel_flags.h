// The command-line flags every client of vernier-server shares (the vernier
// CLI and vernier-worker): where the bearer token comes from and the TLS files.
// Kept apart from common/channel.h so that the channel library does not need
// CLI11.
//
// Thread-safety: call while building the command line, from one thread.
#ifndef VERNIER_COMMON_CHANNEL_FLAGS_H_
#define VERNIER_COMMON_CHANNEL_FLAGS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "common/channel.h"

namespace vernier {

// Adds --token-file (described by `token_help`), --tls-ca, --tls-cert and
// --tls-key to `app`, parsed into `flags`, which must outlive the parse.
inline void AddChannelFlags(CLI::App& app, const std::string& token_help, ChannelFlags& flags) {
  app.add_option("--token-file", flags.token_file, token_help);
  app.add_option("--tls-ca", flags.tls_ca_file,
                 "PEM CA bundle that signed the server's certificate: connect with TLS");
  app.add_option("--tls-cert", flags.tls_cert_file,
                 "PEM client certificate, for a server that requires one (with --tls-ca)");
  app.add_option("--tls-key", flags.tls_key_file, "PEM private key of --tls-cert");
}

}  // namespace vernier

#endif  // VERNIER_COMMON_CHANNEL_FLAGS_H_
