#include "trainer/tabular_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "trainer/csv.h"
#include "trainer/datasets.h"
#include "trainer/text_data.h"

namespace vernier {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

absl::Status Invalid(const std::string& source, int64_t line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", what));
}

// Parses a whole cell as a finite double.
bool ParseNumber(absl::string_view cell, double& value) {
  return absl::SimpleAtod(cell, &value) && std::isfinite(value);
}

std::vector<double> ColumnValues(const Matrix& m, int64_t c) {
  std::vector<double> values;
  for (int64_t r = 0; r < m.rows; ++r) {
    if (!std::isnan(m.at(r, c))) values.push_back(m.at(r, c));
  }
  return values;
}

// The q-quantile of sorted `values` by linear interpolation. REQUIRES: not
// empty.
double Quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

absl::Status CheckColumnsHaveValues(const std::vector<double>& stats, const RawTable& table) {
  for (size_t c = 0; c < stats.size(); ++c) {
    if (std::isnan(stats[c])) {
      return absl::InvalidArgumentError(
          absl::StrCat(table.source, ": column \"", table.feature_names[c],
                       "\" has no value in the training split to fill missing values with"));
    }
  }
  return absl::OkStatus();
}

// The three splits' features, cleaned together.
struct SplitMatrices {
  Matrix train, val, test;
  std::vector<int64_t> train_rows, val_rows, test_rows;  // Rows of the RawTable.
};

// Sets `fill` to the per-column values missing cells take (the fallback of
// interpolate; empty for drop).
absl::Status HandleMissing(const DataOptions& options, const RawTable& table, SplitMatrices& s,
                           std::vector<double>& fill) {
  const std::string& how = options.missing;
  if (how == "drop") return absl::OkStatus();  // Done before the split.
  if (how == "mean" || how == "interpolate") {
    fill = ColumnMeans(s.train);
  } else if (how == "median") {
    fill = ColumnMedians(s.train);
  } else if (how == "constant") {
    fill.assign(static_cast<size_t>(s.train.cols), options.missing_value);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("missing: unknown value \"", how,
                     "\" (expected drop, mean, median, constant, interpolate)"));
  }
  RETURN_IF_ERROR(CheckColumnsHaveValues(fill, table));
  for (Matrix* m : {&s.train, &s.val, &s.test}) {
    if (how == "interpolate") {
      InterpolateMissing(*m, fill);
    } else {
      FillMissing(*m, fill);
    }
  }
  return absl::OkStatus();
}

// Records clip bounds in `steps` (outliers = clip only: dropping applies to
// training rows, never to a row to predict).
absl::Status HandleOutliers(const DataOptions& options, SplitMatrices& s,
                            TabularPreprocessing& steps) {
  if (options.outliers == "none") return absl::OkStatus();
  if (options.outliers != "clip" && options.outliers != "drop") {
    return absl::InvalidArgumentError(absl::StrCat("outliers: unknown value \"", options.outliers,
                                                   "\" (expected none, clip, drop)"));
  }
  ASSIGN_OR_RETURN(OutlierBounds bounds,
                   FitOutlierBounds(s.train, options.outlier_rule, options.outlier_threshold));
  if (options.outliers == "clip") {
    for (Matrix* m : {&s.train, &s.val, &s.test}) ClipOutliers(bounds, *m);
    steps.clip_low = bounds.low;
    steps.clip_high = bounds.high;
    return absl::OkStatus();
  }
  const std::vector<int64_t> keep = RowsWithinBounds(bounds, s.train);
  if (keep.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("outliers: drop with outlier_threshold ",
                                                   options.outlier_threshold,
                                                   " leaves no training row"));
  }
  s.train = SelectRows(s.train, keep);
  std::vector<int64_t> rows;
  for (int64_t k : keep) rows.push_back(s.train_rows[static_cast<size_t>(k)]);
  s.train_rows = std::move(rows);
  return absl::OkStatus();
}

