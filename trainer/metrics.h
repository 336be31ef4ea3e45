// Evaluation metrics of the built-in trainer, computed from plain vectors of
// predictions and true values (no libtorch), so the training loop and the
// tests share one definition.
//
// Conventions (those of scikit-learn with zero_division=0):
//   - precision of a class nothing was predicted as, and recall of a class
//     with no true examples, are 0; so is F1 when precision + recall is 0;
//   - "binary" metrics treat class 1 as the positive class;
//   - "macro" metrics are the unweighted mean over all num_classes classes,
//     including classes absent from both vectors.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_TRAINER_METRICS_H_
#define VERNIER_TRAINER_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace vernier {

struct ClassificationMetrics {
  double accuracy = 0;
  // Class 1 as the positive class; only meaningful when num_classes == 2.
  double binary_precision = 0;
  double binary_recall = 0;
  double binary_f1 = 0;
  double macro_precision = 0;
  double macro_recall = 0;
  double macro_f1 = 0;
  // confusion[t][p]: examples of true class t predicted as class p.
  std::vector<std::vector<int64_t>> confusion;
};

struct RegressionMetrics {
  double mse = 0;
  double rmse = 0;
  double mae = 0;
};

// Returns the metrics of `predicted` against `labels`. Returns
// INVALID_ARGUMENT when the vectors differ in length or are empty,
// num_classes < 1, or a value lies outside [0, num_classes).
absl::StatusOr<ClassificationMetrics> ComputeClassificationMetrics(
    const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels, int num_classes);

// Returns MSE, RMSE and MAE of `predicted` against `targets`. Returns
// INVALID_ARGUMENT when the vectors differ in length or are empty.
absl::StatusOr<RegressionMetrics> ComputeRegressionMetrics(const std::vector<float>& predicted,
                                                           const std::vector<float>& targets);

}  // namespace vernier

#endif  // VERNIER_TRAINER_METRICS_H_
