// Tests of trainer/models.h and trainer/augment.h: each model's output shape,
// a loss that falls over a few steps, the checks of MakeModel, and each
// augmentation step.
#include "trainer/models.h"

#include <torch/torch.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/model_shapes.h"
#include "trainer/augment.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

using ::vernier::testing::Features;
using ::vernier::testing::Images;
using ::vernier::testing::Tokens;

// Token batches whose class is whether token 5 occurs; right-padded with 0.
std::pair<torch::Tensor, torch::Tensor> TokenTask(int64_t n, int64_t length) {
  torch::Tensor tokens = torch::randint(6, 20, {n, length}, torch::kInt64);
  torch::Tensor labels = torch::arange(n, torch::kInt64).remainder(2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t used = 3 + i % (length - 3);
    tokens[i].narrow(0, used, length - used).fill_(0);
    if (labels[i].item<int64_t>() == 1) tokens[i][i % used] = 5;
  }
  return {tokens, labels};
}

// Trains `model` on (inputs, labels) with Adam for `steps` full-batch steps;
// returns the cross-entropy before and after.
std::pair<double, double> FitSteps(Net model, const torch::Tensor& inputs,
                                   const torch::Tensor& labels, int steps, double lr = 0.01) {
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(lr));
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(inputs), labels);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    optimizer.step();
  }
  return {first, last};
}

class ModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    torch::manual_seed(0);
  }
};

