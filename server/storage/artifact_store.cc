#include "server/storage/artifact_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/artifact_path.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/storage/file_tree.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kStudyPrefix = "study-";
constexpr absl::string_view kTrialPrefix = "trial-";
constexpr char kManifest[] = "manifest.json";
constexpr char kFilesDir[] = "files";

absl::Status FsError(absl::string_view what, const std::string& path, const std::error_code& e) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", e.message()));
}

absl::Status ErrnoError(absl::string_view what, const std::string& path, int error) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(error)));
}

absl::Status CheckTrial(int64_t trial) {
  if (trial >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("trial: must be >= 0, got ", trial));
}

// Writes `text` to `path` and syncs it.
absl::Status WriteSynced(const std::string& path, absl::string_view text) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return ErrnoError("cannot create", path, errno);
  const bool ok = std::fwrite(text.data(), 1, text.size(), out) == text.size() &&
                  std::fflush(out) == 0 && fsync(fileno(out)) == 0;
  const int saved = errno;
  const bool closed = std::fclose(out) == 0;
  if (!ok || !closed) return ErrnoError("cannot write", path, saved);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredArtifact>> ReadManifest(const std::string& path, int64_t trial) {
  std::ifstream in(path);
  if (!in) return std::vector<StoredArtifact>();  // No artifacts (or deleted meanwhile).
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json manifest = nlohmann::json::parse(text.str(), nullptr, false);
  if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_array()) {
    return absl::DataLossError(absl::StrCat(path, ": not an artifact manifest"));
  }
  std::vector<StoredArtifact> files;
  for (const nlohmann::json& entry : manifest["files"]) {
    if (!entry.is_object() || !entry.value("path", nlohmann::json()).is_string() ||
        !entry.value("size", nlohmann::json()).is_number_integer() ||
        !entry.value("sha256", nlohmann::json()).is_string()) {
      return absl::DataLossError(absl::StrCat(path, ": a malformed entry"));
    }
    files.push_back(StoredArtifact{trial, entry["path"].get<std::string>(),
                                   entry["size"].get<int64_t>(),
                                   entry["sha256"].get<std::string>()});
  }
  return files;
}

}  // namespace

// One upload, written into <root>/tmp/<name>/files; the manifest is written
// on Commit.
class LocalArtifactStore::LocalWriter final : public ArtifactStore::Writer {
 public:
  LocalWriter(LocalArtifactStore* store, std::string temp_dir, std::string study, int64_t trial,
              int64_t max_bytes)
      : store_(store),
        temp_dir_(std::move(temp_dir)),
        study_(std::move(study)),
        trial_(trial),
        max_bytes_(max_bytes) {}

  ~LocalWriter() override {
    if (out_ != nullptr) std::fclose(out_);
    if (!committed_) {
      std::error_code ignored;
      fs::remove_all(temp_dir_, ignored);
    }
  }

