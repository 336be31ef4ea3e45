#include "worker/trial_command.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier::worker {
namespace {

using ::testing::ElementsAre;
using ::vernier::testing::StatusIs;
using ::vernier::testing::TempDir;

TEST(ResolveTrialCommandTest, ResolvesAgainstTheCodeDir) {
  TempDir code;
  code.Write("train.py", "print()\n");
  const std::string& dir = code.path();
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv,
                       ResolveTrialCommand({"python3", "train.py", "--lr", "0.1"}, dir));
  EXPECT_THAT(argv, ElementsAre("python3", dir + "/train.py", "--lr", "0.1"));
}

TEST(ResolveTrialCommandTest, MissingProgramFileFailsNamingTheCodeDir) {
  TempDir code;
  const std::string& dir = code.path();
  EXPECT_THAT(ResolveTrialCommand({"python3", "examples/x.py"}, dir),
              StatusIs(absl::StatusCode::kNotFound,
                       "trainer.command[1]: examples/x.py not found under --code-dir " + dir));
}

TEST(ResolveTrialCommandTest, NoCodeDirLeavesTheCommandAlone) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> argv,
                       ResolveTrialCommand({"python3", "examples/x.py"}, ""));
  EXPECT_THAT(argv, ElementsAre("python3", "examples/x.py"));
}

}  // namespace
}  // namespace vernier::worker
