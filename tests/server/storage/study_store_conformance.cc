#include "tests/server/storage/study_store_conformance.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "server/schema/study_schema.h"
#include "tests/testing/status_matchers.h"

namespace vernier {

namespace {

using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string DoubleString(double value) {
  if (std::isnan(value)) return "nan";
  return absl::StrFormat("%a", value);
}

std::string ParamString(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return "double " + DoubleString(*d);
  if (const auto* i = std::get_if<int64_t>(&value)) return absl::StrCat("int ", *i);
  return absl::StrCat("string \"", absl::CEscape(std::get<std::string>(value)), "\"");
}

std::string MetricsString(const MetricMap& metrics) {
  return absl::StrCat("{",
                      absl::StrJoin(metrics, ", ",
                                    [](std::string* out, const auto& entry) {
                                      absl::StrAppend(out, "\"", absl::CEscape(entry.first),
                                                      "\": ", DoubleString(entry.second));
                                    }),
                      "}");
}

std::string TimeString(absl::Time time) {
  return absl::StrCat(absl::FormatTime(time, absl::UTCTimeZone()), " (", absl::ToUnixNanos(time),
                      "ns)");
}

StudyRecord MakeStudy(const std::string& name) {
  StudyRecord study;
  study.name = name;
  study.spec.name = name;
  study.spec.objective = {"val_loss", Goal::kMinimize};
  study.spec.objectives = {study.spec.objective};
  ParamSpec lr;
  lr.name = "lr";
  lr.low = 1e-4;
  lr.high = 1;
  lr.log = true;
  study.spec.space.params.push_back(lr);
  study.source_text =
      absl::StrCat("name: ", name, "\nobjective: {metric: val_loss, goal: minimize}\n");
  study.state = StudyState::kActive;
  study.create_time = absl::FromUnixMicros(1'700'000'000'123'456);
  return study;
}

TrialRecord MakeTrial(const std::string& study, int64_t number) {
  TrialRecord trial;
  trial.study = study;
  trial.number = number;
  trial.params = {{"lr", 0.01}, {"layers", int64_t{3}}, {"optimizer", std::string("adam")}};
  trial.state = TrialState::kRunning;
  trial.worker_id = "worker-1/slot-0";
  trial.attempt = 1;
  trial.start_time = absl::FromUnixMicros(1'700'000'100'000'001);
  return trial;
}

Measurement MakeMeasurement(int64_t step, double loss) {
  return Measurement{step, {{"val_loss", loss}, {"val_accuracy", 1.0 - loss}}};
}

// The trial as a store gives it back after PutTrial(trial) and then
// AddMeasurement() of `intermediate`.
TrialRecord Expected(TrialRecord trial, std::vector<Measurement> intermediate = {}) {
  trial.intermediate = std::move(intermediate);
  return trial;
}

}  // namespace

void PrintTo(const StudyStoreFactory& factory, std::ostream* os) { *os << factory.name; }

std::string StudyStoreFactoryName(const ::testing::TestParamInfo<StudyStoreFactory>& info) {
  return info.param.name;
}

std::string DebugString(const StudyRecord& study) {
  return absl::StrCat(
      "study \"", absl::CEscape(study.name), "\" state=", StudyStateName(study.state), " reason=\"",
      absl::CEscape(study.state_reason), "\" created=", TimeString(study.create_time), " spec={",
      StudySpecToProto(study.spec).ShortDebugString(), "} source=\"",
      absl::CEscape(study.source_text), "\"");
}

std::string DebugString(const TrialRecord& trial) {
  std::string out = absl::StrCat("trial \"", absl::CEscape(trial.study), "\"#", trial.number,
                                 " state=", TrialStateName(trial.state), " params={");
  for (const auto& [name, value] : trial.params) {
    absl::StrAppend(&out, "\"", absl::CEscape(name), "\": ", ParamString(value), ", ");
  }
  absl::StrAppend(&out, "} final=", MetricsString(trial.final_metrics), " failure=\"",
                  absl::CEscape(trial.failure_reason), "\" worker=\"",
                  absl::CEscape(trial.worker_id), "\" attempt=", trial.attempt,
                  " retries=", trial.retries, " start=", TimeString(trial.start_time),
                  " end=", TimeString(trial.end_time), " origin=\"", absl::CEscape(trial.origin),
                  "\" excluded=", trial.excluded, " exclusion_reason=\"",
                  absl::CEscape(trial.exclusion_reason), "\" intermediate=[");
  for (const Measurement& m : trial.intermediate) {
    absl::StrAppend(&out, m.step, ":", MetricsString(m.metrics), " ");
  }
  absl::StrAppend(&out, "]");
  return out;
}

std::string DebugString(const std::vector<StoredStudy>& studies) {
  std::string out;
  for (const StoredStudy& stored : studies) {
    absl::StrAppend(&out, DebugString(stored.study), "\n");
    for (const TrialRecord& trial : stored.trials) {
      absl::StrAppend(&out, "  ", DebugString(trial), "\n");
    }
  }
  return out;
}

void StudyStoreConformanceTest::SetUp() {
  ASSERT_FALSE(scratch_dir_.path().empty());
  store_ = GetParam().open(scratch_dir_.path());
  ASSERT_NE(store_, nullptr);
}

void StudyStoreConformanceTest::TearDown() {
  store_.reset();  // scratch_dir_ goes with the fixture.
}

std::vector<StoredStudy> StudyStoreConformanceTest::Load() {
  if (GetParam().reopen_before_load) {
    store_.reset();
    store_ = GetParam().open(scratch_dir_.path());
    if (store_ == nullptr) {
      ADD_FAILURE() << "reopening failed";
      return {};
    }
  }
  return VALUE_OR_FAIL(store_->LoadAll());
}

namespace {

using ::testing::HasSubstr;

TEST_P(StudyStoreConformanceTest, EmptyStoreLoadsNothing) { EXPECT_TRUE(Load().empty()); }

TEST_P(StudyStoreConformanceTest, CreatedStudyLoadsWithEveryField) {
  StudyRecord study = MakeStudy("cifar");
  study.source_text = "line 1\nquote ' \" back\\slash\ttab\n\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\n";
  study.state = StudyState::kStopped;
  study.state_reason = "stopped by alice";
  ASSERT_OK(store().CreateStudy(study));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(study));
  EXPECT_TRUE(loaded[0].trials.empty());
}

TEST_P(StudyStoreConformanceTest, CreateStudyWithTakenNameIsAlreadyExistsAndKeepsTheFirst) {
  const StudyRecord first = MakeStudy("mnist");
  ASSERT_OK(store().CreateStudy(first));
  StudyRecord second = MakeStudy("mnist");
  second.source_text = "something else";
  second.spec.budget.max_trials = 99;

  const absl::Status status = store().CreateStudy(second);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(std::string(status.message()), HasSubstr("mnist"));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(first));
}

TEST_P(StudyStoreConformanceTest, StudyNamesAreExactAndBinarySafe) {
  // Names differing only in case, trailing space or an embedded quote are
  // different studies; none of them is taken as SQL.
  for (const char* name : {"study", "Study", "study ", "it's \"odd\"; DROP TABLE studies;--"}) {
    ASSERT_OK(store().CreateStudy(MakeStudy(name))) << name;
  }
  EXPECT_EQ(Load().size(), 4);
}

TEST_P(StudyStoreConformanceTest, UpdateStudyStateSetsStateAndReasonOnly) {
  const StudyRecord study = MakeStudy("s");
  ASSERT_OK(store().CreateStudy(study));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));

