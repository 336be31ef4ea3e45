#include "trainer/dataset_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

constexpr char kMagic[8] = {'V', 'R', 'N', 'C', 'A', 'C', 'H', 'E'};
// Entries claiming more than this are treated as damaged.
constexpr uint64_t kMaxBlobBytes = uint64_t{16} << 30;

uint64_t Fnv1a64(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

void PutU64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now; returns false if close() failed (a late write error).
  bool Close() {
    const int fd = fd_;
    fd_ = -1;
    return close(fd) == 0;
  }

 private:
  int fd_;
};

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Writes the pieces to a fresh temporary file in the directory of `path`, then
// renames it to `path`, so readers never see a partial file.
absl::Status WriteAtomically(const std::string& path,
                             const std::vector<absl::Span<const uint8_t>>& pieces) {
  std::random_device entropy;
  const std::string temp = absl::StrFormat("%s.tmp.%d.%08x", path, getpid(), entropy());
  Fd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat(temp, ": cannot create: ", std::strerror(errno)));
  }
  bool ok = true;
  for (absl::Span<const uint8_t> piece : pieces) {
    ok = ok && WriteAll(fd.get(), piece.data(), piece.size());
  }
  const int write_errno = errno;
  ok = fd.Close() && ok;
  if (ok && rename(temp.c_str(), path.c_str()) == 0) return absl::OkStatus();
  const int error = ok ? errno : write_errno;
  unlink(temp.c_str());
  return absl::InternalError(absl::StrCat(path, ": cannot write: ", std::strerror(error)));
}

absl::Span<const uint8_t> AsBytes(const std::string& text) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// Returns true when the first source file named in the .key file beside
// `raw_path` no longer exists (e.g. a test's temporary directory): such an
// entry can never be hit again.
bool SourceIsGone(std::filesystem::path raw_path) {
  std::ifstream key(raw_path.replace_extension(".key"));
  std::string line;
  while (std::getline(key, line)) {
    const size_t size_at = line.rfind(" size ");
    if (line.rfind("file ", 0) != 0 || size_at == std::string::npos) continue;
    std::error_code error;
    return !std::filesystem::exists(line.substr(5, size_at - 5), error) && !error;
  }
  return false;
}

// Removes the entries of `kind` in `dir` whose sources are gone, then the
// oldest beyond the newest kMaxCacheEntriesPerKind. Best effort: errors (e.g.
// another process removing the same file) are ignored.
void PruneEntries(const std::string& dir, absl::string_view kind) {
  const std::string prefix = absl::StrCat(kind, "-");
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> entries;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + 16 + 4 || name.compare(0, prefix.size(), prefix) != 0 ||
        entry.path().extension() != ".raw") {
      continue;
    }
    std::filesystem::path path = entry.path();
    if (SourceIsGone(path)) {
      std::filesystem::remove(path, error);
      std::filesystem::remove(path.replace_extension(".key"), error);
      continue;
    }
    const auto mtime = std::filesystem::last_write_time(path, error);
    if (!error) entries.emplace_back(mtime, path);
  }
  if (entries.size() <= static_cast<size_t>(kMaxCacheEntriesPerKind)) return;
  std::sort(entries.begin(), entries.end());
  for (size_t i = 0; i + kMaxCacheEntriesPerKind < entries.size(); ++i) {
    std::filesystem::path path = entries[i].second;
    std::filesystem::remove(path, error);
    std::filesystem::remove(path.replace_extension(".key"), error);
  }
}

}  // namespace

std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/vernier");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return absl::StrCat(home, "/.cache/vernier");
  return "";
}

