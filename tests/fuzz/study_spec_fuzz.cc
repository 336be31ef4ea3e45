// libFuzzer target: the one place study files come in, as CreateStudy runs it
// on YAML sent by any user: the bounded YAML reader and the conversion into
// the typed schema (common/spec), the conversion into the logic's structs and
// NormalizeStudySpec (server/schema ParseStudySpec). Contract checked: it
// never crashes, throws, hangs or trips a sanitizer (libFuzzer's -timeout and
// -rss_limit_mb catch expansion bombs); a rejection is INVALID_ARGUMENT; an
// accepted spec has a name that is safe as a path component, and reads back
// unchanged from its stored form.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/schema/study_schema.h"
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
  const vernier::v1::StudySpec stored = vernier::StudySpecToProto(*spec);
  absl::StatusOr<vernier::StudySpec> read_back = vernier::StudySpecFromProto(stored);
  VERNIER_FUZZ_CHECK(read_back.ok());
  VERNIER_FUZZ_CHECK(vernier::StudySpecToProto(*read_back).SerializeAsString() ==
                     stored.SerializeAsString());
  return 0;
}
