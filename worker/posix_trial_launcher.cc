#include "worker/posix_trial_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/trial_protocol.h"

extern char** environ;

namespace vernier::worker {
namespace {

using Clock = std::chrono::steady_clock;

// The report channel's descriptor number in the child (VERNIER_REPORT_FD).
constexpr int kReportFd = 3;
// Descriptors handed to the child are first moved at or above this number, so
// that dup2 onto 0..3 in the child cannot overwrite one another.
constexpr int kHighFd = 10;
// Without a pidfd the monitor checks for the child's exit this often.
constexpr auto kExitPollInterval = std::chrono::milliseconds(50);
// The monitor reads at most this many chunks from one pipe per wake-up, so
// that a child flooding a pipe cannot starve the timers...
constexpr int kMaxChunksPerWakeup = 16;
// ...and at most this many when draining after the exit, so that an escaped
// descendant that keeps the pipe open and writing cannot hold it forever.
constexpr int kMaxChunksWhenDraining = 64;
constexpr size_t kChunkBytes = 64 * 1024;
// Durations beyond this count as "no limit" (and cannot overflow the clock).
constexpr absl::Duration kForever = absl::Hours(24 * 365 * 100);

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Returns a close-on-exec duplicate of `fd` numbered kHighFd or above.
absl::StatusOr<UniqueFd> DupHigh(const UniqueFd& fd) {
  const int high = fcntl(fd.get(), F_DUPFD_CLOEXEC, kHighFd);
  if (high < 0) return ErrnoError("fcntl(F_DUPFD_CLOEXEC)", errno);
  return UniqueFd(high);
}

absl::Status SetNonBlocking(const UniqueFd& fd) {
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoError("fcntl(O_NONBLOCK)", errno);
  }
  return absl::OkStatus();
}

// Writes all of `data`; returns false on an error other than EINTR.
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(absl::StrCat("cannot create ", path), errno);
  if (!WriteAll(fd.get(), contents)) return ErrnoError(absl::StrCat("cannot write ", path), errno);
  return absl::OkStatus();
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (!dir.empty() && dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

// The child's environment: the worker's, then the slot's, then the protocol's
// variables; a later definition of a name replaces an earlier one.
std::vector<std::string> BuildEnvironment(const TrialSpec& spec, const std::string& params_path) {
  std::map<std::string, std::string> overrides;
  for (const EnvVar& var : spec.env) overrides[var.first] = var.second;
  overrides[kEnvParamsFile] = params_path;
  overrides[kEnvReportFd] = absl::StrCat(kReportFd);
  overrides[kEnvStudy] = spec.study;
  overrides[kEnvTrial] = absl::StrCat(spec.trial_number);
  overrides[kEnvTrialDir] = spec.trial_dir;
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    const absl::string_view name = text.substr(0, text.find('='));
    if (overrides.count(std::string(name)) == 0) env.emplace_back(text);
  }
  for (const auto& [name, value] : overrides) env.push_back(absl::StrCat(name, "=", value));
  return env;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// What the child needs between fork and exec, prepared by the parent so that
// the child only makes async-signal-safe calls.
struct ChildSetup {
  pid_t parent = 0;
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int report_fd = -1;
  // Close-on-exec pipe: receives errno when exec fails.
  int status_fd = -1;
  int max_fd = 0;
  sigset_t empty_mask;
};

[[noreturn]] void ChildFail(int status_fd) {
  const int err = errno;
  (void)!write(status_fd, &err, sizeof(err));
  _exit(127);
}

// Closes every descriptor >= `low` except `keep` (which is > low).
void CloseFrom(int low, int keep, int max_fd) {
  if (close_range(low, keep - 1, 0) == 0 && close_range(keep + 1, ~0U, 0) == 0) return;
  for (int fd = low; fd < max_fd; ++fd) {
    if (fd != keep) close(fd);
  }
}

[[noreturn]] void RunChild(const ChildSetup& s) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != s.parent) _exit(127);  // The worker died before prctl.
  sigprocmask(SIG_SETMASK, &s.empty_mask, nullptr);
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  if (dup2(s.stdin_fd, 0) < 0 || dup2(s.stdout_fd, 1) < 0 || dup2(s.stderr_fd, 2) < 0 ||
      dup2(s.report_fd, kReportFd) < 0) {
    ChildFail(s.status_fd);
  }
  CloseFrom(kReportFd + 1, s.status_fd, s.max_fd);
  execve(s.path, s.argv, s.envp);
  ChildFail(s.status_fd);
}

