#include "server/logic/study_spec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/schema/study_schema.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

constexpr char kQuickStart[] = R"(
name: fashion-cnn
objective: {metric: val_accuracy, goal: maximize}
params:
  lr:         {type: float, low: 1.0e-4, high: 0.1, log: true}
  batch_size: {type: categorical, values: [32, 64, 128, 256]}
  dropout:    {type: float, low: 0.0, high: 0.5}
  optimizer:  {type: categorical, values: [sgd, momentum, adam]}
  momentum:   {type: float, low: 0.5, high: 0.99, when: {optimizer: momentum}}
sampler: {type: random, seed: 7}
pruner:  {type: median, warmup_steps: 1, min_trials: 3}
budget:  {max_trials: 8, parallel: 2, max_failures: 3}
trainer: {model: cnn, dataset: fashion-mnist, epochs: 3, train_subset: 12000}
)";

// The quick-start spec with one line replaced.
std::string With(const std::string& from, const std::string& to) {
  std::string text = kQuickStart;
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

std::string ErrorOf(const std::string& text) {
  auto spec = ParseStudySpec(text);
  EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument));
  return std::string(spec.status().message());
}

TEST(StudySpecTest, ParsesQuickStartStudy) {
  auto spec = ParseStudySpec(kQuickStart);
  ASSERT_OK(spec);
  EXPECT_EQ(spec->name, "fashion-cnn");
  EXPECT_EQ(spec->objective.metric, "val_accuracy");
  EXPECT_EQ(spec->objective.goal, Goal::kMaximize);
  ASSERT_EQ(spec->space.params.size(), 5u);
  const ParamSpec* lr = spec->space.Find("lr");
  ASSERT_NE(lr, nullptr);
  EXPECT_TRUE(lr->log);
  EXPECT_DOUBLE_EQ(lr->low, 1e-4);
  const ParamSpec* batch = spec->space.Find("batch_size");
  ASSERT_EQ(batch->values.size(), 4u);
  EXPECT_EQ(std::get<int64_t>(batch->values[1]), 64);
  const ParamSpec* momentum = spec->space.Find("momentum");
  ASSERT_TRUE(momentum->when.has_value());
  EXPECT_EQ(momentum->when->parent, "optimizer");
  EXPECT_EQ(spec->sampler.seed, 7u);
  EXPECT_EQ(spec->pruner.type(), "median");
  EXPECT_EQ(spec->pruner.get<MedianSpec>()->min_trials, 3);
  EXPECT_EQ(spec->budget.max_trials, 8);
  EXPECT_EQ(spec->budget.parallel, 2);
  EXPECT_TRUE(spec->trainer.builtin());
  EXPECT_EQ(spec->trainer.fixed["epochs"], 3);
}

TEST(StudySpecTest, StopConditionsAreReadAndChecked) {
  const std::string budget = "budget:  {max_trials: 8, parallel: 2, max_failures: 3}";
  auto spec = ParseStudySpec(With(
      budget, "budget: {max_trials: 8, target: 0.95, max_seconds: 3600, patience_trials: 20}"));
  ASSERT_OK(spec);
  EXPECT_EQ(spec->budget.target, 0.95);
  EXPECT_EQ(spec->budget.max_seconds, 3600);
  EXPECT_EQ(spec->budget.patience_trials, 20);
  EXPECT_EQ(ParseStudySpec(kQuickStart)->budget.target, std::nullopt);

  EXPECT_THAT(ErrorOf(With(budget, "budget: {patience_trials: 0}")),
              HasSubstr("budget.patience_trials: must be >= 1, got 0"));
  EXPECT_THAT(ErrorOf(With(budget, "budget: {max_seconds: 0}")),
              HasSubstr("budget.max_seconds: must be > 0 seconds, got 0"));
  EXPECT_THAT(ErrorOf(With(budget, "budget: {max_seconds: -5}")), HasSubstr("got -5"));
  EXPECT_THAT(ErrorOf(With(budget, "budget: {target: fast}")), HasSubstr("budget.target"));
  const std::string two_objectives = R"(
name: mo
objectives: [{metric: loss, goal: minimize}, {metric: latency, goal: minimize}]
params: {x: {type: float, low: 0, high: 1}}
trainer: {command: [/bin/true]}
)";
  EXPECT_THAT(ErrorOf(two_objectives + "budget: {target: 0.1}\n"),
              HasSubstr("budget.target: applies to single-objective studies only"));
  EXPECT_THAT(ErrorOf(two_objectives + "budget: {patience_trials: 5}\n"),
              HasSubstr("budget.patience_trials: applies to single-objective studies only"));
  EXPECT_OK(ParseStudySpec(two_objectives + "budget: {max_seconds: 5}\n"));
}

