// vernier-load: a load and soak generator for vernier-server. It starts a real
// vernier-server on a fresh SQLite file, creates one study with room for every
// worker, and runs N simulated workers in this process (one thread each,
// spread over C gRPC channels that do not share connections) that call
// AcquireTrial, ReportProgress (S steps) and CompleteTrial in a loop for the
// given time (simulated_worker.h). Then it stops the server (SIGTERM:
// graceful, WAL checkpointed), reads the database back and checks it against
// what the workers were told.
//
// Faults, both off by default (the CI smoke runs without them):
//  --churn-per-minute R  workers die at R per minute across the fleet: a dying
//      worker drops the answer in flight, abandons its lease (which then
//      expires on the server and the trial is retried by another worker) and
//      comes back after a short pause as a new worker (new RegisterWorker).
//  --restart-every S     every S seconds the server is killed with SIGKILL and
//      started again on the same database and port; calls in flight fail
//      (UNAVAILABLE) and workers retry them with backoff. Calls made while the
//      server is down wait for it (gRPC wait_for_ready), unless --fail-fast.
// With faults the server's lease is short (--lease-seconds, default 3 s), so
// abandoned leases expire within the run.
//
// What is checked (precisely in ledger.h). Acknowledged = the call returned OK
// to the worker; only acknowledged writes count, an unacknowledged one may or
// may not be stored. Each write carries a value unique to (trial, attempt,
// step).
//  - Zero lost: every trial whose CompleteTrial was acknowledged is COMPLETE
//    with that attempt's final value; every acknowledged report is stored,
//    unless a newer attempt of the trial (leased after this one's lease
//    expired) reported the same step, which replaces it. So for the attempt
//    that completed a trial, every acknowledged step is stored as sent.
//  - Zero duplicated: no trial has two acknowledged CompleteTrial calls, and
//    no (trial, attempt) lease was handed out twice.
//  - Zero corrupt: every stored value is one a worker sent for that trial and
//    step.
// Without faults every call must also succeed; with faults only UNAVAILABLE,
// DEADLINE_EXCEEDED and ABORTED (a lease that expired) are expected. In both
// cases no "database is locked", a server that comes back after every
// restart and exits 0 on SIGTERM.
//
// Prints calls by RPC with errors by code, p50/p99/max latency per RPC (of
// OK answers, across restarts; "settled" includes retries and backoff),
// deaths and leases lost to churn, call retries, trial retries (leases that
// expired), server restarts and downtime, and exits 0 only on PASS.
//
//   vernier-load --server-bin build/bin/vernier-server --dir /tmp/load
//                --workers 500 --channels 50 --seconds 60 --steps 5
//   vernier-load ... --churn-per-minute 60 --restart-every 45   # soak
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/load/ledger.h"
#include "bench/load/server_process.h"
#include "bench/load/simulated_worker.h"
#include "grpcpp/grpcpp.h"
#include "server/storage/sqlite_study_store.h"
#include "vernier/v1/study_service.grpc.pb.h"

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
  double churn_per_minute = 0;  // Across the fleet.
  double restart_every = 0;     // Seconds; 0: never.
  double lease_seconds = 0;     // 0: 3 with faults, 600 without.
  double churn_pause_ms = 500;  // Mean pause before a dead worker returns.
  uint64_t seed = 1;
  bool fail_fast = false;

  bool faults() const { return churn_per_minute > 0 || restart_every > 0; }
  double lease() const { return lease_seconds > 0 ? lease_seconds : faults() ? 3 : 600; }
};

constexpr char kStudy[] = "load";
// A trial may lose its lease this many times before it fails; attempts stay
// below ledger.h's kEncodingLimit.
constexpr int kMaxRetries = 1000;

std::string StudyYaml(const Options& options) {
  return absl::StrCat("name: ", kStudy, R"(
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: random, seed: 1}
pruner: {type: none}
budget: {max_trials: 100000000, parallel: )",
                      options.workers, ", max_failures: 100000000, max_retries: ", kMaxRetries,
                      R"(}
trainer: {command: ["true"]}
)");
}

// The channels, each with its own TCP connection (no subchannel sharing),
// trying to reconnect at least every second while a server restarts. (Not
// GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC uses it as the connect timeout, and
// a short one fails connects to a busy server.)
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(int count, int port) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("vernier.load.channel", i);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channels.push_back(grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

// Every connection up before the clock starts: a channel that is still in its
// first connect attempt fails calls fast (UNAVAILABLE), which would count a
// slow start of the client as server errors.
bool WaitConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels, int port) {
  for (size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i]->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
      std::cerr << "vernier-load: channel " << i << " did not connect to 127.0.0.1:" << port
                << " within 30 s\n";
      return false;
    }
  }
  return true;
}

bool CreateStudy(const std::shared_ptr<grpc::Channel>& channel, const Options& options) {
  auto studies = v1::StudyService::NewStub(channel);
  v1::CreateStudyRequest request;
  request.set_spec_yaml(StudyYaml(options));
  v1::Study study;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::Status status = studies->CreateStudy(&context, request, &study);
  if (!status.ok()) std::cerr << "vernier-load: CreateStudy: " << status.error_message() << "\n";
  return status.ok();
}