TEST_F(ModelsTest, DefaultCnnKeepsTheOriginalLayout) {
  absl::StatusOr<Net> model = MakeModel(ModelOptions(), Images());
  ASSERT_OK(model);
  EXPECT_EQ((*model)->forward(torch::randn({5, 1, 28, 28})).sizes(), torch::IntArrayRef({5, 10}));
  std::vector<std::string> names;
  for (const auto& item : (*model)->named_parameters()) names.push_back(item.key());
  EXPECT_THAT(names,
              ::testing::ElementsAre("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                     "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"));
  EXPECT_EQ((*model)->named_parameters()["conv2.weight"].sizes(),
            torch::IntArrayRef({32, 16, 3, 3}));
}

TEST_F(ModelsTest, DenseEqualsTheLinearLayerWithItsGradients) {
  torch::nn::Linear layer(7, 3);
  const torch::Tensor x = torch::randn({5, 7}, torch::requires_grad());
  const torch::Tensor fast = Dense(layer, x);
  const torch::Tensor plain = layer->forward(x);
  EXPECT_TRUE(torch::allclose(fast, plain, 1e-5, 1e-5));
  const auto fast_grads = torch::autograd::grad({fast.square().sum()}, {x, layer->weight});
  const auto plain_grads = torch::autograd::grad({plain.square().sum()}, {x, layer->weight});
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(torch::allclose(fast_grads[i], plain_grads[i], 1e-4, 1e-5)) << i;
  }
}

TEST_F(ModelsTest, CnnVariantsGiveTheirShapesAndLearn) {
  ModelOptions options;
  options.conv_blocks = 3;
  options.channels = 4;
  options.kernel_size = 5;
  options.pooling = "avg";
  options.batch_norm = true;
  options.units = 16;
  options.activation = "prelu";
  options.dropout = 0;
  absl::StatusOr<Net> model = MakeModel(options, Images(3, 12, 4));
  ASSERT_OK(model);
  EXPECT_EQ((*model)->named_parameters()["conv3.weight"].sizes(),
            torch::IntArrayRef({16, 8, 5, 5}));
  EXPECT_EQ((*model)->named_parameters().contains("bn2.running_mean"), false);  // A buffer.
  EXPECT_EQ((*model)->named_buffers().contains("bn2.running_mean"), true);
  const torch::Tensor images = torch::randn({16, 3, 12, 12});
  const torch::Tensor labels = torch::arange(16, torch::kInt64).remainder(4);
  EXPECT_EQ((*model)->forward(images).sizes(), torch::IntArrayRef({16, 4}));
  auto [first, last] = FitSteps(*model, images, labels, 15);
  EXPECT_LT(last, 0.5 * first);
}

TEST_F(ModelsTest, EachActivationWorksInAnMlp) {
  for (const char* activation : {"relu", "leaky_relu", "prelu", "sigmoid", "tanh", "gelu"}) {
    ModelOptions options;
    options.model = "mlp";
    options.activation = activation;
    options.layers = 2;
    options.units = 32;
    options.dropout = 0;
    absl::StatusOr<Net> model = MakeModel(options, Features(6, 3));
    ASSERT_OK(model) << activation;
    const torch::Tensor x = torch::randn({24, 6});
    const torch::Tensor y = (x.select(1, 0) > 0).to(torch::kInt64) + (x.select(1, 1) > 1);
    EXPECT_EQ((*model)->forward(x).sizes(), torch::IntArrayRef({24, 3})) << activation;
    auto [first, last] = FitSteps(*model, x, y, 30, 0.03);
    EXPECT_LT(last, 0.7 * first) << activation;
  }
  ActivationImpl leaky("leaky_relu", 0.2);
  EXPECT_TRUE(
      torch::allclose(leaky.forward(torch::tensor({-1.0f, 2.0f})), torch::tensor({-0.2f, 2.0f})));
}

TEST_F(ModelsTest, EachRnnCellLearnsATokenTask) {
  auto [tokens, labels] = TokenTask(32, 12);
  for (const char* cell : {"lstm", "gru", "rnn"}) {
    ModelOptions options;
    options.model = "rnn";
    options.rnn_cell = cell;
    options.layers = 2;
    options.hidden_size = 16;
    options.embedding_dim = 8;
    options.bidirectional = std::string(cell) == "gru";
    options.dropout = 0;
    absl::StatusOr<Net> model = MakeModel(options, Tokens(12, 20, 2));
    ASSERT_OK(model) << cell;
    EXPECT_EQ((*model)->forward(tokens).sizes(), torch::IntArrayRef({32, 2})) << cell;
    auto [first, last] = FitSteps(*model, tokens, labels, 25, 0.02);
    EXPECT_LT(last, 0.7 * first) << cell;
  }
}

TEST_F(ModelsTest, TransformerVariantsLearnATokenTask) {
  auto [tokens, labels] = TokenTask(32, 10);
  for (const char* positional : {"sinusoidal", "learned", "none"}) {
    ModelOptions options;
    options.model = "transformer";
    options.d_model = 16;
    options.heads = 2;
    options.layers = 1;
    options.ff_units = 32;
    options.positional = positional;
    options.token_pooling = std::string(positional) == "learned" ? "first" : "mean";
    options.activation = std::string(positional) == "none" ? "gelu" : "tanh";
    options.dropout = 0;
    absl::StatusOr<Net> model = MakeModel(options, Tokens(10, 20, 2));
    ASSERT_OK(model) << positional;
    EXPECT_EQ((*model)->forward(tokens).sizes(), torch::IntArrayRef({32, 2})) << positional;
    auto [first, last] = FitSteps(*model, tokens, labels, 25, 0.01);
    EXPECT_LT(last, 0.7 * first) << positional;
  }
  // An all-padding example gives finite outputs, not NaN.
  ModelOptions options;
  options.model = "transformer";
  options.d_model = 8;
  options.heads = 2;
  absl::StatusOr<Net> model = MakeModel(options, Tokens(4, 10, 2));
  ASSERT_OK(model);
  EXPECT_TRUE(
      torch::isfinite((*model)->forward(torch::zeros({2, 4}, torch::kInt64))).all().item<bool>());
}

TEST(MakeModelTest, BadCombinationsAreInvalidArgumentsNamingTheParameters) {
  ModelOptions transformer;
  transformer.model = "transformer";
  transformer.d_model = 30;
  transformer.heads = 4;
  absl::Status heads = MakeModel(transformer, Tokens(8, 50, 2)).status();
  EXPECT_THAT(heads, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(heads.message()), HasSubstr("d_model (30)"));
  EXPECT_THAT(std::string(heads.message()), HasSubstr("heads (4)"));

  transformer.d_model = 32;
  transformer.activation = "prelu";
  EXPECT_THAT(std::string(MakeModel(transformer, Tokens(8, 50, 2)).status().message()),
              HasSubstr("prelu"));

  ModelOptions cnn;
  absl::Status text = MakeModel(cnn, Tokens(8, 50, 2)).status();
  EXPECT_THAT(text, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(text.message()), HasSubstr("model cnn needs image data"));
  // "Same" padding: even a kernel larger than the image keeps the shape valid.
  cnn.kernel_size = 11;
  absl::StatusOr<Net> big_kernel = MakeModel(cnn, Images(1, 4));
  ASSERT_OK(big_kernel);
  EXPECT_EQ((*big_kernel)->forward(torch::randn({2, 1, 4, 4})).sizes(),
            torch::IntArrayRef({2, 10}));
  ModelOptions rnn;
  rnn.model = "rnn";
  EXPECT_THAT(std::string(MakeModel(rnn, Images()).status().message()),
              HasSubstr("model rnn needs token data"));
  ModelOptions huge;
  huge.model = "mlp";
  huge.units = 16384;
  huge.layers = 24;
  EXPECT_THAT(std::string(MakeModel(huge, Features(10, 2)).status().message()),
              HasSubstr("lower units"));
}

// ---- Augmentation ----

torch::Tensor Ramp(int64_t n = 4) {
  return torch::arange(n * 2 * 8 * 8, torch::kFloat32).view({n, 2, 8, 8});
}

TEST(AugmentTest, NothingOnOrProbabilityZeroIsTheIdentity) {
  const torch::Tensor images = Ramp();
  EXPECT_TRUE(torch::equal(AugmentImages(images, AugmentOptions()), images));
  AugmentOptions options;
  options.rotation = 30;
  options.scale = 0.2;
  options.crop = 2;
  options.cutout = 3;
  options.prob = 0;
  EXPECT_FALSE(options.enabled());
  EXPECT_TRUE(torch::equal(AugmentImages(images, options), images));
}

TEST(AugmentTest, FlipWithProbabilityOneMirrorsExactly) {
  const torch::Tensor images = Ramp();
  AugmentOptions options;
  options.flip = 1;
  const torch::Tensor flipped = AugmentImages(images, options);
  EXPECT_EQ(flipped.sizes(), images.sizes());
  EXPECT_TRUE(torch::equal(flipped, images.flip({3})));
}

TEST(AugmentTest, CropShiftsByWholePixelsAndKeepsTheShape) {
  torch::manual_seed(3);
  const torch::Tensor images = Ramp(16) + 1;  // No zero pixels of its own.
  AugmentOptions options;
  options.crop = 2;
  const torch::Tensor shifted = AugmentImages(images, options);
  EXPECT_EQ(shifted.sizes(), images.sizes());
  // Every image equals its original shifted by integers (dy, dx) in [-2, 2]
  // with zeros moved in.
  for (int64_t i = 0; i < 16; ++i) {
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy) {
      for (int64_t dx = -2; dx <= 2 && !found; ++dx) {
        torch::Tensor expected = torch::zeros_like(images[i]);
        for (int64_t y = 0; y < 8; ++y) {
          for (int64_t x = 0; x < 8; ++x) {
            const int64_t sy = y + dy, sx = x + dx;
            if (sy >= 0 && sy < 8 && sx >= 0 && sx < 8) {
              expected.select(1, y).select(1, x).copy_(images[i].select(1, sy).select(1, sx));
            }
          }
        }
        found = torch::allclose(shifted[i], expected, 1e-4, 1e-3);
      }
    }
    EXPECT_TRUE(found) << "image " << i;
  }
}

