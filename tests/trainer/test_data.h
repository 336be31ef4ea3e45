// Test helpers of the trainer tests: IDX files written byte by byte (raw or
// gzip, valid or deliberately broken), and tiny learnable image sets in the
// shape of Fashion-MNIST. Temporary directories are testing::TempDir
// (tests/testing/temp_dir.h, included here for the trainer tests).
//
// Thread-safety: not thread-safe; for use in one test at a time.
#ifndef VERNIER_TESTS_TRAINER_TEST_DATA_H_
#define VERNIER_TESTS_TRAINER_TEST_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "trainer/idx.h"

namespace vernier::testing {

// Writes `bytes` to `path`, gzip-compressed when `gzip`. Fails the test on
// error.
void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip);

// Writes `text` to `path`. Fails the test on error.
void WriteTextFile(const std::string& path, const std::string& text);

// Returns the bytes of an IDX file: `magic` (big-endian), `dims` (big-endian
// uint32 each), then `data`. Nothing is checked, so tests can build broken
// files.
std::vector<uint8_t> IdxBytes(uint32_t magic, const std::vector<uint32_t>& dims,
                              const std::vector<uint8_t>& data);

// Returns `count` 28x28 images with labels 0..9 in turn. Each class has a
// bright 6x6 square at its own place over faint seeded noise: easy to learn,
// yet not trivially separable by a single pixel.
LabeledImages MakeTinyImages(int count, uint32_t seed);

// Writes `train` and `test` as the four Fashion-MNIST files in `dir`
// (train-images-idx3-ubyte[.gz], ...).
void WriteFashionMnistFiles(const std::string& dir, const LabeledImages& train,
                            const LabeledImages& test, bool gzip);

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_TRAINER_TEST_DATA_H_