  ASSERT_OK(store().UpdateStudyState("s", StudyState::kCompleted, "budget spent"));

  StudyRecord expected = study;
  expected.state = StudyState::kCompleted;
  expected.state_reason = "budget spent";
  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(expected));
  EXPECT_EQ(loaded[0].trials.size(), 1);

  ASSERT_OK(store().UpdateStudyState("s", StudyState::kActive, ""));
  loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(study));
}

TEST_P(StudyStoreConformanceTest, ASpecWriteReplacesTheSpecAndKeepsTheStudyFile) {
  StudyRecord study = MakeStudy("s");
  study.state = StudyState::kCompleted;
  ASSERT_OK(store().CreateStudy(study));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));

  // As `vernier study resume --max-trials 50 --parallel 7`: one write.
  StudyRecord expected = study;
  expected.spec.budget.max_trials = 50;
  expected.spec.budget.parallel = 7;
  expected.spec.budget.target = 0.25;
  expected.state = StudyState::kActive;
  StudyWrite write;
  write.study = "s";
  write.spec = expected.spec;
  write.state.emplace(StudyState::kActive, "");
  ASSERT_OK(store().Apply(write));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(expected));
  EXPECT_EQ(loaded[0].study.source_text, study.source_text);
  EXPECT_EQ(loaded[0].trials.size(), 1);

  StudyWrite unknown;
  unknown.study = "unknown";
  unknown.spec = expected.spec;
  EXPECT_THAT(store().Apply(unknown), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StudyStoreConformanceTest, UpdateStudyStateOfUnknownStudyIsNotFound) {
  ASSERT_OK(store().CreateStudy(MakeStudy("known")));
  const absl::Status status = store().UpdateStudyState("unknown", StudyState::kStopped, "why");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr("unknown"));
}

