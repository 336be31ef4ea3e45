#include "server/storage/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/storage/file_tree.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;

// "vernier-log cut " + 15 digits + "\n": the offset of the file's first data
// byte in the attempt's log.
constexpr absl::string_view kHeaderPrefix = "vernier-log cut ";
constexpr size_t kHeaderBytes = 32;

std::string Header(int64_t cut) { return absl::StrFormat("vernier-log cut %015d\n", cut); }

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

// What a log file holds: its header's cut and how many data bytes follow.
struct FileState {
  bool exists = false;
  int64_t cut = 0;
  int64_t size = 0;
  int64_t end() const { return cut + size; }
};

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

// Reads the header and size of an open log file. The message of DATA_LOSS
// names no path: it reaches clients.
absl::StatusOr<FileState> StateOf(int fd, const std::string& path) {
  struct stat info;
  if (fstat(fd, &info) != 0) return Errno("cannot stat", path);
  char header[kHeaderBytes];
  const ssize_t n = pread(fd, header, kHeaderBytes, 0);
  if (n < 0) return Errno("cannot read", path);
  const absl::string_view text(header, static_cast<size_t>(n));
  int64_t cut = 0;
  if (text.size() != kHeaderBytes || !absl::StartsWith(text, kHeaderPrefix) ||
      text.back() != '\n' ||
      !absl::SimpleAtoi(text.substr(kHeaderPrefix.size(), kHeaderBytes - kHeaderPrefix.size() - 1),
                        &cut) ||
      cut < 0) {
    return absl::DataLossError("the stored log file is damaged (bad header)");
  }
  return FileState{true, cut,
                   static_cast<int64_t>(info.st_size) - static_cast<int64_t>(kHeaderBytes)};
}

// The state of the log file at `path`; one that does not exist is empty.
absl::StatusOr<FileState> StateAt(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return FileState{};
    return Errno("cannot open", path);
  }
  return StateOf(fd.get(), path);
}

// Writes all of `data` at the end of `fd`; returns how much was written.
size_t WriteAll(int fd, absl::string_view data) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  return written;
}

// Reads `size` bytes at `offset` into `out`.
absl::Status ReadAt(int fd, int64_t offset, size_t size, std::string& out,
                    const std::string& path) {
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out.data() + done, size - done, static_cast<off_t>(offset) + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path);
    if (n == 0) break;  // Compacted meanwhile: what was read is still whole.
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return absl::OkStatus();
}

