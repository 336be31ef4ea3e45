// The one way tests build a StudySpec from study-file text: as the server
// builds a new study from a file sent as text (server/schema ParseStudySpec:
// the bounded YAML reader, the typed schema, NormalizeStudySpec), so tests
// see exactly the specs users get. Tests of the schema itself call it
// directly.
//
// Thread-safety: thread-safe (a pure function).
#ifndef VERNIER_TESTS_TESTING_STUDY_SPEC_FOR_TEST_H_
#define VERNIER_TESTS_TESTING_STUDY_SPEC_FOR_TEST_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/study_spec.h"

namespace vernier::testing {

// The spec of the study file `yaml`, validated as the server validates a new
// study. INVALID_ARGUMENT, naming the field, for a file the server would
// refuse. Use with ASSERT_OK_AND_ASSIGN (tests/testing/status_matchers.h).
absl::StatusOr<StudySpec> StudySpecForTest(absl::string_view yaml);

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_TESTING_STUDY_SPEC_FOR_TEST_H_