TEST_P(StudyStoreConformanceTest, UnknownStateValuesAreInvalidArgument) {
  StudyRecord study = MakeStudy("s");
  study.state = static_cast<StudyState>(42);
  EXPECT_THAT(store().CreateStudy(study), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  EXPECT_THAT(store().UpdateStudyState("s", static_cast<StudyState>(0), ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  TrialRecord trial = MakeTrial("s", 0);
  trial.state = static_cast<TrialState>(7);
  EXPECT_THAT(store().PutTrial(trial), StatusIs(absl::StatusCode::kInvalidArgument));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(loaded[0].study.state, StudyState::kActive);
  EXPECT_TRUE(loaded[0].trials.empty());
}

TEST_P(StudyStoreConformanceTest, InvalidUtf8InsideParamsOrMetricsIsInvalidArgument) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  TrialRecord bad_value = MakeTrial("s", 0);
  bad_value.params["optimizer"] = std::string(
      "ad\xff"
      "am");
  EXPECT_THAT(store().PutTrial(bad_value), StatusIs(absl::StatusCode::kInvalidArgument));
  TrialRecord bad_name = MakeTrial("s", 0);
  bad_name.params["\xc0\x80"] = 1.0;  // Overlong NUL.
  EXPECT_THAT(store().PutTrial(bad_name), StatusIs(absl::StatusCode::kInvalidArgument));
  TrialRecord bad_metric = MakeTrial("s", 0);
  bad_metric.final_metrics["\xed\xa0\x80"] = 1.0;  // A UTF-16 surrogate.
  EXPECT_THAT(store().PutTrial(bad_metric), StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));
  EXPECT_THAT(store().AddMeasurement("s", 0, Measurement{1, {{"lo\x80ss", 1.0}}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(MakeTrial("s", 0)));
}

TEST_P(StudyStoreConformanceTest, PutTrialInsertsEveryField) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  TrialRecord trial = MakeTrial("s", 4);
  trial.state = TrialState::kFailed;
  trial.final_metrics = {{"val_loss", 0.25}, {"val_accuracy", 0.875}};
  trial.failure_reason = "exit status 1\nTraceback: ...";
  trial.attempt = 3;
  trial.retries = 2;
  trial.end_time = absl::FromUnixMicros(1'700'000'200'000'000);
  trial.origin = "warm_start:old-study#12";
  trial.excluded = true;
  trial.exclusion_reason = "ran on a node with a broken GPU";
  ASSERT_OK(store().PutTrial(trial));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(trial));
}

TEST_P(StudyStoreConformanceTest, PutTrialIgnoresIntermediateValuesOfTheRecord) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  TrialRecord trial = MakeTrial("s", 0);
  trial.intermediate = {MakeMeasurement(1, 0.5)};
  ASSERT_OK(store().PutTrial(trial));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_TRUE(loaded[0].trials[0].intermediate.empty());
}

TEST_P(StudyStoreConformanceTest, PutTrialReplacesEveryFieldButIntermediateValues) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));
  ASSERT_OK(store().AddMeasurement("s", 0, MakeMeasurement(1, 0.5)));
  ASSERT_OK(store().AddMeasurement("s", 0, MakeMeasurement(2, 0.4)));

  TrialRecord finished = MakeTrial("s", 0);
  finished.params = {{"lr", 0.5}};  // Keys can disappear too.
  finished.state = TrialState::kComplete;
  finished.final_metrics = {{"val_loss", 0.3}};
  finished.worker_id = "worker-2/slot-1";
  finished.attempt = 2;
  finished.retries = 1;
  finished.start_time = absl::FromUnixMicros(1'700'000'300'000'000);
  finished.end_time = absl::FromUnixMicros(1'700'000'400'000'000);
  finished.origin = "enqueued";
  finished.intermediate = {MakeMeasurement(9, 0.9)};  // Ignored.
  ASSERT_OK(store().PutTrial(finished));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(finished, {MakeMeasurement(1, 0.5), MakeMeasurement(2, 0.4)})));
}

