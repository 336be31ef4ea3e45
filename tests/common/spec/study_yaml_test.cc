// The one place study files come in (common/spec): bounded before anything
// expands, and converted into the typed schema with the structure checked.
#include "common/spec/study_yaml.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/spec/limits.h"
#include "common/spec/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

constexpr char kHeader[] = "name: s\nobjective: {metric: loss, goal: minimize}\n";

std::string WithParams(const std::string& params) {
  return absl::StrCat(kHeader, "trainer: {command: [python3, t.py]}\nparams:\n", params);
}

// The "billion laughs": `levels` levels of aliases, each used ten times, in
// the trainer's fixed settings (which take any YAML).
std::string AliasBomb(int levels) {
  std::string text = absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                  "trainer:\n  command: [python3, t.py]\n",
                                  "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
  for (int i = 1; i <= levels; ++i) {
    absl::StrAppend(&text, "  a", i, ": &a", i, " [");
    for (int k = 0; k < 10; ++k) absl::StrAppend(&text, k ? ", " : "", "*a", i - 1);
    absl::StrAppend(&text, "]\n");
  }
  return text;
}

TEST(StudyYamlTest, AliasExpansionStopsAtTheNodeLimit) {
  // 2 KB of text that would expand to 10^9 nodes is refused, quickly and in
  // little memory, naming the limit.
  const std::string bomb = AliasBomb(8);
  EXPECT_LT(bomb.size(), 2048u);
  EXPECT_THAT(StudySpecFromYaml(bomb),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("more than ", kMaxYamlNodes, " YAML nodes"))));
  // A few aliases are still fine.
  EXPECT_THAT(StudySpecFromYaml(AliasBomb(1)), IsOk());
}

TEST(StudyYamlTest, DeepNestingIsRefusedNamingTheLimit) {
  std::string nested = "1";
  for (int i = 0; i < kMaxYamlDepth + 5; ++i) nested = absl::StrCat("[", nested, "]");
  EXPECT_THAT(
      StudySpecFromYaml(absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                     "trainer: {command: [a], deep: ", nested, "}\n")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("levels deep (the limit)")));
  // Deeper than yaml-cpp itself reads: an error, not a crash.
  std::string very = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_THAT(StudySpecFromYaml(absl::StrCat("name: ", very)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StudyYamlTest, OversizedFileIsRefusedBeforeParsing) {
  const std::string big = absl::StrCat(kHeader, "# ", std::string(kMaxStudyFileBytes, 'x'), "\n");
  EXPECT_THAT(StudySpecFromYaml(big),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("more than the limit of ", kMaxStudyFileBytes))));
}

TEST(StudyYamlTest, CountsAreBounded) {
  std::string many;
  for (size_t i = 0; i < 10000; ++i) {
    absl::StrAppend(&many, "  p", i, ": {type: float, low: 0, high: 1}\n");
  }
  EXPECT_THAT(StudySpecFromYaml(WithParams(many)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("params: 10000 parameters, more than the limit of 1000")));
  std::string values;
  for (size_t i = 0; i <= kMaxCategoricalValues; ++i) absl::StrAppend(&values, i ? ", " : "", i);
  EXPECT_THAT(StudySpecFromYaml(
                  WithParams(absl::StrCat("  c: {type: categorical, values: [", values, "]}\n"))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("params.c.values: 1001 values, more than the limit of 1000")));
  // At the limits, accepted.
  std::string fits;
  for (size_t i = 0; i < kMaxParameters; ++i) {
    absl::StrAppend(&fits, "  p", i, ": {type: float, low: 0, high: 1}\n");
  }
  EXPECT_THAT(StudySpecFromYaml(WithParams(fits)), IsOk());
}

