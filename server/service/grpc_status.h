// The one place where absl::Status becomes grpc::Status.
#ifndef VERNIER_SERVER_SERVICE_GRPC_STATUS_H_
#define VERNIER_SERVER_SERVICE_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace vernier {

// Same code, same message. INTERNAL and UNKNOWN messages are replaced by a
// generic text (and logged), so storage details never reach clients.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace vernier

#endif  // VERNIER_SERVER_SERVICE_GRPC_STATUS_H_
