// Using a model the built-in trainer saved (trainer/model_manifest.h) on new
// examples: `vernier-train --predict MODEL_DIR --input FILE`. The examples are
// read from a file of the kind the model was trained on and prepared exactly
// as training prepared them, from what the manifest records:
//   images    an IDX images file (the Fashion-MNIST format, gzip or raw) of the
//             model's height and width; labels (for evaluation) in an IDX
//             labels file, `labels_path`;
//   text      a text file, one example per line (empty lines skipped), or a
//             CSV/TSV file (.csv, .tsv, .tab) of text,label records in the
//             trainer's text-csv format, whose labels evaluation uses;
//   features  a CSV/TSV file with a header row naming at least the manifest's
//             feature columns (any order; other columns are ignored), and for
//             evaluation its target column. Missing cells are filled, outliers
//             clipped and features standardised with the training statistics.
// Labels are matched to the manifest's class names by name.
//
// Predictions are CSV, one row per example in input order: for classification
// one column per class (named by the class, holding its probability) and then
// "predicted" (the class name); for regression one column "predicted" (in the
// target's units).
//
// This is an edge for libtorch: no exception leaves these functions.
// Thread-safety: thread-compatible; run one prediction per thread.
#ifndef VERNIER_TRAINER_PREDICT_H_
#define VERNIER_TRAINER_PREDICT_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/trial_protocol.h"
#include "trainer/data.h"
#include "trainer/model_manifest.h"

namespace vernier {

struct PredictOptions {
  std::string model_dir;         // Holds model.pt and manifest.json (+ vocab.txt).
  std::string input_path;        // The examples (see the file comment).
  std::string labels_path;       // Images: the IDX labels file; "" = none.
  std::string output_path;       // Predictions CSV; "" = `out` (see RunPrediction).
  bool evaluate = false;         // Report metrics; needs labelled input.
  const char* device = nullptr;  // Value of VERNIER_DEVICE; nullptr when unset.
};

// Examples prepared as the model's input, on the host: in `examples`, the
// input buffer of the manifest's input kind (image bytes, standardised
// features or token ids), and when `labelled` the class ids (labels) or
// target values in the target's units (targets), one per example.
struct PreparedExamples {
  std::vector<int64_t> shape;  // Per example: the manifest's input_shape.
  ExampleSet examples;
  bool labelled = false;
};

// Reads and prepares the examples of `input_path` (and `labels_path` for
// images) for the model `manifest` describes. With `need_labels`, input
// without labels is an error. Returns NOT_FOUND for a missing file;
// INVALID_ARGUMENT naming the file (and line, for text files) for input that
// does not fit: a wrong magic number or image size, a CSV record with the wrong
// number of fields, a missing feature or target column, a non-numeric cell, a
// missing cell where the model was trained to drop such rows, a label that is
// not one of the model's classes, labels where there are none (or their count
// differs from the examples'); DATA_LOSS for a corrupt file.
absl::StatusOr<PreparedExamples> ReadExamples(const ModelManifest& manifest,
                                              const std::string& input_path,
                                              const std::string& labels_path, bool need_labels);

// The model's answers for some examples.
struct Prediction {
  // Classification: [count][classes] probabilities, and the predicted class
  // ids. Regression: `values` in the target's units.
  std::vector<std::vector<double>> probabilities;
  std::vector<int64_t> classes;
  std::vector<double> values;
  // With labelled examples: the metrics of trainer/training.h's Evaluate under
  // their bare names (accuracy, loss, f1_macro, ...; rmse, mae, mse for
  // regression) plus "examples", the count.
  MetricMap metrics;
};

// Loads `dir`/model.pt (TorchScript) onto the device `device_env` asks for
// (see ParseDeviceRequest; unset: CUDA when available) and runs it on
// `examples`; computes metrics when they are labelled, with the loss the
// model was trained with (manifest params "loss", "label_smoothing").
// Returns NOT_FOUND when model.pt is missing, INVALID_ARGUMENT naming it when it
// is not a TorchScript module or its output does not have the manifest's
// width, FAILED_PRECONDITION for VERNIER_DEVICE=cuda without CUDA, and
// RESOURCE_EXHAUSTED when memory runs out.
absl::StatusOr<Prediction> Predict(const std::string& dir, const ModelManifest& manifest,
                                   const PreparedExamples& examples,
                                   const char* device_env = nullptr);

// Writes `prediction` as CSV (see the file comment) to `out`.
void WritePredictionCsv(const ModelManifest& manifest, const Prediction& prediction,
                        std::FILE* out);

// All of --predict: reads the manifest and the examples, predicts, and writes
// the predictions CSV to options.output_path (or `out` when it is empty and
// not evaluating) and, with options.evaluate, the metrics as one JSON object
// line to `out`. Returns the errors of ReadModelManifest, ReadExamples and
// Predict, and INTERNAL naming the output file when it cannot be written.
absl::Status RunPrediction(const PredictOptions& options, std::FILE* out);

}  // namespace vernier

#endif  // VERNIER_TRAINER_PREDICT_H_