absl::Status CheckKey(const LogKey& key) {
  if (key.trial < 0 || key.attempt < 0) {
    return absl::InvalidArgumentError(absl::StrCat("trial and attempt must be >= 0, got trial ",
                                                   key.trial, " attempt ", key.attempt));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogStore>> LogStore::Open(const std::string& root,
                                                         int64_t max_bytes) {
  if (max_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the log size limit must be at least 1 byte, got ", max_bytes));
  }
  std::error_code error;
  fs::create_directories(fs::path(root) / "tmp", error);
  if (error) {
    return absl::InternalError(
        absl::StrCat(root, ": cannot create the log directory: ", error.message()));
  }
  // Left by a run that stopped while compacting.
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(root) / "tmp", error)) {
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  return std::unique_ptr<LogStore>(new LogStore(root, max_bytes));
}

absl::Status LogStore::DeleteStudy(const std::string& study) {
  std::string trash;
  {
    absl::MutexLock lock(&mu_);
    trash = absl::StrCat(root_, "/tmp/", getpid(), "-", next_temp_++, "-deleted");
    for (auto it = ends_.begin(); it != ends_.end();) {
      it = it->first.study == study ? ends_.erase(it) : std::next(it);
    }
  }
  return RemoveTree(absl::StrCat(root_, "/study-", study), trash, mu_);
}

std::string LogStore::PathOf(const LogKey& key) const {
  // The prefix keeps a study named "." or ".." a plain directory name.
  return absl::StrCat(root_, "/study-", key.study, "/trial-", key.trial, "/attempt-", key.attempt,
                      ".log");
}

absl::StatusOr<int64_t> LogStore::Append(const LogKey& key, int64_t offset,
                                         absl::string_view data) {
  RETURN_IF_ERROR(CheckKey(key));
  if (offset < 0) return absl::InvalidArgumentError(absl::StrCat("offset: ", offset, " < 0"));
  if (data.size() > kMaxLogAppendBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("data: ", data.size(), " bytes, at most ", kMaxLogAppendBytes));
  }
  absl::MutexLock lock(&mu_);
  const std::string path = PathOf(key);
  ASSIGN_OR_RETURN(FileState state, StateAt(path));
  const int64_t end = state.end();
  if (offset > end || offset + static_cast<int64_t>(data.size()) <= end) return end;
  data.remove_prefix(static_cast<size_t>(end - offset));
  if (!state.exists) {
    std::error_code error;
    fs::create_directories(fs::path(path).parent_path(), error);
    if (error) return absl::InternalError(absl::StrCat(path, ": cannot create: ", error.message()));
    // Header and first bytes in a new file renamed into place: a log file
    // always has its whole header.
    const std::string temp = absl::StrCat(root_, "/tmp/", getpid(), "-", next_temp_++);
    {
      Fd out(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (out.get() < 0) return Errno("cannot create", temp);
      const std::string first = absl::StrCat(Header(0), data);
      if (WriteAll(out.get(), first) != first.size()) {
        const absl::Status failed = Errno("cannot write", temp);
        unlink(temp.c_str());
        return failed;
      }
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
      const absl::Status failed = Errno("cannot install", path);
      unlink(temp.c_str());
      return failed;
    }
  } else {
    Fd out(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (out.get() < 0) return Errno("cannot open", path);
    const size_t written = WriteAll(out.get(), data);
    if (written != data.size()) {
      ends_[key] = end + static_cast<int64_t>(written);
      return Errno("cannot write", path);
    }
  }
  const int64_t new_end = end + static_cast<int64_t>(data.size());
  ends_[key] = new_end;
  const int64_t stored = new_end - state.cut;
  if (stored > max_bytes_ + max_bytes_ / 4) RETURN_IF_ERROR(Compact(path, new_end));
  return new_end;
}

absl::Status LogStore::Compact(const std::string& path, int64_t end) {
  Fd in(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return Errno("cannot open", path);
  ASSIGN_OR_RETURN(FileState state, StateOf(in.get(), path));
  const int64_t cut = std::max(state.cut, end - max_bytes_);
  std::string kept;
  RETURN_IF_ERROR(ReadAt(in.get(), static_cast<int64_t>(kHeaderBytes) + (cut - state.cut),
                         static_cast<size_t>(end - cut), kept, path));
  const std::string temp = absl::StrCat(root_, "/tmp/", getpid(), "-", next_temp_++);
  {
    Fd out(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (out.get() < 0) return Errno("cannot create", temp);
    const std::string whole = absl::StrCat(Header(cut), kept);
    if (WriteAll(out.get(), whole) != whole.size()) {
      const absl::Status failed = Errno("cannot write", temp);
      unlink(temp.c_str());
      return failed;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const absl::Status failed = Errno("cannot replace", path);
    unlink(temp.c_str());
    return failed;
  }
  return absl::OkStatus();
}

absl::StatusOr<LogSlice> LogStore::Read(const LogKey& key, int64_t offset, size_t max_bytes) const {
  RETURN_IF_ERROR(CheckKey(key));
  if (offset < 0) return absl::InvalidArgumentError(absl::StrCat("offset: ", offset, " < 0"));
  const std::string path = PathOf(key);
  // One descriptor for header and data: a compaction renames a new file into
  // place, and this one stays the file it was.
  Fd in(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT) return LogSlice{};
    return Errno("cannot open", path);
  }
  ASSIGN_OR_RETURN(FileState state, StateOf(in.get(), path));
  LogSlice slice;
  slice.end = state.end();
  slice.first_kept = std::max(state.cut, slice.end - max_bytes_);
  slice.offset = std::min(std::max(offset, slice.first_kept), slice.end);
  const size_t size = static_cast<size_t>(
      std::min<int64_t>(slice.end - slice.offset, static_cast<int64_t>(max_bytes)));
  RETURN_IF_ERROR(ReadAt(in.get(), static_cast<int64_t>(kHeaderBytes) + (slice.offset - state.cut),
                         size, slice.data, path));
  return slice;
}

bool LogStore::WaitForAppend(const LogKey& key, int64_t end, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto past = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto it = ends_.find(key);
    return it != ends_.end() && it->second > end;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&past), timeout);
}

}  // namespace vernier
