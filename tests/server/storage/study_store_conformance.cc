#include "tests/server/storage/study_store_conformance.h"

#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
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

namespace vernier {

namespace {

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
  study.spec_yaml =
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
      absl::CEscape(study.state_reason), "\" created=", TimeString(study.create_time), " spec=\"",
      absl::CEscape(study.spec_yaml), "\"");
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
                  "\" intermediate=[");
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
  std::string templ = absl::StrCat(::testing::TempDir(), "/study_store_XXXXXX");
  ASSERT_NE(mkdtemp(templ.data()), nullptr) << "cannot create a scratch directory";
  scratch_dir_ = templ;
  store_ = GetParam().open(scratch_dir_);
  ASSERT_NE(store_, nullptr);
}

void StudyStoreConformanceTest::TearDown() {
  store_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(scratch_dir_, ignored);
}

std::vector<StoredStudy> StudyStoreConformanceTest::Load() {
  if (GetParam().reopen_before_load) {
    store_.reset();
    store_ = GetParam().open(scratch_dir_);
    if (store_ == nullptr) {
      ADD_FAILURE() << "reopening failed";
      return {};
    }
  }
  absl::StatusOr<std::vector<StoredStudy>> loaded = store_->LoadAll();
  if (!loaded.ok()) {
    ADD_FAILURE() << "LoadAll: " << loaded.status();
    return {};
  }
  return *std::move(loaded);
}

namespace {

using ::testing::HasSubstr;

TEST_P(StudyStoreConformanceTest, EmptyStoreLoadsNothing) { EXPECT_TRUE(Load().empty()); }

TEST_P(StudyStoreConformanceTest, CreatedStudyLoadsWithEveryField) {
  StudyRecord study = MakeStudy("cifar");
  study.spec_yaml = "line 1\nquote ' \" back\\slash\ttab\n\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\n";
  study.state = StudyState::kStopped;
  study.state_reason = "stopped by alice";
  ASSERT_TRUE(store().CreateStudy(study).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(study));
  EXPECT_TRUE(loaded[0].trials.empty());
}

TEST_P(StudyStoreConformanceTest, CreateStudyWithTakenNameIsAlreadyExistsAndKeepsTheFirst) {
  const StudyRecord first = MakeStudy("mnist");
  ASSERT_TRUE(store().CreateStudy(first).ok());
  StudyRecord second = MakeStudy("mnist");
  second.spec_yaml = "something else";

  const absl::Status status = store().CreateStudy(second);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("mnist"));

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(first));
}

TEST_P(StudyStoreConformanceTest, StudyNamesAreExactAndBinarySafe) {
  // Names differing only in case, trailing space or an embedded quote are
  // different studies; none of them is taken as SQL.
  for (const char* name : {"study", "Study", "study ", "it's \"odd\"; DROP TABLE studies;--"}) {
    ASSERT_TRUE(store().CreateStudy(MakeStudy(name)).ok()) << name;
  }
  EXPECT_EQ(Load().size(), 4);
}

TEST_P(StudyStoreConformanceTest, UpdateStudyStateSetsStateAndReasonOnly) {
  const StudyRecord study = MakeStudy("s");
  ASSERT_TRUE(store().CreateStudy(study).ok());
  ASSERT_TRUE(store().PutTrial(MakeTrial("s", 0)).ok());

  ASSERT_TRUE(store().UpdateStudyState("s", StudyState::kCompleted, "budget spent").ok());

  StudyRecord expected = study;
  expected.state = StudyState::kCompleted;
  expected.state_reason = "budget spent";
  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(expected));
  EXPECT_EQ(loaded[0].trials.size(), 1);

  ASSERT_TRUE(store().UpdateStudyState("s", StudyState::kActive, "").ok());
  loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].study), DebugString(study));
}

TEST_P(StudyStoreConformanceTest, UpdateStudyStateOfUnknownStudyIsNotFound) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("known")).ok());
  const absl::Status status = store().UpdateStudyState("unknown", StudyState::kStopped, "why");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("unknown"));
}

