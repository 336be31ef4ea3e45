// PosixTrialLauncher: the real TrialLauncher. Each trial is a child process
// (fork + execve, never a shell) that leads its own process group, so that
// stopping a trial reaches everything it spawned.
//
// The child gets:
//   stdin  /dev/null
//   stdout <trial_dir>/trial.log (its stderr is appended there too)
//   stderr a pipe; the launcher keeps its last bytes as the failure reason
//   fd 3   a pipe: the report channel (VERNIER_REPORT_FD=3)
//   no other descriptor of the worker, default signal dispositions, an empty
//   signal mask, and SIGKILL when the worker dies (PR_SET_PDEATHSIG; this
//   follows the thread that called Start, so call it from a thread that
//   outlives the trial).
// and the environment of the worker, then TrialSpec::env, then the protocol's
// variables (VERNIER_PARAMS_FILE, VERNIER_REPORT_FD, VERNIER_STUDY,
// VERNIER_TRIAL, VERNIER_TRIAL_DIR).
//
// Each process has one monitor thread that reads both pipes, enforces the time
// limit and the stop grace, and reaps the child. When the child exits, what is
// left of its process group is killed. Report lines longer than
// Options::max_report_line_bytes are not buffered: they count as a protocol
// error. Intermediate reports wait in a bounded queue; when it is full the
// launcher stops reading the report channel until the consumer catches up, so
// a fast trial blocks instead of growing memory.
//
// Thread-safety: see trial_launcher.h; Start() may be called concurrently.
#ifndef VERNIER_WORKER_POSIX_TRIAL_LAUNCHER_H_
#define VERNIER_WORKER_POSIX_TRIAL_LAUNCHER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/trial_launcher.h"

namespace vernier::worker {

class PosixTrialLauncher : public TrialLauncher {
 public:
  struct Options {
    // Longest accepted report line, in bytes (without the newline).
    size_t max_report_line_bytes = 64 * 1024;
    // How much of the end of stderr is kept for TrialExit::stderr_tail.
    size_t stderr_tail_bytes = 4 * 1024;
    // Intermediate reports buffered before the launcher stops reading.
    size_t report_queue_capacity = 64;
  };

  PosixTrialLauncher() : PosixTrialLauncher(Options()) {}
  explicit PosixTrialLauncher(Options options) : options_(options) {}

  absl::StatusOr<std::unique_ptr<TrialProcess>> Start(const TrialSpec& spec) override;

 private:
  const Options options_;
};

// Returns the path execve should run for `program`: `program` itself when it
// contains a '/', else the first executable regular file named `program` in
// $PATH. NOT_FOUND when there is none.
absl::StatusOr<std::string> ResolveProgram(const std::string& program);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_POSIX_TRIAL_LAUNCHER_H_
