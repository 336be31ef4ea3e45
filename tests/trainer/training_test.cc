// Tests of trainer/training.h: data on the device, losses, optimizers,
// schedules, penalties, the epoch and training loops, early stopping and
// checkpoints. One file because each libtorch translation unit costs tens of
// seconds to compile.
#include "trainer/training.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/builtin_trainer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"
#include "trainer/trial.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

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

// The table's defaults with a few test-sized overrides.
TrainOptions TinyOptions() {
  return VALUE_OR_FAIL(TrainOptionsFromJson(
      {{"lr", 0.003}, {"batch_size", 16}, {"dropout", 0.1}, {"epochs", 3}, {"seed", 7}}, "test"));
}

ExampleSet ImageSet(int count, uint32_t seed) {
  const LabeledImages images = testing::MakeTinyImages(count, seed);
  ExampleSet set;
  set.count = images.count;
  set.image_bytes = images.pixels;
  set.labels.assign(images.labels.begin(), images.labels.end());
  return set;
}

DeviceData TinyImages(int train, int val, int test) {
  LoadedData loaded;
  loaded.example_shape = {1, 28, 28};
  loaded.num_classes = 10;
  loaded.train = ImageSet(train, 1);
  loaded.val = ImageSet(val, 2);
  loaded.test = ImageSet(test, 3);
  return VALUE_OR_FAIL(ToDevice(loaded, torch::kCPU));
}

// y = 3 * x0 - 2 * x1 + 100 over 4 features: learnable by a small MLP.
DeviceData TinyRegression(int count) {
  LoadedData loaded;
  loaded.task = TaskKind::kRegression;
  loaded.input = InputKind::kFloat;
  loaded.example_shape = {4};
  for (ExampleSet* set : {&loaded.train, &loaded.val, &loaded.test}) {
    torch::Tensor x = torch::randn({count, 4});
    torch::Tensor y = 3 * x.select(1, 0) - 2 * x.select(1, 1) + 100;
    set->count = count;
    set->floats.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    set->targets.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
  }
  return VALUE_OR_FAIL(ToDevice(loaded, torch::kCPU));
}

Net MakeCnn(const DeviceData& data, const Objective& objective, double dropout = 0.1) {
  ModelOptions options;
  options.dropout = dropout;
  ModelShape shape{data.input, data.example_shape, data.vocab_size, objective.outputs()};
  return VALUE_OR_FAIL(MakeModel(options, shape));
}

Objective CrossEntropy(int classes = 10) {
  Objective objective;
  objective.num_classes = classes;
  return objective;
}

class TrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    torch::manual_seed(0);
  }
};

