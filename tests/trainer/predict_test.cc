// Tests of trainer/predict.h on small TorchScript modules written here (a
// linear map, an embedding sum) with manifests written by
// WriteModelManifest: what each input kind reads, how it is prepared, the CSV
// and metrics, and every bad input's message. vernier_train_test.cc runs
// --predict on a model a real trial saved.
#include "trainer/predict.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

// Saves a module computing x.flatten(1) @ weight.T + bias as `dir`/model.pt.
void SaveLinearModel(const std::string& dir, const torch::Tensor& weight,
                     const torch::Tensor& bias) {
  torch::jit::Module module("Linear");
  module.register_parameter("weight", weight, /*is_buffer=*/false);
  module.register_parameter("bias", bias, /*is_buffer=*/false);
  module.define(R"(
def forward(self, x):
    return torch.matmul(x.flatten(1).float(), self.weight.t()) + self.bias
)");
  std::filesystem::create_directories(dir);
  module.save(dir + "/model.pt");
}

// Saves a module summing table[token] over the tokens as `dir`/model.pt.
void SaveEmbeddingSumModel(const std::string& dir, const torch::Tensor& table) {
  torch::jit::Module module("EmbeddingSum");
  module.register_parameter("table", table, /*is_buffer=*/false);
  module.define(R"(
def forward(self, x):
    return self.table.index_select(0, x.flatten()).view(x.size(0), x.size(1), -1).sum(1)
)");
  std::filesystem::create_directories(dir);
  module.save(dir + "/model.pt");
}

ModelManifest BaseManifest() {
  ModelManifest manifest;
  manifest.model = "mlp";
  manifest.dataset = "tabular-csv";
  manifest.params = {{"loss", "auto"}, {"label_smoothing", 0.0}};
  manifest.epoch = 1;
  return manifest;
}

// Two features a, b (standardised with means 10, 0 and scales 2, 1; missing
// cells filled with 10 and 0) and two classes; the model's logits are
// (-a', a') for standardised a'.
ModelManifest TabularClassifier(const std::string& dir) {
  ModelManifest manifest = BaseManifest();
  manifest.input = InputKind::kFloat;
  manifest.input_shape = {2};
  manifest.tabular.feature_names = {"a", "b"};
  manifest.tabular.target_name = "label";
  manifest.tabular.missing = "mean";
  manifest.tabular.fill_values = {10, 0};
  manifest.tabular.means = {10, 0};
  manifest.tabular.scales = {2, 1};
  manifest.output = OutputKind::kLogits;
  manifest.output_width = 2;
  manifest.class_names = {"no", "yes"};
  EXPECT_OK(WriteModelManifest(dir, manifest));
  SaveLinearModel(dir, torch::tensor({{-1.0f, 0.0f}, {1.0f, 0.0f}}), torch::zeros({2}));
  return manifest;
}

class PredictTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }

  std::string Write(const std::string& name, const std::string& text) {
    testing::WriteTextFile(dir_.File(name), text);
    return dir_.File(name);
  }

  // RunPrediction's output to its FILE*, as a string.
  absl::StatusOr<std::string> Run(const PredictOptions& options) {
    std::FILE* out = std::tmpfile();
    if (out == nullptr) return absl::InternalError("tmpfile");
    const absl::Status status = RunPrediction(options, out);
    std::rewind(out);
    std::string text(1 << 16, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), out));
    std::fclose(out);
    if (!status.ok()) return status;
    return text;
  }

  testing::TempDir dir_;
};

TEST_F(PredictTest, TabularColumnsAreFoundByNameFilledAndStandardised) {
  const std::string model = dir_.File("model");
  const ModelManifest manifest = TabularClassifier(model);
  // Columns in another order, an extra one, and a missing cell (filled: a = 10).
  const std::string input = Write("in.csv", "b,extra,a\n5,x,12\n0,y,6\n1,z,NA\n");
  const PreparedExamples examples = VALUE_OR_FAIL(ReadExamples(manifest, input, "", false));
  EXPECT_EQ(examples.examples.count, 3);
  EXPECT_FALSE(examples.labelled);
  EXPECT_THAT(examples.examples.floats, ElementsAre(1.0f, 5.0f, -2.0f, 0.0f, 0.0f, 1.0f));

  PredictOptions options;
  options.model_dir = model;
  options.input_path = input;
  const std::string csv = VALUE_OR_FAIL(Run(options));
  const double p1 = 1 / (1 + std::exp(-2.0));  // softmax(-1, 1)[1]
  const double p2 = 1 / (1 + std::exp(-4.0));  // softmax(2, -2)[0]
  EXPECT_EQ(csv, absl::StrFormat("no,yes,predicted\n%.6g,%.6g,yes\n%.6g,%.6g,no\n0.5,0.5,no\n",
                                 1 - p1, p1, p2, 1 - p2));
}

