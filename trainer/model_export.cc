#include "trainer/model_export.h"

#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace vernier {
namespace {

// A number as TorchScript source, exactly (17 significant digits).
std::string Literal(double value) { return absl::StrFormat("%.17g", value); }

std::string Bool(bool value) { return value ? "True" : "False"; }

// The TorchScript attribute name of a C++ parameter or buffer name
// ("conv1.weight" -> "conv1_weight"); dots are not allowed in attributes.
std::string AttributeName(const std::string& name) {
  return absl::StrReplaceAll(name, {{".", "_"}});
}

// Writes the source of forward() (and helpers) for one model and registers
// the tensors it names on the jit module.
class ScriptWriter {
 public:
  ScriptWriter(torch::nn::Module& model, torch::jit::Module& script)
      : model_(model), script_(script) {
    for (const auto& item : model_.named_parameters(/*recurse=*/true)) {
      tensors_[item.key()] = {item.value(), /*is_buffer=*/false};
    }
    for (const auto& item : model_.named_buffers(/*recurse=*/true)) {
      tensors_[item.key()] = {item.value(), /*is_buffer=*/true};
    }
  }

  // Returns "self.<attribute>" for the model's tensor `name`, registering it
  // (a detached CPU copy) on first use.
  std::string Tensor(const std::string& name) {
    const auto it = tensors_.find(name);
    TORCH_CHECK(it != tensors_.end(), "model export: the model has no tensor ", name);
    const std::string attribute = AttributeName(name);
    if (!script_.hasattr(attribute)) {
      torch::Tensor copy = it->second.first.detach().to(torch::kCPU).clone();
      if (it->second.second) {
        script_.register_buffer(attribute, copy);
      } else {
        script_.register_parameter(attribute, copy, /*is_buffer=*/false);
      }
    }
    return "self." + attribute;
  }

  // Tensor(name) when the model has it, else "None" (a layer without bias).
  std::string OptionalTensor(const std::string& name) {
    return tensors_.count(name) ? Tensor(name) : "None";
  }

  // "torch.linear(x, self.<layer>_weight, self.<layer>_bias)".
  std::string Linear(const std::string& layer, const std::string& x) {
    return absl::StrCat("torch.linear(", x, ", ", Tensor(layer + ".weight"), ", ",
                        OptionalTensor(layer + ".bias"), ")");
  }

  torch::nn::Module& Submodule(const std::string& name) {
    std::shared_ptr<torch::nn::Module> found = model_.named_modules()[name];
    return *found;
  }