TEST_F(TrainingTest, ToDeviceScalesStandardisesAndChecksSizes) {
  LoadedData loaded;
  loaded.example_shape = {1, 28, 28};
  loaded.num_classes = 10;
  loaded.train = ImageSet(3, 1);
  loaded.val = ImageSet(2, 2);
  absl::StatusOr<DeviceData> data = ToDevice(loaded, torch::kCPU);
  ASSERT_OK(data);
  EXPECT_EQ(data->train.inputs.sizes(), torch::IntArrayRef({3, 1, 28, 28}));
  EXPECT_EQ(data->train.inputs.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(data->train.inputs.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(data->train.inputs.std().item<double>(), 1.0, 1e-4);
  EXPECT_EQ(data->train.targets.scalar_type(), torch::kInt64);
  EXPECT_EQ(data->val.targets[1].item<int64_t>(), 1);
  EXPECT_EQ(data->test.size(), 0);

  loaded.val.image_bytes.pop_back();
  absl::Status status = ToDevice(loaded, torch::kCPU).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(status.message()), HasSubstr("validation split"));
}

TEST_F(TrainingTest, RegressionTargetsAreStandardisedAndMetricsInTargetUnits) {
  DeviceData data = TinyRegression(50);
  EXPECT_NEAR(data.train.targets.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(data.target_mean, 100.0, 2.0);
  // A model that always predicts 0 (standardised) predicts target_mean.
  torch::nn::Linear zero(4, 1);
  {
    torch::NoGradGuard no_grad;
    zero->weight.zero_();
    zero->bias.zero_();
  }
  struct Wrapper : NetImpl {
    explicit Wrapper(torch::nn::Linear linear) : inner(register_module("inner", linear)) {}
    torch::Tensor forward(torch::Tensor x) override { return inner->forward(x); }
    torch::nn::Linear inner;
  } model(zero);
  Objective objective;
  objective.task = TaskKind::kRegression;
  objective.loss = LossKind::kMse;
  MetricMap metrics = Evaluate(model, data.val, data, objective, "val", false);
  const torch::Tensor truth = data.val.targets * data.target_std + data.target_mean;
  const double mse = (truth - data.target_mean).square().mean().item<double>();
  EXPECT_NEAR(metrics.at("val_mse"), mse, 1e-3 * mse);
  EXPECT_NEAR(metrics.at("val_rmse"), std::sqrt(mse), 1e-3);
  EXPECT_NEAR(metrics.at("val_mae"), (truth - data.target_mean).abs().mean().item<double>(), 1e-3);
  EXPECT_NEAR(metrics.at("val_loss"), mse / (data.target_std * data.target_std), 1e-3);
}

TEST_F(TrainingTest, ChooseObjectiveFitsTheTaskOrNamesTheMismatch) {
  DeviceData images = TinyImages(4, 2, 2);
  DeviceData regression = TinyRegression(4);
  EXPECT_EQ(ChooseObjective("auto", 0, images)->loss, LossKind::kCrossEntropy);
  EXPECT_EQ(ChooseObjective("auto", 0, images)->outputs(), 10);
  EXPECT_EQ(ChooseObjective("auto", 0, regression)->loss, LossKind::kMse);
  EXPECT_EQ(ChooseObjective("auto", 0, regression)->outputs(), 1);
  absl::Status bce = ChooseObjective("bce", 0, images).status();
  EXPECT_THAT(bce, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(bce.message()), HasSubstr("loss bce needs exactly 2 classes"));
  EXPECT_THAT(std::string(ChooseObjective("mse", 0, images).status().message()),
              HasSubstr("loss mse"));
  EXPECT_THAT(std::string(ChooseObjective("cross_entropy", 0, regression).status().message()),
              HasSubstr("loss cross_entropy"));
  images.num_classes = 2;
  EXPECT_EQ(ChooseObjective("bce", 0, images)->outputs(), 1);
}

TEST(DataLossTest, EachLossMatchesItsFormula) {
  const torch::Tensor logits = torch::tensor({{2.0f, 0.0f, -1.0f}, {0.5f, 1.5f, 0.0f}});
  const torch::Tensor labels = torch::tensor({0, 1}, torch::kInt64);
  const torch::Tensor log_p = torch::log_softmax(logits, 1);
  // Cross-entropy with label smoothing s over K = 3 classes:
  // -sum_k ((1 - s) [k = y] + s / K) log p_k, averaged.
  Objective objective = CrossEntropy(3);
  objective.label_smoothing = 0.3;
  const torch::Tensor target = torch::one_hot(labels, 3).to(torch::kFloat32) * 0.7 + 0.1;
  const double expected_ce = -(target * log_p).sum(1).mean().item<double>();
  EXPECT_NEAR(DataLoss(logits, labels, objective).item<double>(), expected_ce, 1e-5);
  EXPECT_NEAR(DataLoss(logits, labels, objective, /*sum=*/true).item<double>(), 2 * expected_ce,
              1e-5);
  // KL divergence: cross-entropy minus the targets' entropy.
  objective.loss = LossKind::kKlDiv;
  const double entropy = -(target * target.log()).sum(1).mean().item<double>();
  EXPECT_NEAR(DataLoss(logits, labels, objective).item<double>(), expected_ce - entropy, 1e-5);
  // BCE on output 0: -[y log s(z) + (1 - y) log(1 - s(z))].
  objective.loss = LossKind::kBce;
  auto sigmoid = [](double z) { return 1 / (1 + std::exp(-z)); };
  const double bce = -(std::log(1 - sigmoid(2.0)) + std::log(sigmoid(0.5))) / 2;
  EXPECT_NEAR(DataLoss(logits, labels, objective).item<double>(), bce, 1e-5);
  // MSE on output 0.
  objective.loss = LossKind::kMse;
  objective.task = TaskKind::kRegression;
  const torch::Tensor targets = torch::tensor({1.0f, -0.5f});
  EXPECT_NEAR(DataLoss(logits, targets, objective).item<double>(), (1.0 + 1.0) / 2, 1e-6);
}

TEST_F(TrainingTest, LossFallsOnTinyImages) {
  DeviceData data = TinyImages(200, 20, 20);
  const Objective objective = CrossEntropy();
  Net model = MakeCnn(data, objective);
  TrainOptions options = TinyOptions();
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  const double before = Evaluate(*model, data.train, data, objective, "t", false).at("t_loss");
  double train_loss = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    train_loss = TrainEpoch(*model, **optimizer, data.train, objective, options, AugmentOptions(),
                            false, generator);
  }
  const MetricMap after = Evaluate(*model, data.train, data, objective, "t", false);
  EXPECT_TRUE(std::isfinite(train_loss));
  EXPECT_LT(after.at("t_loss"), 0.5 * before);
  EXPECT_GT(after.at("t_accuracy"), 0.5);
  EXPECT_TRUE(model->is_training());  // Evaluate restores train mode.
}

TEST_F(TrainingTest, FullBatchGdAndClippingTrainToo) {
  DeviceData data = TinyImages(60, 10, 10);
  const Objective objective = CrossEntropy();
  Net model = MakeCnn(data, objective, 0.0);
  TrainOptions options = TinyOptions();
  options.optimizer = "gd";
  options.lr = 0.05;
  options.clip_norm = 1.0;
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  at::Generator generator = at::detail::createCPUGenerator(1);
  const double first = TrainEpoch(*model, **optimizer, data.train, objective, options,
                                  AugmentOptions(), false, generator);
  double last = first;
  for (int step = 0; step < 10; ++step) {
    last = TrainEpoch(*model, **optimizer, data.train, objective, options, AugmentOptions(), false,
                      generator);
  }
  EXPECT_LT(last, first);
}

TEST_F(TrainingTest, ClipNormBoundsTheGradientNorm) {
  // With clip_norm c, one sgd step moves the weights by at most lr * c.
  DeviceData data = TinyImages(32, 4, 4);
  const Objective objective = CrossEntropy();
  Net model = MakeCnn(data, objective, 0.0);
  TrainOptions options = TinyOptions();
  options.optimizer = "gd";
  options.lr = 1.0;
  options.clip_norm = 0.01;
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  const std::vector<torch::Tensor> before = SnapshotState(*model);
  at::Generator generator = at::detail::createCPUGenerator(1);
  TrainEpoch(*model, **optimizer, data.train, objective, options, AugmentOptions(), false,
             generator);
  double moved = 0;
  const std::vector<torch::Tensor> parameters = model->parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    moved += (parameters[i] - before[i]).square().sum().item<double>();
  }
  EXPECT_GT(std::sqrt(moved), 0.0);
  EXPECT_LE(std::sqrt(moved), 0.01 * 1.0001);
}

TEST_F(TrainingTest, MlpRegressionLossFalls) {
  DeviceData data = TinyRegression(128);
  absl::StatusOr<Objective> objective = ChooseObjective("auto", 0, data);
  ASSERT_OK(objective);
  ModelOptions model_options;
  model_options.model = "mlp";
  model_options.dropout = 0;
  absl::StatusOr<Net> model =
      MakeModel(model_options, {data.input, data.example_shape, 0, objective->outputs()});
  ASSERT_OK(model);
  TrainOptions options = TinyOptions();
  options.lr = 0.01;
  auto optimizer = MakeOptimizer(options, (*model)->parameters());
  ASSERT_OK(optimizer);
  const double before = Evaluate(**model, data.val, data, *objective, "v", false).at("v_rmse");
  at::Generator generator = at::detail::createCPUGenerator(3);
  for (int epoch = 0; epoch < 20; ++epoch) {
    TrainEpoch(**model, **optimizer, data.train, *objective, options, AugmentOptions(), false,
               generator);
  }
  EXPECT_LT(Evaluate(**model, data.val, data, *objective, "v", false).at("v_rmse"), 0.3 * before);
}