int MaxFd() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 65536;
  return static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 1 << 20));
}

// Sends `sig` to the child's process group, or to the child alone when the
// group is gone (the child may have moved to a group of its own).
void SignalGroup(pid_t pid, int sig) {
  if (killpg(pid, sig) != 0 || sig == SIGKILL) kill(pid, sig);
}

class PosixTrialProcess : public TrialProcess {
 public:
  struct Fds {
    UniqueFd report;       // Read end of the child's fd 3; non-blocking.
    UniqueFd stderr_pipe;  // Read end of the child's stderr; non-blocking.
    UniqueFd log;          // trial.log, O_APPEND.
    UniqueFd pidfd;        // May be invalid (old kernels).
    Pipe wake;             // Both ends non-blocking.
  };

  PosixTrialProcess(pid_t pid, Fds fds, const TrialSpec& spec,
                    const PosixTrialLauncher::Options& options)
      : pid_(pid),
        time_limit_(spec.time_limit),
        grace_(spec.stop_grace),
        options_(options),
        fds_(std::move(fds)),
        chunk_(kChunkBytes) {
    monitor_ = std::thread([this] { Monitor(); });
  }

  ~PosixTrialProcess() override {
    {
      absl::MutexLock lock(&mu_);
      if (!finished_) kill_now_ = true;
    }
    Wake();
    monitor_.join();
  }