TEST(StudyYamlTest, StoredStudyFilesAreReadWithoutTheInputLimits) {
  // An earlier version accepted studies beyond today's limits; they must
  // still load.
  std::string many;
  for (size_t i = 0; i < kMaxParameters + 1; ++i) {
    absl::StrAppend(&many, "  p", i, ": {type: float, low: 0, high: 1}\n");
  }
  EXPECT_THAT(StudySpecFromYaml(WithParams(many), StudyInput::kStored), IsOk());
  EXPECT_THAT(StudySpecFromYaml(WithParams(many), StudyInput::kNew),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StudyYamlTest, ConvertsEverySectionIntoTheTypedSchema) {
  ASSERT_OK_AND_ASSIGN(v1::StudySpec spec, StudySpecFromYaml(R"(
name: typed
objectives: [{metric: acc}, {metric: ms, goal: minimize}]
constraints: [{metric: mem, max: 4}]
params:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  layers: {type: int, low: 1, high: 8, step: 2}
  opt: {type: categorical, values: [sgd, 3, 0.5, true]}
  mom: {type: float, low: 0.5, high: 0.9, when: {opt: sgd}}
sampler: {type: nsga2, population_size: 8, seed: 4}
budget: {max_trials: 20, max_retries: 5}
trainer: {command: [python3, t.py], time_limit: 60, epochs: 3, tags: [a, b]}
warm_start: {study: old, max_trials: 2}
tracking: {tensorboard: /shared/tb}
)"));
  EXPECT_EQ(spec.name(), "typed");
  ASSERT_EQ(spec.objectives_size(), 2);
  EXPECT_EQ(spec.objectives(0).goal(), v1::GOAL_MAXIMIZE);
  EXPECT_EQ(spec.objectives(1).goal(), v1::GOAL_MINIMIZE);
  EXPECT_EQ(spec.constraints(0).max(), 4);
  EXPECT_FALSE(spec.constraints(0).has_min());
  ASSERT_EQ(spec.params_size(), 4);
  EXPECT_TRUE(spec.params(0).float_range().log());
  EXPECT_EQ(spec.params(1).int_range().step(), 2);
  const v1::Categorical& opt = spec.params(2).categorical();
  EXPECT_EQ(opt.values(0).string_value(), "sgd");
  EXPECT_EQ(opt.values(1).int_value(), 3);
  EXPECT_EQ(opt.values(2).double_value(), 0.5);
  EXPECT_EQ(opt.values(3).string_value(), "true");
  EXPECT_EQ(spec.params(3).when().parent(), "opt");
  EXPECT_EQ(spec.sampler().seed(), 4u);
  EXPECT_EQ(spec.sampler().nsga2().population_size(), 8);
  EXPECT_FALSE(spec.sampler().nsga2().has_crossover_prob());  // Defaults stay unset here.
  EXPECT_FALSE(spec.has_pruner());
  EXPECT_EQ(spec.budget().max_trials(), 20);
  EXPECT_FALSE(spec.budget().has_parallel());
  ASSERT_TRUE(spec.trainer().has_command());
  EXPECT_EQ(spec.trainer().command().argv_size(), 2);
  EXPECT_EQ(spec.trainer().command().limits().time_limit_seconds(), 60);
  EXPECT_EQ(spec.trainer().command().settings_json(), R"({"epochs":3,"tags":["a","b"]})");
  EXPECT_EQ(spec.warm_start().max_trials(), 2);
  EXPECT_EQ(spec.tracking().tensorboard_dir(), "/shared/tb");
}

TEST(StudyYamlTest, StructuralErrorsNameTheKeyAndTheValue) {
  const auto error = [](const std::string& text) {
    return std::string(StudySpecFromYaml(text).status().message());
  };
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                 "tracking: {mlflow: x}")),
              HasSubstr("tracking.mlflow: unknown key (expected one of: tensorboard)"));
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                 "tracking: {tensorboard: [a]}")),
              HasSubstr("tracking.tensorboard: must be a string"));
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: float, low: a, high: 1}}")),
              HasSubstr("params.x.low: must be a number, got \"a\""));
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: int, low: 0.5, high: 1}}")),
              HasSubstr("params.x.low: must be an integer for an int parameter, got 0.5"));
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                 "pruner: {type: asha, max_resource: many}")),
              HasSubstr("pruner.max_resource: must be an integer, got \"many\""));
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                 "sampler: {type: tpe, resolution: 3}")),
              HasSubstr("sampler.resolution: unknown key"));
  EXPECT_THAT(error(absl::StrCat(kHeader, "params: {x: {type: float, low: 0, high: 1}}\n",
                                 "trainer: {external: true, epochs: 3}")),
              HasSubstr("trainer.epochs: not allowed with trainer.external: true"));
  EXPECT_THAT(error("name: [a"), HasSubstr("study file: line 1"));
  EXPECT_THAT(error(std::string("name: \xff\n")), HasSubstr("study file: not valid UTF-8"));
}

// Moved from tests/server/logic/study_spec_test.cc (YamlTextIsTypedAsInStudyFiles)
// with the code it tests.
TEST(StudyYamlTest, ParameterValuesAreTypedAsInStudyFiles) {
  ASSERT_OK_AND_ASSIGN(nlohmann::ordered_json json,
                       ParseYamlText("{a: 64, b: 0.01, c: adam, d: '64', e: true}"));
  EXPECT_TRUE(json["a"].is_number_integer());
  EXPECT_TRUE(json["b"].is_number_float());
  EXPECT_EQ(json["d"], "64");
  EXPECT_THAT(std::string(ParseYamlText("{a: [").status().message()), HasSubstr("line 1"));
  EXPECT_EQ(ParameterValueFromJson(json["a"], "a")->int_value(), 64);
  EXPECT_EQ(ParameterValueFromJson(json["b"], "b")->double_value(), 0.01);
  EXPECT_EQ(ParameterValueFromJson(json["d"], "d")->string_value(), "64");
  EXPECT_EQ(ParameterValueFromJson(json["e"], "e")->string_value(), "true");
  EXPECT_THAT(ParameterValueFromJson(nlohmann::ordered_json::array(), "p.x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p.x")));
}

}  // namespace
}  // namespace vernier
