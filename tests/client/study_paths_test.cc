#include "client/study_paths.h"

#include <set>
#include <string>

#include "common/spec/study_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

auto Holding(std::set<std::string> paths) {
  return [paths = std::move(paths)](const std::string& path) { return paths.count(path) > 0; };
}

v1::StudySpec Spec(const std::string& trainer) {
  absl::StatusOr<v1::StudySpec> spec = StudySpecFromYaml(
      "name: s\nobjective: {metric: loss, goal: minimize}\n"
      "params: {x: {type: float, low: 0, high: 1}}\ntrainer: " +
      trainer + "\n");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.value_or(v1::StudySpec());
}

TEST(ResolveStudyPathsTest, CommandPathsBecomeTheStudyFilesDirectorys) {
  v1::StudySpec spec = Spec("{command: [python3, examples/t.py, --out, out.json], x_file: a.csv}");
  ResolveStudyPaths(spec, "/repo", Holding({"/repo/examples/t.py", "/repo/a.csv"}));
  EXPECT_THAT(spec.trainer().command().argv(),
              ElementsAre("python3", "/repo/examples/t.py", "--out", "out.json"));
  // A command trainer's settings are the program's business.
  EXPECT_EQ(nlohmann::json::parse(spec.trainer().command().settings_json())["x_file"], "a.csv");
}

TEST(ResolveStudyPathsTest, BuiltinPathSettingsThatExistThere) {
  v1::StudySpec spec = Spec(
      "{dataset: tabular-csv, data_file: data/d.csv, data_dir: idx, cache_dir: auto, "
      "model: mlp}");
  ResolveStudyPaths(spec, "/s", Holding({"/s/data/d.csv", "/s/auto"}));
  const nlohmann::json settings = nlohmann::json::parse(spec.trainer().builtin().settings_json());
  EXPECT_EQ(settings["data_file"], "/s/data/d.csv");
  EXPECT_EQ(settings["data_dir"], "idx");    // Not there: left for the trainer's own lookup.
  EXPECT_EQ(settings["cache_dir"], "auto");  // A word, not a directory.
  EXPECT_EQ(settings["model"], "mlp");
}

TEST(ResolveStudyPathsTest, FetchedDataSetNameStaysAsWritten) {
  // diabetes.csv is found in the fetched-datasets directory by the trainer.
  v1::StudySpec spec = Spec("{dataset: tabular-csv, data_file: diabetes.csv}");
  const std::string before = spec.trainer().builtin().settings_json();
  ResolveStudyPaths(spec, "/s", Holding({}));
  EXPECT_EQ(spec.trainer().builtin().settings_json(), before);
}

TEST(StudyPathWarningsTest, MissingProgramFileBesideTheStudyFile) {
  v1::StudySpec spec = Spec("{command: [python3, train.py]}");
  EXPECT_THAT(StudyPathWarnings(spec, "/s", Holding({"/s/train.py"})), IsEmpty());
  EXPECT_THAT(StudyPathWarnings(spec, "/s", Holding({})),
              ElementsAre(AllOf(HasSubstr("trainer.command[1]: train.py does not exist under /s"),
                                HasSubstr("--code-dir"))));
  EXPECT_THAT(StudyPathWarnings(Spec("{model: mlp}"), "/s", Holding({})), IsEmpty());
}

}  // namespace
}  // namespace vernier
