// The study schema at the server's edge: typed specs to the logic's structs
// and back, and the stored form of a spec with its version.
#include "server/schema/study_schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/schema/stored_spec.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

// One study file per sampler and pruner, with conditions, constraints and
// warm start: every field the schema has.
const char* const kStudies[] = {
    R"(
name: every-field
objective: {metric: acc}
constraints: [{metric: mem, max: 4}, {metric: flops, min: 1, max: 9}]
params:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  drop: {type: float, low: 0, high: 0.5, step: 0.1}
  units: {type: int, low: 16, high: 256, log: true}
  depth: {type: int, low: 1, high: 9, step: 2}
  opt: {type: categorical, values: [sgd, momentum, 3, 0.5]}
  mom: {type: float, low: 0.5, high: 0.99, when: {opt: [momentum, 3]}}
sampler: {type: tpe, n_startup_trials: 3, multivariate: false, seed: 11}
pruner: {type: patience, patience: 3, min_delta: 0.01, wrapped: {type: percentile, percentile: 25, interval: 2}}
budget: {max_trials: 30, parallel: 3, max_failures: 2, max_retries: 5000, target: 0.9, max_seconds: 7200, patience_trials: 12}
trainer: {command: [python3, t.py], time_limit: 60, stop_grace: 2, epochs: 3, tags: [a]}
warm_start: {study: older, max_trials: 4}
tracking: {tensorboard: /shared/tensorboard}
)",
    R"(
name: grid
objective: {metric: loss, goal: minimize}
params: {x: {type: float, low: 0, high: 1}, y: {type: float, low: 0, high: 1}}
sampler: {type: grid, resolution: {x: 3}}
pruner: {type: hyperband, min_resource: 1, max_resource: 27}
trainer: {external: true}
)",
    R"(
name: sobol
objective: {metric: loss}
params: {x: {type: float, low: 0, high: 1}}
sampler: {type: sobol}
pruner: {type: threshold, upper: 5, warmup_steps: 2}
trainer: {command: [a]}
)",
    R"(
name: gp
objective: {metric: loss}
params: {x: {type: float, low: 0, high: 1}}
sampler: {type: gp, n_startup_trials: 4}
pruner: {type: asha, max_resource: 9, bootstrap_count: 1}
trainer: {command: [a]}
)",
    R"(
name: cmaes
objective: {metric: loss}
params: {lr: {type: float, low: 0.001, high: 1}, wd: {type: float, low: 0, high: 1}}
sampler: {type: cmaes, sigma0: 0.3, popsize: 6, restarts: true}
pruner: {type: pbt, interval: 2, quantile: 0.5, perturb_factors: [0.5, 2], params: [lr]}
budget: {parallel: 4}
trainer: {command: [a]}
)",
    R"(
name: nsga2
objectives: [{metric: acc}, {metric: ms, goal: minimize}]
params: {x: {type: int, low: 0, high: 10}}
sampler: {type: nsga2, population_size: 6, mutation_prob: 0.2}
trainer: {command: [a]}
)",
    R"(
name: builtin
objective: {metric: val_accuracy}
params:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  batch_size: {type: categorical, values: [32, 64]}
pruner: {type: median, min_trials: 2}
trainer: {model: cnn, dataset: fashion-mnist, epochs: 2}
)",
};

TEST(StudySchemaTest, NormalisedSpecsReadBackUnchangedFromTheirProto) {
  for (const char* yaml : kStudies) {
    ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(yaml));
    const v1::StudySpec proto = StudySpecToProto(spec);
    ASSERT_OK_AND_ASSIGN(StudySpec read_back, StudySpecFromProto(proto));
    EXPECT_TRUE(MessageDifferencer::Equals(StudySpecToProto(read_back), proto))
        << spec.name << "\n"
        << proto.DebugString() << "\nread back as\n"
        << StudySpecToProto(read_back).DebugString();
    // Normalising again changes nothing.
    ASSERT_THAT(NormalizeStudySpec(read_back), IsOk());
    EXPECT_TRUE(MessageDifferencer::Equals(StudySpecToProto(read_back), proto)) << spec.name;
  }
}