TEST_P(StudyStoreConformanceTest, PutTrialOfUnknownStudyIsNotFound) {
  ASSERT_OK(store().CreateStudy(MakeStudy("known")));
  const absl::Status status = store().PutTrial(MakeTrial("unknown", 0));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(status.message()), HasSubstr("unknown"));
  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_TRUE(loaded[0].trials.empty());
}

TEST_P(StudyStoreConformanceTest, MeasurementsLoadByStepWhateverTheOrderAdded) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));
  for (int64_t step : {5, 1, 10, 3, 0}) {
    ASSERT_OK(
        store().AddMeasurement("s", 0, MakeMeasurement(step, static_cast<double>(step) / 100)));
  }

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  std::vector<Measurement> expected;
  for (int64_t step : {0, 1, 3, 5, 10})
    expected.push_back(MakeMeasurement(step, static_cast<double>(step) / 100));
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(Expected(MakeTrial("s", 0), expected)));
}

TEST_P(StudyStoreConformanceTest, MeasurementAtAStoredStepReplacesIt) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));
  ASSERT_OK(store().AddMeasurement("s", 0, MakeMeasurement(1, 0.5)));
  ASSERT_OK(store().AddMeasurement("s", 0, MakeMeasurement(2, 0.4)));
  const Measurement replacement{1, {{"val_loss", 0.45}}};  // Fewer metrics.
  ASSERT_OK(store().AddMeasurement("s", 0, replacement));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(MakeTrial("s", 0), {replacement, MakeMeasurement(2, 0.4)})));
}

TEST_P(StudyStoreConformanceTest, MeasurementOfUnknownTrialOrStudyIsNotFound) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  ASSERT_OK(store().CreateStudy(MakeStudy("t")));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));

  const absl::Status no_trial = store().AddMeasurement("s", 1, MakeMeasurement(1, 0.5));
  EXPECT_THAT(no_trial, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(no_trial.message()), HasSubstr("trial 1"));
  // Trial 0 exists, but in another study.
  EXPECT_THAT(store().AddMeasurement("t", 0, MakeMeasurement(1, 0.5)),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().AddMeasurement("nope", 0, MakeMeasurement(1, 0.5)),
              StatusIs(absl::StatusCode::kNotFound));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 2);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_TRUE(loaded[0].trials[0].intermediate.empty());
  EXPECT_TRUE(loaded[1].trials.empty());
}

TEST_P(StudyStoreConformanceTest, LoadAllOrdersStudiesByCreationAndTrialsByNumber) {
  // Neither alphabetical nor by length: only creation order explains it.
  const std::vector<std::string> names = {"zeta", "alpha", "mid", "a", "Zz"};
  for (const std::string& name : names) ASSERT_OK(store().CreateStudy(MakeStudy(name)));
  // Numbers put out of order, and past 9 so a text sort would differ.
  for (int64_t number : {10, 2, 0, 7, 100, 1}) {
    ASSERT_OK(store().PutTrial(MakeTrial("mid", number)));
    ASSERT_OK(store().PutTrial(MakeTrial("zeta", 1000 - number)));
  }

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(loaded[i].study.name, names[i]);
  std::vector<int64_t> mid_numbers;
  for (const TrialRecord& trial : loaded[2].trials) mid_numbers.push_back(trial.number);
  EXPECT_EQ(mid_numbers, (std::vector<int64_t>{0, 1, 2, 7, 10, 100}));
  std::vector<int64_t> zeta_numbers;
  for (const TrialRecord& trial : loaded[0].trials) zeta_numbers.push_back(trial.number);
  EXPECT_EQ(zeta_numbers, (std::vector<int64_t>{900, 990, 993, 998, 999, 1000}));
}

