// libFuzzer target: the study-file parser (server/logic/study_spec.h), which
// reads YAML sent by any user with CreateStudy. Contract checked: it never
// crashes, throws, or trips a sanitizer; a rejection is INVALID_ARGUMENT; an
// accepted spec has a name that is safe as a path component.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/logic/study_spec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<vernier::StudySpec> spec = vernier::ParseStudySpec(text);
  if (!spec.ok()) {
    VERNIER_FUZZ_CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  VERNIER_FUZZ_CHECK(!spec->name.empty() && spec->name.size() <= 64);
  VERNIER_FUZZ_CHECK(spec->name.find('/') == std::string::npos && spec->name[0] != '.');
  return 0;
}
