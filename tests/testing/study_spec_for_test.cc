#include "tests/testing/study_spec_for_test.h"

#include "server/schema/study_schema.h"

namespace vernier::testing {

absl::StatusOr<StudySpec> StudySpecForTest(absl::string_view yaml) { return ParseStudySpec(yaml); }

}  // namespace vernier::testing