TEST_P(StudyStoreConformanceTest, DeleteStudyRemovesItWithItsTrialsAndMeasurementsOnly) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_OK(store().CreateStudy(MakeStudy(name)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 0)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 1)));
    ASSERT_OK(store().AddMeasurement(name, 1, MakeMeasurement(1, 0.1)));
  }
  EXPECT_THAT(store().DeleteStudy("b"), IsOkAndHolds(2));
  EXPECT_THAT(store().DeleteStudy("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().LoadStudy("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().PutTrial(MakeTrial("b", 2)), StatusIs(absl::StatusCode::kNotFound));

  // The name is free again: a new study of that name starts empty and is the
  // newest.
  ASSERT_OK(store().CreateStudy(MakeStudy("b")));
  const std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 3);
  std::vector<StoredStudy> expected(3);
  expected[0].study = MakeStudy("a");
  expected[0].trials = {Expected(MakeTrial("a", 0), {}),
                        Expected(MakeTrial("a", 1), {MakeMeasurement(1, 0.1)})};
  expected[1].study = MakeStudy("c");
  expected[1].trials = {Expected(MakeTrial("c", 0), {}),
                        Expected(MakeTrial("c", 1), {MakeMeasurement(1, 0.1)})};
  expected[2].study = MakeStudy("b");
  EXPECT_EQ(DebugString(loaded), DebugString(expected));
}

TEST_P(StudyStoreConformanceTest, LoadAllGivesEveryValueOfTheWantedStudiesAndTheLastOfTheOthers) {
  for (const char* name : {"running", "over"}) {
    ASSERT_OK(store().CreateStudy(MakeStudy(name)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 0)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 1)));
    for (int64_t step : {3, 1, 2}) {
      ASSERT_OK(
          store().AddMeasurement(name, 0, MakeMeasurement(step, static_cast<double>(step) / 10)));
    }
  }
  ASSERT_OK(store().AddMeasurement("over", 1, MakeMeasurement(7, 0.7)));
  std::vector<std::string> asked;
  auto loaded = store().LoadAll([&asked](const StoredStudy& study) {
    asked.push_back(study.study.name);
    EXPECT_TRUE(study.trials[0].intermediate.empty()) << "the filter sees no values";
    return study.study.name == "running";
  });
  ASSERT_OK(loaded);
  EXPECT_EQ(asked, (std::vector<std::string>{"running", "over"}));
  std::vector<StoredStudy> expected(2);
  expected[0].study = MakeStudy("running");
  expected[0].trials = {
      Expected(MakeTrial("running", 0),
               {MakeMeasurement(1, 0.1), MakeMeasurement(2, 0.2), MakeMeasurement(3, 0.3)}),
      Expected(MakeTrial("running", 1))};
  expected[1].study = MakeStudy("over");
  expected[1].trials = {Expected(MakeTrial("over", 0), {MakeMeasurement(3, 0.3)}),
                        Expected(MakeTrial("over", 1), {MakeMeasurement(7, 0.7)})};
  EXPECT_EQ(DebugString(*loaded), DebugString(expected));
}

