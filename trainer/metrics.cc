#include "trainer/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

absl::Status CheckLengths(size_t predicted, size_t truth) {
  if (predicted != truth) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics: ", predicted, " predictions for ", truth, " true values"));
  }
  if (predicted == 0) return absl::InvalidArgumentError("metrics: no examples");
  return absl::OkStatus();
}

double Ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

double F1(double precision, double recall) {
  return precision + recall == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
}

struct ClassScores {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
};

ClassScores ScoresOf(const std::vector<std::vector<int64_t>>& confusion, int k) {
  int64_t predicted_k = 0;
  int64_t true_k = 0;
  for (size_t i = 0; i < confusion.size(); ++i) {
    predicted_k += confusion[i][k];
    true_k += confusion[k][i];
  }
  ClassScores scores;
  scores.precision = Ratio(confusion[k][k], predicted_k);
  scores.recall = Ratio(confusion[k][k], true_k);
  scores.f1 = F1(scores.precision, scores.recall);
  return scores;
}

}  // namespace

absl::StatusOr<ClassificationMetrics> ComputeClassificationMetrics(
    const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels, int num_classes) {
  if (absl::Status status = CheckLengths(predicted.size(), labels.size()); !status.ok()) {
    return status;
  }
  if (num_classes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("metrics: num_classes is ", num_classes));
  }
  ClassificationMetrics out;
  out.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t t = labels[i];
    const int64_t p = predicted[i];
    if (t < 0 || t >= num_classes || p < 0 || p >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("metrics: example ", i, " has label ", t,
                                                     " and prediction ", p, ", expected 0 to ",
                                                     num_classes - 1));
    }
    ++out.confusion[t][p];
    if (t == p) ++correct;
  }
  out.accuracy = Ratio(correct, static_cast<int64_t>(labels.size()));
  for (int k = 0; k < num_classes; ++k) {
    const ClassScores scores = ScoresOf(out.confusion, k);
    out.macro_precision += scores.precision / num_classes;
    out.macro_recall += scores.recall / num_classes;
    out.macro_f1 += scores.f1 / num_classes;
    if (k == 1) {
      out.binary_precision = scores.precision;
      out.binary_recall = scores.recall;
      out.binary_f1 = scores.f1;
    }
  }
  return out;
}

absl::StatusOr<RegressionMetrics> ComputeRegressionMetrics(const std::vector<float>& predicted,
                                                           const std::vector<float>& targets) {
  if (absl::Status status = CheckLengths(predicted.size(), targets.size()); !status.ok()) {
    return status;
  }
  double squared = 0;
  double absolute = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const double error = static_cast<double>(predicted[i]) - static_cast<double>(targets[i]);
    squared += error * error;
    absolute += std::abs(error);
  }
  RegressionMetrics out;
  out.mse = squared / static_cast<double>(targets.size());
  out.rmse = std::sqrt(out.mse);
  out.mae = absolute / static_cast<double>(targets.size());
  return out;
}

}  // namespace vernier