TEST(StudySchemaTest, StopConditionsReachTheProtoOnlyWhenSet) {
  ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(kStudies[0]));
  const v1::Budget budget = StudySpecToProto(spec).budget();
  EXPECT_EQ(budget.target(), 0.9);
  EXPECT_EQ(budget.max_seconds(), 7200);
  EXPECT_EQ(budget.patience_trials(), 12);
  ASSERT_OK_AND_ASSIGN(StudySpec plain, ParseStudySpec(kStudies[1]));
  const v1::Budget unset = StudySpecToProto(plain).budget();
  EXPECT_FALSE(unset.has_target());
  EXPECT_FALSE(unset.has_max_seconds());
  EXPECT_FALSE(unset.has_patience_trials());
}

TEST(StudySchemaTest, TrackingReachesTheSpecAndIsAbsentWhenUnset) {
  ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(kStudies[0]));
  EXPECT_EQ(spec.tracking.tensorboard_dir, "/shared/tensorboard");
  EXPECT_EQ(StudySpecToProto(spec).tracking().tensorboard_dir(), "/shared/tensorboard");
  ASSERT_OK_AND_ASSIGN(spec, ParseStudySpec(kStudies[2]));
  EXPECT_EQ(spec.tracking.tensorboard_dir, "");
  EXPECT_FALSE(StudySpecToProto(spec).has_tracking());
}

TEST(StudySchemaTest, TheStoredFormSpellsOutEveryDefault) {
  ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(R"(
name: defaults
objective: {metric: loss}
params: {x: {type: int, low: 0, high: 4}}
sampler: {type: tpe}
pruner: {type: pbt}
trainer: {command: [a]}
)"));
  const v1::StudySpec proto = StudySpecToProto(spec);
  EXPECT_EQ(proto.sampler().seed(), StableSeed("defaults"));
  EXPECT_TRUE(proto.sampler().tpe().has_n_startup_trials());
  EXPECT_EQ(proto.sampler().tpe().n_ei_candidates(), 24);
  EXPECT_TRUE(proto.sampler().tpe().multivariate());
  EXPECT_EQ(proto.params(0).int_range().step(), 1);
  EXPECT_EQ(proto.pruner().pbt().min_population(), 2);  // max(2, budget.parallel)
  EXPECT_EQ(proto.budget().max_trials(), 10);
  EXPECT_EQ(proto.trainer().command().limits().stop_grace_seconds(), 10);
  EXPECT_EQ(proto.objectives(0).goal(), v1::GOAL_MAXIMIZE);
  EXPECT_EQ(proto.artifacts().keep(), v1::ARTIFACT_KEEP_BEST);
  EXPECT_EQ(proto.artifacts().count(), 5);
  EXPECT_EQ(proto.artifacts().max_bytes(), int64_t{1} << 30);
}

TEST(StudySchemaTest, AStudyStoredBeforeArtifactsReadsWithTheirDefaults) {
  ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(kStudies[0]));
  v1::StudySpec proto = StudySpecToProto(spec);
  proto.clear_artifacts();
  ASSERT_OK_AND_ASSIGN(StudySpec stored, StudySpecFromProto(proto));
  EXPECT_EQ(stored.artifacts.keep, ArtifactKeep::kBest);
  EXPECT_EQ(stored.artifacts.count, 5);
  proto.mutable_artifacts()->set_keep(v1::ARTIFACT_KEEP_NONE);
  proto.mutable_artifacts()->set_max_bytes(77);
  ASSERT_OK_AND_ASSIGN(stored, StudySpecFromProto(proto));
  EXPECT_EQ(stored.artifacts.keep, ArtifactKeep::kNone);
  EXPECT_EQ(stored.artifacts.max_bytes, 77);
  EXPECT_EQ(StudySpecToProto(stored).artifacts().max_bytes(), 77);
}

