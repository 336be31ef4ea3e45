// Tabular data sets for the built-in trainer: a CSV file with a header row,
// numeric feature columns and one target column, and the cleaning steps fitted
// on the training split (missing values, outliers, standardisation).
//
// Missing cells are the empty cell and NA, N/A, NaN, ? (any case, spaces
// trimmed); they are held as NaN until a missing-value step replaces them.
// Rows whose target is missing are dropped on reading (nothing can be learnt
// from them).
//
// Thread-safety: pure functions (ReadTabularCsv reads a file); thread-safe.
#ifndef VERNIER_TRAINER_TABULAR_DATA_H_
#define VERNIER_TRAINER_TABULAR_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/data.h"

namespace vernier {

// Rows of numbers, row-major; NaN marks a missing value.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> values;

  double& at(int64_t r, int64_t c) { return values[static_cast<size_t>(r * cols + c)]; }
  double at(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * cols + c)]; }
};

// A tabular file as read, before any split or cleaning.
struct RawTable {
  std::string source;                      // The file, for messages.
  std::vector<std::string> feature_names;  // Header order, without the target.
  std::string target_name;
  Matrix features;                   // One row per kept record.
  std::vector<std::string> targets;  // Trimmed target cell per row.
  std::vector<int64_t> lines;        // Line of each row in the file.
};

// Returns true for the cells read as missing (see the file comment).
bool IsMissingCell(absl::string_view cell);

// Reads `path` (CSV; TSV for .tsv/.tab). `target` names the target column; ""
// means the last column. Returns the errors of ReadDelimitedFile, and
// INVALID_ARGUMENT naming the file for a missing header, an unknown target
// column (listing the columns), no feature column or no data row; naming file,
// line and column for a record with the wrong number of fields or a feature
// cell that is neither a number nor missing.
absl::StatusOr<RawTable> ReadTabularCsv(const std::string& path, const std::string& target);

// Decides the task for `task` ("auto", "classification" or "regression"):
// "auto" is classification when a target is not a number, or when all targets
// are integers with at most kMaxAutoClasses distinct values; else regression.
// Returns INVALID_ARGUMENT naming the file and line of a non-numeric target
// under "regression", or an unknown `task`.
inline constexpr int kMaxAutoClasses = 20;
absl::StatusOr<TaskKind> DecideTask(const RawTable& table, const std::string& task);

// Per-column values fitted on the training split.
std::vector<double> ColumnMeans(const Matrix& m);    // NaN-skipping; NaN if none.
std::vector<double> ColumnMedians(const Matrix& m);  // NaN-skipping; NaN if none.
std::vector<double> ColumnStddevs(const Matrix& m, const std::vector<double>& means);

// Replaces each NaN in column c with fill[c].
void FillMissing(Matrix& m, const std::vector<double>& fill);

// Replaces each NaN by linear interpolation between the nearest present values
// above and below it in the same column (rows in file order); before the first
// or after the last present value, by that value; in a column with none, by
// fallback[c].
void InterpolateMissing(Matrix& m, const std::vector<double>& fallback);

// Returns the indices of the rows of `m` without a NaN.
std::vector<int64_t> RowsWithoutMissing(const Matrix& m);

// Per-column closed interval [low, high] outside which a value is an outlier.
struct OutlierBounds {
  std::vector<double> low;
  std::vector<double> high;
};

// Fits the bounds on `train` (no NaN): rule "z": mean -/+ threshold * stddev;
// rule "iqr": Q1 - threshold * IQR to Q3 + threshold * IQR (quartiles by linear
// interpolation, as numpy's default). Returns INVALID_ARGUMENT for another rule.
absl::StatusOr<OutlierBounds> FitOutlierBounds(const Matrix& train, const std::string& rule,
                                               double threshold);

// Clamps every value of `m` into its column's bounds.
void ClipOutliers(const OutlierBounds& bounds, Matrix& m);

// Returns the indices of the rows of `m` with every value inside the bounds.
std::vector<int64_t> RowsWithinBounds(const OutlierBounds& bounds, const Matrix& m);

// Returns the rows `rows` of `m`, in that order.
Matrix SelectRows(const Matrix& m, const std::vector<int64_t>& rows);

// Subtracts means[c] from and divides by scales[c] (1 where it is 0 or NaN)
// every value of column c.
void Standardize(Matrix& m, const std::vector<double>& means, const std::vector<double>& scales);

// Loads options.data_file (already resolved to a path) as a tabular data set:
// reads it, decides the task, splits it (ShuffleSplit), then, fitted on the
// training split: missing values (drop: rows with a missing feature leave
// every split, before the split; mean | median | constant: filled per column;
// interpolate: InterpolateMissing within each split, falling back to the
// training mean), outliers (none; clip: every split is clamped into the
// bounds; drop: training rows outside them are dropped, validation and test
// keep every row so that all trials are scored on the same examples), and
// standardisation of the features. Regression targets are left in their
// units. Errors: those of the steps above, and INVALID_ARGUMENT naming the
// file for a feature column with no value in the training split (mean,
// median) or a class with no training example.
absl::StatusOr<LoadedData> LoadTabular(const DataOptions& options, const std::string& path);

}  // namespace vernier

#endif  // VERNIER_TRAINER_TABULAR_DATA_H_
