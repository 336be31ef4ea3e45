#include "trainer/predict.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/csv.h"
#include "trainer/idx.h"
#include "trainer/options.h"
#include "trainer/tabular_data.h"
#include "trainer/text_data.h"
#include "trainer/training.h"

namespace vernier {
namespace {

// Examples per forward pass: bounds memory, not a tuning knob.
constexpr int64_t kPredictBatch = 1024;

absl::Status InvalidAt(const std::string& file, int64_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

// Returns the class id of `label` among the model's classes: by name, or, for
// numeric labels, by value ("1.0" is class "1").
absl::StatusOr<int64_t> ClassIdOf(const ModelManifest& manifest, const std::string& label,
                                  const std::string& file, int64_t line) {
  const std::vector<std::string>& names = manifest.class_names;
  if (auto it = std::find(names.begin(), names.end(), label); it != names.end()) {
    return static_cast<int64_t>(it - names.begin());
  }
  double value = 0, name_value = 0;
  if (absl::SimpleAtod(label, &value)) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (absl::SimpleAtod(names[i], &name_value) && name_value == value) {
        return static_cast<int64_t>(i);
      }
    }
  }
  return InvalidAt(file, line,
                   absl::StrCat("label \"", label, "\" is not one of the model's classes (",
                                absl::StrJoin(names, ", "), ")"));
}

// --- Images -----------------------------------------------------------------

absl::StatusOr<PreparedExamples> ReadImageExamples(const ModelManifest& manifest,
                                                   const std::string& input_path,
                                                   const std::string& labels_path,
                                                   bool need_labels) {
  const std::vector<int64_t>& shape = manifest.input_shape;
  if (shape[0] != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the model takes images of ", shape[0],
                                                   " channels; IDX input holds one channel"));
  }
  if (need_labels && labels_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        input_path, ": evaluating images needs their labels: pass --labels (an IDX labels file)"));
  }
  ASSIGN_OR_RETURN(IdxImages images, ReadIdxImages(input_path));
  if (images.rows != shape[1] || images.cols != shape[2]) {
    return absl::InvalidArgumentError(absl::StrCat(input_path, ": images of ", images.rows, "x",
                                                   images.cols, " pixels; the model takes ",
                                                   shape[1], "x", shape[2]));
  }
  PreparedExamples out;
  out.shape = shape;
  out.examples.count = images.count;
  out.examples.image_bytes = std::move(images.pixels);
  if (labels_path.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<uint8_t> labels,
                   ReadIdxLabels(labels_path, static_cast<int>(manifest.class_names.size())));
  if (static_cast<int64_t>(labels.size()) != out.examples.count) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": ", labels.size(),
                                                   " labels for the ", out.examples.count,
                                                   " images of ", input_path));
  }
  out.labelled = true;
  out.examples.labels.assign(labels.begin(), labels.end());
  return out;
}

// --- Text -------------------------------------------------------------------

// The model's vocabulary as token -> id (2 + index; see trainer/text_data.h).
class TokenIds {
 public:
  explicit TokenIds(const TextInput& text) : max_len_(text.max_len) {
    for (size_t i = 0; i < text.vocabulary.size(); ++i) {
      ids_.emplace(text.vocabulary[i], static_cast<int64_t>(i) + 2);
    }
  }

  // Appends max_len ids for `text`, as Vocabulary::Encode does.
  void Encode(absl::string_view text, std::vector<int64_t>& out) const {
    int64_t used = 0;
    ForEachToken(text, [&](absl::string_view token) {
      auto it = ids_.find(token);
      out.push_back(it == ids_.end() ? kUnknownTokenId : it->second);
      return ++used < max_len_;
    });
    out.insert(out.end(), static_cast<size_t>(max_len_ - used), kPadTokenId);
  }

 private:
  int64_t max_len_;
  absl::flat_hash_map<std::string, int64_t> ids_;
};

bool IsDelimitedFile(const std::string& path) {
  return absl::EndsWithIgnoreCase(path, ".csv") || DelimiterForPath(path) == '\t';
}

