// The command a worker runs for a trial whose study gives one: its relative
// paths resolved against the worker's --code-dir (common/command_paths.h), so
// that a study sent with `vernier study create` finds [python3, train.py] in
// the code directory the worker was told, not in whatever directory it was
// started from; and a program file that is not there is refused before
// anything runs, with a reason that says where it was looked for (rather than
// python's "can't open file").
//
// Thread-safety: pure (apart from the `exists` callback); thread-safe.
#ifndef VERNIER_WORKER_TRIAL_COMMAND_H_
#define VERNIER_WORKER_TRIAL_COMMAND_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/command_paths.h"

namespace vernier::worker {

// `argv` (the study's trainer.command) with the relative paths that exist
// under `code_dir` made absolute. NOT_FOUND when its program file is a
// relative path that does not exist there:
//   trainer.command[1]: examples/x.py not found under --code-dir /a/b
// An empty `code_dir` leaves argv as it is.
absl::StatusOr<std::vector<std::string>> ResolveTrialCommand(
    std::vector<std::string> argv, const std::string& code_dir,
    absl::FunctionRef<bool(const std::string&)> exists = PathExists);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_TRIAL_COMMAND_H_
