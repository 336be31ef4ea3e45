#include "common/command_paths.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

// A file system holding exactly `paths`.
auto Holding(std::set<std::string> paths) {
  return [paths = std::move(paths)](const std::string& path) { return paths.count(path) > 0; };
}

TEST(ResolveCommandPathsTest, ExistingRelativeArgumentsBecomeAbsolute) {
  auto exists = Holding({"/study/train.py", "/study/data/x.csv"});
  EXPECT_THAT(
      ResolveCommandPaths({"python3", "train.py", "--data", "data/x.csv"}, "/study", exists),
      ElementsAre("python3", "/study/train.py", "--data", "/study/data/x.csv"));
}

TEST(ResolveCommandPathsTest, LeavesMissingOptionsAbsoluteAndBareProgram) {
  // python3 is looked up in PATH even when a file of that name is beside the
  // study; options, missing files and absolute paths stay as written.
  auto exists = Holding({"/study/python3", "/study/-v", "/study/out.json"});
  EXPECT_THAT(
      ResolveCommandPaths({"python3", "-v", "gone.py", "/abs/t.py", "0.5"}, "/study", exists),
      ElementsAre("python3", "-v", "gone.py", "/abs/t.py", "0.5"));
}

TEST(ResolveCommandPathsTest, ProgramWithSlashIsResolvedAndNormalised) {
  auto exists = Holding({"/study/bin/run.sh", "/study/examples/t.py"});
  EXPECT_THAT(ResolveCommandPaths({"./bin/run.sh", "../study/examples/t.py"}, "/study/", exists),
              ElementsAre("/study/bin/run.sh", "/study/examples/t.py"));
}

TEST(ProgramFileIndexTest, ScriptOfAnInterpreterOrProgramWithSlash) {
  EXPECT_THAT(ProgramFileIndex({"python3", "train.py"}), Optional(1u));
  EXPECT_THAT(ProgramFileIndex({"Rscript", "src/fit"}), Optional(1u));
  EXPECT_THAT(ProgramFileIndex({"./run.sh", "data.csv"}), Optional(0u));
  EXPECT_EQ(ProgramFileIndex({"python3", "-m", "pkg.mod"}), std::nullopt);
  EXPECT_EQ(ProgramFileIndex({"myprog", "fit"}), std::nullopt);
  EXPECT_EQ(ProgramFileIndex({"myprog", "0.25"}), std::nullopt);
  EXPECT_EQ(ProgramFileIndex({"true"}), std::nullopt);
  EXPECT_EQ(ProgramFileIndex({}), std::nullopt);
}

TEST(MissingProgramFileTest, OnlyARelativeProgramFileThatIsNotThere) {
  auto exists = Holding({"/code/train.py"});
  EXPECT_EQ(MissingProgramFile({"python3", "train.py"}, "/code", exists), std::nullopt);
  EXPECT_THAT(MissingProgramFile({"python3", "examples/x.py"}, "/code", exists), Optional(1u));
  EXPECT_THAT(MissingProgramFile({"bin/run", "x"}, "/code", exists), Optional(0u));
  // Absolute paths are the user's business (exec says what is wrong).
  EXPECT_EQ(MissingProgramFile({"python3", "/gone/x.py"}, "/code", exists), std::nullopt);
  EXPECT_EQ(MissingProgramFile({"sh", "-c", "exit 3"}, "/code", exists), std::nullopt);
}

}  // namespace
}  // namespace vernier
