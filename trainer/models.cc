#include "trainer/models.h"

#include <cmath>
#include <functional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

namespace F = torch::nn::functional;

// Weights beyond this make a trial that cannot finish on any machine we run;
// refusing early gives a clear error instead of an out-of-memory abort.
constexpr double kMaxWeights = 2e8;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

bool IsOneOf(const std::string& value, std::initializer_list<const char*> choices) {
  for (const char* choice : choices) {
    if (value == choice) return true;
  }
  return false;
}

// Applies the named activation as a plain function (for the transformer's
// feed-forward layers). REQUIRES: name is not "prelu".
std::function<torch::Tensor(const torch::Tensor&)> ActivationFunction(const std::string& name,
                                                                      double slope) {
  return [name, slope](const torch::Tensor& x) -> torch::Tensor {
    if (name == "leaky_relu")
      return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(slope));
    if (name == "sigmoid") return torch::sigmoid(x);
    if (name == "tanh") return torch::tanh(x);
    if (name == "gelu") return F::gelu(x);
    return torch::relu(x);
  };
}

// Masks [N, L, 1] (1 for a real token) and counts [N, 1] (at least 1) of a
// right-padded token batch.
std::pair<torch::Tensor, torch::Tensor> TokenMask(const torch::Tensor& tokens,
                                                  torch::ScalarType dtype) {
  torch::Tensor mask = tokens.ne(0).unsqueeze(2).to(dtype);
  torch::Tensor counts = mask.sum(1).clamp_min(1);
  return {mask, counts};
}

absl::Status CheckShape(const ModelOptions& options, const ModelShape& shape) {
  const std::string& model = options.model;
  if (model == "cnn") {
    if (shape.input != InputKind::kImageBytes || shape.example_shape.size() != 3) {
      return Invalid("model cnn needs image data (examples of shape {channels, rows, cols})");
    }
  } else if (model == "rnn" || model == "transformer") {
    if (shape.input != InputKind::kTokens || shape.example_shape.size() != 1) {
      return Invalid(absl::StrCat("model ", model, " needs token data (a text data set)"));
    }
    if (shape.vocab_size < 2) return Invalid("token data needs vocab_size >= 2");
  } else if (model == "mlp") {
    if (shape.input == InputKind::kTokens) {
      return Invalid("model mlp needs image or feature data, not tokens (use rnn or transformer)");
    }
  } else {
    return Invalid(absl::StrCat("unknown model \"", model,
                                "\" (expected one of: cnn, mlp, rnn, transformer)"));
  }
  for (int64_t dim : shape.example_shape) {
    if (dim < 1) return Invalid("the data's examples have an empty dimension");
  }
  if (shape.outputs < 1) return Invalid("the model needs at least one output");
  return absl::OkStatus();
}

