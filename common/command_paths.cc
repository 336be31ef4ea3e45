#include "common/command_paths.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace vernier {
namespace {

// Arguments that may be a path relative to the base directory.
bool RelativePathLike(absl::string_view arg) {
  return !arg.empty() && arg.front() != '/' && arg.front() != '-';
}

// "train.py", "src/fit.R", "./run": a '/' or an extension with a letter.
bool LooksLikeFileName(absl::string_view arg) {
  if (absl::StrContains(arg, '/')) return true;
  const size_t dot = arg.rfind('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 1 == arg.size()) return false;
  for (char c : arg.substr(dot + 1)) {
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

std::string Join(absl::string_view base_dir, absl::string_view arg) {
  return (std::filesystem::path(std::string(base_dir)) / std::string(arg))
      .lexically_normal()
      .string();
}

bool Resolvable(const std::vector<std::string>& argv, size_t i) {
  return i > 0 || absl::StrContains(argv[0], '/');
}

}  // namespace

bool PathExists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

std::vector<std::string> ResolveCommandPaths(std::vector<std::string> argv,
                                             absl::string_view base_dir,
                                             absl::FunctionRef<bool(const std::string&)> exists) {
  for (size_t i = 0; i < argv.size(); ++i) {
    if (!Resolvable(argv, i) || !RelativePathLike(argv[i])) continue;
    std::string joined = Join(base_dir, argv[i]);
    if (exists(joined)) argv[i] = std::move(joined);
  }
  return argv;
}

std::optional<size_t> ProgramFileIndex(const std::vector<std::string>& argv) {
  if (argv.empty()) return std::nullopt;
  if (absl::StrContains(argv[0], '/')) return 0;
  if (argv.size() >= 2 && !absl::StartsWith(argv[1], "-") && LooksLikeFileName(argv[1])) {
    return 1;
  }
  return std::nullopt;
}

std::optional<size_t> MissingProgramFile(const std::vector<std::string>& argv,
                                         absl::string_view base_dir,
                                         absl::FunctionRef<bool(const std::string&)> exists) {
  const std::optional<size_t> index = ProgramFileIndex(argv);
  if (!index.has_value() || !RelativePathLike(argv[*index])) return std::nullopt;
  if (exists(Join(base_dir, argv[*index]))) return std::nullopt;
  return index;
}

}  // namespace vernier