TEST(StudySpecTest, JsonIsAcceptedToo) {
  auto spec = ParseStudySpec(R"({"name": "j", "objective": {"metric": "loss", "goal": "minimize"},
      "params": {"x": {"type": "float", "low": -1, "high": 1}},
      "trainer": {"command": ["python3", "t.py"]}})");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->objective.goal, Goal::kMinimize);
  EXPECT_EQ(spec->trainer.command.size(), 2u);
}

TEST(StudySpecTest, ParentsComeBeforeTheirConditionalChildren) {
  auto spec = ParseStudySpec(R"(
name: s
objective: {metric: m}
params:
  child: {type: float, low: 0, high: 1, when: {kind: b}}
  kind:  {type: categorical, values: [a, b]}
trainer: {command: [/bin/true]}
)");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->space.params[0].name, "kind");
  EXPECT_EQ(spec->space.params[1].name, "child");
}

TEST(StudySpecTest, UnknownTopLevelKeyIsNamed) {
  EXPECT_THAT(ErrorOf(std::string(kQuickStart) + "colour: blue\n"),
              HasSubstr("colour: unknown key"));
}

TEST(StudySpecTest, UnknownParamKeyIsNamed) {
  EXPECT_THAT(ErrorOf(With("dropout:    {type: float,", "dropout:    {type: float, scale: 2,")),
              HasSubstr("params.dropout.scale: unknown key"));
}

TEST(StudySpecTest, LowAboveHighNamesBothValues) {
  std::string error = ErrorOf(With("low: 0.0, high: 0.5", "low: 0.6, high: 0.5"));
  EXPECT_THAT(error, HasSubstr("params.dropout"));
  EXPECT_THAT(error, HasSubstr("0.6"));
  EXPECT_THAT(error, HasSubstr("0.5"));
}

TEST(StudySpecTest, EmptyCategoricalIsRejected) {
  EXPECT_THAT(ErrorOf(With("values: [32, 64, 128, 256]", "values: []")),
              HasSubstr("params.batch_size.values: must not be empty"));
}

TEST(StudySpecTest, LogScaleNeedsPositiveLow) {
  EXPECT_THAT(ErrorOf(With("low: 1.0e-4, high: 0.1", "low: 0, high: 0.1")),
              HasSubstr("params.lr.low: must be > 0 on a log scale, got 0"));
}

TEST(StudySpecTest, WhenNamingUnknownParameterIsRejected) {
  EXPECT_THAT(ErrorOf(With("when: {optimizer: momentum}", "when: {optimiser: momentum}")),
              HasSubstr("params.momentum.when: names unknown parameter \"optimiser\""));
}

TEST(StudySpecTest, WhenValueMustBeAChoiceOfTheParent) {
  EXPECT_THAT(ErrorOf(With("when: {optimizer: momentum}", "when: {optimizer: nesterov}")),
              HasSubstr("params.momentum.when.optimizer: \"nesterov\" is not a value"));
}

TEST(StudySpecTest, ConditionCycleIsRejected) {
  EXPECT_THAT(ErrorOf(R"(
name: s
objective: {metric: m}
params:
  a: {type: categorical, values: [x], when: {b: y}}
  b: {type: categorical, values: [y], when: {a: x}}
trainer: {command: [/bin/true]}
)"),
              HasSubstr("cycle"));
}

TEST(StudySpecTest, UnknownOptimizerNamesFieldAndValue) {
  std::string error = ErrorOf(With("[sgd, momentum, adam]", "[sgd, momentum, adamm]"));
  EXPECT_THAT(error, HasSubstr("params.optimizer.values[2]"));
  EXPECT_THAT(error, HasSubstr("adamm"));
}