absl::StatusOr<std::string> MakeCacheKey(absl::string_view kind,
                                         const std::vector<std::string>& source_files) {
  std::string key = absl::StrCat("vernier-dataset-cache v", kDatasetCacheFormatVersion, "\n",
                                 "kind ", kind, "\n");
  for (const std::string& file : source_files) {
    std::error_code error;
    const std::filesystem::path absolute = std::filesystem::absolute(file, error);
    struct stat info;
    if (error || stat(absolute.c_str(), &info) != 0) {
      return absl::NotFoundError(absl::StrCat(file, ": cannot stat: ", std::strerror(errno)));
    }
    const int64_t mtime_ns = int64_t{info.st_mtim.tv_sec} * 1000000000 + info.st_mtim.tv_nsec;
    absl::StrAppend(&key, "file ", absolute.string(), " size ", info.st_size, " mtime_ns ",
                    mtime_ns, "\n");
  }
  return key;
}

std::string CacheEntryPath(const std::string& dir, absl::string_view kind, absl::string_view key) {
  return absl::StrFormat("%s/%s-%016x.raw", dir, kind, Fnv1a64(key));
}

absl::Status WriteCacheEntry(const std::string& dir, absl::string_view kind, absl::string_view key,
                             const std::vector<absl::Span<const uint8_t>>& blobs) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", error.message()));
  // Header: magic, key length, key, blob count, each blob's size; then blobs.
  std::string header(kMagic, sizeof(kMagic));
  PutU64(header, key.size());
  header.append(key.data(), key.size());
  PutU64(header, blobs.size());
  for (absl::Span<const uint8_t> blob : blobs) PutU64(header, blob.size());
  std::vector<absl::Span<const uint8_t>> pieces = {AsBytes(header)};
  pieces.insert(pieces.end(), blobs.begin(), blobs.end());
  const std::string raw_path = CacheEntryPath(dir, kind, key);
  if (absl::Status status = WriteAtomically(raw_path, pieces); !status.ok()) return status;
  // The .key file is for people looking at the cache; reads check the key
  // stored inside the raw file.
  const std::string key_text(key);
  const std::string key_path = raw_path.substr(0, raw_path.size() - 4) + ".key";
  RETURN_IF_ERROR(WriteAtomically(key_path, {AsBytes(key_text)}));
  PruneEntries(dir, kind);
  return absl::OkStatus();
}

std::optional<std::vector<std::vector<uint8_t>>> ReadCacheEntry(const std::string& dir,
                                                                absl::string_view kind,
                                                                absl::string_view key) {
  const std::string path = CacheEntryPath(dir, kind, key);
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info;
  if (fd.get() < 0 || fstat(fd.get(), &info) != 0) return std::nullopt;
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  auto read_u64 = [&fd](uint64_t& value) {
    uint8_t bytes[8];
    if (!ReadAll(fd.get(), bytes, sizeof(bytes))) return false;
    value = 0;
    for (int i = 0; i < 8; ++i) value |= uint64_t{bytes[i]} << (8 * i);
    return true;
  };
  char magic[sizeof(kMagic)];
  uint64_t key_size = 0;
  if (!ReadAll(fd.get(), magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0 ||
      !read_u64(key_size) || key_size != key.size()) {
    return std::nullopt;
  }
  std::string stored_key(key_size, '\0');
  uint64_t count = 0;
  if (!ReadAll(fd.get(), stored_key.data(), key_size) || stored_key != key || !read_u64(count) ||
      count > 1024) {
    return std::nullopt;
  }
  std::vector<uint64_t> sizes(count);
  uint64_t total = sizeof(kMagic) + 8 + key_size + 8 + 8 * count;
  for (uint64_t& size : sizes) {
    if (!read_u64(size) || size > kMaxBlobBytes) return std::nullopt;
    total += size;
  }
  if (total != file_size) return std::nullopt;
  std::vector<std::vector<uint8_t>> blobs(count);
  for (uint64_t i = 0; i < count; ++i) {
    blobs[i].resize(sizes[i]);
    if (!ReadAll(fd.get(), blobs[i].data(), sizes[i])) return std::nullopt;
  }
  return blobs;
}

}  // namespace vernier