TEST_P(StudyStoreConformanceTest, AStudyWithARestingSummaryIsLoadedWithoutItsTrials) {
  for (const char* name : {"kept", "resting"}) {
    ASSERT_OK(store().CreateStudy(MakeStudy(name)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 0)));
    ASSERT_OK(store().AddMeasurement(name, 0, MakeMeasurement(1, 0.1)));
  }
  ASSERT_OK(store().SetRestingSummary("resting", std::string("{\"finished\":1}")));
  std::vector<std::string> asked;
  auto loaded = store().LoadAll([&asked](const StoredStudy& study) {
    asked.push_back(study.study.name);
    return true;
  });
  ASSERT_OK(loaded);
  EXPECT_EQ(asked, std::vector<std::string>{"kept"});
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].trials.size(), 1u);
  EXPECT_EQ((*loaded)[0].resting_summary, "");
  EXPECT_EQ((*loaded)[1].study.name, "resting");
  EXPECT_TRUE((*loaded)[1].trials.empty());
  EXPECT_EQ((*loaded)[1].resting_summary, "{\"finished\":1}");
  // LoadAll() and LoadStudy() still give everything, with the summary.
  EXPECT_EQ(store().LoadAll()->at(1).trials.size(), 1u);
  EXPECT_EQ(store().LoadStudy("resting")->resting_summary, "{\"finished\":1}");

  ASSERT_OK(store().SetRestingSummary("resting", std::nullopt));
  loaded = store().LoadAll([](const StoredStudy&) { return true; });
  ASSERT_OK(loaded);
  EXPECT_EQ((*loaded)[1].trials.size(), 1u);
  EXPECT_EQ((*loaded)[1].resting_summary, "");
  EXPECT_THAT(store().SetRestingSummary("unknown", std::string("{}")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StudyStoreConformanceTest, LoadStudyLastValuesKeepsTheHighestStepOfEachTrial) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 1)));
  for (int64_t step : {3, 1, 2}) {
    ASSERT_OK(store().AddMeasurement("s", 0, MakeMeasurement(step, static_cast<double>(step))));
  }
  auto loaded = store().LoadStudyLastValues("s");
  ASSERT_OK(loaded);
  ASSERT_EQ(loaded->trials.size(), 2u);
  EXPECT_EQ(loaded->trials[0].intermediate, std::vector<Measurement>{MakeMeasurement(3, 3)});
  EXPECT_TRUE(loaded->trials[1].intermediate.empty());
  EXPECT_THAT(store().LoadStudyLastValues("unknown").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StudyStoreConformanceTest, LoadValuesReadsARangeOfTrials) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  for (int64_t number = 0; number < 4; ++number) {
    ASSERT_OK(store().PutTrial(MakeTrial("s", number)));
    if (number == 2) continue;  // No values.
    ASSERT_OK(store().AddMeasurement("s", number, MakeMeasurement(2, static_cast<double>(number))));
    ASSERT_OK(store().AddMeasurement("s", number, MakeMeasurement(1, static_cast<double>(number))));
  }
  auto values = store().LoadValues("s", 1, 2);
  ASSERT_OK(values);
  ASSERT_EQ(values->size(), 1u);
  EXPECT_EQ(values->at(1),
            (std::vector<Measurement>{MakeMeasurement(1, 1), MakeMeasurement(2, 1)}));
  EXPECT_EQ(store().LoadValues("s", 0, 3)->size(), 3u);
  EXPECT_TRUE(store().LoadValues("unknown", 0, 3)->empty());
}

TEST_P(StudyStoreConformanceTest, StudiesKeepTheirOwnTrialsAndMeasurements) {
  // "b" before "a": creation order and name order disagree.
  for (const char* name : {"b", "a"}) {
    ASSERT_OK(store().CreateStudy(MakeStudy(name)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 0)));
    ASSERT_OK(store().PutTrial(MakeTrial(name, 1)));
  }
  ASSERT_OK(store().AddMeasurement("a", 0, MakeMeasurement(1, 0.1)));
  ASSERT_OK(store().AddMeasurement("b", 1, MakeMeasurement(1, 0.2)));
  ASSERT_OK(store().AddMeasurement("b", 0, MakeMeasurement(2, 0.3)));
  ASSERT_OK(store().AddMeasurement("a", 1, MakeMeasurement(3, 0.4)));

  const std::vector<StoredStudy> loaded = Load();
  std::vector<StoredStudy> expected(2);
  expected[0].study = MakeStudy("b");
  expected[0].trials = {Expected(MakeTrial("b", 0), {MakeMeasurement(2, 0.3)}),
                        Expected(MakeTrial("b", 1), {MakeMeasurement(1, 0.2)})};
  expected[1].study = MakeStudy("a");
  expected[1].trials = {Expected(MakeTrial("a", 0), {MakeMeasurement(1, 0.1)}),
                        Expected(MakeTrial("a", 1), {MakeMeasurement(3, 0.4)})};
  EXPECT_EQ(DebugString(loaded), DebugString(expected));
}

