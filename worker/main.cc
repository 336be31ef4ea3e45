// vernier-worker: pulls trials from a vernier-server and runs them. Parses the
// flags into WorkerOptions and runs a Worker; everything else is in the
// library (worker/worker.h).
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/channel.h"
#include "common/channel_flags.h"
#include "grpcpp/grpcpp.h"
#include "vernier/v1/worker_service.grpc.pb.h"
#include "worker/posix_trial_launcher.h"
#include "worker/slots.h"
#include "worker/worker.h"
#include "worker/worker_metrics.h"

namespace {

constexpr char kProgram[] = "vernier-worker";

int Fail(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return 2;
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "worker";
  return name;
}

// vernier-train next to this executable.
std::string DefaultTrainer() {
  char path[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "vernier-train";
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/') + 1) + "vernier-train";
}

// Writes `port` to `path` whole (a temporary file renamed into place), so a
// reader never sees a partial number. Returns false when it cannot.
bool WritePortFile(const std::string& path, int port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(temp.c_str(), path.c_str()) == 0;
}

bool MakeTempWorkDir(std::string* dir) {
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp", "/vernier-worker-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return false;
  *dir = pattern;
  return true;
}

// Waits for SIGINT/SIGTERM (blocked in every thread): the first one drains the
// worker (running trials finish or are handed back), a second one ends the
// process at once.
void HandleSignals(sigset_t signals, vernier::worker::Worker* worker) {
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "%s: signal %d: draining (again to quit at once)\n", kProgram, sig);
  worker->Drain();
  sigwait(&signals, &sig);
  std::fprintf(stderr, "%s: second signal: quitting now\n", kProgram);
  _exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vernier-worker: runs the trials of a vernier-server on this machine's slots"};
  std::string server;
  vernier::worker::SlotOptions slot_options;
  vernier::worker::WorkerOptions options;
  options.name = HostName();
  app.add_option("--server", server, "coordinator address host:port (default: $VERNIER_SERVER)")
      ->envname("VERNIER_SERVER");
  app.add_option("--cpu-slots", slot_options.cpu_slots, "trials run at once when no GPU is used")
      ->capture_default_str();
  app.add_option("--gpus", slot_options.gpus,
                 "GPU indexes to use (\"0,1\") or \"auto\" to discover them; default: none");
  app.add_option("--trials-per-gpu", slot_options.trials_per_gpu, "trials run at once per GPU")
      ->capture_default_str();
  app.add_option("--threads-per-slot", slot_options.threads_per_slot,
                 "CPU threads each trial may use")
      ->capture_default_str();
  app.add_option("--label", slot_options.labels,
                 "KEY=VALUE, repeated: labels a study's placement can require (gpu=h100, "
                 "zone=eu-1)");
  app.add_option("--memory-gb", slot_options.memory_gb,
                 "host memory the trials share, GB, for studies' resources.memory_gb "
                 "(default: the machine's)");
  app.add_option("--work-dir", options.work_dir,
                 "where trial directories go (default: a new temporary directory)");
  app.add_option("--code-dir", options.code_dir,
                 "relative paths in a study's trainer.command are resolved against it; a "
                 "missing program file fails the trial before it starts (default: the current "
                 "directory)");
  app.add_option("--name", options.name, "name shown by the coordinator")->capture_default_str();
  app.add_option("--trainer", options.trainer_path,
                 "program for trials without a command (default: vernier-train next to this "
                 "program)");
  vernier::ChannelFlags channel_flags;
  vernier::AddChannelFlags(app, "file holding this worker's bearer token (default: $VERNIER_TOKEN)",
                           channel_flags);
  double drain_seconds = 30;
  app.add_option("--drain-seconds", drain_seconds,
                 "on SIGTERM, how long running trials may take to finish before they are "
                 "handed back")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve Prometheus metrics (busy/idle slots, trials by outcome) at "
                 "http://ADDR/metrics (host:port, port 0 picks one; default: off)");
  std::string metrics_port_file;
  app.add_option("--metrics-port-file", metrics_port_file,
                 "write the metrics port bound (useful with --metrics-listen host:0) to this file")
      ->needs("--metrics-listen");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(e.what());
  }
  options.drain_timeout = absl::Seconds(drain_seconds);
  if (server.empty()) return Fail("--server is required (or set VERNIER_SERVER)");
  absl::StatusOr<vernier::ChannelOptions> channel_options =
      vernier::ChannelOptionsFromFlags(server, channel_flags);
  if (!channel_options.ok()) return Fail(std::string(channel_options.status().message()));
  absl::StatusOr<std::vector<vernier::worker::Slot>> slots =
      vernier::worker::BuildSlots(slot_options);
  if (!slots.ok()) return Fail(std::string(slots.status().message()));
  options.slots = *std::move(slots);
  if (options.trainer_path.empty()) options.trainer_path = DefaultTrainer();
  if (options.work_dir.empty() && !MakeTempWorkDir(&options.work_dir)) {
    return Fail("cannot create a temporary work directory; pass --work-dir");
  }
  // Trials see paths under these and may change directory: make them absolute.
  char cwd[PATH_MAX] = {};
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return Fail("cannot read the current directory");
  if (options.work_dir.front() != '/') options.work_dir = absl::StrCat(cwd, "/", options.work_dir);
  if (options.code_dir.empty()) options.code_dir = cwd;
  if (options.code_dir.front() != '/') options.code_dir = absl::StrCat(cwd, "/", options.code_dir);
  if (access(options.trainer_path.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "%s: warning: trainer %s is not executable; trials without a command "
                 "will fail\n",
                 kProgram, options.trainer_path.c_str());
  }

  // Before any thread starts, so that every thread inherits the mask and only
  // the signal thread receives them. Trials get an empty mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  grpc::ChannelArguments channel_args;
  // Find a restarted coordinator within seconds, not gRPC's default 2 minutes.
  channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Notice a connection that went silent (a half-open one, a path cut for
  // good) within ~10 s, well inside a lease, instead of waiting on TCP's
  // retransmissions for minutes; the server allows these pings
  // (kMinClientPingIntervalMs in server_runner.cc).
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  channel_args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  channel_args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      vernier::MakeChannel(*channel_options, channel_args);
  if (!channel.ok()) return Fail(std::string(channel.status().message()));
  std::unique_ptr<vernier::v1::WorkerService::Stub> stub =
      vernier::v1::WorkerService::NewStub(*channel);
  vernier::worker::PosixTrialLauncher launcher;

  std::vector<std::string> slot_names;
  for (const vernier::worker::Slot& slot : options.slots) slot_names.push_back(slot.name);
  std::fprintf(stderr, "%s: server %s, slots [%s], work dir %s, code dir %s\n", kProgram,
               server.c_str(), absl::StrJoin(slot_names, ", ").c_str(), options.work_dir.c_str(),
               options.code_dir.c_str());

  // Before the Worker, which reports to it, and destroyed after it.
  std::unique_ptr<vernier::worker::WorkerMetrics> metrics;
  std::unique_ptr<vernier::worker::WorkerMetricsEndpoint> metrics_endpoint;
  if (!metrics_listen.empty()) {
    metrics =
        std::make_unique<vernier::worker::WorkerMetrics>(static_cast<int>(options.slots.size()));
    absl::StatusOr<std::unique_ptr<vernier::worker::WorkerMetricsEndpoint>> endpoint =
        vernier::worker::WorkerMetricsEndpoint::Start(metrics_listen, metrics.get());
    if (!endpoint.ok()) return Fail(std::string(endpoint.status().message()));
    metrics_endpoint = *std::move(endpoint);
    if (!metrics_port_file.empty() && !WritePortFile(metrics_port_file, metrics_endpoint->port())) {
      return Fail(absl::StrCat("--metrics-port-file ", metrics_port_file, ": cannot write"));
    }
    std::fprintf(stderr, "%s: metrics on port %d (/metrics)\n", kProgram, metrics_endpoint->port());
    options.observer = metrics.get();
  }

  vernier::worker::Worker worker(std::move(options), stub.get(), &launcher);
  std::thread(HandleSignals, signals, &worker).detach();
  const absl::Status status = worker.Run();
  if (!status.ok()) return Fail(std::string(status.message()));
  return 0;
}