TEST(StudySpecTest, UnknownSamplerPrunerModelDatasetAreNamed) {
  EXPECT_THAT(ErrorOf(With("type: random", "type: bayes")),
              HasSubstr("sampler.type: unknown sampler \"bayes\""));
  EXPECT_THAT(ErrorOf(With("type: median", "type: fancy")),
              HasSubstr("pruner.type: unknown pruner \"fancy\""));
  std::string model_error = ErrorOf(With("model: cnn", "model: resnet"));
  EXPECT_THAT(model_error, HasSubstr("trainer.model"));
  EXPECT_THAT(model_error, HasSubstr("resnet"));
  std::string dataset_error = ErrorOf(With("dataset: fashion-mnist", "dataset: imagenet"));
  EXPECT_THAT(dataset_error, HasSubstr("trainer.dataset"));
  EXPECT_THAT(dataset_error, HasSubstr("imagenet"));
}

TEST(StudySpecTest, BuiltinTrainerRejectsUnknownParameter) {
  EXPECT_THAT(ErrorOf(With("dropout:", "dropuot:")),
              HasSubstr("params.dropuot: not a parameter of the built-in trainer"));
}

TEST(StudySpecTest, BuiltinIntParameterCannotBeSearchedAsFloat) {
  EXPECT_THAT(ErrorOf(With("batch_size: {type: categorical, values: [32, 64, 128, 256]}",
                           "batch_size: {type: float, low: 16, high: 256}")),
              HasSubstr("params.batch_size.type: must be int or categorical"));
}

TEST(StudySpecTest, CommandTrainerAcceptsAnyParameterName) {
  auto spec =
      ParseStudySpec(With("trainer: {model: cnn, dataset: fashion-mnist, epochs: 3, "
                          "train_subset: 12000}",
                          "trainer: {command: [python3, train.py], time_limit: 60}"));
  ASSERT_OK(spec);
  EXPECT_EQ(spec->trainer.time_limit, absl::Seconds(60));
}

TEST(StudySpecTest, BadYamlReportsLine) {
  EXPECT_THAT(ErrorOf("name: [unclosed\n"), HasSubstr("line"));
}

TEST(StudySpecTest, InvalidStudyNameIsRejected) {
  EXPECT_THAT(ErrorOf(With("name: fashion-cnn", "name: ../etc")),
              HasSubstr("name: \"../etc\" is not a valid study name"));
}

TEST(StudySpecTest, BudgetValuesAreChecked) {
  EXPECT_THAT(ErrorOf(With("max_trials: 8", "max_trials: 0")),
              HasSubstr("budget.max_trials: must be >= 1, got 0"));
  EXPECT_THAT(ErrorOf(With("parallel: 2", "parallel: two")),
              HasSubstr("budget.parallel: must be an integer, got \"two\""));
}

TEST(StudySpecTest, TrialParamsOverlayFixedSettings) {
  auto spec = ParseStudySpec(kQuickStart);
  ASSERT_OK(spec);
  ParamMap params = {{"lr", 0.01}, {"batch_size", int64_t{64}}, {"optimizer", std::string("adam")}};
  nlohmann::json json = TrialParamsJson(spec->trainer, params);
  EXPECT_EQ(json["model"], "cnn");
  EXPECT_EQ(json["epochs"], 3);
  EXPECT_EQ(json["batch_size"], 64);
  EXPECT_TRUE(json["batch_size"].is_number_integer());
  EXPECT_DOUBLE_EQ(json["lr"].get<double>(), 0.01);
}

TEST(StudySpecTest, WarmStartNamesAStudyAndOptionallyHowManyTrials) {
  auto spec = ParseStudySpec(std::string(kQuickStart) + "warm_start: {study: older}\n");
  ASSERT_OK(spec);
  ASSERT_TRUE(spec->warm_start.has_value());
  EXPECT_EQ(spec->warm_start->study, "older");
  EXPECT_FALSE(spec->warm_start->max_trials.has_value());
  spec = ParseStudySpec(std::string(kQuickStart) + "warm_start: {study: older, max_trials: 5}\n");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->warm_start->max_trials, 5);
  EXPECT_FALSE(ParseStudySpec(kQuickStart)->warm_start.has_value());
}

