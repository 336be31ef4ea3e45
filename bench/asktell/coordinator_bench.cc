// coordinator-bench: where the time of one ask/tell round trip goes, without
// gRPC. Runs the same loop as asktell-bench (one client: Ask -> shifted sphere
// -> Tell, each followed by WaitDurable as the service does) directly on a
// Coordinator over a SqliteStudyStore (a fresh file, group commit, as
// vernier-server opens it) or a MemoryStudyStore, and prints, per window of
// --window trials, the mean microseconds spent in Ask, Tell and WaitDurable.
// A cost that grows with the number of trials shows as a rising column.
//
//   coordinator-bench --sampler tpe --trials 10000 --store sqlite --db /tmp/b.db
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/coordinator/coordinator.h"
#include "server/schema/study_schema.h"
#include "server/storage/memory_study_store.h"
#include "server/storage/sqlite_study_store.h"

namespace vernier::bench {
namespace {

struct Options {
  std::string sampler = "random";
  int64_t trials = 10000;
  int64_t window = 1000;
  std::string store = "sqlite";  // sqlite | memory
  std::string db;                // sqlite: the file (removed first); default: a temp file.
  int64_t seed = 1;
};

// The study asktell-bench creates.
std::string StudySpec(const Options& options) {
  return absl::StrCat(
      "name: s\nobjective: {metric: loss, goal: minimize}\nparams:\n",
      "  x0: {type: float, low: -1, high: 1}\n", "  x1: {type: float, low: -1, high: 1}\n",
      "  x2: {type: float, low: -1, high: 1}\n", "  x3: {type: float, low: -1, high: 1}\n",
      "sampler: {type: ", options.sampler, ", seed: ", options.seed, "}\n",
      "budget: {max_trials: ", options.trials, ", max_failures: 0}\n",
      "trainer: {external: true}\n");
}

double Sphere(const ParamMap& params) {
  double sum = 0;
  for (const auto& [name, value] : params) {
    const double d = std::get<double>(value) - 0.3;
    sum += d * d;
  }
  return sum;
}

struct Window {
  absl::Duration ask, tell, durable;
  absl::Duration ask_cpu;  // This thread's CPU time in Ask: steadier on a loaded machine.
};

absl::Duration ThreadCpuTime() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return absl::DurationFromTimespec(now);
}

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"coordinator-bench: in-process ask/tell cost per window of trials"};
  app.add_option("--sampler", options.sampler)->capture_default_str();
  app.add_option("--trials", options.trials)->capture_default_str();
  app.add_option("--window", options.window)->capture_default_str();
  app.add_option("--store", options.store, "sqlite | memory")->capture_default_str();
  app.add_option("--db", options.db, "the SQLite file (removed first)");
  app.add_option("--seed", options.seed, "the sampler's seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.window < 1) options.window = 1;

  std::unique_ptr<StudyStore> store;
  if (options.store == "memory") {
    store = std::make_unique<MemoryStudyStore>();
  } else {
    if (options.db.empty()) {
      options.db = (std::filesystem::temp_directory_path() /
                    absl::StrCat("coordinator-bench-", ::getpid(), ".db"))
                       .string();
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(options.db + suffix);
    }
    SqliteStudyStore::Options sqlite;
    sqlite.group_commit = true;  // As vernier-server opens it.
    absl::StatusOr<std::unique_ptr<SqliteStudyStore>> opened =
        SqliteStudyStore::Open(options.db, sqlite);
    if (!opened.ok()) {
      std::cerr << "coordinator-bench: " << opened.status() << "\n";
      return 1;
    }
    store = *std::move(opened);
  }
  RealClock clock;
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator =
      Coordinator::Create(store.get(), &clock, CoordinatorOptions());
  if (!coordinator.ok()) {
    std::cerr << "coordinator-bench: " << coordinator.status() << "\n";
    return 1;
  }
  Coordinator& c = **coordinator;
  absl::StatusOr<vernier::StudySpec> spec = vernier::StudySpecFromFile(StudySpec(options));
  if (!spec.ok()) {
    std::cerr << "coordinator-bench: " << spec.status() << "\n";
    return 1;
  }
  if (absl::Status created = c.CreateStudy(*std::move(spec)).status(); !created.ok()) {
    std::cerr << "coordinator-bench: " << created << "\n";
    return 1;
  }
  std::printf("# %s store, %s sampler, %lld trials; mean us per trial in each window\n",
              options.store.c_str(), options.sampler.c_str(),
              static_cast<long long>(options.trials));
  std::printf("%10s %10s %10s %10s %10s %10s\n", "trials", "ask", "tell", "durable", "total",
              "ask_cpu");
  Window window{};
  // A fingerprint of every suggestion, so that a change meant to be only
  // faster can be checked to suggest exactly the same trials.
  uint64_t fingerprint = 1469598103934665603ull;
  double best = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < options.trials; ++i) {
    const absl::Duration cpu0 = ThreadCpuTime();
    absl::Time t0 = absl::Now();
    absl::StatusOr<TrialView> asked = c.Ask("s");
    absl::Time t1 = absl::Now();
    window.ask_cpu += ThreadCpuTime() - cpu0;
    c.WaitDurable();
    absl::Time t2 = absl::Now();
    if (!asked.ok()) {
      std::cerr << "coordinator-bench: Ask: " << asked.status() << "\n";
      return 1;
    }
    const double value = Sphere(asked->trial.params);
    best = std::min(best, value);
    absl::StatusOr<TrialView> told =
        c.Tell("s", asked->trial.number, TrialState::kComplete, value, {}, "");
    absl::Time t3 = absl::Now();
    c.WaitDurable();
    absl::Time t4 = absl::Now();
    if (!told.ok()) {
      std::cerr << "coordinator-bench: Tell: " << told.status() << "\n";
      return 1;
    }
    for (const auto& [name, param] : asked->trial.params) {
      uint64_t bits;
      const double x = std::get<double>(param);
      std::memcpy(&bits, &x, sizeof(bits));
      fingerprint = (fingerprint ^ bits) * 1099511628211ull;
    }
    window.ask += t1 - t0;
    window.tell += t3 - t2;
    window.durable += (t2 - t1) + (t4 - t3);
    if ((i + 1) % options.window == 0 || i + 1 == options.trials) {
      const double n = static_cast<double>((i % options.window) + 1);
      const double ask = absl::ToDoubleMicroseconds(window.ask) / n;
      const double tell = absl::ToDoubleMicroseconds(window.tell) / n;
      const double durable = absl::ToDoubleMicroseconds(window.durable) / n;
      const double ask_cpu = absl::ToDoubleMicroseconds(window.ask_cpu) / n;
      std::printf("%10lld %10.1f %10.1f %10.1f %10.1f %10.1f\n", static_cast<long long>(i + 1), ask,
                  tell, durable, ask + tell + durable, ask_cpu);
      std::fflush(stdout);
      window = Window{};
    }
  }
  std::printf("# suggestions fingerprint: %016llx\n", static_cast<unsigned long long>(fingerprint));
  std::printf("# best value: %.6g\n", best);
  return 0;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) { return vernier::bench::Main(argc, argv); }
