// vernier-load: a load generator for vernier-server. It starts a real
// vernier-server on a fresh SQLite file, creates one study with room for every
// worker, and runs N simulated workers in this process (one thread each,
// spread over C gRPC channels that do not share connections) that call
// AcquireTrial, ReportProgress (S steps) and CompleteTrial in a loop for the
// given time. Then it stops the server (SIGTERM: graceful, WAL checkpointed),
// reads the database back and checks that every acknowledged report and
// result is stored with the value that was sent.
//
// Prints calls, errors by code, "database is locked" errors (in answers and in
// the server's log), lost reports and p50/p99/max latency per RPC, and exits
// 0 only when nothing failed and nothing was lost.
//
//   vernier-load --server-bin build/bin/vernier-server --dir /tmp/load
//                --workers 500 --channels 50 --seconds 60 --steps 5
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "server/storage/sqlite_study_store.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

extern char** environ;

namespace vernier::load {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::string server_bin;
  std::string dir;
  int workers = 500;
  int channels = 50;
  double seconds = 60;
  int steps = 5;
  // Pause of a simulated worker when no trial is ready.
  double idle_ms = 20;
};

enum Rpc { kAcquire, kReport, kComplete, kRpcCount };
constexpr const char* kRpcNames[kRpcCount] = {"AcquireTrial", "ReportProgress", "CompleteTrial"};

// An acknowledged write: the server answered OK, so it must be stored.
struct Ack {
  int64_t trial = 0;
  int64_t step = -1;  // -1: the final result.
  double value = 0;
};

// What one simulated worker saw; merged after the run.
struct WorkerStats {
  std::vector<double> latency_us[kRpcCount];
  std::map<std::string, int64_t> errors;  // "RPC CODE" -> count
  int64_t locked = 0;                     // errors that say "database is locked"
  std::vector<Ack> acks;
  std::string first_error;
};

