#include "worker/trial_command.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vernier::worker {

absl::StatusOr<std::vector<std::string>> ResolveTrialCommand(
    std::vector<std::string> argv, const std::string& code_dir,
    absl::FunctionRef<bool(const std::string&)> exists) {
  if (code_dir.empty()) return argv;
  if (const std::optional<size_t> missing = MissingProgramFile(argv, code_dir, exists)) {
    return absl::NotFoundError(absl::StrCat("trainer.command[", *missing, "]: ", argv[*missing],
                                            " not found under --code-dir ", code_dir));
  }
  return ResolveCommandPaths(std::move(argv), code_dir, exists);
}

}  // namespace vernier::worker
