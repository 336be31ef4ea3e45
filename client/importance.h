// `vernier importance STUDY`: how much of the objective's variance each
// parameter explains, by fANOVA over a random forest (server/logic/fanova.h,
// Optuna's default importance evaluator), computed here in the CLI from the
// study's COMPLETE trials, so the server needs no new RPC.
//
// Thread-safety: as client/commands.h.
#ifndef VERNIER_CLIENT_IMPORTANCE_H_
#define VERNIER_CLIENT_IMPORTANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/commands.h"
#include "server/logic/even_spacing.h"
#include "server/logic/fanova.h"
#include "vernier/v1/study.pb.h"

namespace vernier {

// What `vernier importance` was given on the command line.
struct ImportanceArgs {
  std::string study;
  std::vector<std::string> params;  // --params a,b; empty: every parameter in every trial.
  uint64_t seed = 0;                // --seed: the forest's.
  std::string objective;            // --objective METRIC; empty: the first objective.
  // > 0: fit the forest to at most this many COMPLETE trials, evenly spaced
  // by number (the dashboard's cap: fANOVA takes ~47 s over 100,000 trials);
  // 0: every one.
  int64_t max_trials = 0;
};

// The index in `study`'s objectives of `metric` (empty: 0). INVALID_ARGUMENT
// naming --objective and the study's objectives for any other metric.
absl::StatusOr<int> ObjectiveIndex(const v1::Study& study, const std::string& metric);

// At most `max_trials` (> 0) of `trials`, evenly spaced (EvenSpacing), in
// order; all of them when there are no more than that.
std::vector<v1::Trial> EvenlySpaced(std::vector<v1::Trial> trials, int64_t max_trials);

// The trials as fANOVA reads them: each COMPLETE trial's parameters and its
// value of objective `objective` (NaN when it has none, so fANOVA leaves it
// out). Refit trials are left out: they ran on other data.
std::vector<ImportanceTrial> ImportanceTrials(const std::vector<v1::Trial>& trials, int objective);

// `result` as a table (PARAM, IMPORTANCE, and a bar) with a line naming the
// trials used, or as one JSON object {"study", "objective", "seed",
// "trials_used", "importances": [{"param", "importance"}, ...]} in the
// result's order (descending).
std::string FormatImportances(const std::string& study, const std::string& metric, uint64_t seed,
                              const FanovaResult& result, OutputFormat format);

// The importances of a study's parameters, for the metric of the objective
// they were computed for.
struct StudyImportances {
  std::string metric;
  FanovaResult result;
};

// Fetches the study and its COMPLETE trials (without their intermediate
// values, page by page) and computes their importances. Errors as
// ImportanceCommand's.
absl::StatusOr<StudyImportances> ComputeImportances(const CommandContext& ctx,
                                                    const ImportanceArgs& args);

// ComputeImportances, printed. The server's errors as
// FromGrpc gives them; INVALID_ARGUMENT naming --objective or --params for a
// metric or parameter the study does not have; FAILED_PRECONDITION when the
// study has fewer than 2 COMPLETE trials with a value, or fANOVA finds no
// variance to share out (FanovaImportances).
absl::Status ImportanceCommand(const CommandContext& ctx, const ImportanceArgs& args);

}  // namespace vernier

#endif  // VERNIER_CLIENT_IMPORTANCE_H_
