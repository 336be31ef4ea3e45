// `vernier import-optuna STORAGE`: copies studies from an Optuna RDB storage
// (a SQLite file written by Optuna 3.x) into a running server, so that a user
// can continue or warm-start from past Optuna work.
//
// Three steps, each its own function so that the mapping can be tested
// without a server:
//   1. ReadOptunaStorage: the studies, directions, trials, parameters, values
//      and intermediate values, read straight from the Optuna schema with
//      SQLite, the file opened read-only (never written).
//   2. PlanOptunaImport: pure. The Vernier study file (search space from the
//      trials' distributions, `value` / `value_0`, `value_1`, ... objectives,
//      tpe or nsga2, pruner none, trainer external) and the trials to replay.
//   3. ImportOptunaCommand: creates the study through the StudyService and
//      replays each finished trial in Optuna's order: EnqueueTrial, Ask (the
//      enqueued trial, checked), Report per intermediate value, Tell.
//
// Thread-safety: the functions are pure except ReadOptunaStorage (reads a
// file) and ImportOptunaCommand (uses its CommandContext as every command).
#ifndef VERNIER_CLIENT_IMPORT_OPTUNA_H_
#define VERNIER_CLIENT_IMPORT_OPTUNA_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/commands.h"
#include "client/enqueue.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/study.pb.h"

namespace vernier {

// One Optuna distribution (its distribution_json), in the 3.x form; the
// pre-3.0 names (UniformDistribution, LogUniformDistribution,
// DiscreteUniformDistribution, IntUniformDistribution,
// IntLogUniformDistribution) are read as the FloatDistribution or
// IntDistribution they became.
struct OptunaDistribution {
  enum class Kind { kFloat, kInt, kCategorical };
  Kind kind = Kind::kFloat;
  double low = 0;
  double high = 0;
  bool log = false;
  std::optional<double> step;                   // kFloat: optional; kInt: always set.
  std::vector<nlohmann::ordered_json> choices;  // kCategorical.

  bool operator==(const OptunaDistribution& other) const;
};

// Parses distribution_json. INVALID_ARGUMENT naming `where` for an unknown
// distribution or a missing or mistyped attribute.
absl::StatusOr<OptunaDistribution> ParseOptunaDistribution(absl::string_view json,
                                                           absl::string_view where);

// An Optuna trial as stored. Values and intermediate values are doubles with
// their value_type applied (INF_POS is +inf, NAN is NaN).
struct OptunaTrial {
  int64_t number = 0;
  std::string state;  // COMPLETE, PRUNED, FAIL, RUNNING or WAITING.
  // Name -> (param_value in Optuna's internal float form, distribution).
  std::map<std::string, std::pair<double, OptunaDistribution>> params;
  std::vector<double> values;                            // By objective index.
  std::vector<std::pair<int64_t, double>> intermediate;  // By step.
};

struct OptunaStudy {
  std::string name;
  std::vector<v1::Goal> directions;  // By objective index; at least one.
  std::vector<OptunaTrial> trials;   // By number.
};

// "sqlite:///relative/path.db", "sqlite:////abs/path.db" or a plain path:
// the file's path. INVALID_ARGUMENT for another scheme (mysql://, ...).
absl::StatusOr<std::string> OptunaStoragePath(absl::string_view url);

// Reads the studies of the Optuna SQLite storage at `path` (all of them, by
// study id, or only the one called `only_study` when set), opened read-only.
// NOT_FOUND for a missing file or an unknown `only_study` (naming the studies
// there are); INVALID_ARGUMENT naming the file and table for a file that is
// not an Optuna storage, or naming the study, trial and column for a value
// that cannot be read.
absl::StatusOr<std::vector<OptunaStudy>> ReadOptunaStorage(
    const std::string& path, const std::optional<std::string>& only_study);

// One trial to replay in Vernier.
struct ImportedTrial {
  int64_t optuna_number = 0;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;  // COMPLETE, PRUNED or FAILED.
  ParamSet params;                                     // In the Vernier space.
  std::vector<double> values;                          // COMPLETE: by objective.
  std::vector<std::pair<int64_t, double>> intermediate;
};

struct ImportPlan {
  // The study file (JSON, which is YAML): sent as the study's text.
  nlohmann::ordered_json study_file;
  std::vector<ImportedTrial> trials;       // Finished trials in Optuna's order.
  std::map<std::string, int64_t> skipped;  // Optuna state -> trials left out.
  // Lines for the user: parameters whose distribution changed across trials
  // (the union is used), parameters absent from trials for no reason found.
  std::vector<std::string> notes;
};

// The Vernier study for `study`, named `name`, whose budget is the imported
// trials plus `extra_trials`. Parameters: FloatDistribution -> float,
// IntDistribution -> int, CategoricalDistribution -> categorical (bools
// become the strings "true" and "false", as in study files). A parameter whose
// distribution differs across trials gets the union (widest low and high,
// every choice; a step kept only when all trials share it and its grid),
// with a note. A parameter absent from some trials gets a `when` on a
// categorical parameter whose values decide exactly when it is present, if
// there is one. INVALID_ARGUMENT naming the study, parameter and trial for
// a None choice, a parameter that is categorical in one trial and numeric in
// another, a value that is not a choice's index, no parameters at all, or a
// COMPLETE trial without every objective value.
absl::StatusOr<ImportPlan> PlanOptunaImport(const OptunaStudy& study, const std::string& name,
                                            int64_t extra_trials);

struct ImportOptunaOptions {
  std::string storage;                  // STORAGE_URL
  std::optional<std::string> study;     // --study: only this one.
  std::optional<std::string> new_name;  // --as: needs exactly one study.
  int64_t max_trials = 100;             // --max-trials: room for new trials.
};

// Imports and prints one line per study, e.g. `imported optuna study "x" as
// "x": 40 trials (35 COMPLETE, 3 PRUNED, 2 FAILED), skipped 1 RUNNING`, then
// the plan's notes indented. Errors as ReadOptunaStorage and
// PlanOptunaImport, prefixed with the study; the server's answer for
// CreateStudy (ALREADY_EXISTS when the name is taken: use --as) and for the
// replay (the study then holds the trials replayed before it: stop it and
// import again under another name). INTERNAL when the server's Ask does not
// hand back the enqueued trial with its parameters.
absl::Status ImportOptunaCommand(const CommandContext& ctx, const ImportOptunaOptions& options);

}  // namespace vernier

#endif  // VERNIER_CLIENT_IMPORT_OPTUNA_H_