TEST_F(PredictTest, EvaluateReportsTheTrainersMetricsOnTheTargetColumn) {
  const std::string model = dir_.File("model");
  TabularClassifier(model);
  PredictOptions options;
  options.model_dir = model;
  options.input_path = Write("in.csv", "a,b,label\n12,0,yes\n6,0,no\n14,0,no\n8,0,no\n");
  options.evaluate = true;
  const nlohmann::json metrics = nlohmann::json::parse(VALUE_OR_FAIL(Run(options)));
  EXPECT_EQ(metrics.at("examples"), 4);
  EXPECT_DOUBLE_EQ(metrics.at("accuracy").get<double>(), 0.75);
  // Mean cross-entropy of logits (-a', a'), a' = 1, -2, 2, -1, against the labels.
  auto nll = [](double logit_true, double logit_other) {
    return std::log(std::exp(logit_true) + std::exp(logit_other)) - logit_true;
  };
  const double loss = (nll(1, -1) + nll(2, -2) + nll(-2, 2) + nll(1, -1)) / 4;
  EXPECT_NEAR(metrics.at("loss").get<double>(), loss, 1e-6);
  EXPECT_EQ(metrics.count("f1_macro"), 1u);
  EXPECT_EQ(metrics.count("f1"), 1u);  // Two classes: the binary metrics too.

  // --output: the predictions go to the file, the metrics still to stdout.
  options.output_path = dir_.File("out.csv");
  EXPECT_THAT(VALUE_OR_FAIL(Run(options)), HasSubstr("\"accuracy\""));
  std::ifstream written(options.output_path);
  std::string header;
  std::getline(written, header);
  EXPECT_EQ(header, "no,yes,predicted");
}

TEST_F(PredictTest, RegressionWritesValuesInTargetUnitsAndScoresRmse) {
  const std::string model = dir_.File("model");
  ModelManifest manifest = BaseManifest();
  manifest.task = TaskKind::kRegression;
  manifest.input = InputKind::kFloat;
  manifest.input_shape = {1};
  manifest.tabular.feature_names = {"x"};
  manifest.tabular.target_name = "y";
  manifest.tabular.missing = "drop";
  manifest.output = OutputKind::kScaledValue;
  manifest.output_width = 1;
  manifest.target_mean = 100;
  manifest.target_std = 10;
  ASSERT_OK(WriteModelManifest(model, manifest));
  SaveLinearModel(model, torch::tensor({{0.5f}}), torch::zeros({1}));  // value = 100 + 5 x
  PredictOptions options;
  options.model_dir = model;
  options.input_path = Write("in.csv", "x,y\n2,110\n-4,84\n");
  EXPECT_THAT(Run(options), ::vernier::testing::IsOkAndHolds("predicted\n110\n80\n"));
  options.evaluate = true;
  const nlohmann::json metrics = nlohmann::json::parse(VALUE_OR_FAIL(Run(options)));
  EXPECT_NEAR(metrics.at("rmse").get<double>(), std::sqrt(8.0), 1e-4);  // errors 0 and 4
  EXPECT_NEAR(metrics.at("mae").get<double>(), 2.0, 1e-4);

  // missing: drop has nothing to fill a cell with.
  options.input_path = Write("gap.csv", "x,y\n2,110\n,84\n");
  absl::Status gap = Run(options).status();
  EXPECT_THAT(gap, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(gap.message()), HasSubstr(options.input_path + ":3: column \"x\""));
  EXPECT_THAT(std::string(gap.message()), HasSubstr("missing: drop"));
}