void FillExamples(const Matrix& m, const std::vector<int64_t>& rows, TaskKind task,
                  const std::vector<int64_t>& labels, const std::vector<double>& targets,
                  ExampleSet& out) {
  out.count = m.rows;
  out.floats.assign(m.values.begin(), m.values.end());
  for (int64_t row : rows) {
    if (task == TaskKind::kClassification) {
      out.labels.push_back(labels[static_cast<size_t>(row)]);
    } else {
      out.targets.push_back(static_cast<float>(targets[static_cast<size_t>(row)]));
    }
  }
}

// Returns `table` without the rows that have a missing feature.
RawTable DropRowsWithMissing(const RawTable& table) {
  const std::vector<int64_t> keep = RowsWithoutMissing(table.features);
  RawTable out = table;
  out.features = SelectRows(table.features, keep);
  out.targets.clear();
  out.lines.clear();
  for (int64_t k : keep) {
    out.targets.push_back(table.targets[static_cast<size_t>(k)]);
    out.lines.push_back(table.lines[static_cast<size_t>(k)]);
  }
  return out;
}

}  // namespace

bool IsMissingCell(absl::string_view cell) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(cell);
  return trimmed.empty() || trimmed == "?" || absl::EqualsIgnoreCase(trimmed, "NA") ||
         absl::EqualsIgnoreCase(trimmed, "N/A") || absl::EqualsIgnoreCase(trimmed, "NaN");
}

absl::StatusOr<RawTable> ReadTabularCsv(const std::string& path, const std::string& target) {
  ASSIGN_OR_RETURN(std::vector<CsvRow> rows, ReadDelimitedFile(path));
  if (rows.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, no header"));
  std::vector<std::string> header;
  for (const std::string& name : rows[0].fields) {
    header.emplace_back(absl::StripAsciiWhitespace(name));
  }
  size_t target_column = header.size() - 1;
  if (!target.empty()) {
    auto it = std::find(header.begin(), header.end(), target);
    if (it == header.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": no target column \"", target,
                       "\" in the header (columns: ", absl::StrJoin(header, ", "), ")"));
    }
    target_column = static_cast<size_t>(it - header.begin());
  }
  if (header.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": needs a target column and at least one feature column"));
  }
  RawTable table;
  table.source = path;
  table.target_name = header[target_column];
  for (size_t c = 0; c < header.size(); ++c) {
    if (c != target_column) table.feature_names.push_back(header[c]);
  }
  table.features.cols = static_cast<int64_t>(table.feature_names.size());
  for (size_t i = 1; i < rows.size(); ++i) {
    const CsvRow& row = rows[i];
    if (row.fields.size() != header.size()) {
      return Invalid(path, row.line,
                     absl::StrCat(row.fields.size(), " fields, the header has ", header.size()));
    }
    if (IsMissingCell(row.fields[target_column])) continue;
    for (size_t c = 0; c < header.size(); ++c) {
      if (c == target_column) continue;
      double value = kNaN;
      if (!IsMissingCell(row.fields[c]) &&
          !ParseNumber(absl::StripAsciiWhitespace(row.fields[c]), value)) {
        return Invalid(path, row.line,
                       absl::StrCat("column \"", header[c], "\": not a number: \"", row.fields[c],
                                    "\" (features must be numeric; missing: empty, NA, NaN, ?)"));
      }
      table.features.values.push_back(value);
    }
    table.targets.emplace_back(absl::StripAsciiWhitespace(row.fields[target_column]));
    table.lines.push_back(row.line);
    ++table.features.rows;
  }
  if (table.features.rows == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no data rows (with a target value) after the header"));
  }
  return table;
}

absl::StatusOr<TaskKind> DecideTask(const RawTable& table, const std::string& task) {
  if (task != "auto" && task != "classification" && task != "regression") {
    return absl::InvalidArgumentError(absl::StrCat(
        "task: unknown value \"", task, "\" (expected auto, classification, regression)"));
  }
  if (task == "classification") return TaskKind::kClassification;
  std::set<std::string> distinct;
  bool all_integers = true;
  for (size_t i = 0; i < table.targets.size(); ++i) {
    double value = 0;
    if (!ParseNumber(table.targets[i], value)) {
      if (task == "regression") {
        return Invalid(table.source, table.lines[i],
                       absl::StrCat("target \"", table.target_name, "\": not a number: \"",
                                    table.targets[i], "\" (task is regression)"));
      }
      return TaskKind::kClassification;
    }
    all_integers = all_integers && value == std::trunc(value);
    distinct.insert(table.targets[i]);
  }
  if (task == "regression") return TaskKind::kRegression;
  return all_integers && distinct.size() <= kMaxAutoClasses ? TaskKind::kClassification
                                                            : TaskKind::kRegression;
}

