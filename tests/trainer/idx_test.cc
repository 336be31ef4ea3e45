#include "trainer/idx.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

constexpr uint32_t kImagesMagic = 0x803;
constexpr uint32_t kLabelsMagic = 0x801;

// 3 images of 2x2 pixels.
const std::vector<uint8_t> kPixels = {0, 1, 2, 3, 10, 11, 12, 13, 250, 251, 252, 255};

class IdxTest : public ::testing::TestWithParam<bool> {  // Param: gzip.
 protected:
  std::string Write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir_.File(name + (GetParam() ? ".gz" : ""));
    testing::WriteFile(path, bytes, GetParam());
    return path;
  }

  testing::TempDir dir_;
};

TEST_P(IdxTest, ReadsImages) {
  const std::string path = Write("images", testing::IdxBytes(kImagesMagic, {3, 2, 2}, kPixels));
  absl::StatusOr<IdxImages> images = ReadIdxImages(path);
  ASSERT_OK(images);
  EXPECT_EQ(images->count, 3);
  EXPECT_EQ(images->rows, 2);
  EXPECT_EQ(images->cols, 2);
  EXPECT_EQ(images->pixels, kPixels);
}

TEST_P(IdxTest, ReadsLabelsAndPairs) {
  const std::string images = Write("images", testing::IdxBytes(kImagesMagic, {3, 2, 2}, kPixels));
  const std::string labels = Write("labels", testing::IdxBytes(kLabelsMagic, {3}, {9, 0, 4}));
  absl::StatusOr<LabeledImages> pair = ReadIdxPair(images, labels, 10);
  ASSERT_OK(pair);
  EXPECT_EQ(pair->count, 3);
  EXPECT_EQ(pair->labels, std::vector<uint8_t>({9, 0, 4}));
  EXPECT_EQ(pair->pixels, kPixels);
}

TEST_P(IdxTest, MissingFileIsNotFoundNamingIt) {
  const std::string path = dir_.File("nope-idx3-ubyte");
  absl::Status status = ReadIdxImages(path).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
}

TEST_P(IdxTest, WrongMagicIsNamed) {
  // A labels file where images are expected.
  const std::string path = Write("labels", testing::IdxBytes(kLabelsMagic, {3}, {1, 2, 3}));
  absl::Status status = ReadIdxImages(path).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
  EXPECT_THAT(std::string(status.message()), HasSubstr("magic number 0x00000801"));
}

TEST_P(IdxTest, TruncatedDataIsDataLoss) {
  std::vector<uint8_t> short_pixels(kPixels.begin(), kPixels.end() - 1);
  const std::string path =
      Write("images", testing::IdxBytes(kImagesMagic, {3, 2, 2}, short_pixels));
  absl::Status status = ReadIdxImages(path).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
  EXPECT_THAT(std::string(status.message()), HasSubstr("truncated"));
}

TEST_P(IdxTest, TruncatedHeaderAndEmptyFileAreErrors) {
  std::vector<uint8_t> header = testing::IdxBytes(kImagesMagic, {3, 2, 2}, {});
  header.resize(9);
  EXPECT_THAT(ReadIdxImages(Write("half", header)), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ReadIdxImages(Write("empty", {})), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_P(IdxTest, TrailingBytesAreDataLoss) {
  std::vector<uint8_t> long_pixels = kPixels;
  long_pixels.push_back(7);
  const std::string path = Write("images", testing::IdxBytes(kImagesMagic, {3, 2, 2}, long_pixels));
  absl::Status status = ReadIdxImages(path).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(status.message()), HasSubstr("longer"));
}

TEST_P(IdxTest, HugeHeaderFailsWithoutAllocating) {
  const std::string path =
      Write("images", testing::IdxBytes(kImagesMagic, {0xffffffff, 0xffffffff, 0xffffffff}, {}));
  absl::Status status = ReadIdxImages(path).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
}

TEST_P(IdxTest, ZeroDimensionIsRejected) {
  const std::string path = Write("images", testing::IdxBytes(kImagesMagic, {0, 2, 2}, {}));
  EXPECT_THAT(ReadIdxImages(path), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(IdxTest, CountMismatchNamesBothFiles) {
  const std::string images = Write("images", testing::IdxBytes(kImagesMagic, {3, 2, 2}, kPixels));
  const std::string labels = Write("labels", testing::IdxBytes(kLabelsMagic, {2}, {1, 2}));
  absl::Status status = ReadIdxPair(images, labels, 10).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(images));
  EXPECT_THAT(std::string(status.message()), HasSubstr(labels));
}

TEST_P(IdxTest, LabelOutOfRangeIsNamed) {
  const std::string labels = Write("labels", testing::IdxBytes(kLabelsMagic, {3}, {1, 10, 2}));
  absl::Status status = ReadIdxLabels(labels, 10).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr(labels));
  EXPECT_THAT(std::string(status.message()), HasSubstr("label 10 at index 1"));
}

INSTANTIATE_TEST_SUITE_P(RawAndGzip, IdxTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "Gzip" : "Raw";
                         });

TEST(IdxGzipTest, CutGzipStreamIsDataLossNamingTheFile) {
  testing::TempDir dir;
  const std::string whole = dir.File("whole.gz");
  std::vector<uint8_t> pixels(28 * 28 * 50);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7919 % 251);
  testing::WriteFile(whole, testing::IdxBytes(kImagesMagic, {50, 28, 28}, pixels), true);
  // Keep the first half of the compressed bytes only.
  absl::StatusOr<IdxImages> intact = ReadIdxImages(whole);
  ASSERT_OK(intact);
  std::FILE* in = std::fopen(whole.c_str(), "rb");
  ASSERT_NE(in, nullptr);
  std::vector<uint8_t> compressed(1 << 20);
  compressed.resize(std::fread(compressed.data(), 1, compressed.size(), in));
  std::fclose(in);
  compressed.resize(compressed.size() / 2);
  const std::string cut = dir.File("cut.gz");
  testing::WriteFile(cut, compressed, /*gzip=*/false);
  absl::Status status = ReadIdxImages(cut).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(status.message()), HasSubstr(cut));
}

}  // namespace
}  // namespace vernier