  std::optional<TrialReport> NextReport() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &PosixTrialProcess::ReportReadyOrFinished));
    if (queue_.empty()) return std::nullopt;
    const bool was_full = queue_.size() >= options_.report_queue_capacity;
    TrialReport report = std::move(queue_.front());
    queue_.pop_front();
    if (was_full) Wake();  // The monitor may resume reading the channel.
    return report;
  }

  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || stop_asked_) return;
      stop_asked_ = true;
    }
    Wake();
  }

  TrialExit Wait() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&finished_));
    queue_.clear();
    return exit_;
  }

 private:
  enum class StopCause { kNone, kExternal, kTimeLimit, kProtocol };

  bool ReportReadyOrFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || finished_;
  }

  void Wake() {
    const char byte = 1;
    (void)!write(fds_.wake.write.get(), &byte, 1);  // EAGAIN: a wake-up is pending anyway.
  }

  void Monitor() {
    if (time_limit_ > absl::ZeroDuration() && time_limit_ < kForever) {
      limit_deadline_ = Clock::now() + absl::ToChronoNanoseconds(time_limit_);
    }
    while (!ChildExited()) {
      CheckTimers(Clock::now());
      PollOnce();
    }
    Finish();
  }

  // True once the child has exited; it stays a zombie (WNOWAIT) so that its
  // process group id cannot be reused before Finish() kills the group.
  bool ChildExited() {
    siginfo_t info = {};
    if (waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      return errno == ECHILD;  // Reaped by someone else: nothing to wait for.
    }
    return info.si_pid == pid_;
  }

  void CheckTimers(Clock::time_point now) {
    if (limit_deadline_.has_value() && now >= *limit_deadline_) {
      limit_deadline_.reset();
      BeginStop(StopCause::kTimeLimit);
    }
    if (kill_deadline_.has_value() && now >= *kill_deadline_) {
      kill_deadline_.reset();
      killed_after_grace_ = true;
      SignalGroup(pid_, SIGKILL);
    }
  }

  // SIGTERM now, SIGKILL when the grace has passed. Only the first cause
  // counts.
  void BeginStop(StopCause cause) {
    if (stop_cause_ != StopCause::kNone) return;
    stop_cause_ = cause;
    limit_deadline_.reset();
    SignalGroup(pid_, SIGTERM);
    if (grace_ <= absl::ZeroDuration()) {
      SignalGroup(pid_, SIGKILL);
    } else {
      kill_deadline_ = Clock::now() + absl::ToChronoNanoseconds(std::min(grace_, kForever));
    }
  }

  int PollTimeoutMs() const {
    std::optional<Clock::time_point> next;
    for (const auto& deadline : {limit_deadline_, kill_deadline_}) {
      if (deadline.has_value() && (!next.has_value() || *deadline < *next)) next = deadline;
    }
    int64_t ms = -1;
    if (next.has_value()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now());
      ms = std::max<int64_t>(0, left.count());
    }
    if (!fds_.pidfd.valid()) {
      const int64_t tick = kExitPollInterval.count();
      ms = ms < 0 ? tick : std::min(ms, tick);
    }
    return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
  }

  bool QueueFull() {
    absl::MutexLock lock(&mu_);
    return queue_.size() >= options_.report_queue_capacity;
  }

  void PollOnce() {
    pollfd pfds[4];
    int n = 0;
    const auto add = [&](const UniqueFd& fd) {
      pfds[n] = {fd.get(), POLLIN, 0};
      return n++;
    };
    const int wake = add(fds_.wake.read);
    const int report = fds_.report.valid() && !QueueFull() ? add(fds_.report) : -1;
    const int err = fds_.stderr_pipe.valid() ? add(fds_.stderr_pipe) : -1;
    if (fds_.pidfd.valid()) add(fds_.pidfd);
    if (poll(pfds, n, PollTimeoutMs()) <= 0) return;  // Timeout or EINTR.
    if (pfds[wake].revents != 0) HandleWake();
    if (report >= 0 && pfds[report].revents != 0) ReadReports(/*drain=*/false);
    if (err >= 0 && pfds[err].revents != 0) ReadStderr(/*drain=*/false);
  }

  void HandleWake() {
    char buf[64];
    while (read(fds_.wake.read.get(), buf, sizeof(buf)) > 0) {
    }
    bool stop = false;
    bool kill_now = false;
    {
      absl::MutexLock lock(&mu_);
      stop = stop_asked_;
      kill_now = kill_now_;
    }
    if (stop) BeginStop(StopCause::kExternal);
    if (kill_now) SignalGroup(pid_, SIGKILL);
  }

  // Reads what the pipe holds, up to a cap, passing it to `sink`, which
  // returns false to stop reading for now. Returns false at end of file or on
  // a read error.
  template <typename Sink>
  bool ReadPipe(const UniqueFd& fd, bool drain, Sink sink) {
    const int max_chunks = drain ? kMaxChunksWhenDraining : kMaxChunksPerWakeup;
    for (int chunks = 0; chunks < max_chunks; ++chunks) {
      const ssize_t n = read(fd.get(), chunk_.data(), chunk_.size());
      if (n > 0) {
        if (!sink(absl::string_view(chunk_.data(), static_cast<size_t>(n)))) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && errno == EAGAIN;
    }
    return true;
  }

  void ReadReports(bool drain) {
    const bool open = ReadPipe(fds_.report, drain, [&](absl::string_view data) {
      OnReportData(data);
      return drain || !QueueFull();
    });
    if (!open) {
      fds_.report.reset();
      FlushPartialLine();
    }
  }

  void ReadStderr(bool drain) {
    const bool open = ReadPipe(fds_.stderr_pipe, drain, [&](absl::string_view data) {
      WriteAll(fds_.log.get(), data);  // Best effort: a full disk must not fail the trial.
      stderr_tail_.append(data.data(), data.size());
      if (stderr_tail_.size() > 2 * options_.stderr_tail_bytes) {
        stderr_tail_.erase(0, stderr_tail_.size() - options_.stderr_tail_bytes);
      }
      return true;
    });
    if (!open) fds_.stderr_pipe.reset();
  }

  // Splits the report channel's bytes into lines without ever buffering more
  // than max_report_line_bytes.
  void OnReportData(absl::string_view data) {
    while (!data.empty()) {
      const size_t newline = data.find('\n');
      const absl::string_view piece = data.substr(0, newline);
      if (!discarding_line_) {
        if (line_.size() + piece.size() > options_.max_report_line_bytes) {
          ProtocolError(absl::InvalidArgumentError(
              absl::StrCat("bad report line (longer than ", options_.max_report_line_bytes,
                           " bytes): ", line_.substr(0, 80), piece.substr(0, 80), "...")));
          discarding_line_ = true;
          line_.clear();
        } else {
          line_.append(piece.data(), piece.size());
        }
      }
      if (newline == absl::string_view::npos) return;
      if (!discarding_line_) HandleLine(line_);
      line_.clear();
      discarding_line_ = false;
      data.remove_prefix(newline + 1);
    }
  }

  // A last line without a newline still counts when the channel closes.
  void FlushPartialLine() {
    if (!discarding_line_ && !line_.empty()) HandleLine(line_);
    line_.clear();
    discarding_line_ = false;
  }

  void HandleLine(absl::string_view line) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || !protocol_error_.ok()) return;
    absl::StatusOr<TrialReport> report = ParseReportLine(line);
    if (!report.ok()) {
      ProtocolError(report.status());
      return;
    }
    if (report->is_final) {
      final_metrics_ = std::move(report->metrics);
      return;
    }
    absl::MutexLock lock(&mu_);
    queue_.push_back(*std::move(report));
  }

  void ProtocolError(absl::Status status) {
    if (protocol_error_.ok()) protocol_error_ = std::move(status);
    BeginStop(StopCause::kProtocol);
  }

  // The child has exited: kill what is left of its group, take what it wrote,
  // reap it and publish how it ended.
  void Finish() {
    SignalGroup(pid_, SIGKILL);
    if (fds_.report.valid()) ReadReports(/*drain=*/true);
    FlushPartialLine();
    if (fds_.stderr_pipe.valid()) ReadStderr(/*drain=*/true);
    int status = 0;
    pid_t reaped = -1;
    do {
      reaped = waitpid(pid_, &status, 0);
    } while (reaped < 0 && errno == EINTR);
    TrialExit exit;
    if (reaped == pid_ && WIFEXITED(status)) {
      exit.exited = true;
      exit.exit_code = WEXITSTATUS(status);
    } else if (reaped == pid_ && WIFSIGNALED(status)) {
      exit.signaled = true;
      exit.signal = WTERMSIG(status);
    }
    exit.stop_requested = stop_cause_ == StopCause::kExternal;
    exit.timed_out = stop_cause_ == StopCause::kTimeLimit;
    exit.killed_after_grace = killed_after_grace_;
    exit.protocol_error = protocol_error_;
    exit.final_metrics = final_metrics_;
    const size_t keep = std::min(stderr_tail_.size(), options_.stderr_tail_bytes);
    exit.stderr_tail = stderr_tail_.substr(stderr_tail_.size() - keep);
    fds_.report.reset();
    fds_.stderr_pipe.reset();
    fds_.log.reset();
    fds_.pidfd.reset();
    absl::MutexLock lock(&mu_);
    exit_ = std::move(exit);
    finished_ = true;
  }

  // Constant after construction.
  const pid_t pid_;
  const absl::Duration time_limit_;
  const absl::Duration grace_;
  const PosixTrialLauncher::Options options_;

  // Used by the monitor thread only (and fds_.wake.write by any thread).
  Fds fds_;
  std::vector<char> chunk_;
  std::string line_;
  bool discarding_line_ = false;
  std::string stderr_tail_;
  StopCause stop_cause_ = StopCause::kNone;
  std::optional<Clock::time_point> limit_deadline_;
  std::optional<Clock::time_point> kill_deadline_;
  bool killed_after_grace_ = false;
  absl::Status protocol_error_;
  std::optional<MetricMap> final_metrics_;

  absl::Mutex mu_;
  std::deque<TrialReport> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_asked_ ABSL_GUARDED_BY(mu_) = false;
  bool kill_now_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  TrialExit exit_ ABSL_GUARDED_BY(mu_);

  // Started last, in the constructor; joined in the destructor.
  std::thread monitor_;
};

