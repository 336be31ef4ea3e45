#include <stdlib.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/golden.h"
#include "tests/testing/temp_dir.h"

namespace vernier::testing {
namespace {

using ::testing::HasSubstr;

// Sets (or, with nullopt, clears) VERNIER_UPDATE_GOLDEN for one test, so that
// these tests mean the same when the suite runs in update mode.
class ScopedUpdateEnv {
 public:
  explicit ScopedUpdateEnv(std::optional<std::string> value) {
    if (const char* old = std::getenv(kUpdateGoldenEnv)) old_ = old;
    if (value) {
      setenv(kUpdateGoldenEnv, value->c_str(), 1);
    } else {
      unsetenv(kUpdateGoldenEnv);
    }
  }
  ~ScopedUpdateEnv() {
    if (old_) {
      setenv(kUpdateGoldenEnv, old_->c_str(), 1);
    } else {
      unsetenv(kUpdateGoldenEnv);
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(LineDiffTest, EmptyForEqualTexts) { EXPECT_EQ(LineDiff("a\nb\n", "a\nb\n"), ""); }

TEST(LineDiffTest, ShowsChangedLinesWithContext) {
  const std::string expected = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const std::string actual = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  EXPECT_EQ(LineDiff(expected, actual, /*context=*/2),
            "@@ line 3\n  3\n  4\n- 5\n+ five\n  6\n  7\n");
}

TEST(LineDiffTest, ShowsAddedAndRemovedLines) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nc\nd\n", /*context=*/0), "@@ line 2\n- b\n@@ line 4\n+ d\n");
}

TEST(LineDiffTest, NamesAMissingFinalNewline) {
  EXPECT_THAT(LineDiff("a\n", "a"), HasSubstr("final newline"));
}

TEST(MatchesGoldenFileTest, PassesOnEqualText) {
  ScopedUpdateEnv env(std::nullopt);
  TempDir dir;
  const std::string path = dir.Write("out.golden", "x 0.10000000000000001\n");
  EXPECT_TRUE(MatchesGoldenFile(path, "x 0.10000000000000001\n"));
}

TEST(MatchesGoldenFileTest, FailsWithADiffOnAnyChange) {
  ScopedUpdateEnv env(std::nullopt);
  TempDir dir;
  const std::string path = dir.Write("out.golden", "x 0.10000000000000001\ny 2\n");
  const ::testing::AssertionResult result = MatchesGoldenFile(path, "x 0.10000000000000002\ny 2\n");
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), HasSubstr(path));
  EXPECT_THAT(result.message(), HasSubstr("- x 0.10000000000000001\n+ x 0.10000000000000002\n"));
  EXPECT_THAT(result.message(), HasSubstr("VERNIER_UPDATE_GOLDEN=1"));
  // The file is left alone.
  EXPECT_EQ(ReadFile(path), "x 0.10000000000000001\ny 2\n");
}

TEST(MatchesGoldenFileTest, FailsOnAMissingFile) {
  ScopedUpdateEnv env(std::nullopt);
  TempDir dir;
  const ::testing::AssertionResult result = MatchesGoldenFile(dir.File("none.golden"), "x\n");
  EXPECT_FALSE(result);
  EXPECT_THAT(result.message(), HasSubstr("missing golden file"));
}

TEST(MatchesGoldenFileTest, UpdateModeWritesTheFile) {
  ScopedUpdateEnv env("1");
  TempDir dir;
  const std::string path = dir.Write("out.golden", "old\n");
  EXPECT_TRUE(MatchesGoldenFile(path, "new\n"));
  EXPECT_EQ(ReadFile(path), "new\n");
  EXPECT_TRUE(MatchesGoldenFile(dir.File("created.golden"), "made\n"));
  EXPECT_EQ(ReadFile(dir.File("created.golden")), "made\n");
}

TEST(MatchesGoldenFileTest, OnlyTheValueOneUpdates) {
  ScopedUpdateEnv env("0");
  TempDir dir;
  const std::string path = dir.Write("out.golden", "old\n");
  EXPECT_FALSE(MatchesGoldenFile(path, "new\n"));
  EXPECT_EQ(ReadFile(path), "old\n");
}

TEST(ExactDoubleTest, TellsNeighbouringDoublesApart) {
  EXPECT_EQ(ExactDouble(0.1), "0.10000000000000001");
  EXPECT_EQ(ExactDouble(1), "1");
  EXPECT_EQ(ExactDouble(-2.5e-300), "-2.5e-300");
  const double x = 0.3;
  const double next = std::nextafter(x, 1.0);
  EXPECT_NE(ExactDouble(x), ExactDouble(next));
  EXPECT_EQ(std::strtod(ExactDouble(next).c_str(), nullptr), next);
}

}  // namespace
}  // namespace vernier::testing
