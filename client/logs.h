// `vernier logs`: prints the output of a trial attempt as the server keeps it
// (its workers ship it while the trial runs), or follows it while it runs.
//
// Thread-safety: as client/commands.h.
#ifndef VERNIER_CLIENT_LOGS_H_
#define VERNIER_CLIENT_LOGS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "client/commands.h"

namespace vernier {

// What `vernier logs` asks for, as given on the command line.
struct LogsArgs {
  std::string study;
  int64_t trial = -1;
  int32_t attempt = 0;  // --attempt N; 0: the latest.
  bool follow = false;  // -f: until the attempt ends (or Ctrl-C).
};

// `vernier logs STUDY TRIAL [--attempt N] [-f]`: writes the attempt's output
// to ctx.out as it comes, whatever the --format. When the server no longer
// keeps the beginning of the log (it keeps the last --max-log-bytes of each
// attempt), a first line says how many bytes were cut:
//   [vernier: the first 12345 bytes of this log were cut]
// Without `follow` the call has ctx.deadline; with it, none. The server's
// answer otherwise (NOT_FOUND naming the study, trial or attempt;
// FAILED_PRECONDITION from a server that keeps no logs).
absl::Status LogsCommand(const CommandContext& ctx, const LogsArgs& args);

}  // namespace vernier

#endif  // VERNIER_CLIENT_LOGS_H_
