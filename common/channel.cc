#include "common/channel.h"

#include <utility>
#include <vector>

#include "common/secret_file.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

namespace vernier {
namespace {

// Adds the bearer token to the initial metadata of every call. An interceptor
// rather than call credentials (grpc::AccessTokenCredentials): gRPC refuses
// call credentials on plain-text channels, and tokens must work there too.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* const header_;  // Owned by the factory.
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token) : header_("Bearer " + token) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TokenInterceptor(&header_);
  }

 private:
  // The channel owns the factory, and every interceptor is destroyed with its
  // call, before the channel: borrowing is safe.
  const std::string header_;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ChannelOptions& options) {
  const bool has_cert = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (options.tls_ca_file.empty()) {
    if (has_cert) return absl::InvalidArgumentError("--tls-cert and --tls-key need --tls-ca");
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadSecretFile("--tls-ca", options.tls_ca_file));
  if (has_cert) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
    }
    ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadSecretFile("--tls-cert", options.tls_cert_file));
    ASSIGN_OR_RETURN(ssl.pem_private_key, ReadSecretFile("--tls-key", options.tls_key_file));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<ChannelOptions> ChannelOptionsFromFlags(const std::string& address,
                                                       const ChannelFlags& flags) {
  ChannelOptions options;
  options.address = address;
  ASSIGN_OR_RETURN(options.token, ClientToken(flags.token_file, "VERNIER_TOKEN"));
  options.tls_ca_file = flags.tls_ca_file;
  options.tls_cert_file = flags.tls_cert_file;
  options.tls_key_file = flags.tls_key_file;
  return options;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ChannelOptions& options,
                                                           grpc::ChannelArguments args) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials, MakeCredentials(options));
  args.SetMaxReceiveMessageSize(kMaxClientMessageBytes);
  args.SetMaxSendMessageSize(kMaxClientMessageBytes);
  if (options.token.empty()) {
    return grpc::CreateCustomChannel(options.address, credentials, args);
  }
  RETURN_IF_ERROR(ValidateToken("token", options.token));
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(options.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(options.address, credentials, args,
                                                                 std::move(factories));
}

}  // namespace vernier
