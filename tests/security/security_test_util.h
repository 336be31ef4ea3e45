// Helpers for the security tests: a real ServerRunner on a loopback port with
// chosen auth/TLS options (its database in a testing::TempDir), and raw calls
// to any method by name (so that tests can walk every method of a service).
#ifndef VERNIER_TESTS_SECURITY_SECURITY_TEST_UTIL_H_
#define VERNIER_TESTS_SECURITY_SECURITY_TEST_UTIL_H_

#include <chrono>
#include <memory>
#include <string>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/service/server_runner.h"
#include "tests/testing/temp_dir.h"

namespace vernier::testing {

// Tokens long enough for ValidateToken.
inline constexpr char kWorkerToken[] = "worker-token-0123456789abcdef";
inline constexpr char kUserToken[] = "user-token-0123456789abcdef";

inline ServerOptions TestServerOptions(const TempDir& dir) {
  ServerOptions options;
  options.db_path = dir.File("vernier.db");
  options.listen = "127.0.0.1:0";
  return options;
}

inline ServerOptions TokenServerOptions(const TempDir& dir) {
  ServerOptions options = TestServerOptions(dir);
  options.auth.worker_tokens = {kWorkerToken};
  options.auth.user_tokens = {kUserToken};
  return options;
}

// Calls `method` ("/package.Service/Method") with an empty request message and
// returns the status. `token` empty: no authorization header.
inline grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& method, const std::string& token = "",
                            const std::string& payload = "") {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  grpc::CompletionQueue cq;
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&context, method, request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_SECURITY_SECURITY_TEST_UTIL_H_