absl::StatusOr<PreparedExamples> ReadTextExamples(const ModelManifest& manifest,
                                                  const std::string& path, bool need_labels) {
  const TokenIds ids(manifest.text);
  PreparedExamples out;
  out.shape = manifest.input_shape;
  if (IsDelimitedFile(path)) {
    ASSIGN_OR_RETURN(TextCorpus corpus, ReadTextCsv(path));
    for (size_t i = 0; i < corpus.texts.size(); ++i) {
      ids.Encode(corpus.texts[i], out.examples.tokens);
      if (!need_labels) continue;
      const std::string& label = corpus.class_names[static_cast<size_t>(corpus.labels[i])];
      ASSIGN_OR_RETURN(int64_t id, ClassIdOf(manifest, label, path, corpus.lines[i]));
      out.examples.labels.push_back(id);
    }
    out.examples.count = static_cast<int64_t>(corpus.texts.size());
    out.labelled = need_labels;
  } else {
    if (need_labels) {
      return absl::InvalidArgumentError(
          absl::StrCat(path,
                       ": a text file of one example per line has no labels; evaluating needs a "
                       ".csv or .tsv file of text,label records"));
    }
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
      if (line.empty()) continue;
      ids.Encode(line, out.examples.tokens);
      ++out.examples.count;
    }
  }
  if (out.examples.count == 0)
    return absl::InvalidArgumentError(absl::StrCat(path, ": no examples"));
  return out;
}

// --- Features ---------------------------------------------------------------

// The column of each of `names` in `header`, or an error naming the missing one.
absl::StatusOr<std::vector<size_t>> FindColumns(const std::vector<std::string>& header,
                                                const std::vector<std::string>& names,
                                                const std::string& path) {
  std::vector<size_t> columns;
  for (const std::string& name : names) {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": no column \"", name, "\" in the header (the model's features: ",
          absl::StrJoin(names, ", "), "; the file's columns: ", absl::StrJoin(header, ", "), ")"));
    }
    columns.push_back(static_cast<size_t>(it - header.begin()));
  }
  return columns;
}

// Sets the labels or targets of `out` from the target cells.
absl::Status ReadTargets(const ModelManifest& manifest, const std::vector<CsvRow>& rows,
                         size_t column, const std::string& path, PreparedExamples& out) {
  const std::string& name = manifest.tabular.target_name;
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::string cell(absl::StripAsciiWhitespace(rows[i].fields[column]));
    if (IsMissingCell(cell)) {
      return InvalidAt(path, rows[i].line, absl::StrCat("target \"", name, "\" is missing"));
    }
    if (manifest.task == TaskKind::kClassification) {
      ASSIGN_OR_RETURN(int64_t id, ClassIdOf(manifest, cell, path, rows[i].line));
      out.examples.labels.push_back(id);
      continue;
    }
    double value = 0;
    if (!absl::SimpleAtod(cell, &value) || !std::isfinite(value)) {
      return InvalidAt(path, rows[i].line,
                       absl::StrCat("target \"", name, "\": not a number: \"", cell, "\""));
    }
    out.examples.targets.push_back(static_cast<float>(value));
  }
  out.labelled = true;
  return absl::OkStatus();
}

// Fills missing cells, clips and standardises `m` as training did.
absl::Status Preprocess(const TabularPreprocessing& steps, const std::vector<CsvRow>& rows,
                        const std::string& path, Matrix& m) {
  if (steps.fill_values.empty()) {  // missing: drop; a row to predict cannot be dropped.
    for (int64_t r = 0; r < m.rows; ++r) {
      for (int64_t c = 0; c < m.cols; ++c) {
        if (!std::isnan(m.at(r, c))) continue;
        return InvalidAt(path, rows[static_cast<size_t>(r) + 1].line,
                         absl::StrCat("column \"", steps.feature_names[static_cast<size_t>(c)],
                                      "\" is missing, and the model was trained with missing: ",
                                      steps.missing, ", which has no value to fill in"));
      }
    }
  } else {
    FillMissing(m, steps.fill_values);
  }
  if (!steps.clip_low.empty()) ClipOutliers({steps.clip_low, steps.clip_high}, m);
  if (!steps.means.empty()) Standardize(m, steps.means, steps.scales);
  return absl::OkStatus();
}