TEST(StudySpecTest, BadWarmStartIsRejectedNamingTheField) {
  const std::string base = kQuickStart;
  EXPECT_THAT(ErrorOf(base + "warm_start: {max_trials: 5}\n"),
              HasSubstr("warm_start.study: missing"));
  EXPECT_THAT(ErrorOf(base + "warm_start: {study: 'a b'}\n"),
              HasSubstr("warm_start.study: \"a b\" is not a valid study name"));
  EXPECT_THAT(ErrorOf(base + "warm_start: {study: fashion-cnn}\n"),
              HasSubstr("warm_start.study: cannot be the study itself"));
  EXPECT_THAT(ErrorOf(base + "warm_start: {study: a, max_trials: 0}\n"),
              HasSubstr("warm_start.max_trials: must be >= 1, got 0"));
  EXPECT_THAT(ErrorOf(base + "warm_start: {study: a, top: 3}\n"), HasSubstr("warm_start.top"));
  EXPECT_THAT(ErrorOf(base + "warm_start: older\n"), HasSubstr("warm_start"));
  EXPECT_THAT(ErrorOf(With("sampler: {type: random, seed: 7}", "sampler: {type: grid}") +
                      "warm_start: {study: a}\n"),
              HasSubstr("warm_start: cannot be combined with sampler grid"));
}

TEST(StudySpecTest, ArtifactsDefaultToTheBestFiveAndTakeSizesWithUnits) {
  auto spec = ParseStudySpec(kQuickStart);
  ASSERT_OK(spec);
  EXPECT_EQ(spec->artifacts.keep, ArtifactKeep::kBest);
  EXPECT_EQ(spec->artifacts.count, 5);
  EXPECT_EQ(spec->artifacts.max_bytes, int64_t{1} << 30);
  spec = ParseStudySpec(std::string(kQuickStart) + "artifacts: {keep: all, max_bytes: 1.5GiB}\n");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->artifacts.keep, ArtifactKeep::kAll);
  EXPECT_EQ(spec->artifacts.max_bytes, int64_t{3} << 29);
  spec = ParseStudySpec(std::string(kQuickStart) + "artifacts: {count: 2, max_bytes: 500MB}\n");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->artifacts.count, 2);
  EXPECT_EQ(spec->artifacts.max_bytes, 500000000);
  spec = ParseStudySpec(std::string(kQuickStart) + "artifacts: {keep: none, max_bytes: 4096}\n");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->artifacts.keep, ArtifactKeep::kNone);
  EXPECT_EQ(spec->artifacts.max_bytes, 4096);
}

TEST(StudySpecTest, BadArtifactsAreRejectedNamingTheField) {
  const std::string base = kQuickStart;
  EXPECT_THAT(ErrorOf(base + "artifacts: {keep: some}\n"),
              HasSubstr("artifacts.keep: \"some\" (expected best, all or none)"));
  EXPECT_THAT(ErrorOf(base + "artifacts: {count: 0}\n"),
              HasSubstr("artifacts.count: must be >= 1, got 0"));
  EXPECT_THAT(ErrorOf(base + "artifacts: {max_bytes: 0}\n"),
              HasSubstr("artifacts.max_bytes: must be >= 1, got 0"));
  EXPECT_THAT(ErrorOf(base + "artifacts: {max_bytes: 2TiB}\n"),
              HasSubstr("artifacts.max_bytes: 2199023255552 is above the most"));
  EXPECT_THAT(ErrorOf(base + "artifacts: {max_bytes: 12 parsecs}\n"),
              HasSubstr("artifacts.max_bytes: must be a size in bytes"));
  EXPECT_THAT(ErrorOf(base + "artifacts: {keep_best: 3}\n"),
              HasSubstr("artifacts.keep_best: unknown key (expected one of: count, keep, "
                        "max_bytes)"));
}

TEST(StudySpecTest, TrackingTakesAnAbsoluteTensorBoardDirectory) {
  auto spec = ParseStudySpec(std::string(kQuickStart) + "tracking: {tensorboard: /runs/tb}\n");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->tracking.tensorboard_dir, "/runs/tb");
  EXPECT_EQ(ParseStudySpec(kQuickStart)->tracking.tensorboard_dir, "");
  EXPECT_EQ(ParseStudySpec(std::string(kQuickStart) + "tracking: {}\n")->tracking.tensorboard_dir,
            "");
}