TEST_P(StudyStoreConformanceTest, UnknownStateValuesAreInvalidArgument) {
  StudyRecord study = MakeStudy("s");
  study.state = static_cast<StudyState>(42);
  EXPECT_EQ(store().CreateStudy(study).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  EXPECT_EQ(store().UpdateStudyState("s", static_cast<StudyState>(0), "").code(),
            absl::StatusCode::kInvalidArgument);
  TrialRecord trial = MakeTrial("s", 0);
  trial.state = static_cast<TrialState>(7);
  EXPECT_EQ(store().PutTrial(trial).code(), absl::StatusCode::kInvalidArgument);

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_EQ(loaded[0].study.state, StudyState::kActive);
  EXPECT_TRUE(loaded[0].trials.empty());
}

TEST_P(StudyStoreConformanceTest, InvalidUtf8InsideParamsOrMetricsIsInvalidArgument) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  TrialRecord bad_value = MakeTrial("s", 0);
  bad_value.params["optimizer"] = std::string(
      "ad\xff"
      "am");
  EXPECT_EQ(store().PutTrial(bad_value).code(), absl::StatusCode::kInvalidArgument);
  TrialRecord bad_name = MakeTrial("s", 0);
  bad_name.params["\xc0\x80"] = 1.0;  // Overlong NUL.
  EXPECT_EQ(store().PutTrial(bad_name).code(), absl::StatusCode::kInvalidArgument);
  TrialRecord bad_metric = MakeTrial("s", 0);
  bad_metric.final_metrics["\xed\xa0\x80"] = 1.0;  // A UTF-16 surrogate.
  EXPECT_EQ(store().PutTrial(bad_metric).code(), absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(store().PutTrial(MakeTrial("s", 0)).ok());
  EXPECT_EQ(store().AddMeasurement("s", 0, Measurement{1, {{"lo\x80ss", 1.0}}}).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(MakeTrial("s", 0)));
}

TEST_P(StudyStoreConformanceTest, PutTrialInsertsEveryField) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  TrialRecord trial = MakeTrial("s", 4);
  trial.state = TrialState::kFailed;
  trial.final_metrics = {{"val_loss", 0.25}, {"val_accuracy", 0.875}};
  trial.failure_reason = "exit status 1\nTraceback: ...";
  trial.attempt = 3;
  trial.retries = 2;
  trial.end_time = absl::FromUnixMicros(1'700'000'200'000'000);
  trial.origin = "warm_start:old-study#12";
  ASSERT_TRUE(store().PutTrial(trial).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(trial));
}

TEST_P(StudyStoreConformanceTest, PutTrialIgnoresIntermediateValuesOfTheRecord) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  TrialRecord trial = MakeTrial("s", 0);
  trial.intermediate = {MakeMeasurement(1, 0.5)};
  ASSERT_TRUE(store().PutTrial(trial).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_TRUE(loaded[0].trials[0].intermediate.empty());
}

TEST_P(StudyStoreConformanceTest, PutTrialReplacesEveryFieldButIntermediateValues) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  ASSERT_TRUE(store().PutTrial(MakeTrial("s", 0)).ok());
  ASSERT_TRUE(store().AddMeasurement("s", 0, MakeMeasurement(1, 0.5)).ok());
  ASSERT_TRUE(store().AddMeasurement("s", 0, MakeMeasurement(2, 0.4)).ok());

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
  ASSERT_TRUE(store().PutTrial(finished).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(finished, {MakeMeasurement(1, 0.5), MakeMeasurement(2, 0.4)})));
}

TEST_P(StudyStoreConformanceTest, PutTrialOfUnknownStudyIsNotFound) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("known")).ok());
  const absl::Status status = store().PutTrial(MakeTrial("unknown", 0));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("unknown"));
  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  EXPECT_TRUE(loaded[0].trials.empty());
}

TEST_P(StudyStoreConformanceTest, MeasurementsLoadByStepWhateverTheOrderAdded) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  ASSERT_TRUE(store().PutTrial(MakeTrial("s", 0)).ok());
  for (int64_t step : {5, 1, 10, 3, 0}) {
    ASSERT_TRUE(store()
                    .AddMeasurement("s", 0, MakeMeasurement(step, static_cast<double>(step) / 100))
                    .ok());
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
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  ASSERT_TRUE(store().PutTrial(MakeTrial("s", 0)).ok());
  ASSERT_TRUE(store().AddMeasurement("s", 0, MakeMeasurement(1, 0.5)).ok());
  ASSERT_TRUE(store().AddMeasurement("s", 0, MakeMeasurement(2, 0.4)).ok());
  const Measurement replacement{1, {{"val_loss", 0.45}}};  // Fewer metrics.
  ASSERT_TRUE(store().AddMeasurement("s", 0, replacement).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(MakeTrial("s", 0), {replacement, MakeMeasurement(2, 0.4)})));
}

TEST_P(StudyStoreConformanceTest, MeasurementOfUnknownTrialOrStudyIsNotFound) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  ASSERT_TRUE(store().CreateStudy(MakeStudy("t")).ok());
  ASSERT_TRUE(store().PutTrial(MakeTrial("s", 0)).ok());

  const absl::Status no_trial = store().AddMeasurement("s", 1, MakeMeasurement(1, 0.5));
  EXPECT_EQ(no_trial.code(), absl::StatusCode::kNotFound) << no_trial;
  EXPECT_THAT(std::string(no_trial.message()), HasSubstr("trial 1"));
  // Trial 0 exists, but in another study.
  EXPECT_EQ(store().AddMeasurement("t", 0, MakeMeasurement(1, 0.5)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store().AddMeasurement("nope", 0, MakeMeasurement(1, 0.5)).code(),
            absl::StatusCode::kNotFound);

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 2);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_TRUE(loaded[0].trials[0].intermediate.empty());
  EXPECT_TRUE(loaded[1].trials.empty());
}