absl::Status CheckOptions(const ModelOptions& options, const ModelShape& shape) {
  if (!IsOneOf(options.activation, {"relu", "leaky_relu", "prelu", "sigmoid", "tanh", "gelu"})) {
    return Invalid(absl::StrCat("unknown activation \"", options.activation, "\""));
  }
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    return Invalid(absl::StrCat("dropout must be in [0, 1), got ", options.dropout));
  }
  double weights = 0;
  if (options.model == "cnn") {
    if (options.conv_blocks < 1 || options.channels < 1 || options.kernel_size < 1) {
      return Invalid("conv_blocks, channels and kernel_size must be >= 1");
    }
    if (!IsOneOf(options.pooling, {"max", "avg"})) {
      return Invalid(absl::StrCat("unknown pooling \"", options.pooling, "\" (max | avg)"));
    }
    const int64_t rows = shape.example_shape[1], cols = shape.example_shape[2];
    const double last_channels = options.channels * std::pow(2.0, options.conv_blocks - 1);
    weights = last_channels * last_channels * options.kernel_size * options.kernel_size +
              last_channels * rows * cols * options.units;
  } else if (options.model == "mlp") {
    double inputs = 1;
    for (int64_t dim : shape.example_shape) inputs *= static_cast<double>(dim);
    weights = (inputs + options.layers * options.units) * options.units;
  } else if (options.model == "rnn") {
    if (!IsOneOf(options.rnn_cell, {"lstm", "gru", "rnn"})) {
      return Invalid(
          absl::StrCat("unknown rnn_cell \"", options.rnn_cell, "\" (lstm | gru | rnn)"));
    }
    if (options.layers < 1) return Invalid("layers must be >= 1 for model rnn");
    weights =
        static_cast<double>(shape.vocab_size) * options.embedding_dim +
        8.0 * options.layers * options.hidden_size * (options.hidden_size + options.embedding_dim);
  } else if (options.model == "transformer") {
    if (options.heads < 1 || options.d_model % options.heads != 0) {
      return Invalid(absl::StrCat("d_model (", options.d_model, ") must be divisible by heads (",
                                  options.heads, ")"));
    }
    if (options.activation == "prelu") {
      return Invalid("activation prelu is not available for model transformer (use relu or gelu)");
    }
    if (!IsOneOf(options.positional, {"sinusoidal", "learned", "none"})) {
      return Invalid(absl::StrCat("unknown positional \"", options.positional, "\""));
    }
    if (!IsOneOf(options.token_pooling, {"mean", "first"})) {
      return Invalid(absl::StrCat("unknown token_pooling \"", options.token_pooling, "\""));
    }
    if (options.layers < 1) return Invalid("layers must be >= 1 for model transformer");
    weights = static_cast<double>(shape.vocab_size) * options.d_model +
              options.layers * (4.0 * options.d_model + 2.0 * options.ff_units) * options.d_model;
  }
  if (weights > kMaxWeights) {
    return Invalid(absl::StrCat("model ", options.model, " would have about ", weights,
                                " weights (more than ", kMaxWeights,
                                "): lower units, channels, conv_blocks, layers or sizes"));
  }
  return absl::OkStatus();
}

// Whether max-pooling may come before the activation: it commutes with any
// non-decreasing function, and then the activation runs on 4x fewer values.
bool Monotone(const std::string& activation) {
  return IsOneOf(activation, {"relu", "leaky_relu", "sigmoid", "tanh"});
}

}  // namespace

torch::Tensor Dense(torch::nn::Linear layer, const torch::Tensor& x) {
  // Debian's libtorch links the reference BLAS, whose GEMM (behind
  // nn::Linear on the CPU) is ~3x slower than oneDNN's 1x1 convolution; the
  // dense layers dominated a CNN step. Same weights, same function.
  if (x.is_cpu() && x.dim() == 2 && x.size(0) > 1 && x.scalar_type() == torch::kFloat32 &&
      at::hasMKLDNN() && at::globalContext().userEnabledMkldnn()) {
    const int64_t n = x.size(0), in = x.size(1), out = layer->weight.size(0);
    return F::conv2d(x.view({n, in, 1, 1}), layer->weight.view({out, in, 1, 1}),
                     F::Conv2dFuncOptions().bias(layer->bias))
        .view({n, out});
  }
  return layer->forward(x);
}

ActivationImpl::ActivationImpl(const std::string& name, double leaky_slope)
    : name_(name), leaky_slope_(leaky_slope) {
  if (name_ == "prelu") prelu_ = register_module("prelu", torch::nn::PReLU());
}

torch::Tensor ActivationImpl::forward(const torch::Tensor& x) {
  if (name_ == "relu") return torch::relu(x);
  if (name_ == "leaky_relu") {
    return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(leaky_slope_));
  }
  if (name_ == "prelu") return prelu_->forward(x);
  if (name_ == "sigmoid") return torch::sigmoid(x);
  if (name_ == "tanh") return torch::tanh(x);
  return F::gelu(x);
}

