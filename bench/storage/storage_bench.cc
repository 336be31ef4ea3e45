// storage_bench: how fast the SQLite study store writes and loads here.
//
//   storage_bench [--dir=DIR] [--write_trials=N] [--load_trials=N] [--steps=N]
//
// 1. Write throughput: for synchronous=FULL and NORMAL, --write_trials trials,
//    each one PutTrial followed by --steps AddMeasurement calls, as the
//    coordinator issues them; prints calls per second and per-call latency.
// 2. LoadAll: a file with --load_trials trials of --steps measurements each
//    (written with NORMAL to save time), reopened, then LoadAll() three times;
//    prints the fastest and slowest wall time and the fastest CPU time (which
//    other processes on the machine disturb less).
// Files go to a fresh directory under --dir (default /tmp), removed at the end.
// Not a test: nothing is asserted, and timings depend on the disk.
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/storage/sqlite_study_store.h"

namespace vernier {
namespace {

struct BenchOptions {
  std::string dir = "/tmp";
  int write_trials = 200;
  int load_trials = 10'000;
  int steps = 10;
};

StudyRecord BenchStudy() {
  StudyRecord study;
  study.name = "bench";
  study.spec.name = "bench";
  study.spec.objectives = {ObjectiveSpec{"loss", Goal::kMinimize}};
  study.spec.objective = study.spec.objectives[0];
  study.create_time = absl::Now();
  return study;
}

TrialRecord BenchTrial(int64_t number) {
  TrialRecord trial;
  trial.study = "bench";
  trial.number = number;
  trial.params = {{"lr", 1e-3 * static_cast<double>(number % 97 + 1)},
                  {"batch_size", int64_t{64}},
                  {"optimizer", std::string("adam")},
                  {"dropout", 0.25}};
  trial.state = TrialState::kRunning;
  trial.worker_id = "worker-0/slot-1";
  trial.attempt = 1;
  trial.start_time = absl::Now();
  return trial;
}

Measurement BenchMeasurement(int64_t step) {
  const double x = 1.0 / static_cast<double>(step + 2);
  return Measurement{step, {{"val_loss", x}, {"val_accuracy", 1 - x}, {"train_loss", x / 2}}};
}

absl::StatusOr<std::unique_ptr<SqliteStudyStore>> OpenBenchStore(
    const std::string& path, SqliteStudyStore::Options::Sync sync) {
  SqliteStudyStore::Options options;
  options.sync = sync;
  return SqliteStudyStore::Open(path, options);
}

// Writes `trials` trials with `steps` measurements each; fills `latencies`
// with the duration of every call.
absl::Status WriteTrials(StudyStore& store, int trials, int steps,
                         std::vector<absl::Duration>& latencies) {
  for (int64_t number = 0; number < trials; ++number) {
    absl::Time start = absl::Now();
    absl::Status status = store.PutTrial(BenchTrial(number));
    if (!status.ok()) return status;
    latencies.push_back(absl::Now() - start);
    for (int64_t step = 0; step < steps; ++step) {
      start = absl::Now();
      status = store.AddMeasurement("bench", number, BenchMeasurement(step));
      if (!status.ok()) return status;
      latencies.push_back(absl::Now() - start);
    }
  }
  return absl::OkStatus();
}

absl::Duration Percentile(std::vector<absl::Duration> values, double fraction) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(fraction * static_cast<double>(values.size() - 1))];
}