// The value a worker reports for (trial, step): checkable afterwards.
double ValueFor(int64_t trial, int64_t step) {
  return static_cast<double>(trial) + static_cast<double>(step + 2) / 1024.0;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ServerProcess {
 public:
  // Starts vernier-server on `db` and a free port; returns false when it does
  // not come up within a minute.
  bool Start(const Options& options, const fs::path& db, const fs::path& log) {
    log_ = log;
    std::vector<std::string> argv = {
        options.server_bin, "--db", db.string(),           "--listen", "127.0.0.1:0",
        "--lease-seconds",  "600",  "--heartbeat-seconds", "60"};
    if (ReadHelp(options.server_bin).find("--insecure") != std::string::npos) {
      argv.push_back("--insecure");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (absl::Now() < deadline) {
      const std::string text = ReadFile(log);
      const size_t at = text.find("serving on port ");
      if (at != std::string::npos) {
        port_ = std::stoi(text.substr(at + 16));
        return true;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }
  // SIGTERM and wait: the server checkpoints the database before it exits.
  // Returns its exit status.
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFile(log_); }

 private:
  static std::string ReadHelp(const std::string& binary) {
    const fs::path out = fs::temp_directory_path() / absl::StrCat("vernier_load_help_", getpid());
    std::system(absl::StrCat("'", binary, "' --help >'", out.string(), "' 2>&1").c_str());
    std::string text = ReadFile(out);
    fs::remove(out);
    return text;
  }

  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The channels, each with its own TCP connection (no subchannel sharing).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(int count, int port) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("vernier.load.channel", i);
    channels.push_back(grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

class SimulatedWorker {
 public:
  SimulatedWorker(int index, const std::shared_ptr<grpc::Channel>& channel, const Options& options,
                  absl::Time end)
      : index_(index), stub_(v1::WorkerService::NewStub(channel)), options_(options), end_(end) {}

  void Run() {
    worker_id_ = absl::StrCat("load-", index_);
    v1::RegisterWorkerRequest reg;
    reg.set_name(worker_id_);
    reg.add_slots("cpu");
    v1::RegisterWorkerResponse registered;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    if (stub_->RegisterWorker(&context, reg, &registered).ok()) {
      worker_id_ = registered.worker_id();
    }
    while (absl::Now() < end_) {
      if (!RunOneTrial()) absl::SleepFor(absl::Milliseconds(options_.idle_ms));
    }
  }

  WorkerStats& stats() { return stats_; }

 private:
  // Times one call, counts its error; returns its status.
  template <typename Call>
  grpc::Status Timed(Rpc rpc, Call call) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    const absl::Time start = absl::Now();
    grpc::Status status = call(&context);
    stats_.latency_us[rpc].push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!status.ok()) {
      stats_.errors[absl::StrCat(kRpcNames[rpc], " ", status.error_code())]++;
      if (status.error_message().find("locked") != std::string::npos) stats_.locked++;
      if (stats_.first_error.empty()) {
        stats_.first_error = absl::StrCat(kRpcNames[rpc], ": ", status.error_message());
      }
    }
    return status;
  }

  // Leases and runs one trial; false when none was ready (or a call failed).
  bool RunOneTrial() {
    v1::AcquireTrialRequest acquire;
    acquire.set_worker_id(worker_id_);
    acquire.set_slot("cpu");
    v1::AcquireTrialResponse acquired;
    if (!Timed(kAcquire,
               [&](grpc::ClientContext* c) { return stub_->AcquireTrial(c, acquire, &acquired); })
             .ok() ||
        !acquired.has_lease()) {
      return false;
    }
    const int64_t trial = acquired.lease().trial_number();
    for (int step = 1; step <= options_.steps; ++step) {
      v1::ReportProgressRequest report;
      report.set_worker_id(worker_id_);
      *report.mutable_lease() = acquired.lease();
      report.mutable_measurement()->set_step(step);
      (*report.mutable_measurement()->mutable_metrics())["loss"] = ValueFor(trial, step);
      v1::ReportProgressResponse answer;
      if (!Timed(kReport, [&](grpc::ClientContext* c) {
             return stub_->ReportProgress(c, report, &answer);
           }).ok()) {
        return false;
      }
      stats_.acks.push_back({trial, step, ValueFor(trial, step)});
      if (answer.action() == v1::TRIAL_ACTION_STOP) return true;
    }
    v1::CompleteTrialRequest complete;
    complete.set_worker_id(worker_id_);
    *complete.mutable_lease() = acquired.lease();
    complete.set_state(v1::TRIAL_STATE_COMPLETE);
    (*complete.mutable_final_metrics())["loss"] = ValueFor(trial, -1);
    v1::CompleteTrialResponse done;
    if (Timed(kComplete, [&](grpc::ClientContext* c) {
          return stub_->CompleteTrial(c, complete, &done);
        }).ok()) {
      stats_.acks.push_back({trial, -1, ValueFor(trial, -1)});
    }
    return true;
  }

  const int index_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  const Options& options_;
  const absl::Time end_;
  std::string worker_id_;
  WorkerStats stats_;
};

constexpr char kStudy[] = "load";

std::string StudyYaml(const Options& options) {
  return absl::StrCat("name: ", kStudy, R"(
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: random, seed: 1}
pruner: {type: none}
budget: {max_trials: 100000000, parallel: )",
                      options.workers, R"(, max_failures: 0}
trainer: {command: ["true"]}
)");
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

// Acknowledged writes missing from (or different in) the stored study.
int64_t CountLost(const std::vector<Ack>& acks, const StoredStudy& study, std::string* example) {
  int64_t lost = 0;
  auto note = [&](const Ack& ack, absl::string_view why) {
    if (lost++ == 0) *example = absl::StrCat("trial ", ack.trial, " step ", ack.step, ": ", why);
  };
  for (const Ack& ack : acks) {
    if (ack.trial < 0 || ack.trial >= static_cast<int64_t>(study.trials.size()) ||
        study.trials[ack.trial].number != ack.trial) {
      note(ack, "trial missing");
      continue;
    }
    const TrialRecord& trial = study.trials[ack.trial];
    const MetricMap* metrics = nullptr;
    if (ack.step < 0) {
      if (trial.state != TrialState::kComplete) {
        note(ack, "acknowledged COMPLETE, stored otherwise");
        continue;
      }
      metrics = &trial.final_metrics;
    } else {
      for (const Measurement& m : trial.intermediate) {
        if (m.step == ack.step) metrics = &m.metrics;
      }
    }
    if (metrics == nullptr) {
      note(ack, "not stored");
      continue;
    }
    auto value = metrics->find("loss");
    if (value == metrics->end() || value->second != ack.value) note(ack, "stored value differs");
  }
  return lost;
}

int Run(const Options& options) {
  const fs::path dir(options.dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path db = dir / "load.db";
  ServerProcess server;
  if (!server.Start(options, db, dir / "server.log")) {
    std::cerr << "vernier-load: vernier-server did not start:\n" << server.Log();
    return 1;
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels =
      MakeChannels(std::max(1, options.channels), server.port());
  // Every connection up before the clock starts: a channel that is still in
  // its first connect attempt fails calls fast (UNAVAILABLE), which would
  // count a slow start of the client as server errors.
  for (size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i]->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
      std::cerr << "vernier-load: channel " << i
                << " did not connect to 127.0.0.1:" << server.port() << " within 30 s\n";
      return 1;
    }
  }
  {
    auto studies = v1::StudyService::NewStub(channels[0]);
    v1::CreateStudyRequest request;
    request.set_spec_yaml(StudyYaml(options));
    v1::Study study;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::Status status = studies->CreateStudy(&context, request, &study);
    if (!status.ok()) {
      std::cerr << "vernier-load: CreateStudy: " << status.error_message() << "\n";
      return 1;
    }
  }

  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(options.seconds);
  std::vector<std::unique_ptr<SimulatedWorker>> workers;
  for (int i = 0; i < options.workers; ++i) {
    workers.push_back(
        std::make_unique<SimulatedWorker>(i, channels[i % channels.size()], options, end));
  }
  std::vector<std::thread> threads;
  for (auto& worker : workers) threads.emplace_back([&worker] { worker->Run(); });
  for (std::thread& thread : threads) thread.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  // Merge.
  WorkerStats total;
  for (auto& worker : workers) {
    WorkerStats& s = worker->stats();
    for (int r = 0; r < kRpcCount; ++r) {
      total.latency_us[r].insert(total.latency_us[r].end(), s.latency_us[r].begin(),
                                 s.latency_us[r].end());
    }
    for (const auto& [key, count] : s.errors) total.errors[key] += count;
    total.locked += s.locked;
    total.acks.insert(total.acks.end(), s.acks.begin(), s.acks.end());
    if (total.first_error.empty()) total.first_error = s.first_error;
  }
  // Close every connection first, so the server's graceful stop has no
  // client left to wait for.
  workers.clear();
  channels.clear();
  const absl::Time stop_start = absl::Now();
  const int server_exit = server.Stop();
  const double stop_seconds = absl::ToDoubleSeconds(absl::Now() - stop_start);
  const std::string server_log = server.Log();
  int64_t locked_in_log = 0;
  for (size_t at = server_log.find("locked"); at != std::string::npos;
       at = server_log.find("locked", at + 1)) {
    ++locked_in_log;
  }

  // Read the database back.
  SqliteStudyStore::Options store_options;
  store_options.exclusive_lock = true;
  auto store = SqliteStudyStore::Open(db.string(), store_options);
  if (!store.ok()) {
    std::cerr << "vernier-load: reopening the database: " << store.status() << "\n";
    return 1;
  }
  auto stored = (*store)->LoadAll();
  if (!stored.ok() || stored->size() != 1) {
    std::cerr << "vernier-load: loading the database failed\n";
    return 1;
  }
  std::string lost_example;
  const int64_t lost = CountLost(total.acks, (*stored)[0], &lost_example);
  int64_t stored_measurements = 0;
  for (const TrialRecord& trial : (*stored)[0].trials)
    stored_measurements += trial.intermediate.size();

  int64_t errors = 0;
  for (const auto& [key, count] : total.errors) errors += count;
  std::cout << absl::StrFormat(
      "workers %d, channels %d, %.1f s, %d steps per trial; server exit %d after %.1f s\n",
      options.workers, std::max(1, options.channels), elapsed, options.steps, server_exit,
      stop_seconds);
  std::cout << absl::StrFormat("%-15s %9s %9s %10s %10s %10s\n", "rpc", "calls", "per_s", "p50_ms",
                               "p99_ms", "max_ms");
  for (int r = 0; r < kRpcCount; ++r) {
    std::vector<double>& v = total.latency_us[r];
    const double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
    std::cout << absl::StrFormat("%-15s %9d %9.0f %10.2f %10.2f %10.2f\n", kRpcNames[r], v.size(),
                                 v.size() / elapsed, Percentile(v, 0.5) / 1000,
                                 Percentile(v, 0.99) / 1000, max / 1000);
  }
  std::cout << absl::StrFormat("trials stored %d, measurements stored %d, acknowledged writes %d\n",
                               (*stored)[0].trials.size(), stored_measurements, total.acks.size());
  std::cout << "errors " << errors;
  for (const auto& [key, count] : total.errors) std::cout << " [" << key << ": " << count << "]";
  if (!total.first_error.empty()) std::cout << " first: " << total.first_error;
  std::cout << "\n";
  std::cout << "database_is_locked " << total.locked << " (in answers), " << locked_in_log
            << " (in the server log)\n";
  std::cout << "lost " << lost << (lost > 0 ? " e.g. " + lost_example : "") << "\n";
  const bool ok = errors == 0 && total.locked == 0 && locked_in_log == 0 && lost == 0 &&
                  server_exit == 0 && !total.acks.empty();
  std::cout << (ok ? "PASS" : "FAIL") << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace vernier::load

int main(int argc, char** argv) {
  vernier::load::Options options;
  CLI::App app{"vernier-load: simulated workers against a real vernier-server"};
  app.add_option("--server-bin", options.server_bin, "vernier-server to start")->required();
  app.add_option("--dir", options.dir, "scratch directory (emptied): database, server log")
      ->required();
  app.add_option("--workers", options.workers, "simulated workers (one thread each)")
      ->capture_default_str();
  app.add_option("--channels", options.channels, "gRPC channels (connections) they share")
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "how long the load runs")->capture_default_str();
  app.add_option("--steps", options.steps, "ReportProgress calls per trial")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return vernier::load::Run(options);
}