CnnImpl::CnnImpl(const ModelOptions& options, const ModelShape& shape)
    : max_pool_(options.pooling == "max"), pool_first_(max_pool_ && Monotone(options.activation)) {
  int64_t channels_in = shape.example_shape[0];
  int64_t rows = shape.example_shape[1], cols = shape.example_shape[2];
  const int64_t kernel = options.kernel_size, padding = kernel / 2;
  for (int block = 0; block < options.conv_blocks; ++block) {
    const int64_t channels_out = options.channels << block;
    convs_.push_back(register_module(
        absl::StrCat("conv", block + 1),
        torch::nn::Conv2d(torch::nn::Conv2dOptions(channels_in, channels_out, kernel)
                              .padding(padding)
                              .bias(!options.batch_norm))));
    if (options.batch_norm) {
      norms_.push_back(
          register_module(absl::StrCat("bn", block + 1), torch::nn::BatchNorm2d(channels_out)));
    }
    rows = rows + 2 * padding - kernel + 1;
    cols = cols + 2 * padding - kernel + 1;
    const bool pool = rows >= 2 && cols >= 2;
    pool_after_.push_back(pool);
    if (pool) {
      rows /= 2;
      cols /= 2;
    }
    channels_in = channels_out;
  }
  activation_ = register_module("activation", Activation(options.activation, options.leaky_slope));
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  fc1_ = register_module("fc1", torch::nn::Linear(channels_in * rows * cols, options.units));
  fc2_ = register_module("fc2", torch::nn::Linear(options.units, shape.outputs));
}

torch::Tensor CnnImpl::forward(torch::Tensor images) {
  torch::Tensor x = std::move(images);
  for (size_t block = 0; block < convs_.size(); ++block) {
    x = convs_[block]->forward(x);
    if (!norms_.empty()) x = norms_[block]->forward(x);
    if (!pool_first_) x = activation_->forward(x);
    if (pool_after_[block]) {
      x = max_pool_ ? F::max_pool2d(x, F::MaxPool2dFuncOptions(2))
                    : F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
    }
    if (pool_first_) x = activation_->forward(x);
  }
  x = dropout_->forward(x.flatten(1));
  x = dropout_->forward(activation_->forward(Dense(fc1_, x)));
  return Dense(fc2_, x);
}

MlpImpl::MlpImpl(const ModelOptions& options, const ModelShape& shape) {
  int64_t width = 1;
  for (int64_t dim : shape.example_shape) width *= dim;
  for (int layer = 0; layer < options.layers; ++layer) {
    hidden_.push_back(
        register_module(absl::StrCat("fc", layer + 1), torch::nn::Linear(width, options.units)));
    width = options.units;
  }
  activation_ = register_module("activation", Activation(options.activation, options.leaky_slope));
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  out_ = register_module("out", torch::nn::Linear(width, shape.outputs));
}

torch::Tensor MlpImpl::forward(torch::Tensor input) {
  torch::Tensor x = input.flatten(1);
  for (torch::nn::Linear& layer : hidden_) {
    x = dropout_->forward(activation_->forward(Dense(layer, x)));
  }
  return Dense(out_, x);
}

RnnImpl::RnnImpl(const ModelOptions& options, const ModelShape& shape) : cell_(options.rnn_cell) {
  embedding_ = register_module(
      "embedding",
      torch::nn::Embedding(
          torch::nn::EmbeddingOptions(shape.vocab_size, options.embedding_dim).padding_idx(0)));
  // Dropout between stacked layers only; torch warns when there is one layer.
  const double between = options.layers > 1 ? options.dropout : 0.0;
  if (cell_ == "lstm") {
    lstm_ = register_module(
        "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(options.embedding_dim, options.hidden_size)
                                    .num_layers(options.layers)
                                    .batch_first(true)
                                    .bidirectional(options.bidirectional)
                                    .dropout(between)));
  } else if (cell_ == "gru") {
    gru_ = register_module(
        "gru", torch::nn::GRU(torch::nn::GRUOptions(options.embedding_dim, options.hidden_size)
                                  .num_layers(options.layers)
                                  .batch_first(true)
                                  .bidirectional(options.bidirectional)
                                  .dropout(between)));
  } else {
    rnn_ = register_module(
        "rnn", torch::nn::RNN(torch::nn::RNNOptions(options.embedding_dim, options.hidden_size)
                                  .num_layers(options.layers)
                                  .batch_first(true)
                                  .bidirectional(options.bidirectional)
                                  .dropout(between)));
  }
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  const int64_t directions = options.bidirectional ? 2 : 1;
  out_ = register_module("out", torch::nn::Linear(options.hidden_size * directions, shape.outputs));
}

