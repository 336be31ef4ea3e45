// The parameter table of the built-in trainer (vernier-train): the one place
// that says which parameters it takes, their kinds, bounds, choices and
// defaults. The trainer reads its parameters through it, and the server checks
// study files against it, so the two can never disagree.
//
// Thread-safety: the table is immutable after its first use (built on first
// call, thread-safely); every function here is thread-safe.
#ifndef VERNIER_COMMON_BUILTIN_TRAINER_H_
#define VERNIER_COMMON_BUILTIN_TRAINER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace vernier {

struct BuiltinParam {
  enum class Kind { kFloat, kInt, kChoice, kString };
  std::string name;
  Kind kind;
  // Inclusive bounds for kFloat/kInt. max_value is +infinity where there is no
  // upper bound (only for kFloat; every kInt bound fits an int64 exactly).
  double min_value = 0, max_value = 0;
  std::vector<std::string> choices;  // For kChoice.
  nlohmann::json default_value;      // Used when a trial's params leave it out.
  std::string help;                  // One line, for the README table and --help.
};

// Returns the table, in the order --help and the README list it.
const std::vector<BuiltinParam>& BuiltinTrainerParams();

// Returns the entry named `name`, or nullptr if there is none. The pointer
// stays valid for the life of the program.
const BuiltinParam* FindBuiltinParam(absl::string_view name);

// Returns OK when `value` is a valid value of parameter `name`:
//   kFloat  a finite JSON number within [min_value, max_value];
//   kInt    a JSON integer, or a float with an integral value (64.0), within
//           the bounds;
//   kChoice a JSON string among `choices`;
//   kString a JSON string, non-empty unless the default is "".
// Otherwise returns INVALID_ARGUMENT whose message starts with `field` (the
// caller's name for where the value came from) and shows the value, e.g.
//   params.optimizer.values[2]: unknown optimizer "adamm" (expected one of: sgd, momentum, adam)
//   params.batch_size: batch_size must be an integer, got 64.5
// An unknown `name` is INVALID_ARGUMENT too ("<field>: unknown parameter ...").
absl::Status CheckBuiltinValue(absl::string_view name, const nlohmann::json& value,
                               absl::string_view field);

// The settings the server gives one trial of the built-in trainer: the study's
// fixed `settings` plus, unless they fix them already,
//   seed              a distinct, reproducible seed per trial:
//                     (study_seed + 7919 * trial_number) mod 2^31 - 1;
//   checkpoint_every  `checkpoint_every` when set (a pbt study passes its
//                     interval: exploits need a checkpoint at every boundary).
// A searched parameter of the same name wins over both, as the trial's
// parameters are put over its settings (OverlayTrialParams).
nlohmann::json BuiltinTrialSettings(nlohmann::json settings, uint64_t study_seed,
                                    int64_t trial_number, std::optional<int64_t> checkpoint_every);

// Whether the built-in trainer takes a metric as better lower (a name ending
// in loss, mse, rmse or mae) or higher: its early stopping's rule, shared with
// the server, which finds the epoch a model ended with (a refit's epochs).
bool BuiltinMetricLowerIsBetter(absl::string_view metric);

}  // namespace vernier

#endif  // VERNIER_COMMON_BUILTIN_TRAINER_H_
