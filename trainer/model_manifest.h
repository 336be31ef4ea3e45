// The manifest of a model the built-in trainer saved. A trial writes its final
// model to <artifact dir>/model/ as
//   model.pt       TorchScript (torch.jit.load in Python, torch::jit::load in
//                  C++): forward(input) -> [N, output width], the trained
//                  network in eval mode (no dropout);
//   manifest.json  this struct (ManifestToJson): everything needed to turn
//                  raw inputs into the model's input tensor and its outputs
//                  into classes or values, without Vernier;
//   vocab.txt      text models only: the vocabulary, one token per line, the
//                  token of id 2 on line 1 (ids 0 and 1 are padding and
//                  unknown). A file rather than JSON because tokens are raw
//                  bytes, not always valid UTF-8.
// README.md ("Saved models") documents the JSON fields for users.
//
// Thread-safety: plain data and pure functions (the Read/Write functions touch
// only their files); thread-safe.
#ifndef VERNIER_TRAINER_MODEL_MANIFEST_H_
#define VERNIER_TRAINER_MODEL_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/trial_protocol.h"
#include "nlohmann/json.hpp"
#include "trainer/data.h"

namespace vernier {

// The manifest's "format"; a reader refuses any other value. Bump the number
// when a field changes meaning or a required field is added.
inline constexpr char kModelFormat[] = "vernier-model/1";
// The Vernier release that wrote a manifest (recorded, not checked).
inline constexpr char kVernierVersion[] = "0.1.0";
// The tokenizer of trainer/text_data.h, by name, so that a future tokenizer
// cannot be mistaken for it.
inline constexpr char kTokenizerName[] = "vernier-ascii-lower-alnum/1";

// File names inside a model directory.
inline constexpr char kModelFileName[] = "model.pt";
inline constexpr char kManifestFileName[] = "manifest.json";
inline constexpr char kVocabFileName[] = "vocab.txt";

// Images: the model's input is float32 [N, channels, height, width] with
// x = (byte * pixel_scale - mean) / std for every pixel byte (0..255).
struct ImageInput {
  double pixel_scale = 1.0 / 255;
  double mean = 0;  // Of the training images, after pixel_scale.
  double std = 1;
};

// Text: the model's input is int64 [N, max_len]: the first max_len tokens of
// a text (tokenizer kTokenizerName) as ids, then 0 (padding). A token's id is
// 2 + its index in `vocabulary`, or 1 (unknown) when it is not there.
struct TextInput {
  int64_t max_len = 0;
  int64_t vocab_size = 0;               // Ids in use: vocabulary.size() + 2.
  std::vector<std::string> vocabulary;  // Token of id 2 + i; in vocab.txt.
};

// What the model's output columns mean.
enum class OutputKind {
  kLogits,       // [N, classes]: softmax gives class probabilities.
  kBinaryLogit,  // [N, 1]: sigmoid gives the probability of class 1 (bce).
  kScaledValue,  // [N, 1]: value = output * target_std + target_mean.
};

struct ModelManifest {
  std::string format = kModelFormat;
  std::string vernier_version = kVernierVersion;

  // The network: kind (cnn | mlp | rnn | transformer, trainer/models.h), the
  // sizes that shape it (an object of the model parameters that apply to that
  // kind, e.g. {"conv_blocks": 2, "channels": 16, ...}) and its trainable
  // parameter count.
  std::string model;
  nlohmann::json architecture = nlohmann::json::object();
  int64_t parameter_count = 0;

  TaskKind task = TaskKind::kClassification;
  std::string dataset;  // The trainer's dataset parameter, e.g. fashion-mnist.

  // The input: its kind and per-example shape ({C, H, W}, {max_len} or
  // {features}); exactly the member of that kind is meaningful.
  InputKind input = InputKind::kImageBytes;
  std::vector<int64_t> input_shape;
  ImageInput image;
  TextInput text;
  TabularPreprocessing tabular;

  // The output.
  OutputKind output = OutputKind::kLogits;
  int64_t output_width = 0;
  std::vector<std::string> class_names;  // Classification: index = class id.
  double target_mean = 0;                // kScaledValue only.
  double target_std = 1;

  // Where it came from: every parameter of the trial (defaults filled in),
  // the final metrics it reached (validation of `epoch`, and test_*), and the
  // 1-based epoch whose weights were saved (the best one under early
  // stopping; 0 when the model was not trained).
  nlohmann::json params = nlohmann::json::object();
  MetricMap metrics;
  int epoch = 0;
};

// Returns the "task", "input.kind" and "output.kind" strings of the JSON.
const char* TaskName(TaskKind task);          // classification | regression
const char* InputKindName(InputKind input);   // image | features | tokens
const char* OutputKindName(OutputKind kind);  // logits | binary_logit | scaled_value

// Returns the manifest as pretty-printed JSON. The text vocabulary is not in
// it (see WriteModelManifest): "input" names kVocabFileName instead. A NaN
// metric is written as null.
std::string ManifestToJson(const ModelManifest& manifest);

// Parses manifest JSON; the vocabulary stays empty (see ReadModelManifest).
// Returns INVALID_ARGUMENT, with a message starting with `file` and naming the
// field (e.g. "m.json: input.shape: expected an array of positive integers"),
// when the text is not JSON, "format" is not kModelFormat, a required field is
// missing or has the wrong type, or a value is out of range (an unknown kind,
// class names that do not match the output width, per-feature lists whose
// length differs from the feature count).
absl::StatusOr<ModelManifest> ParseManifest(absl::string_view json, absl::string_view file);

// Writes `dir`/manifest.json and, for token input, `dir`/vocab.txt (creating
// `dir`). Returns INTERNAL naming the file when a write fails, and
// INVALID_ARGUMENT when a vocabulary token is empty or holds a line break.
absl::Status WriteModelManifest(const std::string& dir, const ModelManifest& manifest);

// Reads `dir`/manifest.json and, for token input, the vocabulary file it
// names. Returns NOT_FOUND naming a missing file, the errors of ParseManifest,
// and INVALID_ARGUMENT when the vocabulary's size does not match the
// manifest's vocab_size.
absl::StatusOr<ModelManifest> ReadModelManifest(const std::string& dir);

}  // namespace vernier

#endif  // VERNIER_TRAINER_MODEL_MANIFEST_H_
