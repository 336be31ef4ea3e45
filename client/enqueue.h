// `vernier study enqueue`: queue trials with given parameters (warm start by
// hand), from flags, from a file of parameter sets, or from the best trials of
// another study.
//
// Thread-safety: as commands.h.
#ifndef VERNIER_CLIENT_ENQUEUE_H_
#define VERNIER_CLIENT_ENQUEUE_H_

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/commands.h"
#include "vernier/v1/study.pb.h"

namespace vernier {

// One trial's given parameters, as sent in EnqueueTrialRequest.
using ParamSet = std::map<std::string, v1::ParameterValue>;

struct EnqueueOptions {
  std::vector<std::string> params;  // --param NAME=VALUE, together one set.
  std::string params_file;          // --params-file: a mapping or a list of them.
  std::string from_study;           // --from OLD ...
  int top = 1;                      // ... --top K: its best K COMPLETE trials.
  std::ostream* err = nullptr;      // Notes (skipped trials); borrowed, may be null.
};

// `NAME=VALUE` as a parameter. VALUE is typed as in a study file (YAML plain
// scalars: 64 int, 0.01 float, adam string; quote it, '64', for a string);
// the server then converts it to the parameter's type (an int for a float
// parameter, "64" for a categorical 64). INVALID_ARGUMENT naming the flag.
absl::StatusOr<std::pair<std::string, v1::ParameterValue>> ParseParamFlag(const std::string& flag);

// The parameter sets of a YAML or JSON file: one mapping, or a list of
// mappings. INVALID_ARGUMENT naming the path and the entry.
absl::StatusOr<std::vector<ParamSet>> ReadParamsFile(const std::string& path);

// Enqueues the sets given by `options` (exactly one of --param, --params-file
// or --from) into `study`, in order, and prints each new trial's number on a
// line (json: the trials). Flags and files: stops at the first set the server
// refuses, with its message (the sets before it stay enqueued). --from: the
// best `top` COMPLETE trials of the other study, keeping only the parameters
// that exist in `study`'s space; a trial the server refuses (a value outside
// the new space) is skipped with a note on `err`.
absl::Status EnqueueCommand(const CommandContext& ctx, const std::string& study,
                            const EnqueueOptions& options);

}  // namespace vernier

#endif  // VERNIER_CLIENT_ENQUEUE_H_
