#include "trainer/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;
// Headers claiming more data than this are rejected before any allocation.
constexpr int64_t kMaxDataBytes = int64_t{4} << 30;
constexpr size_t kChunkBytes = size_t{1} << 20;

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFilePtr = std::unique_ptr<gzFile_s, GzCloser>;

// An IDX file's dimensions and elements.
struct IdxContent {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

absl::Status ReadError(const std::string& path, gzFile file) {
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (code == Z_ERRNO) message = std::strerror(errno);
  return absl::DataLossError(absl::StrCat(path, ": read failed: ", message));
}

// Appends up to `want` bytes from `file` to `out`. Returns the number
// appended (fewer only at the end of the file), or DATA_LOSS on a read error,
// including a gzip stream cut short.
absl::StatusOr<int64_t> ReadUpTo(const std::string& path, gzFile file, int64_t want,
                                 std::vector<uint8_t>& out) {
  int64_t got = 0;
  while (got < want) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(want - got, kChunkBytes));
    const size_t old_size = out.size();
    out.resize(old_size + chunk);
    const int n = gzread(file, out.data() + old_size, static_cast<unsigned>(chunk));
    if (n < 0) return ReadError(path, file);
    out.resize(old_size + static_cast<size_t>(n));
    got += n;
    if (static_cast<size_t>(n) < chunk) break;
  }
  int code = Z_OK;
  gzerror(file, &code);
  if (code != Z_OK) return ReadError(path, file);  // E.g. Z_BUF_ERROR: truncated gzip.
  return got;
}

uint32_t BigEndian32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

// Reads the header of an IDX file of unsigned bytes with `rank` dimensions and
// returns the dimensions.
absl::StatusOr<std::vector<int64_t>> ReadHeader(const std::string& path, gzFile file, int rank) {
  std::vector<uint8_t> header;
  ASSIGN_OR_RETURN(int64_t got, ReadUpTo(path, file, 4 + 4 * int64_t{rank}, header));
  if (got < 4) {
    return absl::DataLossError(absl::StrCat(path, ": too short for an IDX file (", got, " bytes)"));
  }
  const uint32_t expected_magic = (uint32_t{kUnsignedByteType} << 8) | static_cast<uint32_t>(rank);
  const uint32_t magic = BigEndian32(header.data());
  if (magic != expected_magic) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not an IDX file of unsigned bytes with %d dimension(s): magic number 0x%08x, "
        "expected 0x%08x",
        path, rank, magic, expected_magic));
  }
  if (got < 4 + 4 * int64_t{rank}) {
    return absl::DataLossError(absl::StrCat(path, ": truncated IDX header"));
  }
  std::vector<int64_t> dims;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(BigEndian32(header.data() + 4 + 4 * i));
    if (dims.back() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": dimension ", i, " is 0"));
    }
  }
  return dims;
}

absl::StatusOr<IdxContent> ReadIdx(const std::string& path, int rank) {
  errno = 0;
  GzFilePtr file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const char* why = errno != 0 ? std::strerror(errno) : "out of memory";
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", why));
  }
  gzbuffer(file.get(), 1 << 17);
  IdxContent content;
  ASSIGN_OR_RETURN(content.dims, ReadHeader(path, file.get(), rank));
  int64_t expected = 1;
  for (int64_t dim : content.dims) {
    if (dim > kMaxDataBytes / expected) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the header claims more than ", kMaxDataBytes, " bytes of data"));
    }
    expected *= dim;
  }
  ASSIGN_OR_RETURN(int64_t got, ReadUpTo(path, file.get(), expected, content.data));
  if (got < expected) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: the header announces ", expected,
                                            " bytes of data, the file holds ", got));
  }
  std::vector<uint8_t> extra;
  ASSIGN_OR_RETURN(int64_t surplus, ReadUpTo(path, file.get(), 1, extra));
  if (surplus > 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": longer than its header says (", expected, " bytes of data)"));
  }
  return content;
}

}  // namespace

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  ASSIGN_OR_RETURN(IdxContent content, ReadIdx(path, 3));
  IdxImages images;
  images.count = content.dims[0];
  images.rows = content.dims[1];
  images.cols = content.dims[2];
  images.pixels = std::move(content.data);
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path, int num_classes) {
  ASSIGN_OR_RETURN(IdxContent content, ReadIdx(path, 1));
  for (size_t i = 0; i < content.data.size(); ++i) {
    if (content.data[i] >= num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": label ", int{content.data[i]}, " at index ", i,
                       " is out of range (expected 0 to ", num_classes - 1, ")"));
    }
  }
  return std::move(content.data);
}

absl::StatusOr<LabeledImages> ReadIdxPair(const std::string& images_path,
                                          const std::string& labels_path, int num_classes) {
  ASSIGN_OR_RETURN(IdxImages images, ReadIdxImages(images_path));
  ASSIGN_OR_RETURN(std::vector<uint8_t> labels, ReadIdxLabels(labels_path, num_classes));
  if (static_cast<int64_t>(labels.size()) != images.count) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", images.count,
                                                   " images but ", labels_path, " holds ",
                                                   labels.size(), " labels"));
  }
  LabeledImages out;
  out.count = images.count;
  out.rows = images.rows;
  out.cols = images.cols;
  out.pixels = std::move(images.pixels);
  out.labels = std::move(labels);
  return out;
}

}  // namespace vernier