TEST_F(TrainingTest, SameSeedGivesTheSameRun) {
  DeviceData data = TinyImages(64, 20, 4);
  std::vector<double> losses[2];
  for (auto& run : losses) {
    torch::manual_seed(11);
    TrainOptions options = TinyOptions();
    options.epochs = 2;
    options.aug_flip = 0.5;
    options.aug_rotation = 10;
    Net model = MakeCnn(data, CrossEntropy(), 0.3);
    auto optimizer = MakeOptimizer(options, model->parameters());
    ASSERT_OK(optimizer);
    RecordingSink sink;
    ASSERT_OK(Train(*model, **optimizer, data, CrossEntropy(), options, TrainRun(), sink));
    for (const EpochSummary& epoch : sink.epochs) {
      run.push_back(epoch.train_loss);
      run.push_back(epoch.val_metrics.at("val_loss"));
    }
  }
  EXPECT_EQ(losses[0], losses[1]);
}

TEST_F(TrainingTest, TrainReportsEachEpochAndStopsWhenTheSinkSaysSo) {
  DeviceData data = TinyImages(40, 20, 4);
  Net model = MakeCnn(data, CrossEntropy(), 0.0);
  TrainOptions options = TinyOptions();
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);

  RecordingSink all;
  absl::StatusOr<MetricMap> last =
      Train(*model, **optimizer, data, CrossEntropy(), options, TrainRun(), all);
  ASSERT_OK(last);
  ASSERT_EQ(all.epochs.size(), 3u);
  EXPECT_EQ(all.epochs[0].epoch, 1);
  EXPECT_EQ(all.epochs[2].epoch, 3);
  EXPECT_EQ(all.epochs[2].num_epochs, 3);
  EXPECT_EQ(*last, all.epochs[2].val_metrics);
  for (const char* name :
       {"val_accuracy", "val_loss", "val_precision_macro", "val_recall_macro", "val_f1_macro"}) {
    EXPECT_EQ(last->count(name), 1u) << name;
  }
  EXPECT_EQ(last->count("val_f1"), 0u);  // Binary metrics only for two classes.

  RecordingSink stop_after_two(/*stop_after=*/2);
  ASSERT_OK(Train(*model, **optimizer, data, CrossEntropy(), options, TrainRun(), stop_after_two));
  EXPECT_EQ(stop_after_two.epochs.size(), 2u);
}

TEST(EarlyStoppingTest, StopsAfterPatienceAndRestoresTheBestWeights) {
  EarlyStopping stopping("val_accuracy", /*patience=*/2, /*min_delta=*/0.01);
  torch::nn::Linear probe(1, 1);
  auto set_weight = [&](float value) {
    torch::NoGradGuard no_grad;
    probe->weight.fill_(value);
  };
  set_weight(1);
  EXPECT_FALSE(stopping.Update({{"val_accuracy", 0.5}}, *probe));
  set_weight(2);
  EXPECT_FALSE(stopping.Update({{"val_accuracy", 0.7}}, *probe));  // Best.
  set_weight(3);
  EXPECT_FALSE(stopping.Update({{"val_accuracy", 0.705}}, *probe));  // Within min_delta.
  set_weight(4);
  EXPECT_TRUE(stopping.Update({{"val_accuracy", 0.6}}, *probe));  // 2 epochs without gain.
  EXPECT_EQ(stopping.best_epoch(), 2);
  stopping.RestoreBest(*probe);
  EXPECT_EQ(probe->weight.item<float>(), 2.0f);
  EXPECT_TRUE(BuiltinMetricLowerIsBetter("val_loss"));
  EXPECT_TRUE(BuiltinMetricLowerIsBetter("val_rmse"));
  EXPECT_FALSE(BuiltinMetricLowerIsBetter("val_f1"));
}

TEST_F(TrainingTest, TrainWithPatienceEndsWithTheBestEpochsWeights) {
  DeviceData data = TinyImages(60, 30, 10);
  Net model = MakeCnn(data, CrossEntropy(), 0.0);
  TrainOptions options = TinyOptions();
  options.epochs = 6;
  options.patience = 1;
  options.optimizer = "sgd";
  options.lr = 3.0;  // Diverges after a first useful epoch or two.
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  RecordingSink sink;
  absl::StatusOr<MetricMap> final =
      Train(*model, **optimizer, data, CrossEntropy(), options, TrainRun(), sink);
  ASSERT_OK(final);
  double best = INFINITY;
  for (const EpochSummary& epoch : sink.epochs) {
    const double loss = epoch.val_metrics.at("val_loss");
    if (std::isfinite(loss)) best = std::min(best, loss);
  }
  EXPECT_DOUBLE_EQ(final->at("val_loss"), best);
}

// One parameter vector w under loss 0.5 * sum(c * w^2), whose gradient is
// c * w, stepped twice; the expectations are computed by hand below.
std::vector<double> TwoSteps(const std::string& optimizer_name,
                             void (*tweak)(TrainOptions&) = nullptr) {
  torch::Tensor w = torch::tensor({1.0, -2.0}, torch::kFloat64).requires_grad_(true);
  const torch::Tensor c = torch::tensor({0.5, 3.0}, torch::kFloat64);
  TrainOptions options = TinyOptions();
  options.optimizer = optimizer_name;
  options.lr = 0.1;
  options.momentum = 0.9;
  if (tweak != nullptr) tweak(options);
  std::unique_ptr<torch::optim::Optimizer> optimizer = VALUE_OR_FAIL(MakeOptimizer(options, {w}));
  if (optimizer == nullptr) return {std::nan(""), std::nan("")};  // The test has failed.
  for (int step = 0; step < 2; ++step) {
    optimizer->zero_grad();
    (0.5 * (c * w * w).sum()).backward();
    optimizer->step();
  }
  return {w[0].item<double>(), w[1].item<double>()};
}

