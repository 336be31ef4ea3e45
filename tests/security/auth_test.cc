// Bearer-token authentication: a real ServerRunner on loopback, called through
// the same channels the CLI and the worker build (common/channel.h) and
// through raw calls that walk every method of both services.
#include "server/service/auth.h"

#include <string>
#include <vector>

#include "common/channel.h"
#include "common/secret_file.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "server/service/server_runner.h"
#include "tests/security/security_test_util.h"
#include "tests/testing/status_matchers.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::CallRaw;
using ::vernier::testing::kUserToken;
using ::vernier::testing::kWorkerToken;
using ::vernier::testing::StatusIs;
using ::vernier::testing::TempDir;

// Every method of a service, as "/package.Service/Method".
std::vector<std::string> MethodsOf(const std::string& service_name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
  EXPECT_NE(service, nullptr) << service_name;
  std::vector<std::string> methods;
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    methods.push_back("/" + service_name + "/" + service->method(i)->name());
  }
  return methods;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto runner = ServerRunner::Start(testing::TokenServerOptions(dir_));
    ASSERT_OK(runner);
    runner_ = std::move(*runner);
    address_ = "127.0.0.1:" + std::to_string(runner_->port());
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    ChannelOptions options;
    options.address = address_;
    options.token = token;
    auto channel = MakeChannel(options);
    EXPECT_OK(channel);
    return *channel;
  }

  grpc::Status ListStudies(const std::string& token) {
    auto stub = v1::StudyService::NewStub(Channel(token));
    grpc::ClientContext context;
    v1::ListStudiesResponse response;
    return stub->ListStudies(&context, v1::ListStudiesRequest(), &response);
  }

  grpc::Status Acquire(const std::string& token) {
    auto stub = v1::WorkerService::NewStub(Channel(token));
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id("w");
    request.set_slot("cpu");
    v1::AcquireTrialResponse response;
    return stub->AcquireTrial(&context, request, &response);
  }

  TempDir dir_;
  std::unique_ptr<ServerRunner> runner_;
  std::string address_;
};

TEST_F(AuthTest, UserTokenCallsStudyServiceOnly) {
  EXPECT_TRUE(ListStudies(kUserToken).ok());
  grpc::Status denied = Acquire(kUserToken);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_THAT(denied.error_message(), HasSubstr("needs a worker token"));
}

TEST_F(AuthTest, WorkerTokenCallsWorkerServiceOnly) {
  EXPECT_TRUE(Acquire(kWorkerToken).ok());
  grpc::Status denied = ListStudies(kWorkerToken);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_THAT(denied.error_message(), HasSubstr("needs a user token"));
}