TEST(AugmentTest, RotationAndScaleChangeImagesButKeepShape) {
  torch::manual_seed(4);
  const torch::Tensor images = torch::rand({8, 1, 16, 16});
  AugmentOptions options;
  options.rotation = 45;
  options.scale = 0.3;
  const torch::Tensor out = AugmentImages(images, options);
  EXPECT_EQ(out.sizes(), images.sizes());
  EXPECT_GT((out - images).abs().mean().item<double>(), 0.01);
  // With both strengths back at 0 the images come back unchanged.
  options.rotation = 0;
  options.scale = 0;
  EXPECT_TRUE(torch::equal(AugmentImages(images, options), images));
}

TEST(AugmentTest, CutoutZeroesOneSquarePerImage) {
  torch::manual_seed(5);
  const torch::Tensor images = torch::ones({32, 1, 10, 10});
  AugmentOptions options;
  options.cutout = 4;
  const torch::Tensor out = AugmentImages(images, options);
  EXPECT_EQ(out.sizes(), images.sizes());
  const torch::Tensor zeros = out.eq(0).sum({1, 2, 3});
  // A 4x4 square, clipped at the borders: between 2x2 and 16 pixels.
  EXPECT_TRUE(zeros.le(16).all().item<bool>());
  EXPECT_TRUE(zeros.ge(4).all().item<bool>());
  EXPECT_GT(zeros.eq(16).sum().item<int64_t>(), 0);
  // Zeroed pixels form a square: rows and columns touched multiply to the count.
  for (int64_t i = 0; i < 32; ++i) {
    const torch::Tensor hole = out[i][0].eq(0);
    const int64_t rows = hole.any(1).sum().item<int64_t>();
    const int64_t cols = hole.any(0).sum().item<int64_t>();
    EXPECT_EQ(rows * cols, zeros[i].item<int64_t>()) << i;
  }
}

TEST(AugmentTest, ProbabilityChoosesWhichImagesChange) {
  torch::manual_seed(6);
  const torch::Tensor images = torch::ones({200, 1, 6, 6});
  AugmentOptions options;
  options.cutout = 2;
  options.prob = 0.5;
  const torch::Tensor changed = AugmentImages(images, options).ne(1).flatten(1).any(1);
  const int64_t count = changed.sum().item<int64_t>();
  EXPECT_GT(count, 60);
  EXPECT_LT(count, 140);
}

}  // namespace
}  // namespace vernier
