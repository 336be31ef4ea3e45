// The coordinator tests' shared fixture: a coordinator over an in-memory
// store and a fake clock that a test can restart (as after a server restart),
// and studies created from study files as the service creates them.
#ifndef VERNIER_TESTS_SERVER_COORDINATOR_COORDINATOR_FIXTURE_H_
#define VERNIER_TESTS_SERVER_COORDINATOR_COORDINATOR_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/schema/study_schema.h"
#include "server/storage/memory_study_store.h"

namespace vernier {

// Creates the study of a study file's text, as the CreateStudy RPC does: the
// file converted into a spec at the edge, the coordinator validating it.
inline absl::StatusOr<StudyView> CreateStudyFromYaml(Coordinator& coordinator,
                                                     absl::string_view yaml) {
  absl::StatusOr<StudySpec> spec = StudySpecFromFile(yaml);
  if (!spec.ok()) return spec.status();
  return coordinator.CreateStudy(*std::move(spec), std::string(yaml));
}

class CoordinatorFixture : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  // A new coordinator over the same store, as after a server restart.
  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(&store_, &clock_, options_);
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = *std::move(created);
  }

  absl::StatusOr<StudyView> Create(absl::string_view yaml) {
    return CreateStudyFromYaml(*coordinator_, yaml);
  }

  MemoryStudyStore store_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<Coordinator> coordinator_;
};

}  // namespace vernier

#endif  // VERNIER_TESTS_SERVER_COORDINATOR_COORDINATOR_FIXTURE_H_
