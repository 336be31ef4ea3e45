#include "server/storage/checkpoint_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/storage/file_tree.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kStudyPrefix = "study-";
constexpr absl::string_view kTrialPrefix = "trial-";
constexpr absl::string_view kStepPrefix = "step-";

absl::Status FsError(absl::string_view what, const std::string& path, const std::error_code& e) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", e.message()));
}

// The number after `prefix` in a directory name like "trial-12", if any.
std::optional<int64_t> NumberAfter(absl::string_view name, absl::string_view prefix) {
  if (!absl::StartsWith(name, prefix)) return std::nullopt;
  int64_t number = 0;
  if (!absl::SimpleAtoi(name.substr(prefix.size()), &number) || number < 0) return std::nullopt;
  return number;
}

// The step directories of a trial directory: step -> path.
std::map<int64_t, fs::path> StepDirs(const fs::path& trial_dir) {
  std::map<int64_t, fs::path> steps;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(trial_dir, error)) {
    std::optional<int64_t> step = NumberAfter(entry.path().filename().string(), kStepPrefix);
    if (step && entry.is_directory(error)) steps[*step] = entry.path();
  }
  return steps;
}

}  // namespace

bool IsValidCheckpointFileName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

CheckpointStore::Writer::~Writer() {
  if (out_ != nullptr) std::fclose(out_);
  if (!committed_) {
    std::error_code ignored;
    fs::remove_all(temp_dir_, ignored);
  }
}

absl::Status CheckpointStore::Writer::CloseFile() {
  if (out_ == nullptr) return absl::OkStatus();
  const bool ok = std::fflush(out_) == 0 && fsync(fileno(out_)) == 0;
  const int saved = errno;
  const bool closed = std::fclose(out_) == 0;
  out_ = nullptr;
  if (!ok || !closed) {
    return absl::InternalError(
        absl::StrCat(temp_dir_, "/", files_.back(), ": cannot write: ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

absl::Status CheckpointStore::Writer::Append(absl::string_view file, absl::string_view data) {
  if (committed_) return absl::FailedPreconditionError("the checkpoint is already committed");
  if (!IsValidCheckpointFileName(file)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk.file: \"", file.substr(0, 64), "\" is not a valid checkpoint file name (1-128 of ",
        "letters, digits, '.', '_', '-')"));
  }
  if (data.size() > kMaxCheckpointChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk.data: ", data.size(), " bytes, at most ", kMaxCheckpointChunkBytes));
  }
  if (bytes_ + static_cast<int64_t>(data.size()) > kMaxCheckpointBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the checkpoint is over ", kMaxCheckpointBytes, " bytes"));
  }
  if (files_.empty() || files_.back() != file) {
    if (std::find(files_.begin(), files_.end(), file) != files_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("chunk.file: \"", file,
                                                     "\" was already sent; send each file's chunks "
                                                     "together"));
    }
    if (files_.size() >= kMaxCheckpointFiles) {
      return absl::InvalidArgumentError(
          absl::StrCat("a checkpoint has at most ", kMaxCheckpointFiles, " files"));
    }
    RETURN_IF_ERROR(CloseFile());
    files_.emplace_back(file);
    const std::string path = absl::StrCat(temp_dir_, "/", file);
    out_ = std::fopen(path.c_str(), "wb");
    if (out_ == nullptr) {
      return absl::InternalError(absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
    }
  }
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), out_) != data.size()) {
    return absl::InternalError(
        absl::StrCat(temp_dir_, "/", file, ": cannot write: ", std::strerror(errno)));
  }
  bytes_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status CheckpointStore::Writer::Commit() {
  if (committed_) return absl::OkStatus();
  if (files_.empty()) return absl::InvalidArgumentError("the checkpoint has no file");
  RETURN_IF_ERROR(CloseFile());
  RETURN_IF_ERROR(store_->Install(temp_dir_, study_, trial_, step_));
  committed_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(const std::string& root) {
  std::error_code error;
  fs::create_directories(fs::path(root) / "tmp", error);
  if (error) return FsError("cannot create the checkpoint directory", root, error);
  // Left by a run that stopped while a checkpoint was arriving.
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(root) / "tmp", error)) {
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(root));
}

std::string CheckpointStore::TrialDir(const std::string& study, int64_t trial) const {
  // The prefix keeps a study named "." or ".." a plain directory name.
  return absl::StrCat(root_, "/", kStudyPrefix, study, "/", kTrialPrefix, trial);
}

