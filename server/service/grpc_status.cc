#include "server/service/grpc_status.h"

#include <iostream>
#include <string>

namespace vernier {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kUnknown ||
      status.code() == absl::StatusCode::kDataLoss) {
    std::cerr << "vernier-server: internal error: " << status << "\n";
    return grpc::Status(code, "internal error in vernier-server (see its log)");
  }
  return grpc::Status(code, std::string(status.message()));
}

}  // namespace vernier
