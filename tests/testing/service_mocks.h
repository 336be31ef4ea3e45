// GoogleMock stubs of Vernier's two gRPC services, as the gRPC plugin
// generates them. Tests include this header instead of the generated ones:
// those have no include guard, and a test executable compiles its files in
// batches (tests/CMakeLists.txt), so two files of one batch would define the
// same mock class twice.
#ifndef VERNIER_TESTS_TESTING_SERVICE_MOCKS_H_
#define VERNIER_TESTS_TESTING_SERVICE_MOCKS_H_

#include "vernier/v1/study_service_mock.grpc.pb.h"   // IWYU pragma: export
#include "vernier/v1/worker_service_mock.grpc.pb.h"  // IWYU pragma: export

#endif  // VERNIER_TESTS_TESTING_SERVICE_MOCKS_H_