absl::StatusOr<PreparedExamples> ReadFeatureExamples(const ModelManifest& manifest,
                                                     const std::string& path, bool need_labels) {
  const TabularPreprocessing& steps = manifest.tabular;
  ASSIGN_OR_RETURN(std::vector<CsvRow> rows, ReadDelimitedFile(path));
  if (rows.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, no header"));
  std::vector<std::string> header;
  for (const std::string& name : rows[0].fields) {
    header.emplace_back(absl::StripAsciiWhitespace(name));
  }
  ASSIGN_OR_RETURN(std::vector<size_t> columns, FindColumns(header, steps.feature_names, path));
  Matrix m;
  m.cols = static_cast<int64_t>(columns.size());
  for (size_t i = 1; i < rows.size(); ++i) {
    const CsvRow& row = rows[i];
    if (row.fields.size() != header.size()) {
      return InvalidAt(path, row.line,
                       absl::StrCat(row.fields.size(), " fields, the header has ", header.size()));
    }
    for (size_t column : columns) {
      double value = NAN;
      const absl::string_view cell = absl::StripAsciiWhitespace(row.fields[column]);
      if (!IsMissingCell(cell) && (!absl::SimpleAtod(cell, &value) || !std::isfinite(value))) {
        return InvalidAt(
            path, row.line,
            absl::StrCat("column \"", header[column], "\": not a number: \"", row.fields[column],
                         "\" (features must be numeric; missing: empty, NA, NaN, ?)"));
      }
      m.values.push_back(value);
    }
    ++m.rows;
  }
  if (m.rows == 0) return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows"));
  RETURN_IF_ERROR(Preprocess(steps, rows, path, m));
  PreparedExamples out;
  out.shape = manifest.input_shape;
  out.examples.count = m.rows;
  out.examples.floats.assign(m.values.begin(), m.values.end());
  if (need_labels) {
    auto target = std::find(header.begin(), header.end(), steps.target_name);
    if (target == header.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": no column \"", steps.target_name,
                       "\" in the header: evaluating needs the model's target column (the file's "
                       "columns: ",
                       absl::StrJoin(header, ", "), ")"));
    }
    RETURN_IF_ERROR(
        ReadTargets(manifest, rows, static_cast<size_t>(target - header.begin()), path, out));
  }
  return out;
}

// --- The model --------------------------------------------------------------

// A TorchScript module as a NetImpl, so that Evaluate scores it as it scores
// a model in training.
class ScriptedNet : public NetImpl {
 public:
  explicit ScriptedNet(torch::jit::Module module) : module_(std::move(module)) {}
  torch::Tensor forward(torch::Tensor input) override {
    return module_.forward({std::move(input)}).toTensor();
  }

 private:
  torch::jit::Module module_;
};

absl::StatusOr<torch::Device> PredictionDevice(const char* device_env) {
  ASSIGN_OR_RETURN(DeviceRequest request, ParseDeviceRequest(device_env));
  if (request != DeviceRequest::kCuda) return torch::Device(torch::kCPU);
  if (!torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        "VERNIER_DEVICE=cuda, but this libtorch build has no CUDA or no GPU is visible");
  }
  return torch::Device(torch::kCUDA, 0);
}

// The examples as the model's input and targets on `device`, prepared as
// ToDevice (trainer/training.h) prepares a split, so that scores match.
DeviceSplit ToDeviceSplit(const ModelManifest& manifest, const PreparedExamples& prepared,
                          torch::Device device) {
  const ExampleSet& set = prepared.examples;
  std::vector<int64_t> shape = {prepared.examples.count};
  shape.insert(shape.end(), prepared.shape.begin(), prepared.shape.end());
  DeviceSplit split;
  switch (manifest.input) {
    case InputKind::kImageBytes:
      split.inputs =
          torch::from_blob(const_cast<uint8_t*>(set.image_bytes.data()), shape, torch::kUInt8)
              .to(device)
              .to(torch::kFloat32)
              .div_(1.0 / manifest.image.pixel_scale)
              .sub_(manifest.image.mean)
              .div_(manifest.image.std);
      break;
    case InputKind::kFloat:
      split.inputs = torch::from_blob(const_cast<float*>(set.floats.data()), shape, torch::kFloat32)
                         .to(device, /*non_blocking=*/false, /*copy=*/true);
      break;
    case InputKind::kTokens:
      split.inputs = torch::from_blob(const_cast<int64_t*>(set.tokens.data()), shape, torch::kInt64)
                         .to(device, /*non_blocking=*/false, /*copy=*/true);
      break;
  }
  if (!prepared.labelled) {
    split.targets = torch::zeros({prepared.examples.count}, torch::TensorOptions().device(device));
  } else if (manifest.task == TaskKind::kClassification) {
    split.targets = torch::from_blob(const_cast<int64_t*>(set.labels.data()),
                                     {prepared.examples.count}, torch::kInt64)
                        .to(device, /*non_blocking=*/false, /*copy=*/true);
  } else {
    split.targets = torch::from_blob(const_cast<float*>(set.targets.data()),
                                     {prepared.examples.count}, torch::kFloat32)
                        .to(device, /*non_blocking=*/false, /*copy=*/true)
                        .sub_(manifest.target_mean)
                        .div_(manifest.target_std);
  }
  return split;
}