absl::Status BenchWrites(const std::string& dir, const BenchOptions& options) {
  for (const auto& [sync, name] : {std::pair{SqliteStudyStore::Options::Sync::kFull, "FULL"},
                                   std::pair{SqliteStudyStore::Options::Sync::kNormal, "NORMAL"}}) {
    const std::string path = absl::StrCat(dir, "/write_", name, ".db");
    absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = OpenBenchStore(path, sync);
    if (!store.ok()) return store.status();
    absl::Status status = (*store)->CreateStudy(BenchStudy());
    if (!status.ok()) return status;
    std::vector<absl::Duration> latencies;
    const absl::Time start = absl::Now();
    status = WriteTrials(**store, options.write_trials, options.steps, latencies);
    if (!status.ok()) return status;
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf(
        "writes synchronous=%-6s %6zu calls in %7.3f s: %8.0f calls/s  "
        "latency p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n",
        name, latencies.size(), seconds, static_cast<double>(latencies.size()) / seconds,
        absl::ToDoubleMilliseconds(Percentile(latencies, 0.5)),
        absl::ToDoubleMilliseconds(Percentile(latencies, 0.99)),
        absl::ToDoubleMilliseconds(Percentile(latencies, 1.0)));
  }
  return absl::OkStatus();
}

absl::Status BenchLoad(const std::string& dir, const BenchOptions& options) {
  const std::string path = absl::StrCat(dir, "/load.db");
  {
    absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store =
        OpenBenchStore(path, SqliteStudyStore::Options::Sync::kNormal);
    if (!store.ok()) return store.status();
    absl::Status status = (*store)->CreateStudy(BenchStudy());
    if (!status.ok()) return status;
    std::vector<absl::Duration> latencies;
    const absl::Time start = absl::Now();
    status = WriteTrials(**store, options.load_trials, options.steps, latencies);
    if (!status.ok()) return status;
    std::printf("filled %d trials x %d measurements (NORMAL) in %.1f s\n", options.load_trials,
                options.steps, absl::ToDoubleSeconds(absl::Now() - start));
  }
  std::printf("file size %.1f MiB\n",
              static_cast<double>(std::filesystem::file_size(path)) / (1 << 20));
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store =
      OpenBenchStore(path, SqliteStudyStore::Options::Sync::kFull);
  if (!store.ok()) return store.status();
  std::vector<absl::Duration> times;
  std::vector<double> cpu_seconds;
  for (int run = 0; run < 3; ++run) {
    const absl::Time start = absl::Now();
    const std::clock_t cpu_start = std::clock();
    absl::StatusOr<std::vector<StoredStudy>> loaded = (*store)->LoadAll();
    if (!loaded.ok()) return loaded.status();
    cpu_seconds.push_back(static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
    times.push_back(absl::Now() - start);
    if (loaded->size() != 1 ||
        loaded->front().trials.size() != static_cast<size_t>(options.load_trials)) {
      return absl::InternalError("LoadAll returned the wrong trials");
    }
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_seconds.begin(), cpu_seconds.end());
  std::printf(
      "LoadAll %d trials x %d measurements: wall fastest %.3f s, slowest %.3f s; "
      "CPU fastest %.3f s\n",
      options.load_trials, options.steps, absl::ToDoubleSeconds(times.front()),
      absl::ToDoubleSeconds(times.back()), cpu_seconds.front());
  return absl::OkStatus();
}

bool ParseInt(absl::string_view arg, absl::string_view flag, int* value) {
  return absl::ConsumePrefix(&arg, flag) && absl::SimpleAtoi(arg, value) && *value >= 0;
}

bool ParseArgs(int argc, char** argv, BenchOptions& options) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--dir=")) {
      options.dir = std::string(arg);
    } else if (!ParseInt(arg, "--write_trials=", &options.write_trials) &&
               !ParseInt(arg, "--load_trials=", &options.load_trials) &&
               !ParseInt(arg, "--steps=", &options.steps)) {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return false;
    }
  }
  return options.write_trials > 0 && options.load_trials > 0;
}

int Main(int argc, char** argv) {
  BenchOptions options;
  if (!ParseArgs(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: storage_bench [--dir=DIR] [--write_trials=N] [--load_trials=N] "
                 "[--steps=N]\n");
    return 2;
  }
  std::string dir = absl::StrCat(options.dir, "/storage_bench_XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory under %s\n", options.dir.c_str());
    return 1;
  }
  absl::Status status = BenchWrites(dir, options);
  if (status.ok()) status = BenchLoad(dir, options);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vernier

int main(int argc, char** argv) { return vernier::Main(argc, argv); }