  absl::Status Append(absl::string_view path, absl::string_view data) override {
    if (committed_) return absl::FailedPreconditionError("the artifacts are already committed");
    RETURN_IF_ERROR(CheckArtifactPath(path));
    if (data.size() > kMaxArtifactChunkBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data: ", data.size(), " bytes in one chunk, at most ", kMaxArtifactChunkBytes));
    }
    if (bytes_ + static_cast<int64_t>(data.size()) > max_bytes_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the artifacts are over ", max_bytes_, " bytes (artifacts.max_bytes) at \"", path, "\""));
    }
    if (files_.empty() || files_.back().path != path) RETURN_IF_ERROR(StartFile(path));
    if (!data.empty() && std::fwrite(data.data(), 1, data.size(), out_) != data.size()) {
      return ErrnoError("cannot write", CurrentFile(), errno);
    }
    files_.back().size_bytes += static_cast<int64_t>(data.size());
    sha_->Update(data);
    bytes_ += static_cast<int64_t>(data.size());
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    if (committed_) return absl::OkStatus();
    RETURN_IF_ERROR(CloseFile());
    if (files_.empty()) {
      RETURN_IF_ERROR(store_->DeleteTrial(study_, trial_));
      committed_ = true;
      std::error_code ignored;
      fs::remove_all(temp_dir_, ignored);
      return absl::OkStatus();
    }
    nlohmann::json manifest = {{"files", nlohmann::json::array()}};
    for (const StoredArtifact& file : files_) {
      manifest["files"].push_back(
          {{"path", file.path}, {"size", file.size_bytes}, {"sha256", file.sha256}});
    }
    RETURN_IF_ERROR(WriteSynced(absl::StrCat(temp_dir_, "/", kManifest), manifest.dump(1)));
    RETURN_IF_ERROR(store_->Install(temp_dir_, study_, trial_));
    committed_ = true;
    return absl::OkStatus();
  }

  int64_t bytes() const override { return bytes_; }
  int64_t files() const override { return static_cast<int64_t>(files_.size()); }

 private:
  std::string CurrentFile() const {
    return absl::StrCat(temp_dir_, "/", kFilesDir, "/", files_.back().path);
  }

  // Checks that `path` is new and clashes with no earlier file (one cannot
  // be both a file and a directory), then creates it.
  absl::Status StartFile(absl::string_view path) {
    const std::string name(path);
    if (paths_.count(name) > 0 || directories_.count(name) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("path: \"", name, "\" was already sent",
                       directories_.count(name) > 0 ? " as a directory of another file" : "",
                       "; send each file's chunks together"));
    }
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      if (paths_.count(name.substr(0, slash)) > 0) {
        return absl::InvalidArgumentError(absl::StrCat("path: \"", name, "\" is under \"",
                                                       name.substr(0, slash),
                                                       "\", which was sent as a file"));
      }
    }
    if (static_cast<int64_t>(files_.size()) >= kMaxArtifactFiles) {
      return absl::InvalidArgumentError(
          absl::StrCat("a trial's artifacts hold at most ", kMaxArtifactFiles, " files"));
    }
    RETURN_IF_ERROR(CloseFile());
    for (size_t slash = name.find('/'); slash != std::string::npos;
         slash = name.find('/', slash + 1)) {
      directories_.insert(name.substr(0, slash));
    }
    paths_.insert(name);
    files_.push_back(StoredArtifact{trial_, name, 0, ""});
    const fs::path file = fs::path(temp_dir_) / kFilesDir / name;
    std::error_code error;
    fs::create_directories(file.parent_path(), error);
    if (error) return FsError("cannot create", file.parent_path().string(), error);
    out_ = std::fopen(file.c_str(), "wb");
    if (out_ == nullptr) return ErrnoError("cannot create", file.string(), errno);
    sha_ = std::make_unique<Sha256>();
    return absl::OkStatus();
  }

  absl::Status CloseFile() {
    if (out_ == nullptr) return absl::OkStatus();
    const bool ok = std::fflush(out_) == 0 && fsync(fileno(out_)) == 0;
    const int saved = errno;
    const bool closed = std::fclose(out_) == 0;
    out_ = nullptr;
    files_.back().sha256 = sha_->HexDigest();
    if (!ok || !closed) return ErrnoError("cannot write", CurrentFile(), saved);
    return absl::OkStatus();
  }

  LocalArtifactStore* const store_;
  const std::string temp_dir_;
  const std::string study_;
  const int64_t trial_;
  const int64_t max_bytes_;
  std::vector<StoredArtifact> files_;  // In the order written.
  std::set<std::string> paths_;        // Of files_.
  std::set<std::string> directories_;  // Every parent directory of files_.
  std::FILE* out_ = nullptr;           // files_.back(), while open.
  std::unique_ptr<Sha256> sha_;        // Of files_.back().
  int64_t bytes_ = 0;
  bool committed_ = false;
};

absl::StatusOr<std::unique_ptr<LocalArtifactStore>> LocalArtifactStore::Open(
    const std::string& root) {
  std::error_code error;
  fs::create_directories(fs::path(root) / "tmp", error);
  if (error) return FsError("cannot create the artifact directory", root, error);
  // Left by a run that stopped while an upload was arriving or a trial's
  // artifacts were being replaced.
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(root) / "tmp", error)) {
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  return std::unique_ptr<LocalArtifactStore>(new LocalArtifactStore(root));
}

std::string LocalArtifactStore::StudyDir(const std::string& study) const {
  // The prefix keeps a study named "." or ".." a plain directory name.
  return absl::StrCat(root_, "/", kStudyPrefix, study);
}

std::string LocalArtifactStore::TrialDir(const std::string& study, int64_t trial) const {
  return absl::StrCat(StudyDir(study), "/", kTrialPrefix, trial);
}

std::string LocalArtifactStore::TempPath(absl::string_view what) {
  absl::MutexLock lock(&mu_);
  return absl::StrCat(root_, "/tmp/", what, "-", getpid(), "-", next_temp_++);
}