constexpr double kC[] = {0.5, 3.0}, kW0[] = {1.0, -2.0}, kLr = 0.1;

TEST(OptimizerTest, SgdAndGdMatchHandComputedSteps) {
  for (const char* name : {"sgd", "gd"}) {
    std::vector<double> got = TwoSteps(name);
    for (int i = 0; i < 2; ++i) {
      const double w1 = kW0[i] - kLr * kC[i] * kW0[i];
      const double w2 = w1 - kLr * kC[i] * w1;
      EXPECT_NEAR(got[i], w2, 1e-12) << name << " " << i;
    }
  }
}

TEST(OptimizerTest, MomentumAndNesterovMatchHandComputedSteps) {
  const double mu = 0.9;
  std::vector<double> got = TwoSteps("momentum");
  std::vector<double> nesterov =
      TwoSteps("momentum", [](TrainOptions& options) { options.nesterov = true; });
  for (int i = 0; i < 2; ++i) {
    const double b1 = kC[i] * kW0[i];
    const double w1 = kW0[i] - kLr * b1;
    const double b2 = mu * b1 + kC[i] * w1;
    EXPECT_NEAR(got[i], w1 - kLr * b2, 1e-12) << i;
    // Nesterov: w -= lr * (g + mu * b).
    const double n1 = kW0[i] - kLr * (kC[i] * kW0[i] + mu * b1);
    const double g2 = kC[i] * n1;
    const double nb2 = mu * (kC[i] * kW0[i]) + g2;
    EXPECT_NEAR(nesterov[i], n1 - kLr * (g2 + mu * nb2), 1e-12) << i;
  }
}

// Adam with betas 0.8/0.99 and eps 1e-3; adamw adds the decoupled decay
// w -= lr * wd * w before the Adam update.
double HandAdam(int i, bool decoupled, double weight_decay) {
  const double beta1 = 0.8, beta2 = 0.99, eps = 1e-3;
  double w = kW0[i], m = 0, v = 0;
  for (int t = 1; t <= 2; ++t) {
    double g = kC[i] * w;
    if (!decoupled) g += weight_decay * w;
    if (decoupled) w -= kLr * weight_decay * w;
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    const double m_hat = m / (1 - std::pow(beta1, t));
    const double v_hat = v / (1 - std::pow(beta2, t));
    w -= kLr * m_hat / (std::sqrt(v_hat) + eps);
  }
  return w;
}

void AdamSettings(TrainOptions& options) {
  options.beta1 = 0.8;
  options.beta2 = 0.99;
  options.eps = 1e-3;
  options.weight_decay = 0.2;
}

TEST(OptimizerTest, AdamAndAdamwMatchHandComputedSteps) {
  std::vector<double> adam = TwoSteps("adam", AdamSettings);
  std::vector<double> adamw = TwoSteps("adamw", AdamSettings);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(adam[i], HandAdam(i, /*decoupled=*/false, 0.2), 1e-9) << i;
    EXPECT_NEAR(adamw[i], HandAdam(i, /*decoupled=*/true, 0.2), 1e-9) << i;
  }
  EXPECT_NE(adam[0], adamw[0]);
}

TEST(OptimizerTest, RmspropMatchesHandComputedSteps) {
  // torch RMSprop: v = alpha v + (1 - alpha) g^2; b = mu b + g / (sqrt(v) + eps);
  // w -= lr * b; alpha 0.99.
  std::vector<double> got = TwoSteps("rmsprop", [](TrainOptions& options) {
    options.eps = 1e-3;
    options.momentum = 0.5;
  });
  for (int i = 0; i < 2; ++i) {
    double w = kW0[i], v = 0, b = 0;
    for (int t = 0; t < 2; ++t) {
      const double g = kC[i] * w;
      v = 0.99 * v + 0.01 * g * g;
      b = 0.5 * b + g / (std::sqrt(v) + 1e-3);
      w -= kLr * b;
    }
    EXPECT_NEAR(got[i], w, 1e-9) << i;
  }
}

TEST(OptimizerTest, AdagradMatchesHandComputedSteps) {
  // s += g^2; w -= lr * g / (sqrt(s) + eps).
  std::vector<double> got = TwoSteps("adagrad", [](TrainOptions& options) { options.eps = 1e-3; });
  for (int i = 0; i < 2; ++i) {
    double w = kW0[i], s = 0;
    for (int t = 0; t < 2; ++t) {
      const double g = kC[i] * w;
      s += g * g;
      w -= kLr * g / (std::sqrt(s) + 1e-3);
    }
    EXPECT_NEAR(got[i], w, 1e-9) << i;
  }
}

TEST(OptimizerTest, UnknownNameIsInvalidArgument) {
  TrainOptions options;
  options.optimizer = "lion";
  options.lr = 0.1;
  auto optimizer = MakeOptimizer(options, {torch::zeros({1}, torch::requires_grad())});
  EXPECT_THAT(optimizer, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(optimizer.status().message()), HasSubstr("\"lion\""));
}

TEST(ScheduleTest, FactorsFollowWarmupThenTheSchedule) {
  TrainOptions options = TinyOptions();
  options.epochs = 10;
  EXPECT_EQ(LearningRateFactor(options, 0), 1.0);
  EXPECT_EQ(LearningRateFactor(options, 9), 1.0);
  options.schedule = "step";
  options.step_size = 3;
  options.gamma = 0.5;
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 2), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 3), 0.5);
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 7), 0.25);
  options.schedule = "cosine";
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 0), 1.0);
  EXPECT_NEAR(LearningRateFactor(options, 5), 0.5, 1e-12);
  EXPECT_NEAR(LearningRateFactor(options, 9), 0.5 * (1 + std::cos(M_PI * 0.9)), 1e-12);
  options.warmup_epochs = 3;
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 0), 0.25);
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 2), 0.75);
  EXPECT_DOUBLE_EQ(LearningRateFactor(options, 3), 1.0);  // Cosine starts: t = 0.
  EXPECT_NEAR(LearningRateFactor(options, 6), 0.5 * (1 + std::cos(M_PI * 3 / 7)), 1e-12);
}

