// `vernier run FILE` resolves the relative paths of a study file against the
// file's own directory, as docker-compose does, so that a study runs the same
// from any working directory: the relative paths of `trainer.command` (by the
// rule of common/command_paths.h) and, for the built-in trainer, the settings
// `data_dir`, `data_file` and `cache_dir` when they name an existing file or
// directory there. `vernier study create` sends paths as written: a worker
// resolves them against its --code-dir.
//
// Thread-safety: the functions are pure (apart from the `exists` callback)
// and thread-safe.
#ifndef VERNIER_CLIENT_STUDY_PATHS_H_
#define VERNIER_CLIENT_STUDY_PATHS_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "common/command_paths.h"
#include "vernier/v1/study_spec.pb.h"

namespace vernier {

// The built-in trainer's settings that hold paths.
inline constexpr absl::string_view kBuiltinPathSettings[] = {"data_dir", "data_file", "cache_dir"};

// Rewrites the relative paths of `spec` that exist under `base_dir` (an
// absolute directory) as absolute paths. Leaves everything else as it is
// (settings that are not valid JSON too: the server reports those).
void ResolveStudyPaths(v1::StudySpec& spec, absl::string_view base_dir,
                       absl::FunctionRef<bool(const std::string&)> exists = PathExists);

// One line per relative program file of `spec`'s command that does not exist
// under `base_dir` (see MissingProgramFile), for `vernier study create` to
// warn about; empty when there is none.
std::vector<std::string> StudyPathWarnings(
    const v1::StudySpec& spec, absl::string_view base_dir,
    absl::FunctionRef<bool(const std::string&)> exists = PathExists);

}  // namespace vernier

#endif  // VERNIER_CLIENT_STUDY_PATHS_H_
