#include "server/storage/file_tree.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace vernier {

absl::Status RemoveTree(const std::string& dir, const std::string& trash, absl::Mutex& mu) {
  namespace fs = std::filesystem;
  std::error_code error;
  {
    absl::MutexLock lock(&mu);
    fs::rename(dir, trash, error);
  }
  if (error == std::errc::no_such_file_or_directory) return absl::OkStatus();
  if (error) return absl::InternalError(absl::StrCat(dir, ": cannot delete: ", error.message()));
  fs::remove_all(trash, error);
  if (error) return absl::InternalError(absl::StrCat(trash, ": cannot delete: ", error.message()));
  return absl::OkStatus();
}

}  // namespace vernier