TEST_F(PredictTest, BadTabularInputNamesFileLineAndColumn) {
  const std::string model = dir_.File("model");
  const ModelManifest manifest = TabularClassifier(model);
  auto error = [&](const std::string& text, bool evaluate) {
    const std::string path = Write("bad.csv", text);
    return std::string(ReadExamples(manifest, path, "", evaluate).status().message());
  };
  const std::string path = dir_.File("bad.csv");
  EXPECT_THAT(error("a,c\n1,2\n", false),
              HasSubstr(path + ": no column \"b\" in the header (the model's features: a, b"));
  EXPECT_THAT(error("a,b\n1,2\n3\n", false), HasSubstr(path + ":3: 1 fields, the header has 2"));
  EXPECT_THAT(error("a,b\n1,2\n3,four\n", false),
              HasSubstr(path + ":3: column \"b\": not a number: \"four\""));
  EXPECT_THAT(error("a,b\n1,2\n", true),
              HasSubstr(path + ": no column \"label\" in the header: evaluating needs"));
  EXPECT_THAT(error("a,b,label\n1,2,yes\n1,2,maybe\n", true),
              HasSubstr(path + ":3: label \"maybe\" is not one of the model's classes (no, yes)"));
  EXPECT_THAT(error("a,b,label\n1,2,\n", true),
              HasSubstr(path + ":2: target \"label\" is missing"));
  EXPECT_THAT(ReadExamples(manifest, dir_.File("absent.csv"), "", false),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      std::string(ReadExamples(manifest, path, dir_.File("labels"), false).status().message()),
      HasSubstr("a labels file is for image models"));
}

// Images: IDX bytes scaled and standardised as training did; labels from an
// IDX labels file.
TEST_F(PredictTest, ImagesAreStandardisedAndLabelledFromIdx) {
  const std::string model = dir_.File("model");
  ModelManifest manifest = BaseManifest();
  manifest.model = "cnn";
  manifest.dataset = "idx";
  manifest.input = InputKind::kImageBytes;
  manifest.input_shape = {1, 2, 2};
  manifest.image.mean = 0.5;
  manifest.image.std = 0.25;
  manifest.output = OutputKind::kLogits;
  manifest.output_width = 2;
  manifest.class_names = {"dark", "light"};
  ASSERT_OK(WriteModelManifest(model, manifest));
  // Logits (0, sum of the standardised pixels): light when brighter than the mean.
  SaveLinearModel(model, torch::tensor({{0.0f, 0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f, 1.0f}}),
                  torch::zeros({2}));
  testing::WriteFile(
      dir_.File("images"),
      testing::IdxBytes(0x803, {3, 2, 2}, {0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 255, 255}),
      /*gzip=*/true);
  testing::WriteFile(dir_.File("labels"), testing::IdxBytes(0x801, {3}, {0, 1, 1}), false);
  const PreparedExamples examples =
      VALUE_OR_FAIL(ReadExamples(manifest, dir_.File("images"), dir_.File("labels"), true));
  EXPECT_EQ(examples.examples.count, 3);
  EXPECT_THAT(examples.examples.labels, ElementsAre(0, 1, 1));
  const Prediction prediction = VALUE_OR_FAIL(Predict(model, manifest, examples));
  EXPECT_THAT(prediction.classes, ElementsAre(0, 1, 0));  // Sums -8, 8, 0 (a tie: class 0).
  EXPECT_NEAR(prediction.probabilities[0][1], 1 / (1 + std::exp(8.0)), 1e-9);
  EXPECT_DOUBLE_EQ(prediction.metrics.at("accuracy"), 2.0 / 3);

  testing::WriteFile(dir_.File("big"), testing::IdxBytes(0x803, {1, 3, 3}, std::vector<uint8_t>(9)),
                     false);
  absl::Status size = ReadExamples(manifest, dir_.File("big"), "", false).status();
  EXPECT_THAT(size, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(size.message()),
              HasSubstr(dir_.File("big") + ": images of 3x3 pixels; the model takes 2x2"));
  const std::string csv = Write("in.csv", "a,b\n1,2\n");
  EXPECT_THAT(std::string(ReadExamples(manifest, csv, "", false).status().message()),
              HasSubstr(csv));
  EXPECT_THAT(std::string(ReadExamples(manifest, dir_.File("images"), "", true).status().message()),
              HasSubstr("--labels"));
  testing::WriteFile(dir_.File("two"), testing::IdxBytes(0x801, {2}, {0, 1}), false);
  EXPECT_THAT(
      std::string(
          ReadExamples(manifest, dir_.File("images"), dir_.File("two"), true).status().message()),
      HasSubstr("2 labels for the 3 images"));
}

