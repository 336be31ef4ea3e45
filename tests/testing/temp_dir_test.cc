#include "tests/testing/temp_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(TempDirTest, MakesAFreshDirectoryNamedAfterTheTest) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  EXPECT_TRUE(fs::is_directory(dir.path()));
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_THAT(dir.path(), HasSubstr("TempDirTest.MakesAFreshDirectoryNamedAfterTheTest"));
  EXPECT_THAT(dir.path(), StartsWith(::testing::TempDir()));
}

TEST(TempDirTest, TwoDirectoriesDiffer) {
  TempDir a;
  TempDir b;
  EXPECT_NE(a.path(), b.path());
}

TEST(TempDirTest, RemovesItselfWithItsContents) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    dir.Write("file.txt", "text");
    fs::create_directories(dir.File("nested/deeper"));
    dir.Write("nested/deeper/file.txt", "more");
    ASSERT_TRUE(fs::exists(dir.File("nested/deeper/file.txt")));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, KeepOnFailureStillRemovesAfterAPassingTest) {
  std::string path;
  {
    TempDir dir(TempDir::OnFailure::kKeep);
    path = dir.path();
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, WriteReplacesTheFileAndReturnsItsPath) {
  TempDir dir;
  const std::string path = dir.Write("a.txt", "first, longer text");
  EXPECT_EQ(path, dir.File("a.txt"));
  EXPECT_EQ(path, dir.path() + "/a.txt");
  dir.Write("a.txt", std::string("se\0cond", 7));
  EXPECT_EQ(ReadFile(path), std::string("se\0cond", 7));
}

}  // namespace
}  // namespace vernier::testing