TEST(ScheduleTest, TrainSetsEachEpochsLearningRate) {
  torch::manual_seed(0);
  DeviceData data = TinyImages(16, 4, 4);
  Net model = MakeCnn(data, CrossEntropy());
  TrainOptions options = TinyOptions();
  options.schedule = "step";
  options.gamma = 0.1;
  options.epochs = 3;
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  class LrSink : public ProgressSink {
   public:
    explicit LrSink(torch::optim::Optimizer& optimizer) : optimizer_(optimizer) {}
    bool OnEpoch(const EpochSummary&) override {
      lrs.push_back(optimizer_.param_groups()[0].options().get_lr());
      return true;
    }
    torch::optim::Optimizer& optimizer_;
    std::vector<double> lrs;
  } sink(**optimizer);
  ASSERT_OK(Train(*model, **optimizer, data, CrossEntropy(), options, TrainRun(), sink));
  ASSERT_EQ(sink.lrs.size(), 3u);
  EXPECT_NEAR(sink.lrs[0], 0.003, 1e-12);
  EXPECT_NEAR(sink.lrs[1], 0.0003, 1e-12);
  EXPECT_NEAR(sink.lrs[2], 0.00003, 1e-12);
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

// d/dw (l2 * w^2) = 2 * l2 * w and d/dw (l1 * |w|) = l1 * sign(w); biases get
// no gradient from the penalty.
TEST(WeightPenaltyTest, GradientsAreHandComputed) {
  torch::nn::Linear linear(2, 1);
  {
    torch::NoGradGuard no_grad;
    linear->weight.copy_(torch::tensor({{1.5f, -0.5f}}));
  }
  WeightPenalty(*linear, 0.0, 0.1).backward();
  EXPECT_TRUE(torch::allclose(linear->weight.grad(), torch::tensor({{0.3f, -0.1f}})));
  EXPECT_FALSE(linear->bias.grad().defined() && linear->bias.grad().abs().sum().item<float>() > 0);
  linear->weight.mutable_grad().zero_();
  WeightPenalty(*linear, 0.2, 0.0).backward();
  EXPECT_TRUE(torch::allclose(linear->weight.grad(), torch::tensor({{0.2f, -0.2f}})));
}

// The gradient form of the penalty adds exactly what backpropagating it adds,
// on top of an existing gradient and where there is none yet.
TEST(WeightPenaltyTest, GradientFormMatchesBackpropagation) {
  torch::manual_seed(11);
  torch::nn::Sequential net(torch::nn::Linear(3, 4), torch::nn::ReLU(), torch::nn::Linear(4, 2));
  const torch::Tensor input = torch::randn({5, 3});
  auto gradients = [&](bool through_autograd) {
    ClearGradients(net->parameters());
    torch::Tensor loss = net->forward(input).square().sum();
    if (through_autograd) loss = loss + WeightPenalty(*net, 0.03, 0.02);
    loss.backward();
    if (!through_autograd) AddWeightPenaltyGradients(PenalisedWeights(*net), 0.03, 0.02);
    std::vector<torch::Tensor> out;
    for (const torch::Tensor& parameter : net->parameters())
      out.push_back(parameter.grad().clone());
    return out;
  };
  const std::vector<torch::Tensor> want = gradients(true);
  const std::vector<torch::Tensor> got = gradients(false);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(torch::allclose(got[i], want[i], 1e-6, 1e-7)) << i;
  }
  // No gradient yet (a weight the loss did not use): the penalty's alone.
  torch::nn::Linear unused(2, 1);
  {
    torch::NoGradGuard no_grad;
    unused->weight.copy_(torch::tensor({{1.5f, -0.5f}}));
  }
  AddWeightPenaltyGradients(PenalisedWeights(*unused), 0.2, 0.1);
  EXPECT_TRUE(torch::allclose(unused->weight.grad(), torch::tensor({{0.5f, -0.3f}})));
  EXPECT_FALSE(unused->bias.grad().defined());
}

TEST_F(TrainingTest, CheckpointRoundTripGivesIdenticalOutputsAndContinues) {
  DeviceData data = TinyImages(48, 8, 8);
  testing::TempDir dir;
  const std::string checkpoint = dir.File("checkpoint");
  TrainOptions options = TinyOptions();
  options.epochs = 4;
  options.checkpoint_every = 2;

  // Uninterrupted: four epochs, checkpoint after epochs 2 and 4.
  torch::manual_seed(5);
  Net full = MakeCnn(data, CrossEntropy(), 0.0);
  auto full_optimizer = MakeOptimizer(options, full->parameters());
  ASSERT_OK(full_optimizer);
  TrainRun run;
  run.checkpoint_dir = checkpoint;
  RecordingSink full_sink;
  ASSERT_OK(Train(*full, **full_optimizer, data, CrossEntropy(), options, run, full_sink));
  std::ifstream state(checkpoint + "/state.json");
  std::string state_text((std::istreambuf_iterator<char>(state)), std::istreambuf_iterator<char>());
  EXPECT_THAT(state_text, HasSubstr("\"epoch\":4"));

  // A fresh model loaded from the epoch-4 checkpoint gives the same outputs.
  torch::manual_seed(99);
  Net loaded = MakeCnn(data, CrossEntropy(), 0.0);
  auto loaded_optimizer = MakeOptimizer(options, loaded->parameters());
  ASSERT_OK(loaded_optimizer);
  absl::StatusOr<int> epoch = LoadCheckpoint(checkpoint, *loaded, **loaded_optimizer, torch::kCPU);
  ASSERT_OK(epoch);
  EXPECT_EQ(*epoch, 4);
  full->eval();
  loaded->eval();
  EXPECT_TRUE(torch::equal(full->forward(data.val.inputs), loaded->forward(data.val.inputs)));

  // Training both one more epoch from there (optimizer state included) stays equal.
  full->train();
  loaded->train();
  options.epochs = 5;
  options.checkpoint_every = 0;
  run.first_epoch = 5;
  run.checkpoint_dir.clear();
  RecordingSink a, b;
  ASSERT_OK(Train(*full, **full_optimizer, data, CrossEntropy(), options, run, a));
  ASSERT_OK(Train(*loaded, **loaded_optimizer, data, CrossEntropy(), options, run, b));
  ASSERT_EQ(a.epochs.size(), 1u);
  EXPECT_EQ(a.epochs[0].epoch, 5);
  EXPECT_EQ(a.epochs[0].train_loss, b.epochs[0].train_loss);
  full->eval();
  loaded->eval();
  EXPECT_TRUE(torch::equal(full->forward(data.val.inputs), loaded->forward(data.val.inputs)));
}