torch::Tensor RnnImpl::forward(torch::Tensor tokens) {
  const torch::Tensor embedded = embedding_->forward(tokens);
  torch::Tensor outputs;  // [N, L, hidden * directions]
  if (cell_ == "lstm") {
    outputs = std::get<0>(lstm_->forward(embedded));
  } else if (cell_ == "gru") {
    outputs = std::get<0>(gru_->forward(embedded));
  } else {
    outputs = std::get<0>(rnn_->forward(embedded));
  }
  auto [mask, counts] = TokenMask(tokens, outputs.scalar_type());
  const torch::Tensor pooled = (outputs * mask).sum(1) / counts;
  return Dense(out_, dropout_->forward(pooled));
}

TransformerImpl::TransformerImpl(const ModelOptions& options, const ModelShape& shape)
    : d_model_(options.d_model),
      positional_(options.positional),
      mean_pooling_(options.token_pooling == "mean") {
  const int64_t max_len = shape.example_shape[0];
  embedding_ = register_module(
      "embedding",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(shape.vocab_size, d_model_).padding_idx(0)));
  if (positional_ == "learned") {
    learned_positions_ = register_module("positions", torch::nn::Embedding(max_len, d_model_));
  } else if (positional_ == "sinusoidal") {
    // PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same).
    torch::Tensor position = torch::arange(max_len, torch::kFloat32).unsqueeze(1);
    torch::Tensor frequency = torch::exp(torch::arange(0, d_model_, 2, torch::kFloat32) *
                                         (-std::log(10000.0) / static_cast<double>(d_model_)));
    torch::Tensor table = torch::zeros({max_len, d_model_});
    table.index_put_(
        {torch::indexing::Slice(), torch::indexing::Slice(0, torch::indexing::None, 2)},
        torch::sin(position * frequency));
    const int64_t odd = d_model_ / 2;
    table.index_put_(
        {torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 2)},
        torch::cos(position * frequency.narrow(0, 0, odd)));
    sinusoid_ = register_buffer("sinusoid", table);
  }
  torch::nn::TransformerEncoderLayerOptions layer(d_model_, options.heads);
  layer.dim_feedforward(options.ff_units).dropout(options.dropout);
  if (options.activation == "relu") {
    layer.activation(torch::kReLU);
  } else if (options.activation == "gelu") {
    layer.activation(torch::kGELU);
  } else {
    layer.activation(ActivationFunction(options.activation, options.leaky_slope));
  }
  encoder_ = register_module(
      "encoder",
      torch::nn::TransformerEncoder(torch::nn::TransformerEncoderOptions(layer, options.layers)));
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout));
  out_ = register_module("out", torch::nn::Linear(d_model_, shape.outputs));
}

torch::Tensor TransformerImpl::forward(torch::Tensor tokens) {
  torch::Tensor x = embedding_->forward(tokens) * std::sqrt(static_cast<double>(d_model_));
  const int64_t length = tokens.size(1);
  if (positional_ == "learned") {
    x = x + learned_positions_->forward(torch::arange(length, tokens.options())).unsqueeze(0);
  } else if (positional_ == "sinusoidal") {
    x = x + sinusoid_.narrow(0, 0, length).unsqueeze(0);
  }
  // True marks a pad position that attention must ignore. The first position
  // always attends, so that an all-pad example does not make softmax NaN.
  torch::Tensor pad = tokens.eq(0);
  pad.select(1, 0).fill_(false);
  // libtorch 1.13's encoder takes [L, N, E].
  x = encoder_->forward(x.transpose(0, 1), /*src_mask=*/{}, /*src_key_padding_mask=*/pad)
          .transpose(0, 1);
  torch::Tensor pooled;
  if (mean_pooling_) {
    auto [mask, counts] = TokenMask(tokens, x.scalar_type());
    pooled = (x * mask).sum(1) / counts;
  } else {
    pooled = x.select(1, 0);
  }
  return Dense(out_, dropout_->forward(pooled));
}

absl::StatusOr<Net> MakeModel(const ModelOptions& options, const ModelShape& shape) {
  absl::Status status = CheckShape(options, shape);
  if (status.ok()) status = CheckOptions(options, shape);
  if (!status.ok()) return status;
  if (options.model == "cnn") return Net(Cnn(options, shape).ptr());
  if (options.model == "mlp") return Net(Mlp(options, shape).ptr());
  if (options.model == "rnn") return Net(Rnn(options, shape).ptr());
  return Net(Transformer(options, shape).ptr());
}

}  // namespace vernier