WorkerOptions WorkerOptionsOf(const Options& options) {
  WorkerOptions worker;
  worker.steps = options.steps;
  worker.deaths_per_minute = options.churn_per_minute / std::max(1, options.workers);
  worker.rebirth_pause = absl::Milliseconds(options.churn_pause_ms);
  worker.seed = options.seed;
  worker.wait_for_ready = !options.fail_fast;
  return worker;
}

// Runs the workers until `end`; returns what they saw, merged.
WorkerStats RunWorkers(const Options& options,
                       const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                       absl::Time end) {
  const WorkerOptions worker_options = WorkerOptionsOf(options);
  std::vector<std::unique_ptr<SimulatedWorker>> workers;
  for (int i = 0; i < options.workers; ++i) {
    workers.push_back(
        std::make_unique<SimulatedWorker>(i, channels[i % channels.size()], worker_options, end));
  }
  std::vector<std::thread> threads;
  for (auto& worker : workers) threads.emplace_back([&worker] { worker->Run(); });
  for (std::thread& thread : threads) thread.join();
  WorkerStats total;
  for (auto& worker : workers) total.Merge(std::move(worker->stats()));
  return total;
}

struct Restarts {
  int done = 0;
  bool failed = false;  // One did not come back; none was tried after it.
  std::vector<double> down_seconds;
};

