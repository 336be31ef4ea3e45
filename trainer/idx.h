// Readers for IDX files, the format of MNIST and Fashion-MNIST: a 4-byte magic
// number (0, 0, element type 0x08 = unsigned byte, number of dimensions), the
// dimensions as big-endian uint32, then the elements in row-major order. Files
// may be gzip-compressed or raw; both are read the same way. No libtorch here:
// data comes back as plain byte buffers.
//
// Every error message starts with the file's path. The readers check the file
// against its header before trusting it, so bad files end in an error, never in
// a crash, an oversized allocation or a hang.
//
// Thread-safety: pure functions over files; thread-safe.
#ifndef VERNIER_TRAINER_IDX_H_
#define VERNIER_TRAINER_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vernier {

// Images of one IDX file of rank 3: count x rows x cols bytes.
struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols bytes, row-major.
};

// Images with one label each, e.g. the training part of a data set.
struct LabeledImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols bytes, row-major.
  std::vector<uint8_t> labels;  // count labels, each < the number of classes.
};

// Returns the images in `path`. Returns NOT_FOUND if the file cannot be
// opened; DATA_LOSS if it is corrupt or truncated gzip, or shorter or longer
// than its header says; INVALID_ARGUMENT if it is not an IDX file of unsigned
// bytes with 3 dimensions (wrong magic number) or a dimension is 0.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);

// Returns the labels in `path`, an IDX file of rank 1. Errors as
// ReadIdxImages; also INVALID_ARGUMENT naming the first label >= num_classes.
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path, int num_classes);

// Reads an images file and its labels file. Errors as the two readers, and
// INVALID_ARGUMENT naming both files when their counts differ.
absl::StatusOr<LabeledImages> ReadIdxPair(const std::string& images_path,
                                          const std::string& labels_path, int num_classes);

}  // namespace vernier

#endif  // VERNIER_TRAINER_IDX_H_