TEST(StudySchemaTest, TypedSpecsNeedWhatTheProtoCannotSay) {
  v1::StudySpec proto;
  proto.set_name("typed");
  proto.add_objectives()->set_metric("loss");
  proto.add_params()->set_name("x");
  EXPECT_THAT(StudySpecFromRequest(proto),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("params.x.type: missing")));
  proto.mutable_params(0)->mutable_float_range()->set_high(1);
  proto.mutable_pruner()->mutable_percentile();
  EXPECT_THAT(StudySpecFromRequest(proto), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("pruner.percentile: missing")));
  proto.mutable_pruner()->mutable_patience()->mutable_wrapped()->mutable_hyperband();
  proto.mutable_pruner()->mutable_patience()->set_patience(2);
  EXPECT_THAT(StudySpecFromRequest(proto),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("pruner.wrapped.max_resource: missing")));
  proto.mutable_pruner()->mutable_none();
  proto.mutable_trainer()->mutable_builtin()->set_settings_json("[1]");
  EXPECT_THAT(StudySpecFromRequest(proto),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("settings_json")));
  proto.mutable_trainer()->mutable_external();
  ASSERT_OK_AND_ASSIGN(StudySpec spec, StudySpecFromRequest(proto));
  EXPECT_TRUE(spec.trainer.external);
  EXPECT_EQ(spec.sampler.type(), "random");
  EXPECT_EQ(spec.pruner.type(), "none");
  // Validation is the coordinator's: the typed path finds the range errors.
  proto.mutable_params(0)->mutable_float_range()->set_low(2);
  ASSERT_OK_AND_ASSIGN(spec, StudySpecFromRequest(proto));
  EXPECT_THAT(NormalizeStudySpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("params.x: low (2) must be <= high (1)")));
}

TEST(StudySchemaTest, TypedSpecsAreBoundedLikeStudyFiles) {
  v1::StudySpec proto;
  proto.set_name("big");
  proto.add_objectives()->set_metric("loss");
  for (int i = 0; i < 5000; ++i) {
    v1::ParameterSpec* param = proto.add_params();
    param->set_name(absl::StrCat("p", i));
    param->mutable_float_range()->set_high(1);
  }
  EXPECT_THAT(StudySpecFromRequest(proto),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("params: 5000 parameters, more than the limit of 1000")));
}

TEST(StoredSpecTest, TheCurrentVersionReadsBack) {
  for (const char* yaml : kStudies) {
    ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(yaml));
    ASSERT_OK_AND_ASSIGN(StudySpec read_back,
                         DecodeStoredSpec(kStoredSpecVersion, EncodeStoredSpec(spec)));
    EXPECT_EQ(EncodeStoredSpec(read_back), EncodeStoredSpec(spec)) << spec.name;
  }
}

TEST(StoredSpecTest, StudyFilesOfOlderDatabasesAreMigratedNotValidated) {
  // Version 0 is the study file as submitted. It reads like a new study file,
  // normalised the same way.
  for (const char* yaml : kStudies) {
    ASSERT_OK_AND_ASSIGN(StudySpec parsed, ParseStudySpec(yaml));
    ASSERT_OK_AND_ASSIGN(StudySpec migrated, DecodeStoredSpec(0, yaml));
    EXPECT_EQ(EncodeStoredSpec(migrated), EncodeStoredSpec(parsed)) << parsed.name;
  }
  // A stored study that today's validation (or input limits) would refuse
  // still loads: an upgrade never stops a server from opening its database.
  ASSERT_OK_AND_ASSIGN(StudySpec lax, DecodeStoredSpec(0, R"(
name: older
objective: {metric: loss}
params: {x: {type: float, low: 0, high: 1}}
sampler: {type: cmaes, sigma0: 5}
)"));
  EXPECT_EQ(lax.sampler.get<CmaesSpec>()->sigma0, 5);
  EXPECT_THAT(NormalizeStudySpec(lax), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(StudySpec read_back, DecodeStoredSpec(1, EncodeStoredSpec(lax)));
  EXPECT_EQ(read_back.sampler.get<CmaesSpec>()->sigma0, 5);
}

TEST(StoredSpecTest, UnreadableSpecsAreDataLossNamingTheVersion) {
  EXPECT_THAT(DecodeStoredSpec(1, "\xff\xff not a proto"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("version 1")));
  EXPECT_THAT(DecodeStoredSpec(0, "name: [unclosed"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("version 0")));
  EXPECT_THAT(DecodeStoredSpec(kStoredSpecVersion + 1, ""),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("newer than this build")));
}

}  // namespace
}  // namespace vernier