// Text: the manifest's vocabulary (ids 2..), unknown tokens 1, padding 0, cut
// at max_len; a plain file is one example per line, a CSV carries labels.
TEST_F(PredictTest, TextIsEncodedWithTheModelsVocabulary) {
  const std::string model = dir_.File("model");
  ModelManifest manifest = BaseManifest();
  manifest.model = "rnn";
  manifest.dataset = "text-csv";
  manifest.input = InputKind::kTokens;
  manifest.input_shape = {3};
  manifest.text.max_len = 3;
  manifest.text.vocab_size = 4;
  manifest.text.vocabulary = {"good", "bad"};
  manifest.output = OutputKind::kLogits;
  manifest.output_width = 2;
  manifest.class_names = {"neg", "pos"};
  ASSERT_OK(WriteModelManifest(model, manifest));
  SaveEmbeddingSumModel(model,
                        torch::tensor({{0.0f, 0.0f}, {0.0f, 0.0f}, {0.0f, 1.0f}, {1.0f, 0.0f}}));
  const std::string lines = Write("in.txt", "Good GOOD movie bad\n\nbad\r\n");
  const PreparedExamples examples = VALUE_OR_FAIL(ReadExamples(manifest, lines, "", false));
  EXPECT_THAT(examples.examples.tokens, ElementsAre(2, 2, 1, 3, 0, 0));
  PredictOptions options;
  options.model_dir = model;
  options.input_path = lines;
  const std::string csv = VALUE_OR_FAIL(Run(options));
  EXPECT_THAT(csv, HasSubstr("neg,pos,predicted\n"));
  EXPECT_THAT(csv, HasSubstr(",pos\n"));
  EXPECT_THAT(csv, ::testing::EndsWith(",neg\n"));

  options.evaluate = true;
  absl::Status no_labels = Run(options).status();
  EXPECT_THAT(std::string(no_labels.message()), HasSubstr("has no labels"));
  options.input_path = Write("in.csv", "text,label\ngood good,pos\nbad,pos\nbad,neg\n");
  const nlohmann::json metrics = nlohmann::json::parse(VALUE_OR_FAIL(Run(options)));
  EXPECT_DOUBLE_EQ(metrics.at("accuracy").get<double>(), 2.0 / 3);
  options.input_path = Write("odd.csv", "text,label\ngood,pos\nbad,meh\n");
  EXPECT_THAT(
      std::string(Run(options).status().message()),
      HasSubstr(options.input_path + ":3: label \"meh\" is not one of the model's classes"));
}

TEST_F(PredictTest, AModelDirectoryThatDoesNotFitIsAClearError) {
  PredictOptions options;
  options.input_path = Write("in.csv", "a,b\n1,2\n");
  options.model_dir = dir_.File("empty");
  std::filesystem::create_directories(options.model_dir);
  absl::Status no_manifest = Run(options).status();
  EXPECT_THAT(no_manifest, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(no_manifest.message()), HasSubstr(dir_.File("empty/manifest.json")));

  const std::string model = dir_.File("model");
  TabularClassifier(model);
  options.model_dir = model;
  testing::WriteTextFile(model + "/model.pt", "not a zip archive");
  absl::Status garbage = Run(options).status();
  EXPECT_THAT(garbage, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(garbage.message()), HasSubstr(model + "/model.pt"));
  std::filesystem::remove(model + "/model.pt");
  EXPECT_THAT(Run(options), StatusIs(absl::StatusCode::kNotFound));

  // A model of three outputs where the manifest says two.
  SaveLinearModel(model, torch::zeros({3, 2}), torch::zeros({3}));
  absl::Status width = Run(options).status();
  EXPECT_THAT(width, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(width.message()), HasSubstr("outputs of shape [1, 3]"));

  // Another kind of model: the linear map on three features, fed two.
  SaveLinearModel(model, torch::zeros({2, 3}), torch::zeros({2}));
  absl::Status shape = Run(options).status();
  EXPECT_THAT(shape, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(shape.message()), HasSubstr("cannot run on this input"));
}

}  // namespace
}  // namespace vernier
