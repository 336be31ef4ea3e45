// The built-in trainer's models (libtorch modules), each sized by parameters:
//   cnn          images [N, C, H, W] (float)        conv blocks -> dense -> dense
//   mlp          features [N, F] (or any [N, ...])  dense layers
//   rnn          token ids [N, L] (int64, 0 = pad)  embedding -> lstm/gru/rnn
//   transformer  token ids [N, L] (int64, 0 = pad)  embedding + position -> encoder
// Every model maps a batch to [N, outputs]: class logits, or one value (a
// regression target, or the logit of class 1 for binary cross-entropy).
//
// Build models with MakeModel, which checks the options against the data's
// shape and returns INVALID_ARGUMENT naming the parameters instead of letting
// libtorch abort later.
//
// Thread-safety: as any torch::nn::Module, not thread-safe; one thread trains
// or evaluates a module at a time. MakeModel itself is thread-safe.
#ifndef VERNIER_TRAINER_MODELS_H_
#define VERNIER_TRAINER_MODELS_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data.h"

namespace vernier {

// The model parameters of the built-in trainer's table (common/builtin_trainer.cc
// documents each); defaults here equal the table's.
struct ModelOptions {
  std::string model = "cnn";              // cnn | mlp | rnn | transformer
  std::string activation = "relu";        // relu | leaky_relu | prelu | sigmoid | tanh | gelu
  double leaky_slope = 0.01;              // For leaky_relu.
  double dropout = 0.25;                  // Before each dense layer (and between rnn layers).
  int conv_blocks = 2;                    // cnn: conv -> [bn] -> act -> pool, channels doubling.
  int64_t channels = 16;                  // cnn: channels of the first block.
  int64_t kernel_size = 3;                // cnn: square kernel, "same" padding for odd sizes.
  std::string pooling = "max";            // cnn: max | avg (2x2, skipped once a side is 1).
  bool batch_norm = false;                // cnn: BatchNorm2d after each conv.
  int64_t units = 128;                    // cnn: dense width; mlp: width of each layer.
  int layers = 2;                         // mlp: hidden layers; rnn, transformer: layers.
  std::string rnn_cell = "lstm";          // rnn: lstm | gru | rnn
  int64_t hidden_size = 128;              // rnn: per direction.
  bool bidirectional = false;             // rnn.
  int64_t embedding_dim = 64;             // rnn: token embedding size.
  int64_t d_model = 64;                   // transformer: embedding and model width.
  int64_t heads = 4;                      // transformer: attention heads; divides d_model.
  int64_t ff_units = 128;                 // transformer: feed-forward width.
  std::string positional = "sinusoidal";  // transformer: sinusoidal | learned | none
  std::string token_pooling = "mean";     // transformer: mean (over non-pad tokens) | first
};

// What the model sees and must produce.
struct ModelShape {
  InputKind input = InputKind::kImageBytes;
  std::vector<int64_t> example_shape;  // {C, H, W}, {F} or {L}.
  int64_t vocab_size = 0;              // Tokens only.
  int64_t outputs = 1;                 // Width of the output layer.
};

// The interface every model implements: forward maps a batch to [N, outputs].
class NetImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor input) = 0;
};
using Net = std::shared_ptr<NetImpl>;

// An activation function chosen by name; prelu has one learned slope.
class ActivationImpl : public torch::nn::Module {
 public:
  // REQUIRES: `name` is one of the activations above.
  ActivationImpl(const std::string& name, double leaky_slope);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::string name_;
  double leaky_slope_;
  torch::nn::PReLU prelu_{nullptr};
};
TORCH_MODULE(Activation);

// Parameter names: conv1.*, conv2.*, ... (bn1.*, ... with batch norm), fc1.*,
// fc2.*. The defaults give the trainer's original CNN (16 and 32 channels).
class CnnImpl : public NetImpl {
 public:
  // REQUIRES: options passed MakeModel's checks; shape.example_shape = {C, H, W}.
  CnnImpl(const ModelOptions& options, const ModelShape& shape);
  torch::Tensor forward(torch::Tensor images) override;

 private:
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<torch::nn::BatchNorm2d> norms_;  // Empty without batch norm.
  std::vector<bool> pool_after_;               // Per block: whether it pools.
  bool max_pool_ = true;
  bool pool_first_ = false;  // Max-pool before a monotone activation (same result).
  Activation activation_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(Cnn);

// Flattens its input, then `layers` x (dense(units) -> act -> dropout) ->
// dense(outputs). Parameter names: fc1.*, ..., out.*.
class MlpImpl : public NetImpl {
 public:
  MlpImpl(const ModelOptions& options, const ModelShape& shape);
  torch::Tensor forward(torch::Tensor input) override;

 private:
  std::vector<torch::nn::Linear> hidden_;
  Activation activation_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(Mlp);

// embedding (id 0 = pad) -> recurrent layers -> mean of the outputs over the
// non-pad positions -> dropout -> dense(outputs). Mean pooling rather than the
// last state, because sequences are right-padded to a fixed length.
class RnnImpl : public NetImpl {
 public:
  RnnImpl(const ModelOptions& options, const ModelShape& shape);
  torch::Tensor forward(torch::Tensor tokens) override;

 private:
  std::string cell_;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::GRU gru_{nullptr};
  torch::nn::RNN rnn_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(Rnn);

// embedding * sqrt(d_model) + positions -> encoder layers (pad positions
// masked out of attention) -> mean over non-pad tokens, or the first token ->
// dropout -> dense(outputs).
class TransformerImpl : public NetImpl {
 public:
  TransformerImpl(const ModelOptions& options, const ModelShape& shape);
  torch::Tensor forward(torch::Tensor tokens) override;

 private:
  int64_t d_model_;
  std::string positional_;
  bool mean_pooling_;
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::Embedding learned_positions_{nullptr};  // positional == "learned".
  torch::Tensor sinusoid_;                           // Buffer; positional == "sinusoidal".
  torch::nn::TransformerEncoder encoder_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(Transformer);

// Returns layer(x). On the CPU (float, batch > 1, libtorch with oneDNN) it
// computes the same product as a 1x1 convolution, which is faster there (see
// models.cc); results agree up to float rounding.
torch::Tensor Dense(torch::nn::Linear layer, const torch::Tensor& x);

// Checks `options` against `shape` and builds the model on the CPU (move it
// with ->to(device)). Returns INVALID_ARGUMENT naming the parameters when they
// do not fit, e.g. an unknown name, a cnn on token data, d_model not divisible
// by heads, an activation the transformer cannot use (prelu), or layer sizes
// whose product is too large to train (more than ~200 million weights).
absl::StatusOr<Net> MakeModel(const ModelOptions& options, const ModelShape& shape);

}  // namespace vernier

#endif  // VERNIER_TRAINER_MODELS_H_