// The loss the model was trained with, as Evaluate needs it.
absl::StatusOr<Objective> ObjectiveOf(const ModelManifest& manifest, const DeviceData& info,
                                      const std::string& manifest_path) {
  std::string loss = "auto";
  double label_smoothing = 0;
  if (auto it = manifest.params.find("loss"); it != manifest.params.end() && it->is_string()) {
    loss = it->get<std::string>();
  }
  if (auto it = manifest.params.find("label_smoothing");
      it != manifest.params.end() && it->is_number()) {
    label_smoothing = it->get<double>();
  }
  absl::StatusOr<Objective> objective = ChooseObjective(loss, label_smoothing, info);
  if (!objective.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(manifest_path, ": params: ", objective.status().message()));
  }
  if (objective->outputs() != manifest.output_width) {
    return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": output.width ",
                                                   manifest.output_width, " does not fit loss ",
                                                   loss, " (", objective->outputs(), " outputs)"));
  }
  return objective;
}

// Fills the probabilities, classes or values of `out` from model outputs.
void AddAnswers(const ModelManifest& manifest, const torch::Tensor& outputs, Prediction& out) {
  const torch::Tensor host = outputs.to(torch::kCPU, torch::kFloat64).contiguous();
  if (manifest.output == OutputKind::kScaledValue) {
    const torch::Tensor values = host.select(1, 0) * manifest.target_std + manifest.target_mean;
    for (int64_t i = 0; i < values.size(0); ++i) out.values.push_back(values[i].item<double>());
    return;
  }
  torch::Tensor probabilities;
  torch::Tensor classes;
  if (manifest.output == OutputKind::kBinaryLogit) {
    const torch::Tensor p1 = torch::sigmoid(host.select(1, 0));
    probabilities = torch::stack({1 - p1, p1}, 1);
    classes = host.select(1, 0).gt(0).to(torch::kInt64);  // As the trainer decides.
  } else {
    probabilities = torch::softmax(host, 1);
    classes = host.argmax(1);
  }
  const auto p = probabilities.accessor<double, 2>();
  for (int64_t i = 0; i < p.size(0); ++i) {
    std::vector<double> row(static_cast<size_t>(p.size(1)));
    for (int64_t k = 0; k < p.size(1); ++k) row[static_cast<size_t>(k)] = p[i][k];
    out.probabilities.push_back(std::move(row));
    out.classes.push_back(classes[i].item<int64_t>());
  }
}

absl::StatusOr<Prediction> PredictOrThrow(const std::string& dir, const ModelManifest& manifest,
                                          const PreparedExamples& examples,
                                          const char* device_env) {
  ASSIGN_OR_RETURN(torch::Device device, PredictionDevice(device_env));
  const std::string model_path = absl::StrCat(dir, "/", kModelFileName);
  if (!std::filesystem::exists(model_path)) {
    return absl::NotFoundError(absl::StrCat(model_path, ": no such file"));
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(model_path, device);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": not a TorchScript model: ", e.what_without_backtrace()));
  }
  module.eval();
  ScriptedNet net(module);
  torch::NoGradGuard no_grad;
  const DeviceSplit split = ToDeviceSplit(manifest, examples, device);
  Prediction out;
  for (int64_t begin = 0; begin < split.size(); begin += kPredictBatch) {
    const torch::Tensor outputs =
        net.forward(split.inputs.narrow(0, begin, std::min(kPredictBatch, split.size() - begin)));
    if (outputs.dim() != 2 || outputs.size(1) != manifest.output_width) {
      return absl::InvalidArgumentError(
          absl::StrCat(model_path, ": outputs of shape [", absl::StrJoin(outputs.sizes(), ", "),
                       "], but the manifest says ", manifest.output_width, " per example"));
    }
    AddAnswers(manifest, outputs, out);
  }
  if (!examples.labelled) return out;
  DeviceData info;
  info.task = manifest.task;
  info.input = manifest.input;
  info.example_shape = manifest.input_shape;
  info.num_classes = static_cast<int>(manifest.class_names.size());
  info.target_mean = manifest.target_mean;
  info.target_std = manifest.target_std;
  ASSIGN_OR_RETURN(Objective objective,
                   ObjectiveOf(manifest, info, absl::StrCat(dir, "/", kManifestFileName)));
  // Evaluate names its metrics prefix_name; --evaluate reports bare names.
  const std::string prefix = "test_";
  for (const auto& [name, value] : Evaluate(net, split, info, objective, "test", false)) {
    out.metrics[name.substr(prefix.size())] = value;
  }
  out.metrics["examples"] = static_cast<double>(examples.examples.count);
  return out;
}