TEST_P(StudyStoreConformanceTest, ParamsKeepTheirExactTypeAndValue) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  TrialRecord trial = MakeTrial("s", 0);
  trial.params = {
      {"int_zero", int64_t{0}},
      {"int_negative", int64_t{-7}},
      {"int_max", std::numeric_limits<int64_t>::max()},
      {"int_min", std::numeric_limits<int64_t>::min()},
      {"int_beyond_double", int64_t{9007199254740993}},  // 2^53 + 1.
      {"double_integral", 3.0},
      {"double_zero", 0.0},
      {"double_negative_zero", -0.0},
      {"double_tenth", 0.1},
      {"double_third", 1.0 / 3.0},
      {"double_tiny", 1e-300},
      {"double_denormal", std::numeric_limits<double>::denorm_min()},
      {"double_huge", 1e300},
      {"double_max", std::numeric_limits<double>::max()},
      {"double_big_integral", 1e17},
      {"double_nan", kNaN},
      {"double_inf", kInf},
      {"double_minus_inf", -kInf},
      {"string_empty", std::string()},
      {"string_numeric", std::string("3")},
      {"string_float", std::string("3.0")},
      {"string_nan", std::string("nan")},
      {"string_special", std::string("quote \" back\\ nl\n tab\t")},
      {"string_nul", std::string("a\0b", 3)},
      {"string_unicode", std::string("\xc3\xa9t\xc3\xa9 \xf0\x9f\x9a\x80")},
      {"", std::string("empty name")},
  };
  ASSERT_OK(store().PutTrial(trial));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(trial));
  for (const auto& [name, value] : trial.params) {
    EXPECT_EQ(loaded[0].trials[0].params.at(name).index(), value.index()) << name;
  }
}

TEST_P(StudyStoreConformanceTest, MetricsKeepExactValuesIncludingNonFinite) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  const MetricMap metrics = {
      {"nan", kNaN},
      {"inf", kInf},
      {"minus_inf", -kInf},
      {"negative_zero", -0.0},
      {"integral", 2.0},
      {"denormal", std::numeric_limits<double>::denorm_min()},
      {"max", std::numeric_limits<double>::max()},
      {"lowest", std::numeric_limits<double>::lowest()},
      {"third", 1.0 / 3.0},
      {"name with \"quotes\" and \xc3\xa9", 0.5},
  };
  TrialRecord trial = MakeTrial("s", 0);
  trial.final_metrics = metrics;
  ASSERT_OK(store().PutTrial(trial));
  ASSERT_OK(store().AddMeasurement("s", 0, Measurement{3, metrics}));
  ASSERT_OK(store().AddMeasurement("s", 0, Measurement{4, {}}));  // No metrics at all.

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(trial, {Measurement{3, metrics}, Measurement{4, {}}})));
}

TEST_P(StudyStoreConformanceTest, StepsAndNumbersKeepTheirFullRange) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  const int64_t big = std::numeric_limits<int64_t>::max();
  ASSERT_OK(store().PutTrial(MakeTrial("s", big)));
  ASSERT_OK(store().AddMeasurement("s", big, MakeMeasurement(big, 0.5)));
  ASSERT_OK(store().AddMeasurement("s", big, MakeMeasurement(-1, 0.5)));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(MakeTrial("s", big),
                                 {MakeMeasurement(-1, 0.5), MakeMeasurement(big, 0.5)})));
}

