// `vernier run FILE`: a one-machine study. Starts vernier-server on a free
// loopback port (SQLite file and log under the data directory) and local
// vernier-worker processes, follows the study to its end as `vernier watch`
// does (client/watch.h: the live view on a terminal, otherwise a plain line
// per trial start, step report and end), then prints the best trial and
// stops them.
//
// Thread-safety: RunStudy is meant to be called once, from main.
#ifndef VERNIER_CLIENT_EMBEDDED_RUN_H_
#define VERNIER_CLIENT_EMBEDDED_RUN_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/commands.h"

namespace vernier {

struct RunOptions {
  std::string study_file;
  int workers = 2;
  std::string data_dir = "vernier-data";
  // vernier-worker and vernier-server to launch; empty: the ones beside this
  // executable.
  std::string worker_binary;
  std::string server_binary;
  // How long vernier-server may take to start serving.
  absl::Duration server_start_timeout = absl::Seconds(30);
  // Intra-op threads per trial; 0: the machine's cores divided by `workers`.
  int threads_per_worker = 0;
  // Passed to each worker as --gpus (e.g. "auto"); empty: CPU slots.
  std::string gpus;
  int trials_per_gpu = 1;
  // True: the live view, redrawn in place (stdout is a terminal). False:
  // plain lines.
  bool live = false;
  // Called once the study runs, with a context for the local server (e.g. to
  // start `vernier dashboard` beside the run: main.cc does); what it returns
  // is kept until the run ends. Unset: nothing.
  std::function<std::shared_ptr<void>(const CommandContext& ctx)> on_running;
  std::ostream* out = nullptr;  // Progress and the result. Borrowed.
  std::ostream* err = nullptr;  // Progress notes. Borrowed.
};

// Runs the study to its end. Errors: the study file's (NOT_FOUND,
// INVALID_ARGUMENT naming the field), ALREADY_EXISTS when the data directory
// holds a different study of the same name, FAILED_PRECONDITION when the study
// stopped (too many failures), the server did not start, or the server or
// all workers died, CANCELLED on Ctrl-C.
// Re-running an identical study file resumes (or just reports) that study.
absl::Status RunStudy(const RunOptions& options);

}  // namespace vernier

#endif  // VERNIER_CLIENT_EMBEDDED_RUN_H_