TEST_F(AuthTest, MissingOrWrongTokenIsUnauthenticated) {
  EXPECT_EQ(ListStudies("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Acquire("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListStudies("user-token-0123456789abcdeX").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A prefix or an extension of a real token is not that token.
  EXPECT_EQ(ListStudies(std::string(kUserToken) + "0").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Acquire(std::string(kWorkerToken, 20)).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthTest, OnlyTheBearerSchemeCounts) {
  const std::string method = "/vernier.v1.StudyService/ListStudies";
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  // CallRaw adds "Bearer "; a raw token or another scheme is refused.
  grpc::GenericStub stub(channel);
  for (const std::string& header :
       {std::string(kUserToken), "Basic " + std::string(kUserToken), std::string("Bearer")}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", header);
    grpc::CompletionQueue cq;
    grpc::Slice slice("");
    grpc::ByteBuffer request(&slice, 1);
    auto call = stub.PrepareUnaryCall(&context, method, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << header;
  }
  // The scheme name is case-insensitive (RFC 7235).
  grpc::ClientContext context;
  context.AddMetadata("authorization", "bearer " + std::string(kUserToken));
  auto stub2 = v1::StudyService::NewStub(channel);
  v1::ListStudiesResponse response;
  EXPECT_TRUE(stub2->ListStudies(&context, v1::ListStudiesRequest(), &response).ok());
}

// Walks the proto descriptors, so a method added later without a token check
// fails here (a method missing from the wrapper would answer UNIMPLEMENTED).
TEST_F(AuthTest, EveryMethodOfBothServicesChecksTheToken) {
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  const std::vector<std::string> study = MethodsOf("vernier.v1.StudyService");
  const std::vector<std::string> worker = MethodsOf("vernier.v1.WorkerService");
  ASSERT_GE(study.size(), 7u);
  ASSERT_GE(worker.size(), 6u);
  for (const std::string& method : study) {
    EXPECT_EQ(CallRaw(channel, method).error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_EQ(CallRaw(channel, method, kWorkerToken).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << method;
  }
  for (const std::string& method : worker) {
    EXPECT_EQ(CallRaw(channel, method).error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_EQ(CallRaw(channel, method, kUserToken).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << method;
  }
}

TEST_F(AuthTest, HealthCheckNeedsNoToken) {
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  // An empty grpc.health.v1.HealthCheckRequest: the whole server.
  EXPECT_TRUE(CallRaw(channel, "/grpc.health.v1.Health/Check").ok());
}

TEST_F(AuthTest, SeveralTokensPerRoleAllowRotation) {
  runner_.reset();
  ServerOptions options = testing::TokenServerOptions(dir_);
  options.auth.user_tokens.push_back("user-token-new-0123456789");
  auto runner = ServerRunner::Start(options);
  ASSERT_OK(runner);
  runner_ = std::move(*runner);
  address_ = "127.0.0.1:" + std::to_string(runner_->port());
  EXPECT_TRUE(ListStudies(kUserToken).ok());
  EXPECT_TRUE(ListStudies("user-token-new-0123456789").ok());
}

TEST(AuthOptionsTest, ServerWithoutTokensOrInsecureRefusesToStartNamingTheFlags) {
  TempDir dir;
  auto runner = ServerRunner::Start(testing::TestServerOptions(dir));
  ASSERT_THAT(runner, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(runner.status().message()), HasSubstr("--worker-token-file"));
  EXPECT_THAT(std::string(runner.status().message()), HasSubstr("--insecure"));
  // It did not get as far as creating the database.
  EXPECT_FALSE(std::filesystem::exists(dir.File("vernier.db")));
}

TEST(AuthOptionsTest, InsecureServesEveryoneWithoutToken) {
  TempDir dir;
  ServerOptions options = testing::TestServerOptions(dir);
  options.auth.insecure = true;
  auto runner = ServerRunner::Start(options);
  ASSERT_OK(runner);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*runner)->port()),
                                     grpc::InsecureChannelCredentials());
  EXPECT_TRUE(CallRaw(channel, "/vernier.v1.StudyService/ListStudies").ok());
}

TEST(AuthOptionsTest, ContradictionsAreRefused) {
  AuthOptions both;
  both.insecure = true;
  both.user_tokens = {kUserToken};
  EXPECT_THAT(ValidateAuthOptions(both), StatusIs(absl::StatusCode::kInvalidArgument));
  AuthOptions shared;
  shared.worker_tokens = {kUserToken};
  shared.user_tokens = {kUserToken};
  EXPECT_THAT(ValidateAuthOptions(shared), StatusIs(absl::StatusCode::kInvalidArgument));
  AuthOptions weak;
  weak.user_tokens = {"short"};
  EXPECT_THAT(ValidateAuthOptions(weak), StatusIs(absl::StatusCode::kInvalidArgument));
  AuthOptions good;
  good.worker_tokens = {kWorkerToken};
  EXPECT_OK(ValidateAuthOptions(good));
}

TEST(SecretFileTest, TokenFileSkipsCommentsAndBlankLines) {
  TempDir dir;
  const std::string path = dir.Write(
      "tokens", "# rotated 2026-11\n\n  first-token-0123456789  \nsecond-token-0123456789\n");
  auto tokens = ReadTokenFile("--user-token-file", path);
  ASSERT_OK(tokens);
  EXPECT_THAT(*tokens, ::testing::ElementsAre("first-token-0123456789", "second-token-0123456789"));
}

TEST(SecretFileTest, BadTokenFilesNameTheFlagAndNeverTheToken) {
  TempDir dir;
  auto missing = ReadTokenFile("--token-file", dir.File("nope"));
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--token-file"));
  auto empty = ReadTokenFile("--token-file", dir.Write("empty", "# nothing\n"));
  EXPECT_THAT(empty, StatusIs(absl::StatusCode::kInvalidArgument));
  auto spaced = ReadTokenFile("--token-file", dir.Write("spaced", "a token with spaces in it\n"));
  EXPECT_THAT(spaced, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(spaced.status().message()), ::testing::Not(HasSubstr("spaces in")));
}

TEST(SecretFileTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abcdef", "abcdef"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "abcdeg"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "abcde"));
  EXPECT_FALSE(ConstantTimeEquals("abcde", "abcdef"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(ChannelTest, ClientCertificateWithoutCaIsRefused) {
  ChannelOptions options;
  options.address = "127.0.0.1:1";
  options.tls_cert_file = "client.pem";
  options.tls_key_file = "client.key";
  EXPECT_THAT(MakeChannel(options), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vernier