TEST_P(StudyStoreConformanceTest, LoadAllOrdersStudiesByCreationAndTrialsByNumber) {
  // Neither alphabetical nor by length: only creation order explains it.
  const std::vector<std::string> names = {"zeta", "alpha", "mid", "a", "Zz"};
  for (const std::string& name : names) ASSERT_TRUE(store().CreateStudy(MakeStudy(name)).ok());
  // Numbers put out of order, and past 9 so a text sort would differ.
  for (int64_t number : {10, 2, 0, 7, 100, 1}) {
    ASSERT_TRUE(store().PutTrial(MakeTrial("mid", number)).ok());
    ASSERT_TRUE(store().PutTrial(MakeTrial("zeta", 1000 - number)).ok());
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

TEST_P(StudyStoreConformanceTest, StudiesKeepTheirOwnTrialsAndMeasurements) {
  // "b" before "a": creation order and name order disagree.
  for (const char* name : {"b", "a"}) {
    ASSERT_TRUE(store().CreateStudy(MakeStudy(name)).ok());
    ASSERT_TRUE(store().PutTrial(MakeTrial(name, 0)).ok());
    ASSERT_TRUE(store().PutTrial(MakeTrial(name, 1)).ok());
  }
  ASSERT_TRUE(store().AddMeasurement("a", 0, MakeMeasurement(1, 0.1)).ok());
  ASSERT_TRUE(store().AddMeasurement("b", 1, MakeMeasurement(1, 0.2)).ok());
  ASSERT_TRUE(store().AddMeasurement("b", 0, MakeMeasurement(2, 0.3)).ok());
  ASSERT_TRUE(store().AddMeasurement("a", 1, MakeMeasurement(3, 0.4)).ok());

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
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
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
  ASSERT_TRUE(store().PutTrial(trial).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]), DebugString(trial));
  for (const auto& [name, value] : trial.params) {
    EXPECT_EQ(loaded[0].trials[0].params.at(name).index(), value.index()) << name;
  }
}

TEST_P(StudyStoreConformanceTest, MetricsKeepExactValuesIncludingNonFinite) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
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
  ASSERT_TRUE(store().PutTrial(trial).ok());
  ASSERT_TRUE(store().AddMeasurement("s", 0, Measurement{3, metrics}).ok());
  ASSERT_TRUE(store().AddMeasurement("s", 0, Measurement{4, {}}).ok());  // No metrics at all.

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(DebugString(loaded[0].trials[0]),
            DebugString(Expected(trial, {Measurement{3, metrics}, Measurement{4, {}}})));
}

TEST_P(StudyStoreConformanceTest, StepsAndNumbersKeepTheirFullRange) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
  const int64_t big = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(store().PutTrial(MakeTrial("s", big)).ok());
  ASSERT_TRUE(store().AddMeasurement("s", big, MakeMeasurement(big, 0.5)).ok());
  ASSERT_TRUE(store().AddMeasurement("s", big, MakeMeasurement(-1, 0.5)).ok());

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
  ASSERT_TRUE(store().CreateStudy(study).ok());
  TrialRecord trial = MakeTrial("s", 0);
  trial.start_time = absl::FromUnixNanos(-1'500);  // Before the epoch.
  trial.end_time = absl::FromUnixNanos(1'700'000'000'000'000'999);
  ASSERT_TRUE(store().PutTrial(trial).ok());

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), 1);
  EXPECT_EQ(loaded[0].study.create_time, absl::FromUnixMicros(1'700'000'000'123'456));
  EXPECT_EQ(loaded[0].trials[0].start_time, absl::FromUnixMicros(-2));
  EXPECT_EQ(loaded[0].trials[0].end_time, absl::FromUnixMicros(1'700'000'000'000'000));
}

TEST_P(StudyStoreConformanceTest, ConcurrentCallersAllLand) {
  ASSERT_TRUE(store().CreateStudy(MakeStudy("s")).ok());
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
  for (const absl::Status& error : errors) EXPECT_TRUE(error.ok()) << error;

  std::vector<StoredStudy> loaded = Load();
  ASSERT_EQ(loaded.size(), 1);
  ASSERT_EQ(loaded[0].trials.size(), kThreads * kTrialsPerThread);
  for (const TrialRecord& trial : loaded[0].trials) {
    EXPECT_EQ(trial.intermediate.size(), kSteps) << trial.number;
  }
}

}  // namespace
}  // namespace vernier