std::vector<double> ColumnMeans(const Matrix& m) {
  std::vector<double> means;
  for (int64_t c = 0; c < m.cols; ++c) {
    const std::vector<double> values = ColumnValues(m, c);
    double sum = 0;
    for (double v : values) sum += v;
    means.push_back(values.empty() ? kNaN : sum / static_cast<double>(values.size()));
  }
  return means;
}

std::vector<double> ColumnMedians(const Matrix& m) {
  std::vector<double> medians;
  for (int64_t c = 0; c < m.cols; ++c) {
    std::vector<double> values = ColumnValues(m, c);
    std::sort(values.begin(), values.end());
    medians.push_back(values.empty() ? kNaN : Quantile(values, 0.5));
  }
  return medians;
}

std::vector<double> ColumnStddevs(const Matrix& m, const std::vector<double>& means) {
  std::vector<double> stddevs;
  for (int64_t c = 0; c < m.cols; ++c) {
    const std::vector<double> values = ColumnValues(m, c);
    double sum = 0;
    for (double v : values) sum += (v - means[c]) * (v - means[c]);
    stddevs.push_back(values.empty() ? kNaN : std::sqrt(sum / static_cast<double>(values.size())));
  }
  return stddevs;
}

void FillMissing(Matrix& m, const std::vector<double>& fill) {
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < m.cols; ++c) {
      if (std::isnan(m.at(r, c))) m.at(r, c) = fill[c];
    }
  }
}

void InterpolateMissing(Matrix& m, const std::vector<double>& fallback) {
  for (int64_t c = 0; c < m.cols; ++c) {
    int64_t previous = -1;  // Row of the last present value.
    for (int64_t r = 0; r <= m.rows; ++r) {
      if (r < m.rows && std::isnan(m.at(r, c))) continue;
      // Rows (previous, r) are missing; previous and r (if < rows) present.
      for (int64_t g = previous + 1; g < r; ++g) {
        if (previous < 0 && r == m.rows) {
          m.at(g, c) = fallback[c];
        } else if (previous < 0) {
          m.at(g, c) = m.at(r, c);
        } else if (r == m.rows) {
          m.at(g, c) = m.at(previous, c);
        } else {
          const double t = static_cast<double>(g - previous) / static_cast<double>(r - previous);
          m.at(g, c) = m.at(previous, c) + t * (m.at(r, c) - m.at(previous, c));
        }
      }
      previous = r;
    }
  }
}

std::vector<int64_t> RowsWithoutMissing(const Matrix& m) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < m.rows; ++r) {
    bool complete = true;
    for (int64_t c = 0; c < m.cols && complete; ++c) complete = !std::isnan(m.at(r, c));
    if (complete) rows.push_back(r);
  }
  return rows;
}

absl::StatusOr<OutlierBounds> FitOutlierBounds(const Matrix& train, const std::string& rule,
                                               double threshold) {
  OutlierBounds bounds;
  if (rule == "z") {
    const std::vector<double> means = ColumnMeans(train);
    const std::vector<double> stddevs = ColumnStddevs(train, means);
    for (int64_t c = 0; c < train.cols; ++c) {
      bounds.low.push_back(means[c] - threshold * stddevs[c]);
      bounds.high.push_back(means[c] + threshold * stddevs[c]);
    }
    return bounds;
  }
  if (rule == "iqr") {
    for (int64_t c = 0; c < train.cols; ++c) {
      std::vector<double> values = ColumnValues(train, c);
      std::sort(values.begin(), values.end());
      const double q1 = values.empty() ? kNaN : Quantile(values, 0.25);
      const double q3 = values.empty() ? kNaN : Quantile(values, 0.75);
      bounds.low.push_back(q1 - threshold * (q3 - q1));
      bounds.high.push_back(q3 + threshold * (q3 - q1));
    }
    return bounds;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("outlier_rule: unknown value \"", rule, "\" (expected z, iqr)"));
}

