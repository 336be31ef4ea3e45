#include "trainer/model_manifest.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::StatusIs;
using json = nlohmann::json;

ModelManifest ImageManifest() {
  ModelManifest m;
  m.model = "cnn";
  m.architecture = {{"conv_blocks", 2}, {"channels", 16}};
  m.parameter_count = 12345;
  m.dataset = "fashion-mnist";
  m.input = InputKind::kImageBytes;
  m.input_shape = {1, 28, 28};
  m.image.mean = 0.286;
  m.image.std = 0.353;
  m.output = OutputKind::kLogits;
  m.output_width = 3;
  m.class_names = {"T-shirt/top", "Trouser", "Pullover"};
  m.params = {{"lr", 0.003}, {"model", "cnn"}};
  m.metrics = {{"val_accuracy", 0.85}, {"val_loss", std::numeric_limits<double>::quiet_NaN()}};
  m.epoch = 7;
  return m;
}

ModelManifest TabularRegressionManifest() {
  ModelManifest m;
  m.model = "mlp";
  m.task = TaskKind::kRegression;
  m.dataset = "tabular-csv";
  m.input = InputKind::kFloat;
  m.input_shape = {2};
  m.tabular.feature_names = {"age", "bmi"};
  m.tabular.target_name = "progression";
  m.tabular.missing = "median";
  m.tabular.fill_values = {50, 26.5};
  m.tabular.clip_low = {18, 15};
  m.tabular.clip_high = {90, 45};
  m.tabular.means = {48.5, 26.4};
  m.tabular.scales = {13.1, 4.4};
  m.output = OutputKind::kScaledValue;
  m.output_width = 1;
  m.target_mean = 152.1;
  m.target_std = 77.0;
  return m;
}

ModelManifest TextManifest() {
  ModelManifest m;
  m.model = "rnn";
  m.dataset = "text-csv";
  m.input = InputKind::kTokens;
  m.input_shape = {20};
  m.text.max_len = 20;
  m.text.vocab_size = 5;
  m.text.vocabulary = {"the", "caf\xc3\xa9", "\xff\xfe"};  // The last is not UTF-8.
  m.output = OutputKind::kBinaryLogit;
  m.output_width = 1;
  m.class_names = {"ham", "spam"};
  return m;
}

// The manifest JSON of ImageManifest with `edit` applied.
std::string EditedImageJson(const std::function<void(json&)>& edit) {
  json j = json::parse(ManifestToJson(ImageManifest()));
  edit(j);
  return j.dump();
}

TEST(ModelManifestTest, ImageManifestRoundTrips) {
  const ModelManifest m = ImageManifest();
  absl::StatusOr<ModelManifest> parsed = ParseManifest(ManifestToJson(m), "m.json");
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->format, kModelFormat);
  EXPECT_EQ(parsed->vernier_version, kVernierVersion);
  EXPECT_EQ(parsed->model, "cnn");
  EXPECT_EQ(parsed->architecture, m.architecture);
  EXPECT_EQ(parsed->parameter_count, 12345);
  EXPECT_EQ(parsed->task, TaskKind::kClassification);
  EXPECT_EQ(parsed->dataset, "fashion-mnist");
  EXPECT_EQ(parsed->input, InputKind::kImageBytes);
  EXPECT_THAT(parsed->input_shape, ElementsAre(1, 28, 28));
  EXPECT_DOUBLE_EQ(parsed->image.pixel_scale, 1.0 / 255);
  EXPECT_DOUBLE_EQ(parsed->image.mean, 0.286);
  EXPECT_DOUBLE_EQ(parsed->image.std, 0.353);
  EXPECT_EQ(parsed->output, OutputKind::kLogits);
  EXPECT_EQ(parsed->output_width, 3);
  EXPECT_EQ(parsed->class_names, m.class_names);
  EXPECT_EQ(parsed->params, m.params);
  EXPECT_DOUBLE_EQ(parsed->metrics.at("val_accuracy"), 0.85);
  EXPECT_TRUE(std::isnan(parsed->metrics.at("val_loss")));  // Written as null.
  EXPECT_EQ(parsed->epoch, 7);
}

TEST(ModelManifestTest, TabularManifestRoundTripsItsPreprocessing) {
  const ModelManifest m = TabularRegressionManifest();
  absl::StatusOr<ModelManifest> parsed = ParseManifest(ManifestToJson(m), "m.json");
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->task, TaskKind::kRegression);
  EXPECT_EQ(parsed->input, InputKind::kFloat);
  EXPECT_EQ(json::parse(ManifestToJson(m))["input"]["kind"], "features");
  EXPECT_EQ(parsed->tabular.feature_names, m.tabular.feature_names);
  EXPECT_EQ(parsed->tabular.target_name, "progression");
  EXPECT_EQ(parsed->tabular.missing, "median");
  EXPECT_EQ(parsed->tabular.fill_values, m.tabular.fill_values);
  EXPECT_EQ(parsed->tabular.clip_low, m.tabular.clip_low);
  EXPECT_EQ(parsed->tabular.clip_high, m.tabular.clip_high);
  EXPECT_EQ(parsed->tabular.means, m.tabular.means);
  EXPECT_EQ(parsed->tabular.scales, m.tabular.scales);
  EXPECT_EQ(parsed->output, OutputKind::kScaledValue);
  EXPECT_DOUBLE_EQ(parsed->target_mean, 152.1);
  EXPECT_DOUBLE_EQ(parsed->target_std, 77.0);
  EXPECT_TRUE(parsed->class_names.empty());
}

