// Fakes of the trial launcher (worker/trial_launcher.h) for the worker's
// tests, after ninja's FakeCommandRunner: nothing is executed. A test scripts
// how each started trial behaves (what it reports, how and when it ends,
// whether Start() fails), drives a running one from its own thread, and sees
// what the worker asked (the specs it started, whether it asked to stop).
//
// A FakeTrialProcess behaves as TrialLauncher's contract says: NextReport()
// blocks until a report or the end, Stop() ends the process (as SIGTERM
// would: signaled, stop_requested) unless the script says it ignores it, and
// Wait() blocks until the end. A scripted exit happens at once, as for a
// program that wrote everything and ended before anyone read its reports: the
// reports stay buffered and a later Stop() finds nothing to stop.
//
// Thread-safety: thread-safe. Blocking waits give up after a generous real
// time so that a broken worker fails its test instead of hanging it.
#ifndef VERNIER_TESTS_WORKER_FAKE_TRIAL_LAUNCHER_H_
#define VERNIER_TESTS_WORKER_FAKE_TRIAL_LAUNCHER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/trial_protocol.h"
#include "worker/trial_launcher.h"

namespace vernier::worker::testing {

// Bounds every blocking wait of the fakes; never a timing check.
inline constexpr absl::Duration kFakePatience = absl::Seconds(60);

// How one fake trial behaves.
struct FakeTrialScript {
  // Not OK: Start() fails with it and no process exists.
  absl::Status start_error;
  // Delivered in order by NextReport().
  std::vector<TrialReport> reports;
  // Set: the process has ended this way as soon as it starts. Unset: it runs
  // until Stop() (or until the test calls Exit()).
  std::optional<TrialExit> exit;
  // Stop() is recorded but does not end the process: a trial slow to stop,
  // which the test ends with Exit().
  bool ignore_stop = false;
};

// An intermediate report of `step` with one metric, "loss" = `loss`.
TrialReport Report(int64_t step, double loss = 1.0);
// A normal exit with a final result.
TrialExit FinishedExit(MetricMap final_metrics);
// A normal exit with code `code` and no final result.
TrialExit ExitCode(int code, std::string stderr_tail = "");

class FakeTrialProcess : public TrialProcess {
 public:
  FakeTrialProcess(const TrialSpec& spec, const FakeTrialScript& script);

  // TrialProcess.
  std::optional<TrialReport> NextReport() override;
  void Stop() override;
  TrialExit Wait() override;

  // The test's side. Each is a no-op once the process has ended.
  // Writes one more report.
  void AddReport(TrialReport report);
  // Ends the process this way (stop_requested is set by the fake: whether
  // Stop() came first).
  void Exit(TrialExit exit);

  // What the worker asked.
  const TrialSpec& spec() const { return spec_; }
  bool stop_requested();
  // Blocks until Stop() has been called; false after kFakePatience.
  bool AwaitStopRequested();
  // Blocks until every report written so far has been taken and the
  // consumer waits for more (or for the end); false after kFakePatience.
  bool AwaitReportsTaken();
  bool ended();

 private:
  void EndLocked(TrialExit exit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TrialSpec spec_;
  const bool ignore_stop_;

  absl::Mutex mu_;
  std::deque<TrialReport> reports_ ABSL_GUARDED_BY(mu_);
  std::optional<TrialExit> exit_ ABSL_GUARDED_BY(mu_);
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  // The consumer is blocked in NextReport().
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
};

class FakeTrialLauncher : public TrialLauncher {
 public:
  // The next Start() without a script of its own follows `script`; Start()
  // calls beyond the scripts start a process that reports nothing and runs
  // until stopped.
  void AddScript(FakeTrialScript script);

  // Called by Start(), before it returns, with the 0-based number of the
  // call: lets a test act while the worker is starting a trial. Set it before
  // the worker runs.
  void set_on_start(std::function<void(size_t start)> on_start);

  absl::StatusOr<std::unique_ptr<TrialProcess>> Start(const TrialSpec& spec) override;

  // Blocks until the `index`-th (0-based) Start() has returned, and returns
  // its process: null when that start failed, or after kFakePatience. The
  // process lives as long as the launcher.
  FakeTrialProcess* AwaitProcess(size_t index);
  // Start() calls so far, failed ones included.
  size_t starts();
  // The spec of the `index`-th Start(). REQUIRES: index < starts().
  TrialSpec spec(size_t index);

 private:
  absl::Mutex mu_;
  std::deque<FakeTrialScript> scripts_ ABSL_GUARDED_BY(mu_);
  std::function<void(size_t)> on_start_ ABSL_GUARDED_BY(mu_);
  // One per Start() call, in call order.
  std::vector<TrialSpec> specs_ ABSL_GUARDED_BY(mu_);
  // By call number, once Start() returns; null for a failed start.
  std::map<size_t, std::shared_ptr<FakeTrialProcess>> processes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier::worker::testing

#endif  // VERNIER_TESTS_WORKER_FAKE_TRIAL_LAUNCHER_H_