TEST_P(StudyStoreConformanceTest, TimesAreKeptToTheMicrosecondRoundedDown) {
  StudyRecord study = MakeStudy("s");
  study.create_time = absl::FromUnixNanos(1'700'000'000'123'456'789);
  ASSERT_OK(store().CreateStudy(study));
  TrialRecord trial = MakeTrial("s", 0);
  trial.start_time = absl::FromUnixNanos(-1'500);  // Before the epoch.
  trial.end_time = absl::FromUnixNanos(1'700'000'000'000'000'999);
  ASSERT_OK(store().PutTrial(trial));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(loaded[0].study.create_time, absl::FromUnixMicros(1'700'000'000'123'456));
  EXPECT_EQ(loaded[0].trials[0].start_time, absl::FromUnixMicros(-2));
  EXPECT_EQ(loaded[0].trials[0].end_time, absl::FromUnixMicros(1'700'000'000'000'000));
}

TEST_P(StudyStoreConformanceTest, ApplyWritesAStudyItsTrialsAndMeasurementsAtOnce) {
  StudyWrite write;
  write.study = "s";
  write.create = MakeStudy("s");
  write.trials = {MakeTrial("s", 0), MakeTrial("s", 1)};
  write.measurements = {{1, MakeMeasurement(0, 0.5)}, {1, MakeMeasurement(1, 0.25)}};
  ASSERT_OK(store().Apply(write));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(MakeStudy("s")));
  ASSERT_EQ(loaded[0].trials.size(), 2);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(Expected(MakeTrial("s", 0))));
  EXPECT_EQ(DebugString(loaded[0].trials[1]),
            DebugString(
                Expected(MakeTrial("s", 1), {MakeMeasurement(0, 0.5), MakeMeasurement(1, 0.25)})));
}

TEST_P(StudyStoreConformanceTest, ApplyThatFailsWritesNothing) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  ASSERT_OK(store().PutTrial(MakeTrial("s", 0)));
  const std::string before = DebugString(Load());

  // The state change and trial 1 come before the measurement of trial 7,
  // which does not exist: none of it may land.
  StudyWrite write;
  write.study = "s";
  write.state = {StudyState::kStopped, "stopped by alice"};
  write.trials = {MakeTrial("s", 1)};
  write.measurements = {{0, MakeMeasurement(0, 0.5)}, {7, MakeMeasurement(0, 0.5)}};
  EXPECT_THAT(store().Apply(write), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(DebugString(Load()), before);

  // A write whose `create` names a study that exists changes nothing either.
  StudyWrite again;
  again.study = "s";
  again.create = MakeStudy("s");
  again.trials = {MakeTrial("s", 2)};
  EXPECT_THAT(store().Apply(again), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(DebugString(Load()), before);
}

TEST_P(StudyStoreConformanceTest, ApplyToAStudyThatDoesNotExistIsNotFound) {
  StudyWrite write;
  write.study = "ghost";
  write.trials = {MakeTrial("ghost", 0)};
  EXPECT_THAT(store().Apply(write), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(Load().empty());
}

TEST_P(StudyStoreConformanceTest, LoadStudyGivesOneStudyAsLoadAllDoes) {
  ASSERT_OK(store().CreateStudy(MakeStudy("a")));
  ASSERT_OK(store().CreateStudy(MakeStudy("b")));
  ASSERT_OK(store().PutTrial(MakeTrial("b", 0)));
  ASSERT_OK(store().AddMeasurement("b", 0, MakeMeasurement(3, 0.5)));

  std::vector<StoredStudy> all = Load();
  ASSERT_EQ(all.size(), 2);
  ASSERT_OK_AND_ASSIGN(StoredStudy b, store().LoadStudy("b"));
  EXPECT_EQ(DebugString(std::vector<StoredStudy>{b}),
            DebugString(std::vector<StoredStudy>{all[1]}));
  EXPECT_THAT(store().LoadStudy("c"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StudyStoreConformanceTest, ConcurrentCallersAllLand) {
  ASSERT_OK(store().CreateStudy(MakeStudy("s")));
  constexpr int kThreads = 4;
  constexpr int kTrialsPerThread = 10;
  constexpr int kSteps = 3;
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &errors] {
      for (int i = 0; i < kTrialsPerThread && errors[t].ok(); ++i) {
        const int64_t number = t * kTrialsPerThread + i;
        errors[t] = store().PutTrial(MakeTrial("s", number));
        for (int step = 0; step < kSteps && errors[t].ok(); ++step) {
          errors[t] = store().AddMeasurement("s", number, MakeMeasurement(step, 0.5));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& error : errors) EXPECT_OK(error);

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), kThreads * kTrialsPerThread);
  for (const TrialRecord& trial : loaded[0].trials) {
    EXPECT_EQ(trial.intermediate.size(), kSteps) << trial.number;
  }
}

}  // namespace
}  // namespace vernier