absl::StatusOr<std::unique_ptr<ArtifactStore::Writer>> LocalArtifactStore::StartWrite(
    const std::string& study, int64_t trial, int64_t max_bytes) {
  RETURN_IF_ERROR(CheckTrial(trial));
  if (max_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_bytes: must be >= 1, got ", max_bytes));
  }
  const std::string temp_dir = TempPath("upload");
  std::error_code error;
  fs::create_directories(fs::path(temp_dir) / kFilesDir, error);
  if (error) return FsError("cannot create", temp_dir, error);
  return std::unique_ptr<Writer>(new LocalWriter(this, temp_dir, study, trial, max_bytes));
}

absl::Status LocalArtifactStore::Install(const std::string& temp_dir, const std::string& study,
                                         int64_t trial) {
  const std::string old = TempPath("replaced");
  absl::MutexLock lock(&mu_);
  const fs::path target = TrialDir(study, trial);
  std::error_code error;
  fs::create_directories(target.parent_path(), error);
  if (error) return FsError("cannot create", target.parent_path().string(), error);
  fs::rename(target, old, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    return FsError("cannot replace", target.string(), error);
  }
  fs::rename(temp_dir, target, error);
  if (error) return FsError("cannot install the artifacts", target.string(), error);
  std::error_code ignored;  // A leftover costs disk space only; Open() removes it.
  fs::remove_all(old, ignored);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredArtifact>> LocalArtifactStore::List(const std::string& study,
                                                                     int64_t trial) const {
  RETURN_IF_ERROR(CheckTrial(trial));
  return ReadManifest(absl::StrCat(TrialDir(study, trial), "/", kManifest), trial);
}

absl::StatusOr<std::set<int64_t>> LocalArtifactStore::Trials(const std::string& study) const {
  std::set<int64_t> trials;
  std::error_code error;
  const std::string dir = StudyDir(study);
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    int64_t number = 0;
    if (absl::StartsWith(name, kTrialPrefix) &&
        absl::SimpleAtoi(absl::string_view(name).substr(kTrialPrefix.size()), &number) &&
        number >= 0) {
      trials.insert(number);
    }
  }
  if (error && error != std::errc::no_such_file_or_directory) {
    return FsError("cannot list", dir, error);
  }
  return trials;
}

absl::Status LocalArtifactStore::Read(const std::string& study, int64_t trial,
                                      const std::string& path, const ArtifactSink& sink) const {
  RETURN_IF_ERROR(CheckTrial(trial));
  RETURN_IF_ERROR(CheckArtifactPath(path));
  const std::string file = absl::StrCat(TrialDir(study, trial), "/", kFilesDir, "/", path);
  std::FILE* in = std::fopen(file.c_str(), "rb");
  if (in == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("trial ", trial, " of study \"", study, "\" has no artifact \"", path, "\""));
  }
  std::string buffer(kMaxArtifactChunkBytes, '\0');
  bool sent_any = false;
  while (true) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
    if (n < buffer.size() && std::ferror(in)) {
      std::fclose(in);
      return absl::InternalError(
          absl::StrCat("artifact \"", path, "\" of trial ", trial, " cannot be read"));
    }
    if (n == 0 && sent_any) break;
    sent_any = true;
    if (!sink(absl::string_view(buffer.data(), n))) {
      std::fclose(in);
      return absl::CancelledError("the receiver went away");
    }
    if (n < buffer.size()) break;
  }
  std::fclose(in);
  return absl::OkStatus();
}

absl::Status LocalArtifactStore::DeleteTrial(const std::string& study, int64_t trial) {
  RETURN_IF_ERROR(CheckTrial(trial));
  const std::string old = TempPath("deleted");
  {
    // Renamed away under the lock, so an Install never meets half a
    // directory; removed after, without it.
    absl::MutexLock lock(&mu_);
    std::error_code error;
    fs::rename(TrialDir(study, trial), old, error);
    if (error == std::errc::no_such_file_or_directory) return absl::OkStatus();
    if (error) return FsError("cannot delete", TrialDir(study, trial), error);
  }
  std::error_code error;
  fs::remove_all(old, error);
  if (error) return FsError("cannot delete", old, error);
  return absl::OkStatus();
}

absl::Status LocalArtifactStore::DeleteStudy(const std::string& study) {
  return RemoveTree(StudyDir(study), TempPath("deleted"), mu_);
}

}  // namespace vernier
