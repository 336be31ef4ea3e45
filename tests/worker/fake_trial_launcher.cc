#include "tests/worker/fake_trial_launcher.h"

#include <signal.h>

#include <utility>

#include "gtest/gtest.h"

namespace vernier::worker::testing {
namespace {

TrialExit Signaled(int signal) {
  TrialExit exit;
  exit.signaled = true;
  exit.signal = signal;
  return exit;
}

// What Start() hands the worker: forwards to the shared process, which the
// launcher keeps for the test. Destroying it kills a process still running,
// as TrialProcess's contract says.
class ProcessHandle : public TrialProcess {
 public:
  explicit ProcessHandle(std::shared_ptr<FakeTrialProcess> process)
      : process_(std::move(process)) {}
  ~ProcessHandle() override { process_->Exit(Signaled(SIGKILL)); }

  std::optional<TrialReport> NextReport() override { return process_->NextReport(); }
  void Stop() override { process_->Stop(); }
  TrialExit Wait() override { return process_->Wait(); }

 private:
  const std::shared_ptr<FakeTrialProcess> process_;
};

}  // namespace

TrialReport Report(int64_t step, double loss) {
  TrialReport report;
  report.step = step;
  report.metrics["loss"] = loss;
  return report;
}

TrialExit FinishedExit(MetricMap final_metrics) {
  TrialExit exit;
  exit.exited = true;
  exit.final_metrics = std::move(final_metrics);
  return exit;
}

TrialExit ExitCode(int code, std::string stderr_tail) {
  TrialExit exit;
  exit.exited = true;
  exit.exit_code = code;
  exit.stderr_tail = std::move(stderr_tail);
  return exit;
}

FakeTrialProcess::FakeTrialProcess(const TrialSpec& spec, const FakeTrialScript& script)
    : spec_(spec), ignore_stop_(script.ignore_stop) {
  absl::MutexLock lock(&mu_);
  reports_.assign(script.reports.begin(), script.reports.end());
  if (script.exit.has_value()) EndLocked(*script.exit);
}

std::optional<TrialReport> FakeTrialProcess::NextReport() {
  absl::MutexLock lock(&mu_);
  reading_ = true;
  const bool ready =
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](FakeTrialProcess* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                 return !p->reports_.empty() || p->exit_.has_value();
                               },
                               this),
                           kFakePatience);
  reading_ = false;
  if (!ready) ADD_FAILURE() << "the fake trial neither reported nor ended";
  if (reports_.empty()) return std::nullopt;
  TrialReport report = std::move(reports_.front());
  reports_.pop_front();
  return report;
}

void FakeTrialProcess::Stop() {
  absl::MutexLock lock(&mu_);
  if (exit_.has_value()) return;
  stop_requested_ = true;
  if (!ignore_stop_) EndLocked(Signaled(SIGTERM));
}

TrialExit FakeTrialProcess::Wait() {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(
                                +[](FakeTrialProcess* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  return p->exit_.has_value();
                                },
                                this),
                            kFakePatience)) {
    ADD_FAILURE() << "the fake trial never ended";
    EndLocked(Signaled(SIGKILL));
  }
  reports_.clear();
  return *exit_;
}

void FakeTrialProcess::AddReport(TrialReport report) {
  absl::MutexLock lock(&mu_);
  if (!exit_.has_value()) reports_.push_back(std::move(report));
}

void FakeTrialProcess::Exit(TrialExit exit) {
  absl::MutexLock lock(&mu_);
  EndLocked(std::move(exit));
}

void FakeTrialProcess::EndLocked(TrialExit exit) {
  if (exit_.has_value()) return;
  exit.stop_requested = stop_requested_;
  exit_ = std::move(exit);
}

bool FakeTrialProcess::stop_requested() {
  absl::MutexLock lock(&mu_);
  return stop_requested_;
}

bool FakeTrialProcess::AwaitStopRequested() {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stop_requested_), kFakePatience);
}

bool FakeTrialProcess::AwaitReportsTaken() {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](FakeTrialProcess* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    return p->reports_.empty() && p->reading_;
                                  },
                                  this),
                              kFakePatience);
}

bool FakeTrialProcess::ended() {
  absl::MutexLock lock(&mu_);
  return exit_.has_value();
}

void FakeTrialLauncher::AddScript(FakeTrialScript script) {
  absl::MutexLock lock(&mu_);
  scripts_.push_back(std::move(script));
}

void FakeTrialLauncher::set_on_start(std::function<void(size_t start)> on_start) {
  absl::MutexLock lock(&mu_);
  on_start_ = std::move(on_start);
}

absl::StatusOr<std::unique_ptr<TrialProcess>> FakeTrialLauncher::Start(const TrialSpec& spec) {
  size_t index = 0;
  FakeTrialScript script;
  std::function<void(size_t)> on_start;
  {
    absl::MutexLock lock(&mu_);
    index = specs_.size();
    specs_.push_back(spec);
    if (!scripts_.empty()) {
      script = std::move(scripts_.front());
      scripts_.pop_front();
    }
    on_start = on_start_;
  }
  if (on_start) on_start(index);
  std::shared_ptr<FakeTrialProcess> process;
  if (script.start_error.ok()) process = std::make_shared<FakeTrialProcess>(spec, script);
  {
    absl::MutexLock lock(&mu_);
    processes_[index] = process;
  }
  if (process == nullptr) return script.start_error;
  return std::unique_ptr<TrialProcess>(std::make_unique<ProcessHandle>(process));
}

FakeTrialProcess* FakeTrialLauncher::AwaitProcess(size_t index) {
  struct Args {
    FakeTrialLauncher* launcher;
    size_t index;
  };
  Args args{this, index};
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(
                                +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  return a->launcher->processes_.count(a->index) > 0;
                                },
                                &args),
                            kFakePatience)) {
    return nullptr;
  }
  return processes_[index].get();
}

size_t FakeTrialLauncher::starts() {
  absl::MutexLock lock(&mu_);
  return specs_.size();
}

TrialSpec FakeTrialLauncher::spec(size_t index) {
  absl::MutexLock lock(&mu_);
  return specs_.at(index);
}

}  // namespace vernier::worker::testing
