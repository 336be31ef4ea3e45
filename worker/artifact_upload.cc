#include "worker/artifact_upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/artifact_path.h"
#include "common/status_macros.h"

namespace vernier::worker {
namespace {

namespace fs = std::filesystem;

grpc::Status Internal(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INTERNAL, message);
}

// Reads `file` (never through a symbolic link) and writes it as chunks of
// `path`. Returns false when the stream broke (the server answered early).
absl::StatusOr<bool> SendFile(grpc::ClientWriterInterface<v1::UploadArtifactRequest>* writer,
                              const std::string& file, const std::string& path,
                              v1::UploadArtifactRequest& message) {
  const int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat(file, ": cannot open: ", std::strerror(errno)));
  }
  std::string buffer(kArtifactChunkBytes, '\0');
  bool sent_any = false;
  while (true) {
    size_t filled = 0;
    while (filled < buffer.size()) {
      const ssize_t n = read(fd, buffer.data() + filled, buffer.size() - filled);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int saved = errno;
        close(fd);
        return absl::InternalError(absl::StrCat(file, ": cannot read: ", std::strerror(saved)));
      }
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0 && sent_any) break;
    sent_any = true;
    message.set_path(path);
    message.set_data(buffer.data(), filled);
    if (!writer->Write(message)) {
      close(fd);
      return false;
    }
    message.Clear();
    if (filled < buffer.size()) break;
  }
  close(fd);
  return true;
}

}  // namespace

std::string ArtifactDirOf(const std::string& trial_dir) {
  return absl::StrCat(trial_dir, "/artifacts");
}

absl::StatusOr<std::string> MakeArtifactDir(const std::string& trial_dir) {
  const std::string dir = ArtifactDirOf(trial_dir);
  if (mkdir(dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  return dir;
}

absl::StatusOr<ArtifactScan> ScanArtifacts(const std::string& dir) {
  ArtifactScan scan;
  std::error_code error;
  if (!fs::is_directory(fs::symlink_status(dir, error))) return scan;
  // Default options: directory symlinks are not descended into.
  fs::recursive_directory_iterator it(dir, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::file_status status = it->symlink_status(error);
    if (error) break;
    const std::string relative = fs::path(it->path()).lexically_relative(dir).generic_string();
    if (fs::is_directory(status)) continue;
    if (!fs::is_regular_file(status)) {
      scan.skipped.push_back(relative);
      continue;
    }
    RETURN_IF_ERROR(CheckArtifactPath(relative, "artifact"));
    const int64_t size = static_cast<int64_t>(it->file_size(error));
    if (error) break;
    scan.files.push_back({relative, size});
    scan.bytes += size;
  }
  if (error) {
    return absl::InternalError(absl::StrCat(dir, ": cannot list the artifacts: ", error.message()));
  }
  std::sort(
      scan.files.begin(), scan.files.end(),
      [](const ArtifactScan::File& a, const ArtifactScan::File& b) { return a.path < b.path; });
  std::sort(scan.skipped.begin(), scan.skipped.end());
  return scan;
}

absl::Status CheckArtifactSize(const ArtifactScan& scan, int64_t max_bytes) {
  if (scan.bytes <= max_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("the trial left ", scan.bytes, " bytes in $VERNIER_ARTIFACT_DIR (",
                   scan.files.size(), " files), over the study's limit of ", max_bytes,
                   " bytes (artifacts.max_bytes); none were kept"));
}

grpc::Status UploadArtifacts(v1::WorkerService::StubInterface* stub, grpc::ClientContext* context,
                             const std::string& worker_id, const v1::TrialLease& lease,
                             const std::string& dir, const ArtifactScan& scan) {
  v1::UploadArtifactResponse response;
  std::unique_ptr<grpc::ClientWriterInterface<v1::UploadArtifactRequest>> writer =
      stub->UploadArtifact(context, &response);
  v1::UploadArtifactRequest message;
  message.set_worker_id(worker_id);
  *message.mutable_lease() = lease;
  bool open = true;
  if (scan.files.empty()) open = writer->Write(message);  // The header alone.
  for (const ArtifactScan::File& file : scan.files) {
    if (!open) break;
    absl::StatusOr<bool> sent =
        SendFile(writer.get(), absl::StrCat(dir, "/", file.path), file.path, message);
    if (!sent.ok()) {
      context->TryCancel();
      writer->Finish();
      return Internal(std::string(sent.status().message()));
    }
    open = *sent;
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace vernier::worker
