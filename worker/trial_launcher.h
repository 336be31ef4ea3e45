// The trial launcher: starts the program of one trial as a child process that
// speaks the trial protocol (common/trial_protocol.h), delivers its report
// lines, stops it on request or when its time limit passes, and says how it
// ended. Modelled on ninja's CommandRunner: the pull loop depends on this
// interface only, so its tests can use a fake; PosixTrialLauncher
// (worker/posix_trial_launcher.h) is the real one.
//
// Thread-safety: a TrialLauncher may be used from several threads at once. A
// TrialProcess is used by one consumer thread (NextReport, Wait), except
// Stop(), which any thread may call at any time.
#ifndef VERNIER_WORKER_TRIAL_LAUNCHER_H_
#define VERNIER_WORKER_TRIAL_LAUNCHER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/trial_protocol.h"
#include "worker/slots.h"

namespace vernier::worker {

// Everything needed to start one trial.
struct TrialSpec {
  // The program and its arguments; argv[0] is looked up in PATH when it has no
  // '/'. Never run through a shell.
  std::vector<std::string> argv;
  std::string study;
  int64_t trial_number = 0;
  // The JSON object written to <trial_dir>/params.json (VERNIER_PARAMS_FILE).
  std::string params_json;
  // A private directory for this trial (see MakeTrialDir); it must exist. The
  // launcher writes params.json and trial.log (stdout, then stderr) there.
  std::string trial_dir;
  // The slot's variables (device pinning, threads), set on top of the
  // worker's own environment and under the protocol's variables.
  std::vector<EnvVar> env;
  // Wall-clock limit; absl::ZeroDuration() or less means none.
  absl::Duration time_limit = absl::ZeroDuration();
  // Time between SIGTERM and SIGKILL when stopping the trial.
  absl::Duration stop_grace = absl::Seconds(5);
};

// How a trial process ended.
struct TrialExit {
  // Exactly one of these is true once the process has been reaped.
  bool exited = false;    // Exited normally with `exit_code`.
  bool signaled = false;  // Killed by `signal`.
  int exit_code = 0;
  int signal = 0;
  // Stop() was called before the process ended.
  bool stop_requested = false;
  // The time limit passed and the launcher stopped the process.
  bool timed_out = false;
  // Stopping needed SIGKILL: the grace period passed first.
  bool killed_after_grace = false;
  // Set when the report channel carried something that is not a report (the
  // parse error, or a line over the size limit); the launcher then stopped the
  // process. Reports after it are ignored.
  absl::Status protocol_error;
  // The metrics of the last final report, if there was one.
  std::optional<MetricMap> final_metrics;
  // The last few KB of the process's stderr.
  std::string stderr_tail;
};

// A running (or finished) trial process. Destroying it kills the process
// group at once if it still runs and reaps it: no zombie is left behind.
class TrialProcess {
 public:
  virtual ~TrialProcess() = default;

  // Blocks until the next intermediate report or the end of the process.
  // Returns the report, or nullopt once the process has ended and every report
  // has been delivered (final reports are not delivered here: see
  // TrialExit::final_metrics).
  virtual std::optional<TrialReport> NextReport() = 0;

  // Asks the process group to stop: SIGTERM now, SIGKILL after the spec's
  // stop_grace if it is still running. Returns at once; idempotent; a no-op
  // once the process has ended.
  virtual void Stop() = 0;

  // Blocks until the process has ended and been reaped, and returns how. The
  // reports not yet taken with NextReport() are discarded.
  virtual TrialExit Wait() = 0;
};

class TrialLauncher {
 public:
  virtual ~TrialLauncher() = default;

  // Starts the trial described by `spec`. Returns NOT_FOUND when argv[0]
  // cannot be found, INVALID_ARGUMENT when argv is empty, and another error
  // when the params or log file cannot be written or the program cannot be
  // executed (the message says why). No process is left running on error.
  virtual absl::StatusOr<std::unique_ptr<TrialProcess>> Start(const TrialSpec& spec) = 0;
};

// Creates a fresh private (0700) directory for one attempt of one trial:
// <work_dir>/<study>/trial-<number>-attempt-<attempt>[-<k>], making the parents
// as needed; characters of the study name that are unsafe in a path are
// replaced. Returns the path, or the errno-based error of mkdir.
absl::StatusOr<std::string> MakeTrialDir(const std::string& work_dir, const std::string& study,
                                         int64_t trial_number, int attempt);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_TRIAL_LAUNCHER_H_
