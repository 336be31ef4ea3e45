// `vernier ask` and `vernier tell`: ask/tell for users who run trials in their
// own loop (a shell script, a notebook) instead of on vernier-worker.
//
// Thread-safety: as client/commands.h.
#ifndef VERNIER_CLIENT_ASK_TELL_H_
#define VERNIER_CLIENT_ASK_TELL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/commands.h"

namespace vernier {

// `vernier ask STUDY`: prints one line of JSON, {"trial": N, "params": {...}},
// whatever the --format.
absl::Status AskCommand(const CommandContext& ctx, const std::string& study);

// What `vernier tell` sends, as given on the command line.
struct TellArgs {
  std::string study;
  int64_t trial = -1;
  std::string state = "complete";    // complete | pruned | failed
  std::optional<std::string> value;  // --value: a number, inf or -inf
  std::vector<std::string> metrics;  // --metric name=value, repeated
  std::string reason;                // --reason, for failed
};

// `vernier tell STUDY TRIAL ...`: prints the told trial (table or JSON).
// INVALID_ARGUMENT naming the flag for a state, value or metric that does not
// parse, or a --reason without --state failed; the server's answer otherwise.
absl::Status TellCommand(const CommandContext& ctx, const TellArgs& args);

// What `vernier report` sends, as given on the command line.
struct ReportArgs {
  std::string study;
  int64_t trial = -1;
  int64_t step = -1;
  std::optional<std::string> value;  // --value: a number, inf or -inf
  std::vector<std::string> metrics;  // --metric name=value, repeated
};

// `vernier report STUDY TRIAL --step S --value V`: records an intermediate
// value of an asked trial and prints one line of JSON, {"trial": N, "step":
// S, "should_prune": true|false}, whatever the --format. should_prune true
// means the trial is PRUNED: stop it (no tell is needed). INVALID_ARGUMENT
// naming the flag for a value or metric that does not parse.
absl::Status ReportCommand(const CommandContext& ctx, const ReportArgs& args);

}  // namespace vernier

#endif  // VERNIER_CLIENT_ASK_TELL_H_