TEST(StudySpecTest, BadTrackingIsRejectedNamingTheField) {
  const std::string base = kQuickStart;
  EXPECT_THAT(ErrorOf(base + "tracking: {tensorboard: runs/tb}\n"),
              HasSubstr("tracking.tensorboard: \"runs/tb\" is not an absolute path"));
  EXPECT_THAT(ErrorOf(base + "tracking: {tensorboard: 3}\n"),
              HasSubstr("tracking.tensorboard: must be a string, got 3"));
  EXPECT_THAT(ErrorOf(base + "tracking: {mlflow: http://mlflow:5000}\n"),
              HasSubstr("tracking.mlflow: unknown key (expected one of: tensorboard)"));
  EXPECT_THAT(ErrorOf(base + "tracking: /runs/tb\n"), HasSubstr("tracking"));
  EXPECT_THAT(ErrorOf(With("trainer: {model: cnn, dataset: fashion-mnist, epochs: 3, "
                           "train_subset: 12000}",
                           "trainer: {external: true}") +
                      "tracking: {tensorboard: /runs/tb}\n"),
              HasSubstr("tracking.tensorboard: the trials of an external trainer never run"));
}

int64_t CheckpointEveryOf(const std::string& text) {
  auto spec = ParseStudySpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? CheckpointEvery(*spec) : -1;
}

TEST(StudySpecTest, CheckpointEveryDefaultsFromTheTrainer) {
  const std::string trainer = "epochs: 3, train_subset: 12000";
  // Three epochs are cheaper to rerun than to checkpoint; ten are not.
  EXPECT_EQ(CheckpointEveryOf(kQuickStart), 0);
  EXPECT_EQ(CheckpointEveryOf(With(trainer, "epochs: 10")), 1);
  EXPECT_EQ(CheckpointEveryOf(With(trainer, "epochs: 10, checkpoint_every: 3")), 3);
  EXPECT_EQ(CheckpointEveryOf(std::string(kQuickStart) + "checkpoint: {every: 2}\n"), 2);
  EXPECT_EQ(CheckpointEveryOf(With(trainer, "epochs: 10") + "checkpoint: {every: 0}\n"), 0);
  // A searched epochs counts with its upper bound.
  EXPECT_EQ(CheckpointEveryOf(R"(
name: searched-epochs
objective: {metric: val_accuracy, goal: maximize}
params:
  lr:     {type: float, low: 1.0e-4, high: 0.1, log: true}
  epochs: {type: int, low: 2, high: 20}
trainer: {model: mlp, dataset: fashion-mnist}
)"),
            1);
  // A trial command checkpoints only when asked; pbt at its interval.
  EXPECT_EQ(CheckpointEveryOf(R"(
name: script
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
trainer: {command: [python3, train.py]}
)"),
            0);
  EXPECT_EQ(CheckpointEveryOf(R"(
name: population
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.1, high: 1}
pruner: {type: pbt, interval: 4}
trainer: {command: [python3, train.py]}
)"),
            4);
}

TEST(StudySpecTest, BadCheckpointIsRejectedNamingTheField) {
  const std::string base = kQuickStart;
  EXPECT_THAT(ErrorOf(base + "checkpoint: {every: -1}\n"), HasSubstr("checkpoint.every"));
  EXPECT_THAT(ErrorOf(base + "checkpoint: {every: 1001}\n"),
              HasSubstr("checkpoint.every: 1001 is above 1000 steps"));
  EXPECT_THAT(ErrorOf(base + "checkpoint: {keep: 3}\n"),
              HasSubstr("checkpoint.keep: unknown key (expected one of: every)"));
  EXPECT_THAT(ErrorOf(With("trainer: {model: cnn, dataset: fashion-mnist, epochs: 3, "
                           "train_subset: 12000}",
                           "trainer: {external: true}") +
                      "checkpoint: {every: 1}\n"),
              HasSubstr("checkpoint.every: the trials of an external trainer never run"));
  EXPECT_THAT(ErrorOf(R"(
name: population
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0.1, high: 1}
pruner: {type: pbt, interval: 4}
trainer: {command: [python3, train.py]}
checkpoint: {every: 3}
)"),
              HasSubstr("checkpoint.every: 3 differs from pruner.interval (4)"));
}

}  // namespace
}  // namespace vernier
