// Tests of trainer/model_export.h: every model kind and variant of
// trainer/models.h, exported to TorchScript and loaded back with
// torch::jit::load, computes what the C++ model computes in eval mode.
#include "trainer/model_export.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/model_shapes.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

struct ExportCase {
  std::string name;
  ModelOptions options;
  ModelShape shape;
};

ModelOptions Options(const std::string& model) {
  ModelOptions options;
  options.model = model;
  options.units = 12;
  options.channels = 4;
  options.hidden_size = 6;
  options.embedding_dim = 5;
  options.d_model = 8;
  options.heads = 2;
  options.ff_units = 10;
  options.dropout = 0.3;  // Must not show in the exported (eval) model.
  return options;
}

using ::vernier::testing::Features;
using ::vernier::testing::Images;
using ::vernier::testing::Tokens;

// A case: `model` with `edit` applied to its options.
ExportCase Case(
    const std::string& name, const std::string& model, ModelShape shape,
    const std::function<void(ModelOptions&)>& edit = [](ModelOptions&) {}) {
  ExportCase c{name, Options(model), std::move(shape)};
  edit(c.options);
  return c;
}

std::vector<ExportCase> Cases() {
  return {
      Case("CnnDefaultMaxPoolBeforeRelu", "cnn", Images(1, 12, 10)),
      Case("CnnBatchNormAvgPoolGelu", "cnn", Images(3, 9, 4),
           [](ModelOptions& o) {
             o.batch_norm = true;
             o.pooling = "avg";
             o.activation = "gelu";
             o.conv_blocks = 3;
           }),
      Case("CnnEvenKernelPreluPoolsUntilASideIsOne", "cnn", Images(1, 5, 3),
           [](ModelOptions& o) {
             o.kernel_size = 2;
             o.activation = "prelu";
             o.conv_blocks = 3;
           }),
      Case("CnnLeakyReluOneBlock", "cnn", Images(2, 8, 2),
           [](ModelOptions& o) {
             o.activation = "leaky_relu";
             o.leaky_slope = 0.2;
             o.conv_blocks = 1;
           }),
      Case("CnnTanh", "cnn", Images(1, 8, 2), [](ModelOptions& o) { o.activation = "tanh"; }),
      Case("MlpOnImages", "mlp", Images(1, 6, 5)),
      Case("MlpOnFeaturesSigmoidThreeLayers", "mlp", Features(7, 1),
           [](ModelOptions& o) {
             o.activation = "sigmoid";
             o.layers = 3;
           }),
      Case("MlpNoHiddenLayer", "mlp", Features(4, 3), [](ModelOptions& o) { o.layers = 0; }),
      Case("RnnLstmBidirectionalTwoLayers", "rnn", Tokens(9, 30, 2),
           [](ModelOptions& o) {
             o.layers = 2;
             o.bidirectional = true;
           }),
      Case("RnnGru", "rnn", Tokens(9, 30, 3), [](ModelOptions& o) { o.rnn_cell = "gru"; }),
      Case("RnnTanhBidirectional", "rnn", Tokens(7, 30, 1),
           [](ModelOptions& o) {
             o.rnn_cell = "rnn";
             o.layers = 2;
             o.bidirectional = true;
           }),
      Case("TransformerSinusoidalMean", "transformer", Tokens(9, 30, 2)),
      Case("TransformerLearnedFirstGelu", "transformer", Tokens(9, 30, 3),
           [](ModelOptions& o) {
             o.positional = "learned";
             o.token_pooling = "first";
             o.activation = "gelu";
           }),
      Case("TransformerNoPositionsLeakyReluThreeLayers", "transformer", Tokens(6, 30, 1),
           [](ModelOptions& o) {
             o.positional = "none";
             o.activation = "leaky_relu";
             o.layers = 3;
             o.heads = 4;
           }),
  };
}

// A batch of 5 inputs for `shape`: standardised-looking floats, or token rows
// right-padded to different lengths (one all padding).
torch::Tensor Inputs(const ModelShape& shape) {
  std::vector<int64_t> sizes = {5};
  sizes.insert(sizes.end(), shape.example_shape.begin(), shape.example_shape.end());
  if (shape.input != InputKind::kTokens) return torch::randn(sizes);
  torch::Tensor tokens = torch::randint(1, shape.vocab_size, sizes, torch::kInt64);
  const int64_t length = shape.example_shape[0];
  for (int64_t i = 0; i < 5; ++i) {
    const int64_t used = i == 4 ? 0 : std::max<int64_t>(1, length - 2 * i);
    tokens[i].narrow(0, used, length - used).fill_(0);
  }
  return tokens;
}

