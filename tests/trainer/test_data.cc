#include "tests/trainer/test_data.h"

#include <zlib.h>

#include <fstream>
#include <random>

#include "gtest/gtest.h"

namespace vernier::testing {

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile file = gzopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr) << path;
    if (!bytes.empty()) {
      EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()))
          << path;
    }
    EXPECT_EQ(gzclose(file), Z_OK) << path;
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out.good()) << path;
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  EXPECT_TRUE(out.good()) << path;
}

std::vector<uint8_t> IdxBytes(uint32_t magic, const std::vector<uint32_t>& dims,
                              const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes;
  auto put32 = [&bytes](uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back((value >> shift) & 0xff);
  };
  put32(magic);
  for (uint32_t dim : dims) put32(dim);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

LabeledImages MakeTinyImages(int count, uint32_t seed) {
  constexpr int kSide = 28;
  constexpr int kSquare = 6;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  LabeledImages images;
  images.count = count;
  images.rows = kSide;
  images.cols = kSide;
  images.pixels.resize(static_cast<size_t>(count) * kSide * kSide);
  for (int i = 0; i < count; ++i) {
    const int label = i % 10;
    images.labels.push_back(static_cast<uint8_t>(label));
    uint8_t* pixels = images.pixels.data() + static_cast<size_t>(i) * kSide * kSide;
    for (int p = 0; p < kSide * kSide; ++p) pixels[p] = static_cast<uint8_t>(noise(rng));
    const int top = 2 + (label / 5) * 14;
    const int left = 1 + (label % 5) * 5;
    for (int r = top; r < top + kSquare; ++r) {
      for (int c = left; c < left + kSquare && c < kSide; ++c) pixels[r * kSide + c] = 230;
    }
  }
  return images;
}

namespace {

void WritePart(const std::string& dir, const std::string& prefix, const LabeledImages& part,
               bool gzip) {
  const std::string suffix = gzip ? ".gz" : "";
  const auto count = static_cast<uint32_t>(part.count);
  WriteFile(
      dir + "/" + prefix + "-images-idx3-ubyte" + suffix,
      IdxBytes(0x803, {count, static_cast<uint32_t>(part.rows), static_cast<uint32_t>(part.cols)},
               part.pixels),
      gzip);
  WriteFile(dir + "/" + prefix + "-labels-idx1-ubyte" + suffix,
            IdxBytes(0x801, {count}, part.labels), gzip);
}

}  // namespace

void WriteFashionMnistFiles(const std::string& dir, const LabeledImages& train,
                            const LabeledImages& test, bool gzip) {
  WritePart(dir, "train", train, gzip);
  WritePart(dir, "t10k", test, gzip);
}

}  // namespace vernier::testing