 private:
  torch::nn::Module& model_;
  torch::jit::Module& script_;
  std::map<std::string, std::pair<torch::Tensor, bool>> tensors_;  // name -> (tensor, buffer?)
};

// The activation `name` applied to the expression `x`, as TorchScript.
std::string Activation(const ModelOptions& options, ScriptWriter& writer, const std::string& x) {
  const std::string& name = options.activation;
  if (name == "leaky_relu") {
    return absl::StrCat("torch.leaky_relu(", x, ", ", Literal(options.leaky_slope), ")");
  }
  if (name == "prelu") {
    return absl::StrCat("torch.prelu(", x, ", ", writer.Tensor("activation.prelu.weight"), ")");
  }
  if (name == "sigmoid") return absl::StrCat("torch.sigmoid(", x, ")");
  if (name == "tanh") return absl::StrCat("torch.tanh(", x, ")");
  if (name == "gelu") return absl::StrCat("torch.gelu(", x, ")");
  return absl::StrCat("torch.relu(", x, ")");
}

// As CnnImpl: conv -> [bn] -> act -> pool per block (pool before a monotone
// activation under max pooling), flatten, fc1 -> act, fc2.
std::string CnnSource(const ModelOptions& options, const ModelShape& shape, ScriptWriter& writer) {
  const bool max_pool = options.pooling == "max";
  const bool monotone = options.activation == "relu" || options.activation == "leaky_relu" ||
                        options.activation == "sigmoid" || options.activation == "tanh";
  const bool pool_first = max_pool && monotone;
  const int64_t kernel = options.kernel_size, padding = kernel / 2;
  int64_t rows = shape.example_shape[1], cols = shape.example_shape[2];
  std::string body = "def forward(self, x):\n";
  for (int block = 1; block <= options.conv_blocks; ++block) {
    const std::string conv = absl::StrCat("conv", block);
    absl::StrAppend(&body, "    x = torch.conv2d(x, ", writer.Tensor(conv + ".weight"), ", ",
                    writer.OptionalTensor(conv + ".bias"), ", [1, 1], [", padding, ", ", padding,
                    "])\n");
    if (options.batch_norm) {
      const std::string bn = absl::StrCat("bn", block);
      const auto& norm = *writer.Submodule(bn).as<torch::nn::BatchNorm2dImpl>();
      absl::StrAppend(&body, "    x = torch.batch_norm(x, ", writer.Tensor(bn + ".weight"), ", ",
                      writer.Tensor(bn + ".bias"), ", ", writer.Tensor(bn + ".running_mean"), ", ",
                      writer.Tensor(bn + ".running_var"), ", False, 0.0, ",
                      Literal(norm.options.eps()), ", True)\n");
    }
    if (!pool_first) absl::StrAppend(&body, "    x = ", Activation(options, writer, "x"), "\n");
    rows = rows + 2 * padding - kernel + 1;
    cols = cols + 2 * padding - kernel + 1;
    if (rows >= 2 && cols >= 2) {
      absl::StrAppend(&body, "    x = torch.", max_pool ? "max_pool2d" : "avg_pool2d",
                      "(x, [2, 2], [2, 2])\n");
      rows /= 2;
      cols /= 2;
    }
    if (pool_first) absl::StrAppend(&body, "    x = ", Activation(options, writer, "x"), "\n");
  }
  absl::StrAppend(&body, "    x = torch.flatten(x, 1)\n");
  absl::StrAppend(&body, "    x = ", Activation(options, writer, writer.Linear("fc1", "x")), "\n");
  absl::StrAppend(&body, "    return ", writer.Linear("fc2", "x"), "\n");
  return body;
}

// As MlpImpl: flatten, `layers` x (dense -> act), dense.
std::string MlpSource(const ModelOptions& options, ScriptWriter& writer) {
  std::string body = "def forward(self, x):\n    x = torch.flatten(x, 1)\n";
  for (int layer = 1; layer <= options.layers; ++layer) {
    absl::StrAppend(&body, "    x = ",
                    Activation(options, writer, writer.Linear(absl::StrCat("fc", layer), "x")),
                    "\n");
  }
  absl::StrAppend(&body, "    return ", writer.Linear("out", "x"), "\n");
  return body;
}

// Mean of x [N, L, E] over the positions whose token is not padding (id 0),
// as TokenMask in models.cc.
constexpr char kMeanOverTokens[] =
    "    mask = tokens.ne(0).unsqueeze(2).to(x.dtype)\n"
    "    x = (x * mask).sum(1) / mask.sum(1).clamp_min(1)\n";

// As RnnImpl: embedding -> lstm | gru | rnn (tanh), batch first, zero
// initial state -> mean over tokens -> dense.
std::string RnnSource(const ModelOptions& options, ScriptWriter& writer) {
  const std::string& cell = options.rnn_cell;
  const int64_t directions = options.bidirectional ? 2 : 1;
  // The flat weights in aten's order: per layer, per direction, w_ih, w_hh,
  // b_ih, b_hh.
  std::vector<std::string> weights;
  for (int layer = 0; layer < options.layers; ++layer) {
    for (int direction = 0; direction < directions; ++direction) {
      const std::string suffix = absl::StrCat("_l", layer, direction == 1 ? "_reverse" : "");
      for (const char* kind : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
        weights.push_back(writer.Tensor(absl::StrCat(cell, ".", kind, suffix)));
      }
    }
  }
  const std::string flat = absl::StrCat("[", absl::StrJoin(weights, ", "), "]");
  const std::string settings = absl::StrCat("True, ", options.layers, ", 0.0, False, ",
                                            Bool(options.bidirectional), ", True");
  std::string body = absl::StrCat(
      "def forward(self, tokens):\n"
      "    x = torch.embedding(",
      writer.Tensor("embedding.weight"),
      ", tokens, 0)\n"
      "    h0 = torch.zeros([",
      options.layers * directions, ", tokens.size(0), ", options.hidden_size,
      "], dtype=x.dtype, device=x.device)\n");
  if (cell == "lstm") {
    absl::StrAppend(&body, "    x = torch.lstm(x, [h0, h0], ", flat, ", ", settings, ")[0]\n");
  } else {
    absl::StrAppend(&body, "    x = torch.", cell == "gru" ? "gru" : "rnn_tanh", "(x, h0, ", flat,
                    ", ", settings, ")[0]\n");
  }
  absl::StrAppend(&body, kMeanOverTokens, "    return ", writer.Linear("out", "x"), "\n");
  return body;
}

// libtorch 1.13's TransformerEncoderLayer in eval mode (post-norm):
//   x = norm1(x + self_attn(x)); x = norm2(x + linear2(act(linear1(x))))
// with multi-head attention as F::multi_head_attention_forward computes it,
// pad positions masked with -inf. Works batch first ([N, L, E]).
std::string TransformerSource(const ModelOptions& options, ScriptWriter& writer) {
  const int64_t d_model = options.d_model, heads = options.heads;
  const int64_t head_dim = d_model / heads;
  std::string source = absl::StrCat(
      "def attention(self, x, pad, in_w, in_b, out_w, out_b):\n"
      "    n = x.size(0)\n"
      "    length = x.size(1)\n"
      "    qkv = torch.linear(x, in_w, in_b).chunk(3, -1)\n"
      "    q = qkv[0].reshape([n, length, ",
      heads, ", ", head_dim, "]).transpose(1, 2) * ",
      Literal(1 / std::sqrt(static_cast<double>(head_dim))),
      "\n"
      "    k = qkv[1].reshape([n, length, ",
      heads, ", ", head_dim,
      "]).transpose(1, 2)\n"
      "    v = qkv[2].reshape([n, length, ",
      heads, ", ", head_dim,
      "]).transpose(1, 2)\n"
      "    s = torch.matmul(q, k.transpose(2, 3))\n"
      "    s = s.masked_fill(pad.unsqueeze(1).unsqueeze(2), float(\"-inf\"))\n"
      "    o = torch.matmul(torch.softmax(s, -1), v).transpose(1, 2).reshape([n, length, ",
      d_model,
      "])\n"
      "    return torch.linear(o, out_w, out_b)\n\n");
  absl::StrAppend(&source,
                  "def forward(self, tokens):\n"
                  "    x = torch.embedding(",
                  writer.Tensor("embedding.weight"), ", tokens, 0) * ",
                  Literal(std::sqrt(static_cast<double>(d_model))),
                  "\n    length = tokens.size(1)\n");
  if (options.positional == "learned") {
    absl::StrAppend(
        &source, "    x = x + torch.embedding(", writer.Tensor("positions.weight"),
        ", torch.arange(length, dtype=tokens.dtype, device=tokens.device)).unsqueeze(0)\n");
  } else if (options.positional == "sinusoidal") {
    absl::StrAppend(&source, "    x = x + ", writer.Tensor("sinusoid"),
                    ".narrow(0, 0, length).unsqueeze(0)\n");
  }
  // The first position always attends (see TransformerImpl::forward).
  absl::StrAppend(&source,
                  "    pad = tokens.eq(0)\n"
                  "    pad.select(1, 0).fill_(0)\n");
  for (int layer = 0; layer < options.layers; ++layer) {
    const std::string prefix = absl::StrCat("encoder.layers.", layer, ".");
    const double eps1 =
        writer.Submodule(prefix + "norm1").as<torch::nn::LayerNormImpl>()->options.eps();
    const double eps2 =
        writer.Submodule(prefix + "norm2").as<torch::nn::LayerNormImpl>()->options.eps();
    absl::StrAppend(
        &source, "    a = self.attention(x, pad, ",
        writer.Tensor(prefix + "self_attn.in_proj_weight"), ", ",
        writer.Tensor(prefix + "self_attn.in_proj_bias"), ", ",
        writer.Tensor(prefix + "self_attn.out_proj.weight"), ", ",
        writer.Tensor(prefix + "self_attn.out_proj.bias"), ")\n",
        "    x = torch.layer_norm(x + a, [", d_model, "], ", writer.Tensor(prefix + "norm1.weight"),
        ", ", writer.Tensor(prefix + "norm1.bias"), ", ", Literal(eps1), ")\n", "    f = ",
        writer.Linear(prefix + "linear2",
                      Activation(options, writer, writer.Linear(prefix + "linear1", "x"))),
        "\n", "    x = torch.layer_norm(x + f, [", d_model, "], ",
        writer.Tensor(prefix + "norm2.weight"), ", ", writer.Tensor(prefix + "norm2.bias"), ", ",
        Literal(eps2), ")\n");
  }
  if (options.token_pooling == "mean") {
    absl::StrAppend(&source, kMeanOverTokens);
  } else {
    absl::StrAppend(&source, "    x = x.select(1, 0)\n");
  }
  absl::StrAppend(&source, "    return ", writer.Linear("out", "x"), "\n");
  return source;
}

}  // namespace