// Moves batch-norm statistics and PReLU slopes away from their initial
// values, so that a test would see them mishandled.
void MakeStateNontrivial(NetImpl& model, const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  model.train();
  const bool tokens = inputs.scalar_type() == torch::kInt64;
  for (int i = 0; i < 3; ++i) model.forward(tokens ? inputs : inputs * (1 + i));
  for (auto& item : model.named_parameters()) {
    if (item.key().find("prelu") != std::string::npos) item.value().fill_(0.37);
  }
}

class ModelExportTest : public ::testing::TestWithParam<ExportCase> {};

TEST_P(ModelExportTest, LoadedTorchScriptComputesWhatTheModelComputes) {
  torch::manual_seed(7);
  const ExportCase& c = GetParam();
  absl::StatusOr<Net> model = MakeModel(c.options, c.shape);
  ASSERT_OK(model);
  const torch::Tensor inputs = Inputs(c.shape);
  MakeStateNontrivial(**model, inputs);

  absl::StatusOr<std::string> bytes = ExportTorchScript(**model, c.options, c.shape);
  ASSERT_OK(bytes);
  EXPECT_TRUE((*model)->is_training()) << "export changed the model's mode";

  (*model)->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = (*model)->forward(inputs);
  // Twice: the profiling executor optimises the graph after its first runs.
  std::istringstream in(*bytes);
  torch::jit::Module loaded = torch::jit::load(in);
  for (int run = 0; run < 3; ++run) {
    const torch::Tensor actual = loaded.forward({inputs}).toTensor();
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/1e-4, /*atol=*/1e-5))
        << "run " << run << "\nexpected\n"
        << expected << "\nactual\n"
        << actual;
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, ModelExportTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ExportCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(ModelExportFileTest, SavedFileLoadsWithItsTensorsOnTheCpu) {
  const ModelShape shape = Images(1, 8, 3);
  const ModelOptions options = Options("cnn");
  absl::StatusOr<Net> model = MakeModel(options, shape);
  ASSERT_OK(model);
  absl::StatusOr<std::string> bytes = ExportTorchScript(**model, options, shape);
  ASSERT_OK(bytes);
  testing::TempDir dir;
  const std::string path = dir.File("model.pt");
  std::ofstream(path, std::ios::binary) << *bytes;
  torch::jit::Module loaded = torch::jit::load(path);
  int64_t values = 0;
  for (const torch::Tensor& parameter : loaded.parameters()) {
    EXPECT_TRUE(parameter.is_cpu());
    values += parameter.numel();
  }
  EXPECT_EQ(values, CountParameters(**model));
}

TEST(ModelExportFileTest, UnknownModelIsInvalidArgument) {
  const ModelShape shape = Features(3, 2);
  ModelOptions options = Options("mlp");
  absl::StatusOr<Net> model = MakeModel(options, shape);
  ASSERT_OK(model);
  options.model = "resnet";
  EXPECT_THAT(ExportTorchScript(**model, options, shape),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resnet")));
}

TEST(CountParametersTest, CountsEveryTrainableValue) {
  ModelOptions options = Options("mlp");
  options.layers = 1;
  absl::StatusOr<Net> model = MakeModel(options, Features(3, 2));
  ASSERT_OK(model);
  // fc1: 3 * 12 + 12; out: 12 * 2 + 2.
  EXPECT_EQ(CountParameters(**model), 3 * 12 + 12 + 12 * 2 + 2);
}

TEST(MeasureLatencyTest, ReturnsAPositiveMedianAndKeepsTheMode) {
  const ModelShape shape = Images(1, 8, 3);
  absl::StatusOr<Net> model = MakeModel(Options("cnn"), shape);
  ASSERT_OK(model);
  (*model)->train();
  const double ms = MeasureLatencyMs(**model, torch::randn({1, 1, 8, 8}), 2, 5);
  EXPECT_GT(ms, 0);
  EXPECT_TRUE((*model)->is_training());
  (*model)->eval();
  MeasureLatencyMs(**model, torch::randn({1, 1, 8, 8}), 0, 1);
  EXPECT_FALSE((*model)->is_training());
}

}  // namespace
}  // namespace vernier
