// Tests of trainer/training.h and trainer/model.h. One file for both because
// each libtorch translation unit costs tens of seconds to compile.
#include "trainer/training.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trainer/test_data.h"
#include "trainer/model.h"
#include "trainer/trial.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

// Records every epoch; answers false (stop) from epoch `stop_after` on.
class RecordingSink : public ProgressSink {
 public:
  explicit RecordingSink(int stop_after = 1 << 30) : stop_after_(stop_after) {}
  bool OnEpoch(const EpochSummary& summary) override {
    epochs.push_back(summary);
    return summary.epoch < stop_after_;
  }
  std::vector<EpochSummary> epochs;

 private:
  int stop_after_;
};

TrainOptions TinyOptions() {
  TrainOptions options;
  options.optimizer = "adam";
  options.lr = 0.003;
  options.batch_size = 16;
  options.dropout = 0.1;
  options.epochs = 3;
  options.seed = 7;
  return options;
}

TensorDataset TinyTensors(int count, uint32_t seed) {
  TensorDataset data = ToTensors(testing::MakeTinyImages(count, seed), torch::kCPU);
  Standardize(ComputePixelStats(data.images), data.images);
  return data;
}

class TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    torch::manual_seed(0);
  }
};

TEST_F(TrainingTest, CnnMapsImagesToTenLogits) {
  Cnn model(0.25);
  EXPECT_EQ(model->forward(torch::randn({5, 1, 28, 28})).sizes(), torch::IntArrayRef({5, 10}));
  std::vector<std::string> names;
  for (const auto& item : model->named_parameters()) names.push_back(item.key());
  EXPECT_THAT(names,
              ::testing::ElementsAre("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                     "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"));
}

TEST_F(TrainingTest, ToTensorsScalesPixelsAndWidensLabels) {
  LabeledImages images = testing::MakeTinyImages(3, 1);
  images.pixels[0] = 255;
  images.pixels[1] = 0;
  TensorDataset data = ToTensors(images, torch::kCPU);
  EXPECT_EQ(data.images.sizes(), torch::IntArrayRef({3, 1, 28, 28}));
  EXPECT_EQ(data.images.scalar_type(), torch::kFloat32);
  EXPECT_FLOAT_EQ(data.images[0][0][0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(data.images[0][0][0][1].item<float>(), 0.0f);
  EXPECT_EQ(data.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(data.labels[2].item<int64_t>(), 2);
  EXPECT_EQ(data.Slice(1, 2).labels[0].item<int64_t>(), 1);
}

TEST_F(TrainingTest, LossFallsOnTinyData) {
  TensorDataset train = TinyTensors(200, 1);
  Cnn model(0.1);
  TrainOptions options = TinyOptions();
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  const double before = Evaluate(model, train).loss;
  double train_loss = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    train_loss = TrainEpoch(model, **optimizer, train, options, generator);
  }
  const Evaluation after = Evaluate(model, train);
  EXPECT_TRUE(std::isfinite(train_loss));
  EXPECT_LT(after.loss, 0.5 * before);
  EXPECT_GT(after.accuracy, 0.5);
  EXPECT_TRUE(model->is_training());  // Evaluate restores train mode.
}

TEST_F(TrainingTest, SameSeedGivesTheSameRun) {
  TensorDataset train = TinyTensors(64, 3);
  TensorDataset val = TinyTensors(20, 4);
  std::vector<double> losses[2];
  for (auto& run : losses) {
    torch::manual_seed(11);
    Cnn model(0.3);
    TrainOptions options = TinyOptions();
    options.epochs = 2;
    auto optimizer = MakeOptimizer(options, model->parameters());
    ASSERT_TRUE(optimizer.ok());
    RecordingSink sink;
    Train(model, **optimizer, train, val, options, sink);
    for (const EpochSummary& epoch : sink.epochs) {
      run.push_back(epoch.train_loss);
      run.push_back(epoch.val_metrics.at("val_loss"));
    }
  }
  EXPECT_EQ(losses[0], losses[1]);
}

TEST_F(TrainingTest, TrainReportsEachEpochAndStopsWhenTheSinkSaysSo) {
  TensorDataset train = TinyTensors(40, 5);
  TensorDataset val = TinyTensors(20, 6);
  Cnn model(0.0);
  TrainOptions options = TinyOptions();
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_TRUE(optimizer.ok());

  RecordingSink all;
  MetricMap last = Train(model, **optimizer, train, val, options, all);
  ASSERT_EQ(all.epochs.size(), 3u);
  EXPECT_EQ(all.epochs[0].epoch, 1);
  EXPECT_EQ(all.epochs[2].epoch, 3);
  EXPECT_EQ(all.epochs[2].num_epochs, 3);
  EXPECT_EQ(last, all.epochs[2].val_metrics);
  EXPECT_EQ(last.count("val_accuracy"), 1u);
  EXPECT_EQ(last.count("val_loss"), 1u);

  RecordingSink stop_after_two(/*stop_after=*/2);
  Train(model, **optimizer, train, val, options, stop_after_two);
  EXPECT_EQ(stop_after_two.epochs.size(), 2u);
}

// One parameter vector w under loss 0.5 * sum(c * w^2), whose gradient is
// c * w, stepped twice; the expectation is computed by hand below.
std::vector<double> TwoSteps(const std::string& optimizer_name) {
  torch::Tensor w = torch::tensor({1.0, -2.0}, torch::kFloat64).requires_grad_(true);
  const torch::Tensor c = torch::tensor({0.5, 3.0}, torch::kFloat64);
  TrainOptions options;
  options.optimizer = optimizer_name;
  options.lr = 0.1;
  options.momentum = 0.9;
  auto optimizer = MakeOptimizer(options, {w});
  EXPECT_TRUE(optimizer.ok()) << optimizer.status();
  for (int step = 0; step < 2; ++step) {
    (*optimizer)->zero_grad();
    (0.5 * (c * w * w).sum()).backward();
    (*optimizer)->step();
  }
  return {w[0].item<double>(), w[1].item<double>()};
}

TEST(OptimizerTest, SgdMatchesHandComputedSteps) {
  std::vector<double> got = TwoSteps("sgd");
  const double c[] = {0.5, 3.0}, w0[] = {1.0, -2.0}, lr = 0.1;
  for (int i = 0; i < 2; ++i) {
    const double w1 = w0[i] - lr * c[i] * w0[i];
    const double w2 = w1 - lr * c[i] * w1;
    EXPECT_NEAR(got[i], w2, 1e-12) << i;
  }
}

TEST(OptimizerTest, MomentumMatchesHandComputedSteps) {
  std::vector<double> got = TwoSteps("momentum");
  const double c[] = {0.5, 3.0}, w0[] = {1.0, -2.0}, lr = 0.1, mu = 0.9;
  for (int i = 0; i < 2; ++i) {
    const double b1 = c[i] * w0[i];
    const double w1 = w0[i] - lr * b1;
    const double b2 = mu * b1 + c[i] * w1;
    const double w2 = w1 - lr * b2;
    EXPECT_NEAR(got[i], w2, 1e-12) << i;
  }
}

TEST(OptimizerTest, AdamMatchesHandComputedSteps) {
  std::vector<double> got = TwoSteps("adam");
  const double c[] = {0.5, 3.0}, w0[] = {1.0, -2.0}, lr = 0.1;
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  for (int i = 0; i < 2; ++i) {
    double w = w0[i], m = 0, v = 0;
    for (int t = 1; t <= 2; ++t) {
      const double g = c[i] * w;
      m = beta1 * m + (1 - beta1) * g;
      v = beta2 * v + (1 - beta2) * g * g;
      const double m_hat = m / (1 - std::pow(beta1, t));
      const double v_hat = v / (1 - std::pow(beta2, t));
      w -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    EXPECT_NEAR(got[i], w, 1e-9) << i;
  }
}

TEST(OptimizerTest, UnknownNameIsInvalidArgument) {
  TrainOptions options;
  options.optimizer = "rmsprop";
  options.lr = 0.1;
  auto optimizer = MakeOptimizer(options, {torch::zeros({1}, torch::requires_grad())});
  EXPECT_EQ(optimizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(optimizer.status().message()), HasSubstr("\"rmsprop\""));
}

TEST(WeightPenaltyTest, SumsL1AndL2OverWeightsNotBiases) {
  torch::nn::Sequential net(torch::nn::Linear(2, 1), torch::nn::ReLU(), torch::nn::Linear(1, 1));
  torch::NoGradGuard no_grad;
  auto first = net[0]->as<torch::nn::Linear>();
  auto second = net[2]->as<torch::nn::Linear>();
  first->weight.copy_(torch::tensor({{1.0f, -2.0f}}));
  first->bias.fill_(5.0f);
  second->weight.fill_(-3.0f);
  second->bias.fill_(-7.0f);
  // l1: |1| + |-2| + |-3| = 6; l2: 1 + 4 + 9 = 14.
  EXPECT_NEAR(WeightPenalty(*net, 0.1, 0.0).item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(WeightPenalty(*net, 0.0, 0.01).item<double>(), 0.14, 1e-6);
  EXPECT_NEAR(WeightPenalty(*net, 0.1, 0.01).item<double>(), 0.74, 1e-6);
  EXPECT_EQ(WeightPenalty(*net, 0.0, 0.0).item<double>(), 0.0);
}

// d/dw (l2 * w^2) = 2 * l2 * w; biases get no gradient from the penalty.
TEST(WeightPenaltyTest, L2GradientIsTwiceL2TimesWeight) {
  torch::nn::Linear linear(2, 1);
  {
    torch::NoGradGuard no_grad;
    linear->weight.copy_(torch::tensor({{1.5f, -0.5f}}));
  }
  WeightPenalty(*linear, 0.0, 0.1).backward();
  EXPECT_TRUE(torch::allclose(linear->weight.grad(), torch::tensor({{0.3f, -0.1f}})));
  EXPECT_FALSE(linear->bias.grad().defined() && linear->bias.grad().abs().sum().item<float>() > 0);
}

// Lives here rather than in trial_test.cc because it needs libtorch to know
// whether CUDA is there.
TEST(RunTrialDeviceTest, CudaRequestedButUnavailableIsFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  TrainOptions options;
  options.dataset = "fashion-mnist";
  options.data_dir = "/nonexistent";
  TrialEnvironment env;
  env.device = "cuda";
  RecordingSink sink;
  absl::Status status = RunTrial(options, env, sink).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("VERNIER_DEVICE=cuda"));
}

}  // namespace
}  // namespace vernier