// pbt's exploit resumes a trial from another trial's checkpoint with perturbed
// parameters: the moments come from the checkpoint, the settings do not.
TEST_F(TrainingTest, LoadCheckpointKeepsTheOptimizersOwnSettings) {
  DeviceData data = TinyImages(32, 8, 8);
  testing::TempDir dir;
  TrainOptions donor_options = TinyOptions();
  donor_options.optimizer = "momentum";
  donor_options.momentum = 0.5;
  donor_options.weight_decay = 0.01;
  donor_options.checkpoint_every = 1;
  donor_options.epochs = 1;
  Net donor = MakeCnn(data, CrossEntropy(), 0.0);
  auto donor_optimizer = MakeOptimizer(donor_options, donor->parameters());
  ASSERT_OK(donor_optimizer);
  TrainRun run;
  run.checkpoint_dir = dir.File("donor");
  RecordingSink sink;
  ASSERT_OK(Train(*donor, **donor_optimizer, data, CrossEntropy(), donor_options, run, sink));

  TrainOptions own = donor_options;
  own.momentum = 0.9;
  own.weight_decay = 0.002;
  Net model = MakeCnn(data, CrossEntropy(), 0.0);
  auto optimizer = MakeOptimizer(own, model->parameters());
  ASSERT_OK(optimizer);
  ASSERT_OK(LoadCheckpoint(run.checkpoint_dir, *model, **optimizer, torch::kCPU));
  for (const torch::optim::OptimizerParamGroup& group : (*optimizer)->param_groups()) {
    const auto& settings = static_cast<const torch::optim::SGDOptions&>(group.options());
    EXPECT_EQ(settings.momentum(), 0.9);
    EXPECT_EQ(settings.weight_decay(), 0.002);
  }
  // And the momentum buffers came from the checkpoint.
  EXPECT_FALSE((*optimizer)->state().empty());
  EXPECT_EQ((*optimizer)->state().size(), (*donor_optimizer)->state().size());
}

// Dropout and augmentation included: 2 epochs, a checkpoint, a fresh process's
// model loaded from it and 2 more epochs give exactly the weights of 4 epochs
// in one go.
TEST_F(TrainingTest, ResumedRunWithDropoutAndAugmentationMatchesTheUninterruptedOne) {
  DeviceData data = TinyImages(40, 8, 8);
  testing::TempDir dir;
  TrainOptions options = TinyOptions();
  options.aug_flip = 0.5;
  options.aug_cutout = 2;
  options.aug_prob = 0.5;
  auto outputs = [&](Net& model) {
    torch::NoGradGuard no_grad;
    model->eval();
    return model->forward(data.val.inputs);
  };

  torch::manual_seed(5);
  Net full = MakeCnn(data, CrossEntropy(), /*dropout=*/0.3);
  auto full_optimizer = MakeOptimizer(options, full->parameters());
  ASSERT_OK(full_optimizer);
  options.epochs = 4;
  RecordingSink full_sink;
  ASSERT_OK(Train(*full, **full_optimizer, data, CrossEntropy(), options, TrainRun(), full_sink));

  torch::manual_seed(5);
  Net first = MakeCnn(data, CrossEntropy(), 0.3);
  auto first_optimizer = MakeOptimizer(options, first->parameters());
  ASSERT_OK(first_optimizer);
  options.epochs = 2;
  options.checkpoint_every = 2;
  TrainRun run;
  run.checkpoint_dir = dir.File("checkpoint");
  RecordingSink first_sink;
  ASSERT_OK(Train(*first, **first_optimizer, data, CrossEntropy(), options, run, first_sink));

  torch::manual_seed(99);  // Another process: the global generators start elsewhere.
  Net resumed = MakeCnn(data, CrossEntropy(), 0.3);
  auto resumed_optimizer = MakeOptimizer(options, resumed->parameters());
  ASSERT_OK(resumed_optimizer);
  ASSERT_OK(LoadCheckpoint(run.checkpoint_dir, *resumed, **resumed_optimizer, torch::kCPU));
  options.epochs = 4;
  options.checkpoint_every = 0;
  TrainRun rest;
  rest.first_epoch = 3;
  RecordingSink rest_sink;
  ASSERT_OK(Train(*resumed, **resumed_optimizer, data, CrossEntropy(), options, rest, rest_sink));
  ASSERT_EQ(rest_sink.epochs.size(), 2u);
  EXPECT_EQ(rest_sink.epochs[1].train_loss, full_sink.epochs[3].train_loss);
  EXPECT_TRUE(torch::equal(outputs(full), outputs(resumed)));
}