void ClipOutliers(const OutlierBounds& bounds, Matrix& m) {
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < m.cols; ++c) {
      m.at(r, c) = std::min(std::max(m.at(r, c), bounds.low[c]), bounds.high[c]);
    }
  }
}

std::vector<int64_t> RowsWithinBounds(const OutlierBounds& bounds, const Matrix& m) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < m.rows; ++r) {
    bool inside = true;
    for (int64_t c = 0; c < m.cols && inside; ++c) {
      inside = m.at(r, c) >= bounds.low[c] && m.at(r, c) <= bounds.high[c];
    }
    if (inside) rows.push_back(r);
  }
  return rows;
}

Matrix SelectRows(const Matrix& m, const std::vector<int64_t>& rows) {
  Matrix out;
  out.cols = m.cols;
  out.rows = static_cast<int64_t>(rows.size());
  out.values.reserve(rows.size() * static_cast<size_t>(m.cols));
  for (int64_t r : rows) {
    out.values.insert(out.values.end(), m.values.begin() + r * m.cols,
                      m.values.begin() + (r + 1) * m.cols);
  }
  return out;
}

void Standardize(Matrix& m, const std::vector<double>& means, const std::vector<double>& scales) {
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t c = 0; c < m.cols; ++c) {
      const double scale = scales[c] > 0 ? scales[c] : 1.0;
      m.at(r, c) = (m.at(r, c) - means[c]) / scale;
    }
  }
}

absl::StatusOr<LoadedData> LoadTabular(const DataOptions& options, const std::string& path) {
  ASSIGN_OR_RETURN(RawTable table, ReadTabularCsv(path, options.target));
  if (options.missing == "drop") {
    table = DropRowsWithMissing(table);
    if (table.features.rows == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": missing: drop leaves no row (every row has a missing value)"));
    }
  }
  LoadedData data;
  data.input = InputKind::kFloat;
  data.example_shape = {table.features.cols};
  ASSIGN_OR_RETURN(data.task, DecideTask(table, options.task));
  std::vector<int64_t> labels;
  std::vector<double> targets;
  if (data.task == TaskKind::kClassification) {
    data.class_names = ClassNamesOf(table.targets, labels);
    data.num_classes = static_cast<int>(data.class_names.size());
  } else {
    for (const std::string& cell : table.targets) {
      double value = 0;
      ParseNumber(cell, value);  // DecideTask checked every target.
      targets.push_back(value);
    }
  }
  ASSIGN_OR_RETURN(IndexSplit split,
                   ShuffleSplit(table.features.rows, options.test_fraction, options.val_fraction,
                                options.train_subset, options.data_seed));
  SplitMatrices s{SelectRows(table.features, split.train),
                  SelectRows(table.features, split.val),
                  SelectRows(table.features, split.test),
                  split.train,
                  split.val,
                  split.test};
  TabularPreprocessing& steps = data.tabular;
  steps.feature_names = table.feature_names;
  steps.target_name = table.target_name;
  steps.missing = options.missing;
  RETURN_IF_ERROR(HandleMissing(options, table, s, steps.fill_values));
  RETURN_IF_ERROR(HandleOutliers(options, s, steps));
  if (options.standardize) {
    steps.means = ColumnMeans(s.train);
    const std::vector<double> stddevs = ColumnStddevs(s.train, steps.means);
    for (Matrix* m : {&s.train, &s.val, &s.test}) Standardize(*m, steps.means, stddevs);
    for (double stddev : stddevs) steps.scales.push_back(stddev > 0 ? stddev : 1.0);
  }
  FillExamples(s.train, s.train_rows, data.task, labels, targets, data.train);
  FillExamples(s.val, s.val_rows, data.task, labels, targets, data.val);
  FillExamples(s.test, s.test_rows, data.task, labels, targets, data.test);
  if (data.task == TaskKind::kClassification) {
    if (data.num_classes < 2) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": every row has the target \"",
                                                     data.class_names[0],
                                                     "\"; a classifier needs two classes"));
    }
    RETURN_IF_ERROR(CheckEveryClassPresent(data.train.labels, data.class_names, path));
  }
  return data;
}

}  // namespace vernier
