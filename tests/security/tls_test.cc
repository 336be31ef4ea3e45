// TLS and mutual TLS on a real ServerRunner over loopback, with certificates
// this test makes with the openssl command line (test_certs.h).
#include <string>

#include "common/channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/server_runner.h"
#include "tests/security/security_test_util.h"
#include "tests/security/test_certs.h"
#include "tests/testing/status_matchers.h"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::kUserToken;
using ::vernier::testing::StatusIs;
using ::vernier::testing::TempDir;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string log;
    ASSERT_TRUE(testing::MakeTestCertificates(dir_.path(), &log)) << log;
  }

  std::string File(const std::string& name) const { return dir_.File(name); }

  void StartServer(bool mutual) {
    ServerOptions options = testing::TokenServerOptions(dir_);
    options.tls.cert_file = File("server.pem");
    options.tls.key_file = File("server.key");
    if (mutual) options.tls.client_ca_file = File("ca.pem");
    auto runner = ServerRunner::Start(options);
    ASSERT_OK(runner);
    runner_ = std::move(*runner);
  }

  // ListStudies over a channel made like the CLI's.
  grpc::Status ListStudies(ChannelOptions options) {
    options.address = "127.0.0.1:" + std::to_string(runner_->port());
    options.token = kUserToken;
    auto channel = MakeChannel(options);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    auto stub = v1::StudyService::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListStudiesResponse response;
    return stub->ListStudies(&context, v1::ListStudiesRequest(), &response);
  }

  ChannelOptions Trusting(const std::string& ca) {
    ChannelOptions options;
    options.tls_ca_file = File(ca + ".pem");
    return options;
  }

  TempDir dir_;
  std::unique_ptr<ServerRunner> runner_;
};

TEST_F(TlsTest, RoundTripOverTlsWithToken) {
  StartServer(/*mutual=*/false);
  grpc::Status status = ListStudies(Trusting("ca"));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, PlainTextClientIsRefused) {
  StartServer(/*mutual=*/false);
  grpc::Status status = ListStudies(ChannelOptions());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTest, ClientTrustingAnotherCaRefusesTheServer) {
  StartServer(/*mutual=*/false);
  grpc::Status status = ListStudies(Trusting("other-ca"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  StartServer(/*mutual=*/true);
  // Without a client certificate: the handshake fails.
  EXPECT_EQ(ListStudies(Trusting("ca")).error_code(), grpc::StatusCode::UNAVAILABLE);
  // With one from a CA the server does not trust: fails too.
  ChannelOptions stranger = Trusting("ca");
  stranger.tls_cert_file = File("stranger.pem");
  stranger.tls_key_file = File("stranger.key");
  EXPECT_EQ(ListStudies(stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
  // With the right one: works.
  ChannelOptions client = Trusting("ca");
  client.tls_cert_file = File("client.pem");
  client.tls_key_file = File("client.key");
  grpc::Status status = ListStudies(client);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, TlsDoesNotReplaceTheToken) {
  StartServer(/*mutual=*/false);
  ChannelOptions options = Trusting("ca");
  options.address = "127.0.0.1:" + std::to_string(runner_->port());
  auto channel = MakeChannel(options);  // No token.
  ASSERT_OK(channel);
  auto stub = v1::StudyService::NewStub(*channel);
  grpc::ClientContext context;
  v1::ListStudiesResponse response;
  EXPECT_EQ(stub->ListStudies(&context, v1::ListStudiesRequest(), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(TlsTest, UnreadableCertificateNamesTheFlag) {
  ServerOptions options = testing::TokenServerOptions(dir_);
  options.tls.cert_file = File("missing.pem");
  options.tls.key_file = File("server.key");
  auto runner = ServerRunner::Start(options);
  ASSERT_THAT(runner, Not(IsOk()));
  EXPECT_THAT(std::string(runner.status().message()), HasSubstr("--tls-cert"));
  options.tls.cert_file = File("server.pem");
  options.tls.key_file = "";
  EXPECT_THAT(ServerRunner::Start(options), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vernier