// Trains a fresh model (weights from seed 5) for options.epochs, with
// checkpoints in `checkpoint_dir` when options.checkpoint_every > 0, stopping
// when the sink says so at epoch `stop_after`. Returns the final metrics.
MetricMap TrainFresh(const DeviceData& data, const TrainOptions& options,
                     const std::string& checkpoint_dir, RecordingSink& sink) {
  torch::manual_seed(5);
  Net model = MakeCnn(data, CrossEntropy(), 0.2);
  auto optimizer = MakeOptimizer(options, model->parameters());
  EXPECT_OK(optimizer);
  if (!optimizer.ok()) return {};
  TrainRun run;
  run.checkpoint_dir = checkpoint_dir;
  return VALUE_OR_FAIL(Train(*model, **optimizer, data, CrossEntropy(), options, run, sink));
}

// Resumes options.resume_from in a fresh model, as a restarted trial does.
MetricMap TrainResumed(const DeviceData& data, const TrainOptions& options, RecordingSink& sink) {
  torch::manual_seed(99);  // Another process: other initial weights and generators.
  Net model = MakeCnn(data, CrossEntropy(), 0.2);
  auto optimizer = MakeOptimizer(options, model->parameters());
  EXPECT_OK(optimizer);
  if (!optimizer.ok()) return {};
  TrainRun run;
  run.first_epoch =
      VALUE_OR_FAIL(LoadCheckpoint(options.resume_from, *model, **optimizer, torch::kCPU)) + 1;
  return VALUE_OR_FAIL(Train(*model, **optimizer, data, CrossEntropy(), options, run, sink));
}

// 1-based epoch of the lowest val_loss among `epochs`.
int BestEpoch(const std::vector<EpochSummary>& epochs) {
  int best = 0;
  for (size_t i = 0; i < epochs.size(); ++i) {
    if (best == 0 ||
        epochs[i].val_metrics.at("val_loss") < epochs[best - 1].val_metrics.at("val_loss")) {
      best = static_cast<int>(i) + 1;
    }
  }
  return best;
}

// A run interrupted at its best epoch and resumed from that epoch's
// checkpoint ends as the uninterrupted one: same epochs, the same stop, the
// same best weights restored (which only the checkpoint still holds).
TEST_F(TrainingTest, ResumedRunWithEarlyStoppingEndsWithTheUninterruptedRunsMetrics) {
  DeviceData data = TinyImages(40, 40, 8);
  testing::TempDir dir;
  TrainOptions options = TinyOptions();
  options.epochs = 12;
  options.lr = 0.02;  // Overfits 40 examples: the validation loss turns up.
  options.patience = 2;
  options.checkpoint_every = 1;
  RecordingSink full_sink;
  const MetricMap full = TrainFresh(data, options, dir.File("full"), full_sink);
  ASSERT_LT(full_sink.epochs.size(), 12u) << "early stopping should have ended the run";
  const int best = BestEpoch(full_sink.epochs);

  RecordingSink interrupted(/*stop_after=*/best);
  TrainFresh(data, options, dir.File("interrupted"), interrupted);
  ASSERT_EQ(interrupted.epochs.size(), static_cast<size_t>(best));
  options.resume_from = dir.File("interrupted");
  RecordingSink rest;
  const MetricMap resumed = TrainResumed(data, options, rest);
  ASSERT_FALSE(rest.epochs.empty());
  EXPECT_EQ(rest.epochs.front().epoch, best + 1);
  EXPECT_EQ(rest.epochs.back().epoch, full_sink.epochs.back().epoch);
  EXPECT_EQ(resumed, full);
  EXPECT_FALSE(resumed.empty());
}

TEST_F(TrainingTest, ResumedRunWithoutEarlyStoppingEndsWithTheUninterruptedRunsMetrics) {
  DeviceData data = TinyImages(40, 40, 8);
  testing::TempDir dir;
  TrainOptions options = TinyOptions();
  options.epochs = 5;
  options.schedule = "cosine";
  options.warmup_epochs = 1;
  options.checkpoint_every = 2;
  RecordingSink full_sink;
  const MetricMap full = TrainFresh(data, options, dir.File("full"), full_sink);
  RecordingSink interrupted(/*stop_after=*/3);  // Its last checkpoint is epoch 2's.
  TrainFresh(data, options, dir.File("interrupted"), interrupted);
  options.resume_from = dir.File("interrupted");
  RecordingSink rest;
  EXPECT_EQ(TrainResumed(data, options, rest), full);
  ASSERT_EQ(rest.epochs.size(), 3u);
  EXPECT_EQ(rest.epochs.front().epoch, 3);
}

// The checkpoint of the epoch at which early stopping fired: resuming from it
// trains no further epoch and ends with the best weights, as the run did.
TEST_F(TrainingTest, ResumingTheCheckpointOfTheStoppingEpochTrainsNoMore) {
  DeviceData data = TinyImages(40, 40, 8);
  testing::TempDir dir;
  TrainOptions options = TinyOptions();
  options.epochs = 12;
  options.lr = 0.02;
  options.patience = 2;
  options.checkpoint_every = 1;
  RecordingSink full_sink;
  const MetricMap full = TrainFresh(data, options, dir.File("full"), full_sink);
  ASSERT_LT(full_sink.epochs.size(), 12u) << "early stopping should have ended the run";
  options.resume_from = dir.File("full");
  RecordingSink rest;
  EXPECT_EQ(TrainResumed(data, options, rest), full);
  EXPECT_TRUE(rest.epochs.empty());
}