// Crashes and restarts `server` every `every` until `end`.
Restarts RestartPeriodically(ServerProcess& server, absl::Duration every, absl::Time end) {
  Restarts restarts;
  for (absl::Time next = absl::Now() + every; next < end; next += every) {
    absl::SleepFor(next - absl::Now());
    absl::Duration down;
    if (!server.Crash(&down)) {
      restarts.failed = true;
      break;
    }
    restarts.done++;
    restarts.down_seconds.push_back(absl::ToDoubleSeconds(down));
  }
  return restarts;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

double Max(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

int64_t Occurrences(const std::string& text, const std::string& word) {
  int64_t count = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    ++count;
  }
  return count;
}

// Errors the faults explain: a server that is down or restarting, a lease
// that expired while its worker was dead or cut off.
int64_t UnexpectedErrors(const WorkerStats& stats, bool faults) {
  int64_t unexpected = 0;
  for (const auto& [key, count] : stats.errors) {
    const bool explained =
        faults && (absl::EndsWith(key, " UNAVAILABLE") ||
                   absl::EndsWith(key, " DEADLINE_EXCEEDED") || absl::EndsWith(key, " ABORTED"));
    if (!explained) unexpected += count;
  }
  return unexpected;
}

void PrintCalls(const WorkerStats& stats, double elapsed) {
  std::cout << absl::StrFormat("%-15s %9s %9s %8s %9s %9s %9s %12s %12s\n", "rpc", "calls", "ok",
                               "ok_per_s", "p50_ms", "p99_ms", "max_ms", "settled_p99",
                               "settled_max");
  for (int r = 0; r < kRpcCount; ++r) {
    const std::vector<double>& ok = stats.latency_us[r];
    std::cout << absl::StrFormat("%-15s %9d %9d %8.0f %9.2f %9.2f %9.2f %12.2f %12.2f\n",
                                 kRpcNames[r], stats.tries[r], ok.size(), ok.size() / elapsed,
                                 Percentile(ok, 0.5) / 1000, Percentile(ok, 0.99) / 1000,
                                 Max(ok) / 1000, Percentile(stats.settled_us[r], 0.99) / 1000,
                                 Max(stats.settled_us[r]) / 1000);
  }
  int64_t errors = 0;
  for (const auto& [key, count] : stats.errors) errors += count;
  std::cout << "errors " << errors << "\n";
  for (const auto& [key, count] : stats.errors) {
    std::cout << absl::StrFormat("  %-34s %9d  e.g. %s\n", key, count,
                                 stats.error_examples.at(key).substr(0, 100));
  }
}

void PrintFaults(const WorkerStats& stats, const Restarts& restarts, const LedgerCheck& check) {
  std::cout << absl::StrFormat(
      "churn: %d deaths, %d leases lost to churn, %d registrations; call retries %d\n",
      stats.deaths, stats.deaths_holding_lease, stats.registrations, stats.retries);
  std::cout << absl::StrFormat(
      "server restarts %d%s, down p50 %.2f s, max %.2f s; trial retries (leases expired) %d\n",
      restarts.done, restarts.failed ? " (then one did NOT come back)" : "",
      Percentile(restarts.down_seconds, 0.5), Max(restarts.down_seconds), check.requeued);
}

void PrintLedger(const WorkerStats& stats, const LedgerCheck& check) {
  int64_t acknowledged = 0, results = 0;
  for (const Write& write : stats.writes) {
    acknowledged += write.acknowledged;
    results += write.acknowledged && write.step == kFinalStep;
  }
  std::cout << absl::StrFormat(
      "trials stored %d: COMPLETE %d (acknowledged %d, only unacknowledged %d), RUNNING %d, "
      "WAITING %d, FAILED %d, other %d\n",
      check.trials, check.complete, check.complete - check.complete_unacknowledged,
      check.complete_unacknowledged, check.running, check.waiting, check.failed, check.other);
  std::cout << absl::StrFormat(
      "measurements stored %d; writes sent %d, acknowledged %d (results %d); leases granted %d\n",
      check.measurements, stats.writes.size(), acknowledged, results, stats.grants.size());
  std::cout << "lost " << check.lost() << " (steps " << check.lost_steps << ", results "
            << check.lost_results << ")" << (check.lost() > 0 ? " e.g. " + check.first_lost : "")
            << "\n";
  std::cout << "duplicated " << check.duplicated() << " (results " << check.duplicated_results
            << ", leases " << check.duplicated_leases << ")"
            << (check.duplicated() > 0 ? " e.g. " + check.first_duplicated : "") << "\n";
  std::cout << "corrupt " << check.corrupt
            << (check.corrupt > 0 ? " e.g. " + check.first_corrupt : "") << "\n";
}

absl::StatusOr<StoredStudy> ReadBack(const fs::path& db) {
  SqliteStudyStore::Options store_options;
  store_options.exclusive_lock = true;
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store =
      SqliteStudyStore::Open(db.string(), store_options);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<StoredStudy>> stored = (*store)->LoadAll();
  if (!stored.ok()) return stored.status();
  if (stored->size() != 1) {
    return absl::DataLossError(absl::StrCat(stored->size(), " studies stored, expected 1"));
  }
  return std::move((*stored)[0]);
}

int Run(const Options& options) {
  const fs::path dir(options.dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path db = dir / "load.db";
  ServerProcess server(ServerLaunch{options.server_bin, db, dir / "server.log", dir / "server.port",
                                    options.lease()});
  if (!server.Start(/*port=*/0)) {
    std::cerr << "vernier-load: vernier-server did not start:\n" << server.Log();
    return 1;
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels =
      MakeChannels(std::max(1, options.channels), server.port());
  if (!WaitConnected(channels, server.port()) || !CreateStudy(channels[0], options)) return 1;

  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(options.seconds);
  Restarts restarts;
  std::thread restarter;
  if (options.restart_every > 0) {
    restarter = std::thread(
        [&] { restarts = RestartPeriodically(server, absl::Seconds(options.restart_every), end); });
  }
  WorkerStats stats = RunWorkers(options, channels, end);
  if (restarter.joinable()) restarter.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  // Close every connection first, so the server's graceful stop has no
  // client left to wait for.
  channels.clear();
  const absl::Time stop_start = absl::Now();
  const int server_exit = server.Stop();
  const double stop_seconds = absl::ToDoubleSeconds(absl::Now() - stop_start);
  const int64_t locked_in_log = Occurrences(server.Log(), "locked");

  absl::StatusOr<StoredStudy> stored = ReadBack(db);
  if (!stored.ok()) {
    std::cerr << "vernier-load: reading the database back: " << stored.status() << "\n";
    return 1;
  }
  const LedgerCheck check = CheckLedger(stats.writes, stats.grants, *stored);

  std::cout << absl::StrFormat(
      "workers %d, channels %d, %.1f s, %d steps per trial, lease %g s, churn %g/min, restart "
      "every %g s, seed %d; server exit %d after %.1f s\n",
      options.workers, std::max(1, options.channels), elapsed, options.steps, options.lease(),
      options.churn_per_minute, options.restart_every, options.seed, server_exit, stop_seconds);
  PrintCalls(stats, elapsed);
  if (options.faults()) PrintFaults(stats, restarts, check);
  PrintLedger(stats, check);
  std::cout << "database_is_locked " << stats.locked << " (in answers), " << locked_in_log
            << " (in the server log)\n";
  const int64_t unexpected = UnexpectedErrors(stats, options.faults());
  if (options.faults()) std::cout << "unexpected errors " << unexpected << "\n";
  const bool ok = unexpected == 0 && stats.locked == 0 && locked_in_log == 0 && check.lost() == 0 &&
                  check.duplicated() == 0 && check.corrupt == 0 && !restarts.failed &&
                  server_exit == 0 && !stats.writes.empty();
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
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--channels", options.channels, "gRPC channels (connections) they share")
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "how long the load runs")->capture_default_str();
  app.add_option("--steps", options.steps, "ReportProgress calls per trial")
      ->capture_default_str()
      ->check(CLI::Range(1, vernier::load::kEncodingLimit - 2));
  app.add_option("--churn-per-minute", options.churn_per_minute,
                 "worker deaths per minute across the fleet (each comes back as a new worker)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--churn-pause-ms", options.churn_pause_ms,
                 "mean pause between a worker's death and its return")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--restart-every", options.restart_every,
                 "kill -9 and restart the server every this many seconds (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--lease-seconds", options.lease_seconds,
                 "the server's --lease-seconds (default: 3 with churn or restarts, else 600)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--fail-fast", options.fail_fast,
               "calls fail at once while a channel reconnects, as vernier-worker's do "
               "(default: they wait for the connection)");
  app.add_option("--seed", options.seed, "seed of the churn and the backoff jitter")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return vernier::load::Run(options);
}