absl::StatusOr<UniqueFd> OpenLog(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError(absl::StrCat("cannot open ", path), errno);
  return fd;
}

// Reads the exec status pipe: returns 0 when exec succeeded (end of file),
// else the child's errno.
int ReadExecStatus(const UniqueFd& fd) {
  int err = 0;
  ssize_t n = -1;
  do {
    n = read(fd.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(err)) ? err : 0;
}

std::string SafePathComponent(absl::string_view name) {
  std::string out;
  for (char c : name) {
    const bool safe =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out += safe ? c : '_';
  }
  if (out.empty() || out[0] == '.') out.insert(0, "_");
  return out;
}

absl::Status MakeDirs(const std::string& path) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    absl::StrAppend(&prefix, part, "/");
    if (part.empty()) continue;
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError(absl::StrCat("cannot create ", prefix), errno);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path_env = getenv("PATH");
  const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    const std::string candidate = JoinPath(dir.empty() ? "." : dir, program);
    struct stat info = {};
    if (stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("program not found in PATH: ", program));
}

absl::StatusOr<std::string> MakeTrialDir(const std::string& work_dir, const std::string& study,
                                         int64_t trial_number, int attempt) {
  const std::string parent = JoinPath(work_dir, SafePathComponent(study));
  RETURN_IF_ERROR(MakeDirs(parent));
  const std::string base =
      JoinPath(parent, absl::StrCat("trial-", trial_number, "-attempt-", attempt));
  for (int k = 1; k < 1000; ++k) {
    std::string dir = k == 1 ? base : absl::StrCat(base, "-", k);
    if (mkdir(dir.c_str(), 0700) == 0) return dir;
    if (errno != EEXIST) return ErrnoError(absl::StrCat("cannot create ", dir), errno);
  }
  return absl::AlreadyExistsError(absl::StrCat("too many directories named ", base, "-*"));
}

