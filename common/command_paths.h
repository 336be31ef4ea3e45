// Relative paths in a trial's command (`trainer.command`), resolved against a
// base directory: the study file's directory for `vernier run`, the worker's
// --code-dir for studies sent to a server. Without this a command such as
// [python3, examples/train.py] would be resolved against whatever directory
// the worker happens to run in.
//
// The rule, as docker-compose resolves paths against its file's directory:
//   - an argument after argv[0], or argv[0] itself when it contains a '/'
//     (a bare argv[0] is looked up in $PATH), that is relative, does not
//     start with '-' and names an existing file or directory under the base
//     becomes base/argument;
//   - the *program file* must exist: argv[0] when it contains a '/', else
//     argv[1] when it looks like a file name (contains a '/' or ends in an
//     extension with a letter, "train.py") and does not start with '-'. That
//     is the script of [python3, train.py] or [Rscript, fit.R]; [python3, -m,
//     pkg.mod] or [myprog, fit] name none.
// Other arguments that exist nowhere are left as written (an output file, a
// module name, a number).
//
// Thread-safety: the functions are pure (apart from the `exists` callback)
// and thread-safe.
#ifndef VERNIER_COMMON_COMMAND_PATHS_H_
#define VERNIER_COMMON_COMMAND_PATHS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace vernier {

// Whether `path` names an existing file or directory (std::filesystem).
bool PathExists(const std::string& path);

// `argv` with its relative paths that exist under `base_dir` (as `exists`
// says) made absolute by prefixing `base_dir`, which should be absolute.
// Everything else is returned unchanged.
std::vector<std::string> ResolveCommandPaths(
    std::vector<std::string> argv, absl::string_view base_dir,
    absl::FunctionRef<bool(const std::string&)> exists = PathExists);

// The index of the program file of `argv` (see above), or nullopt when it
// names none.
std::optional<size_t> ProgramFileIndex(const std::vector<std::string>& argv);

// The index of the program file when it is a relative path that does not
// exist under `base_dir`: what a worker refuses to start and what
// `vernier study create` warns about. nullopt when all is well.
std::optional<size_t> MissingProgramFile(
    const std::vector<std::string>& argv, absl::string_view base_dir,
    absl::FunctionRef<bool(const std::string&)> exists = PathExists);

}  // namespace vernier

#endif  // VERNIER_COMMON_COMMAND_PATHS_H_