absl::StatusOr<std::string> ExportTorchScript(NetImpl& model, const ModelOptions& options,
                                              const ModelShape& shape) {
  torch::jit::Module script("VernierModel");
  ScriptWriter writer(model, script);
  std::string source;
  if (options.model == "cnn") {
    source = CnnSource(options, shape, writer);
  } else if (options.model == "mlp") {
    source = MlpSource(options, writer);
  } else if (options.model == "rnn") {
    source = RnnSource(options, writer);
  } else if (options.model == "transformer") {
    source = TransformerSource(options, writer);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("model export: unknown model \"", options.model, "\""));
  }
  try {
    script.define(source);
  } catch (const std::exception& e) {  // torch::jit::ErrorReport is no c10::Error.
    return absl::InternalError(absl::StrCat(
        "model export: the generated TorchScript does not compile: ", e.what(), "\n", source));
  }
  script.eval();
  std::ostringstream bytes;
  script.save(bytes);
  return bytes.str();
}

int64_t CountParameters(torch::nn::Module& model) {
  int64_t count = 0;
  for (const torch::Tensor& parameter : model.parameters()) {
    if (parameter.requires_grad()) count += parameter.numel();
  }
  return count;
}

double MeasureLatencyMs(NetImpl& model, const torch::Tensor& example, int warmup, int runs) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const bool cuda = example.is_cuda();
  const auto pass = [&] {
    torch::Tensor output = model.forward(example);
    if (cuda) torch::cuda::synchronize();
    return output;
  };
  for (int i = 0; i < warmup; ++i) pass();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    pass();
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    times.push_back(elapsed.count());
  }
  model.train(was_training);
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace vernier
