#include "client/embedded_run.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "client/study_paths.h"
#include "client/watch.h"
#include "common/channel.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

extern char** environ;

namespace vernier {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted = true; }

std::string SelfDirectory() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? "." : self.parent_path().string();
}

// Local child processes (the server, the workers), stopped (SIGTERM, then
// SIGKILL) on destruction.
class ProcessGroup {
 public:
  ~ProcessGroup() { StopAll(absl::Seconds(10)); }

  absl::Status Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int error = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot start ", argv[0], ": ", std::strerror(error)));
    }
    pids_.push_back(pid);
    return absl::OkStatus();
  }

  // How many are still running (reaps the ones that exited).
  int Alive() {
    for (pid_t& pid : pids_) {
      if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == pid) pid = -1;
    }
    int alive = 0;
    for (pid_t pid : pids_) alive += pid > 0;
    return alive;
  }

  void StopAll(absl::Duration grace) {
    for (pid_t pid : pids_) {
      if (pid > 0) kill(pid, SIGTERM);
    }
    const absl::Time deadline = absl::Now() + grace;
    while (Alive() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
    for (pid_t& pid : pids_) {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        pid = -1;
      }
    }
  }

 private:
  std::vector<pid_t> pids_;
};

// Creates the study, or picks up an identical one from an earlier run.
absl::Status CreateOrResume(const CommandContext& ctx, const v1::CreateStudyRequest& request,
                            const std::string& path, std::ostream& err) {
  const std::string& name = request.spec().name();
  absl::StatusOr<v1::Study> created = CreateStudy(ctx, request, path);
  if (created.ok() || created.status().code() != absl::StatusCode::kAlreadyExists) {
    return created.status();
  }
  ASSIGN_OR_RETURN(v1::Study existing, GetStudy(ctx, name));
  if (existing.spec_yaml() != request.spec_yaml()) {
    return absl::AlreadyExistsError(
        absl::StrCat("study \"", name,
                     "\" already exists in this data directory with a different study "
                     "file; rename the study or use another --data-dir"));
  }
  err << "vernier: resuming study \"" << name << "\" from an earlier run\n";
  return absl::OkStatus();
}

void PrintBestTrial(const CommandContext& ctx, const v1::Study& study, const v1::Trial& top) {
  *ctx.out << "best trial: " << top.number() << "  " << study.objective().metric() << "="
           << top.objective_value() << "\n  params: " << ParamsSummary(top) << "\n  final:  ";
  for (const auto& [metric, value] :
       std::map<std::string, double>(top.final_metrics().begin(), top.final_metrics().end())) {
    *ctx.out << metric << "=" << value << " ";
  }
  *ctx.out << "\n";
}

absl::Status PrintResult(const CommandContext& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(v1::Study study, GetStudy(ctx, name));
  ASSIGN_OR_RETURN(std::vector<v1::Trial> best, GetBestTrials(ctx, name, 1));
  *ctx.out << "\nstudy " << name << ": " << StateName(study.state());
  if (!study.state_reason().empty()) *ctx.out << " (" << study.state_reason() << ")";
  *ctx.out << "\n";
  if (best.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", name, "\" has no complete trial; see `vernier trials ", name,
                     "` for the failure reasons"));
  }
  if (IsMultiObjective(study)) {
    ASSIGN_OR_RETURN(std::vector<v1::Trial> front, GetBestTrials(ctx, name, 0));
    *ctx.out << "Pareto front (" << front.size() << " trials):\n"
             << FormatObjectiveTrials(front, study, OutputFormat::kTable, 0);
  } else {
    PrintBestTrial(ctx, study, best.front());
  }
  if (study.state() == v1::STUDY_STATE_STOPPED) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", name, "\" stopped: ", study.state_reason()));
  }
  return absl::OkStatus();
}

// Starts vernier-server on a free loopback port, its database and log in the
// data directory; returns the port once it serves. Loopback only, and the
// server lives as long as this process: no tokens.
absl::StatusOr<int> StartServer(const RunOptions& options, ProcessGroup& processes) {
  const fs::path data(options.data_dir);
  const std::string port_file = (data / "server.port").string();
  std::error_code ignored;
  fs::remove(port_file, ignored);
  const std::string binary = options.server_binary.empty()
                                 ? (fs::path(SelfDirectory()) / "vernier-server").string()
                                 : options.server_binary;
  RETURN_IF_ERROR(processes.Spawn(
      {binary, "--db", (data / "vernier.db").string(), "--listen", "127.0.0.1:0", "--insecure",
       "--lease-seconds", "15", "--heartbeat-seconds", "2", "--port-file", port_file},
      (data / "logs" / "server.log").string()));
  const absl::Time deadline = absl::Now() + options.server_start_timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(port_file);
    std::string text;
    int port = 0;
    if (in && std::getline(in, text) && absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port)) {
      return port;
    }
    if (processes.Alive() == 0) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("vernier-server did not start; see ", (data / "logs" / "server.log").string()));
}