absl::StatusOr<std::unique_ptr<CheckpointStore::Writer>> CheckpointStore::StartWrite(
    const std::string& study, int64_t trial, int64_t step) {
  if (trial < 0 || step < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial and step must be >= 0, got trial ", trial, " step ", step));
  }
  uint64_t serial = 0;
  {
    absl::MutexLock lock(&mu_);
    serial = next_temp_++;
  }
  const std::string temp_dir = absl::StrCat(root_, "/tmp/", getpid(), "-", serial);
  std::error_code error;
  fs::create_directories(temp_dir, error);
  if (error) return FsError("cannot create", temp_dir, error);
  return std::unique_ptr<Writer>(new Writer(this, temp_dir, study, trial, step));
}

absl::Status CheckpointStore::Install(const std::string& temp_dir, const std::string& study,
                                      int64_t trial, int64_t step) {
  absl::MutexLock lock(&mu_);
  const fs::path trial_dir = TrialDir(study, trial);
  const fs::path target = trial_dir / absl::StrCat(kStepPrefix, step);
  std::error_code error;
  fs::create_directories(trial_dir, error);
  if (error) return FsError("cannot create", trial_dir.string(), error);
  fs::remove_all(target, error);  // A checkpoint sent again replaces the first.
  if (error) return FsError("cannot replace", target.string(), error);
  fs::rename(temp_dir, target, error);
  if (error) return FsError("cannot install the checkpoint", target.string(), error);
  std::map<int64_t, fs::path> steps = StepDirs(trial_dir);
  std::vector<fs::path> drop;
  for (auto it = steps.upper_bound(step); it != steps.end(); ++it) drop.push_back(it->second);
  steps.erase(steps.upper_bound(step), steps.end());
  while (steps.size() > static_cast<size_t>(kPbtCheckpointsKept)) {
    drop.push_back(steps.begin()->second);
    steps.erase(steps.begin());
  }
  for (const fs::path& path : drop) {
    std::error_code ignored;  // A leftover costs disk space only.
    fs::remove_all(path, ignored);
  }
  return absl::OkStatus();
}

absl::Status CheckpointStore::DeleteTrial(const std::string& study, int64_t trial) {
  absl::MutexLock lock(&mu_);
  const std::string dir = TrialDir(study, trial);
  std::error_code error;
  fs::remove_all(dir, error);
  if (error) return FsError("cannot delete", dir, error);
  return absl::OkStatus();
}

absl::Status CheckpointStore::DeleteStudy(const std::string& study) {
  uint64_t serial = 0;
  {
    absl::MutexLock lock(&mu_);
    serial = next_temp_++;
  }
  return RemoveTree(absl::StrCat(root_, "/", kStudyPrefix, study),
                    absl::StrCat(root_, "/tmp/", getpid(), "-", serial, "-deleted"), mu_);
}

absl::StatusOr<std::vector<std::string>> CheckpointStore::Files(const std::string& study,
                                                                int64_t trial, int64_t step) const {
  const fs::path dir = fs::path(TrialDir(study, trial)) / absl::StrCat(kStepPrefix, step);
  std::error_code error;
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) files.push_back(entry.path().string());
  }
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no checkpoint of trial ", trial, " of study \"", study, "\" at step ", step));
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::Status CheckpointStore::Read(
    const std::string& study, int64_t trial, int64_t step,
    const std::function<bool(absl::string_view file, absl::string_view data)>& sink) const {
  ASSIGN_OR_RETURN(std::vector<std::string> files, Files(study, trial, step));
  std::string buffer(kMaxCheckpointChunkBytes, '\0');
  for (const std::string& path : files) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (in == nullptr) {
      return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
    }
    const std::string name = fs::path(path).filename().string();
    bool sent_any = false;
    while (true) {
      const size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
      if (n < buffer.size() && std::ferror(in)) {
        std::fclose(in);
        return absl::InternalError(absl::StrCat(path, ": cannot read"));
      }
      if (n == 0 && sent_any) break;
      sent_any = true;
      if (!sink(name, absl::string_view(buffer.data(), n))) {
        std::fclose(in);
        return absl::CancelledError("the receiver went away");
      }
      if (n < buffer.size()) break;
    }
    std::fclose(in);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, CheckpointIndex>> CheckpointStore::List() const {
  std::map<std::string, CheckpointIndex> all;
  std::error_code error;
  for (const fs::directory_entry& study : fs::directory_iterator(root_, error)) {
    const std::string name = study.path().filename().string();
    if (!absl::StartsWith(name, kStudyPrefix) || !study.is_directory(error)) continue;
    for (const fs::directory_entry& trial : fs::directory_iterator(study.path(), error)) {
      std::optional<int64_t> number = NumberAfter(trial.path().filename().string(), kTrialPrefix);
      if (!number) continue;
      for (const auto& [step, path] : StepDirs(trial.path())) {
        all[name.substr(kStudyPrefix.size())][*number].insert(step);
      }
    }
  }
  if (error) return FsError("cannot list", root_, error);
  return all;
}

}  // namespace vernier