absl::StatusOr<std::unique_ptr<TrialProcess>> PosixTrialLauncher::Start(const TrialSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("the trial's command is empty");
  ASSIGN_OR_RETURN(const std::string program, ResolveProgram(spec.argv[0]));
  const std::string params_path = JoinPath(spec.trial_dir, "params.json");
  RETURN_IF_ERROR(WriteFile(params_path, spec.params_json.empty() ? "{}" : spec.params_json));
  ASSIGN_OR_RETURN(UniqueFd log, OpenLog(JoinPath(spec.trial_dir, "trial.log")));
  ASSIGN_OR_RETURN(Pipe report, MakePipe());
  ASSIGN_OR_RETURN(Pipe stderr_pipe, MakePipe());
  ASSIGN_OR_RETURN(Pipe exec_status, MakePipe());
  ASSIGN_OR_RETURN(Pipe wake, MakePipe());
  UniqueFd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return ErrnoError("cannot open /dev/null", errno);

  // The child's ends, above the numbers they will be duplicated onto.
  ASSIGN_OR_RETURN(UniqueFd child_stdin, DupHigh(dev_null));
  ASSIGN_OR_RETURN(UniqueFd child_stdout, DupHigh(log));
  ASSIGN_OR_RETURN(UniqueFd child_stderr, DupHigh(stderr_pipe.write));
  ASSIGN_OR_RETURN(UniqueFd child_report, DupHigh(report.write));
  ASSIGN_OR_RETURN(UniqueFd child_status, DupHigh(exec_status.write));
  report.write.reset();
  stderr_pipe.write.reset();
  exec_status.write.reset();

  const std::vector<std::string> env = BuildEnvironment(spec, params_path);
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(env);
  ChildSetup setup;
  setup.parent = getpid();
  setup.path = program.c_str();
  setup.argv = argv.data();
  setup.envp = envp.data();
  setup.stdin_fd = child_stdin.get();
  setup.stdout_fd = child_stdout.get();
  setup.stderr_fd = child_stderr.get();
  setup.report_fd = child_report.get();
  setup.status_fd = child_status.get();
  setup.max_fd = MaxFd();
  sigemptyset(&setup.empty_mask);

  // _Fork runs no atfork handlers: the child only execs, so gRPC's and other
  // libraries' handlers have nothing to do there.
  const pid_t pid = _Fork();
  if (pid == 0) RunChild(setup);
  if (pid < 0) return ErrnoError("fork", errno);
  setpgid(pid, pid);  // Also done by the child; whichever runs first wins.
  child_stdin.reset();
  child_stdout.reset();
  child_stderr.reset();
  child_report.reset();
  child_status.reset();

  if (const int err = ReadExecStatus(exec_status.read); err != 0) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot execute ", program, ": ", strerror(err)));
  }
  PosixTrialProcess::Fds fds;
  fds.report = std::move(report.read);
  fds.stderr_pipe = std::move(stderr_pipe.read);
  fds.log = std::move(log);
  fds.pidfd = UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  fds.wake = std::move(wake);
  for (const UniqueFd* fd : {&fds.report, &fds.stderr_pipe, &fds.wake.read, &fds.wake.write}) {
    if (absl::Status status = SetNonBlocking(*fd); !status.ok()) {
      SignalGroup(pid, SIGKILL);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
  }
  return std::make_unique<PosixTrialProcess>(pid, std::move(fds), spec, options_);
}

}  // namespace vernier::worker
