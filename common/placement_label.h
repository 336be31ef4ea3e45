// The text of a placement label's key or value, as study files require them
// (`placement: {gpu: h100}`) and vernier-worker --label gives them: one rule,
// so that a label a worker accepts is one a study can ask for.
#ifndef VERNIER_COMMON_PLACEMENT_LABEL_H_
#define VERNIER_COMMON_PLACEMENT_LABEL_H_

#include "absl/strings/string_view.h"

namespace vernier {

// What IsLabelText accepts, for error messages.
inline constexpr char kLabelTextRule[] = "1-63 letters, digits, '-', '_', '.', '/'";

// Whether `text` is 1 to 63 ASCII letters, digits, '-', '_', '.' or '/'.
bool IsLabelText(absl::string_view text);

}  // namespace vernier

#endif  // VERNIER_COMMON_PLACEMENT_LABEL_H_