TEST_F(TrainingTest, EarlyStoppingStateIsSavedAndOldCheckpointsStillLoad) {
  DeviceData data = TinyImages(8, 4, 2);
  Net model = MakeCnn(data, CrossEntropy());
  TrainOptions options = TinyOptions();
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  testing::TempDir dir;
  EarlyStopping stopping("val_loss", 3, 0);
  stopping.Update({{"val_loss", 0.5}}, *model);
  stopping.Update({{"val_loss", 0.7}}, *model);
  ASSERT_OK(SaveCheckpoint(dir.File("new"), *model, **optimizer, 2, &stopping));
  absl::StatusOr<std::optional<EarlyStoppingState>> state =
      LoadEarlyStoppingState(dir.File("new"), *model, torch::kCPU);
  ASSERT_OK(state);
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->metric, "val_loss");
  EXPECT_EQ((*state)->epochs, 2);
  EXPECT_EQ((*state)->best_epoch, 1);
  EXPECT_EQ((*state)->best, 0.5);
  ASSERT_EQ((*state)->best_weights.size(), stopping.state().best_weights.size());
  for (size_t i = 0; i < (*state)->best_weights.size(); ++i) {
    EXPECT_TRUE(torch::equal((*state)->best_weights[i], stopping.state().best_weights[i])) << i;
  }

  // A checkpoint of the state.json before early stopping was saved ({"epoch"}).
  ASSERT_OK(SaveCheckpoint(dir.File("old"), *model, **optimizer, 2));
  absl::StatusOr<std::optional<EarlyStoppingState>> none =
      LoadEarlyStoppingState(dir.File("old"), *model, torch::kCPU);
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  EXPECT_THAT(LoadCheckpoint(dir.File("old"), *model, **optimizer, torch::kCPU), IsOkAndHolds(2));

  // The best weights of another model do not fit.
  ModelOptions mlp;
  mlp.model = "mlp";
  Net other = VALUE_OR_FAIL(MakeModel(mlp, {data.input, data.example_shape, 0, 10}));
  absl::Status mismatch = LoadEarlyStoppingState(dir.File("new"), *other, torch::kCPU).status();
  EXPECT_THAT(mismatch, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr(dir.File("new/early_stopping.pt")));
  std::filesystem::remove(dir.File("new/early_stopping.pt"));
  EXPECT_THAT(LoadEarlyStoppingState(dir.File("new"), *model, torch::kCPU),
              StatusIs(absl::StatusCode::kNotFound));
}

// Refit: trains on train + val for every epoch despite patience, and reports
// "val_" metrics measured on the test split.
TEST_F(TrainingTest, RefitTrainsOnTrainAndValAndEvaluatesOnTest) {
  DeviceData data = TinyImages(40, 24, 16);
  TrainOptions options = TinyOptions();
  options.epochs = 6;
  options.lr = 0.02;
  options.patience = 1;
  options.refit = true;
  options.batch_size = 64;  // One batch per epoch: the train + val size shows in its count.
  RecordingSink sink;
  torch::manual_seed(5);
  Net model = MakeCnn(data, CrossEntropy(), 0.0);
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  const MetricMap metrics =
      VALUE_OR_FAIL(Train(*model, **optimizer, data, CrossEntropy(), options, TrainRun(), sink));
  EXPECT_EQ(sink.epochs.size(), 6u);  // No early stopping.
  const MetricMap on_test = Evaluate(*model, data.test, data, CrossEntropy(), "val", false);
  EXPECT_EQ(metrics, on_test);
  EXPECT_EQ(sink.epochs.back().val_metrics, on_test);
  // Adam's step count: one step per batch of 64 over 64 examples per epoch.
  const auto& state = (*optimizer)->state();
  ASSERT_FALSE(state.empty());
  const auto& adam = static_cast<const torch::optim::AdamParamState&>(*state.begin()->second);
  EXPECT_EQ(adam.step(), 6);
}

TEST_F(TrainingTest, RefitWithoutATestSplitEvaluatesOnValidationAndSaysSo) {
  DeviceData data = TinyImages(24, 16, 0);
  TrainOptions options = TinyOptions();
  options.epochs = 1;
  options.refit = true;
  testing::TempDir dir;
  std::FILE* log = std::fopen(dir.File("log").c_str(), "w+");
  ASSERT_NE(log, nullptr);
  TrainRun run;
  run.log = log;
  Net model = MakeCnn(data, CrossEntropy(), 0.0);
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  RecordingSink sink;
  const MetricMap metrics =
      VALUE_OR_FAIL(Train(*model, **optimizer, data, CrossEntropy(), options, run, sink));
  std::rewind(log);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), log));
  std::fclose(log);
  EXPECT_THAT(text, HasSubstr("no test split"));
  EXPECT_EQ(metrics, Evaluate(*model, data.val, data, CrossEntropy(), "val", false));
}

TEST_F(TrainingTest, LoadCheckpointErrorsNameTheFile) {
  DeviceData data = TinyImages(8, 2, 2);
  Net model = MakeCnn(data, CrossEntropy());
  TrainOptions options = TinyOptions();
  auto optimizer = MakeOptimizer(options, model->parameters());
  ASSERT_OK(optimizer);
  testing::TempDir dir;
  absl::Status missing =
      LoadCheckpoint(dir.File("none"), *model, **optimizer, torch::kCPU).status();
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(missing.message()), HasSubstr(dir.File("none/state.json")));

  // A checkpoint of another model does not fit.
  ASSERT_OK(SaveCheckpoint(dir.File("ok"), *model, **optimizer, 1));
  ModelOptions mlp;
  mlp.model = "mlp";
  absl::StatusOr<Net> other = MakeModel(mlp, {data.input, data.example_shape, 0, 10});
  ASSERT_OK(other);
  auto other_optimizer = MakeOptimizer(options, (*other)->parameters());
  absl::Status mismatch =
      LoadCheckpoint(dir.File("ok"), **other, **other_optimizer, torch::kCPU).status();
  EXPECT_THAT(mismatch, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr(dir.File("ok/model.pt")));
}

// Lives here rather than in trial_test.cc because it needs libtorch to know
// whether CUDA is there.
TEST(RunTrialDeviceTest, CudaRequestedButUnavailableIsFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  TrainOptions options = TinyOptions();
  options.dataset = "fashion-mnist";
  options.data_dir = "/nonexistent";
  TrialEnvironment env;
  env.device = "cuda";
  RecordingSink sink;
  absl::Status status = RunTrial(options, env, sink).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(status.message()), HasSubstr("VERNIER_DEVICE=cuda"));
}

}  // namespace
}  // namespace vernier