TEST(ModelManifestTest, TextVocabularyTravelsInItsOwnFileByteForByte) {
  testing::TempDir dir;
  const ModelManifest m = TextManifest();
  ASSERT_OK(WriteModelManifest(dir.path(), m));
  const std::string json_text = ManifestToJson(m);
  EXPECT_THAT(json_text, Not(HasSubstr("caf")));  // Not inline.
  EXPECT_THAT(json_text, HasSubstr("\"vocab_file\": \"vocab.txt\""));
  absl::StatusOr<ModelManifest> read = ReadModelManifest(dir.path());
  ASSERT_OK(read);
  EXPECT_EQ(read->text.vocabulary, m.text.vocabulary);
  EXPECT_EQ(read->text.max_len, 20);
  EXPECT_EQ(read->text.vocab_size, 5);
  EXPECT_EQ(read->output, OutputKind::kBinaryLogit);
  EXPECT_EQ(read->class_names, m.class_names);
}

TEST(ModelManifestTest, VocabularyOfTheWrongSizeIsRefusedNamingBothFiles) {
  testing::TempDir dir;
  ModelManifest m = TextManifest();
  m.text.vocab_size = 9;
  ASSERT_OK(WriteModelManifest(dir.path(), m));
  absl::StatusOr<ModelManifest> read = ReadModelManifest(dir.path());
  EXPECT_THAT(read, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("vocab.txt: 3 tokens"));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("input.vocab_size 9"));
}

TEST(ModelManifestTest, MissingDirectoryIsNotFound) {
  testing::TempDir dir;
  EXPECT_THAT(ReadModelManifest(dir.File("absent")), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ModelManifestTest, ImageWithoutVocabularyWritesNoVocabFile) {
  testing::TempDir dir;
  ASSERT_OK(WriteModelManifest(dir.path(), ImageManifest()));
  EXPECT_TRUE(std::filesystem::exists(dir.File("manifest.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("vocab.txt")));
  ASSERT_OK(ReadModelManifest(dir.path()));
}

struct BadCase {
  const char* name;
  std::function<void(json&)> edit;
  const char* message;  // Expected in the error, after "m.json: ".
};

class BadManifestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadManifestTest, IsInvalidArgumentNamingFileAndField) {
  absl::StatusOr<ModelManifest> parsed = ParseManifest(EditedImageJson(GetParam().edit), "m.json");
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr(absl::StrCat("m.json: ", GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, BadManifestTest,
    ::testing::Values(
        BadCase{"MissingFormat", [](json& j) { j.erase("format"); }, "format: missing"},
        BadCase{"OtherFormat", [](json& j) { j["format"] = "vernier-model/2"; },
                "format: unsupported \"vernier-model/2\""},
        BadCase{"MissingModelKind", [](json& j) { j["model"].erase("kind"); },
                "model.kind: missing"},
        BadCase{"ModelNotObject", [](json& j) { j["model"] = "cnn"; }, "model: expected an object"},
        BadCase{"UnknownTask", [](json& j) { j["task"] = "ranking"; },
                "task: unknown value \"ranking\""},
        BadCase{"ShapeOfStrings",
                [](json& j) {
                  j["input"]["shape"] = {"1", "28"};
                },
                "input.shape: expected a non-empty array of positive integers"},
        BadCase{"ImageShapeOfTwo",
                [](json& j) {
                  j["input"]["shape"] = {28, 28};
                },
                "input.shape: expected [channels, height, width]"},
        BadCase{"MeanAsString", [](json& j) { j["input"]["mean"] = "0.5"; },
                "input.mean: expected a number"},
        BadCase{"ZeroStd", [](json& j) { j["input"]["std"] = 0; },
                "input.std: expected a number > 0"},
        BadCase{"UnknownInputKind", [](json& j) { j["input"]["kind"] = "audio"; },
                "input.kind: unknown value \"audio\""},
        BadCase{"TooFewClassNames",
                [](json& j) {
                  j["output"]["class_names"] = {"a", "b"};
                },
                "output.class_names: expected 3 names, got 2"},
        BadCase{"ValueOutputForClasses", [](json& j) { j["output"]["kind"] = "scaled_value"; },
                "output.kind: \"scaled_value\" does not fit task classification"},
        BadCase{"NegativeEpoch", [](json& j) { j["epoch"] = -1; },
                "epoch: expected an integer >= 0"},
        BadCase{"MetricAsString", [](json& j) { j["metrics"]["val_accuracy"] = "high"; },
                "metrics.val_accuracy: expected a number"},
        BadCase{"ParamsNotObject", [](json& j) { j["params"] = json::array(); },
                "params: expected an object"}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) { return param_info.param.name; });

TEST(ModelManifestTest, TabularListsMustHaveOneValuePerFeature) {
  json j = json::parse(ManifestToJson(TabularRegressionManifest()));
  j["input"]["means"] = {1.0, 2.0, 3.0};
  absl::StatusOr<ModelManifest> parsed = ParseManifest(j.dump(), "m.json");
  EXPECT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("m.json: input.means: expected 2 values")));
}

TEST(ModelManifestTest, NotJsonIsInvalidArgument) {
  EXPECT_THAT(ParseManifest("{\"format\": ", "m.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("m.json: not a JSON object")));
  EXPECT_THAT(ParseManifest("[1, 2]", "m.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a JSON object")));
}

}  // namespace
}  // namespace vernier