// A CSV field, quoted when it holds a delimiter, quote or line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

absl::StatusOr<PreparedExamples> ReadExamples(const ModelManifest& manifest,
                                              const std::string& input_path,
                                              const std::string& labels_path, bool need_labels) {
  if (!labels_path.empty() && manifest.input != InputKind::kImageBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_path,
                     ": a labels file is for image models; the labels of text and "
                     "tabular input are in the input file"));
  }
  if (need_labels && manifest.task == TaskKind::kRegression &&
      manifest.input != InputKind::kFloat) {
    return absl::InvalidArgumentError("only tabular regression models can be evaluated");
  }
  switch (manifest.input) {
    case InputKind::kImageBytes:
      return ReadImageExamples(manifest, input_path, labels_path, need_labels);
    case InputKind::kTokens:
      return ReadTextExamples(manifest, input_path, need_labels);
    case InputKind::kFloat:
      return ReadFeatureExamples(manifest, input_path, need_labels);
  }
  return absl::InternalError("unreachable: unknown InputKind");
}

absl::StatusOr<Prediction> Predict(const std::string& dir, const ModelManifest& manifest,
                                   const PreparedExamples& examples, const char* device_env) {
  try {
    return PredictOrThrow(dir, manifest, examples, device_env);
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory: ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    // The module's forward failed on this input: the model and the manifest
    // (or the input shape) disagree.
    return absl::InvalidArgumentError(absl::StrCat(
        dir, "/", kModelFileName, ": cannot run on this input: ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  } catch (const std::runtime_error& e) {
    // The TorchScript interpreter rethrows its errors as runtime_error.
    return absl::InvalidArgumentError(
        absl::StrCat(dir, "/", kModelFileName, ": cannot run on this input: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

void WritePredictionCsv(const ModelManifest& manifest, const Prediction& prediction,
                        std::FILE* out) {
  if (manifest.task == TaskKind::kRegression) {
    std::fputs("predicted\n", out);
    for (double value : prediction.values) absl::FPrintF(out, "%.9g\n", value);
    return;
  }
  for (const std::string& name : manifest.class_names) {
    absl::FPrintF(out, "%s,", CsvField(name));
  }
  std::fputs("predicted\n", out);
  for (size_t i = 0; i < prediction.classes.size(); ++i) {
    for (double p : prediction.probabilities[i]) absl::FPrintF(out, "%.6g,", p);
    absl::FPrintF(out, "%s\n",
                  CsvField(manifest.class_names[static_cast<size_t>(prediction.classes[i])]));
  }
}

absl::Status RunPrediction(const PredictOptions& options, std::FILE* out) {
  ASSIGN_OR_RETURN(ModelManifest manifest, ReadModelManifest(options.model_dir));
  ASSIGN_OR_RETURN(PreparedExamples examples, ReadExamples(manifest, options.input_path,
                                                           options.labels_path, options.evaluate));
  ASSIGN_OR_RETURN(Prediction prediction,
                   Predict(options.model_dir, manifest, examples, options.device));
  if (!options.output_path.empty()) {
    std::FILE* file = std::fopen(options.output_path.c_str(), "w");
    if (file == nullptr) {
      return absl::InternalError(absl::StrCat(options.output_path, ": cannot open for writing"));
    }
    WritePredictionCsv(manifest, prediction, file);
    const bool failed = std::ferror(file) != 0;
    if (std::fclose(file) != 0 || failed) {
      return absl::InternalError(absl::StrCat(options.output_path, ": cannot write"));
    }
  } else if (!options.evaluate) {
    WritePredictionCsv(manifest, prediction, out);
  }
  if (options.evaluate) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : prediction.metrics) {
      metrics[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
    }
    absl::FPrintF(out, "%s\n", metrics.dump());
  }
  return absl::OkStatus();
}

}  // namespace vernier