std::vector<std::string> WorkerArgv(const RunOptions& options, const std::string& binary, int port,
                                    int index, const std::string& work_dir,
                                    const std::string& code_dir) {
  int threads = options.threads_per_worker;
  if (threads <= 0) {
    threads = std::max(
        1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, options.workers));
  }
  std::vector<std::string> argv = {binary,
                                   "--server",
                                   absl::StrCat("127.0.0.1:", port),
                                   "--name",
                                   absl::StrCat("local-", index),
                                   "--work-dir",
                                   work_dir,
                                   "--code-dir",
                                   code_dir,
                                   "--threads-per-slot",
                                   absl::StrCat(threads)};
  if (options.gpus.empty()) {
    argv.insert(argv.end(), {"--cpu-slots", "1"});
  } else {
    argv.insert(argv.end(),
                {"--gpus", options.gpus, "--trials-per-gpu", absl::StrCat(options.trials_per_gpu)});
  }
  return argv;
}

}  // namespace

absl::Status RunStudy(const RunOptions& options) {
  ASSIGN_OR_RETURN(v1::CreateStudyRequest request, ReadStudyRequest(options.study_file));
  // The study runs the same from any directory: its relative paths are the
  // study file's (the text kept for people stays as written), and the workers
  // get that directory as --code-dir, so a missing program file is reported
  // against it.
  const std::string study_dir = StudyFileDirectory(options.study_file);
  ResolveStudyPaths(*request.mutable_spec(), study_dir);
  std::error_code error;
  fs::create_directories(fs::path(options.data_dir) / "logs", error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat(options.data_dir, ": cannot create directory: ", error.message()));
  }
  ProcessGroup server;
  ASSIGN_OR_RETURN(const int port, StartServer(options, server));
  const std::string address = absl::StrCat("127.0.0.1:", port);
  ChannelOptions channel_options;
  channel_options.address = address;
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(channel_options));
  std::unique_ptr<v1::StudyService::Stub> stub = v1::StudyService::NewStub(channel);
  CommandContext ctx{stub.get(), options.out, OutputFormat::kTable, address};

  const std::string name = request.spec().name();
  RETURN_IF_ERROR(CreateOrResume(ctx, request, options.study_file, *options.err));

  const std::string worker = options.worker_binary.empty()
                                 ? (fs::path(SelfDirectory()) / "vernier-worker").string()
                                 : options.worker_binary;
  ProcessGroup pool;
  for (int i = 0; i < options.workers; ++i) {
    const std::string work_dir = (fs::path(options.data_dir) / "work").string();
    const std::string log =
        (fs::path(options.data_dir) / "logs" / absl::StrCat("worker-", i, ".log")).string();
    RETURN_IF_ERROR(pool.Spawn(WorkerArgv(options, worker, port, i, work_dir, study_dir), log));
  }
  *options.err << "vernier: study \"" << name << "\" running on " << options.workers
               << " local worker(s); server " << address << ", logs in " << options.data_dir
               << "/logs\n";

  // Kept until the run returns (a dashboard stops then).
  const std::shared_ptr<void> companion = options.on_running ? options.on_running(ctx) : nullptr;

  signal(SIGINT, OnInterrupt);
  signal(SIGTERM, OnInterrupt);
  FollowOptions follow;
  follow.live = options.live;
  follow.width = TerminalWidth;
  // The result below says how the study ended; a trial still running on a
  // stopped study is waited for, and a resumed study's earlier trials told.
  follow.wait_for_running_trials = true;
  follow.tell_earlier_ends = true;
  follow.final_summary = false;
  follow.check = [&options, &pool, &server]() -> absl::Status {
    if (g_interrupted) {
      return absl::CancelledError("interrupted; the study is kept and resumes on the next run");
    }
    if (pool.Alive() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("every worker exited; see ", options.data_dir, "/logs/worker-*.log"));
    }
    if (server.Alive() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("vernier-server exited; see ", options.data_dir, "/logs/server.log"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(FollowStudy(ctx, name, follow));
  pool.StopAll(absl::Seconds(10));
  return PrintResult(ctx, name);
}

}  // namespace vernier
