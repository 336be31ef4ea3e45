// dashboard-seed: writes one finished study of --trials trials with --steps
// intermediate values each into a new SQLite database, through the storage
// layer (SqliteStudyStore, as vernier-server writes it), so that the dashboard
// benchmark can start vernier-server on a 100,000-trial study in a minute
// instead of replaying 10 million Report calls (about two hours at the
// ~1,500 writes/s of bench/asktell on a small machine).
//
// Not the product's path: the trials never went through the coordinator. What
// the server then reads back is checked by the benchmark (trial count through
// the API). The data look like a real study: 4 parameters (float, log float,
// int, categorical), a loss that decays over the steps, 80 % COMPLETE, 15 %
// PRUNED at a rung, 5 % FAILED, trials packed back to back on --workers
// worker slots with small idle gaps.
//
//   dashboard-seed --db /tmp/d.db --study big --trials 100000 --steps 100
//
// Prints one JSON line: trials, measurements, seconds. Exits non-zero when
// the database exists already or a write fails.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/schema/study_schema.h"
#include "server/storage/sqlite_study_store.h"

namespace vernier::bench {
namespace {

struct Options {
  std::string db;
  std::string study = "big";
  int64_t trials = 100000;
  int steps = 100;
  int workers = 16;
  int batch = 500;  // Trials per StudyWrite (one SQLite transaction).
  uint32_t seed = 1;
};

std::string StudyFile(const Options& options) {
  return absl::StrCat("name: ", options.study, "\n",
                      "objective: {metric: loss, goal: minimize}\n"
                      "params:\n"
                      "  x: {type: float, low: -2, high: 2}\n"
                      "  lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}\n"
                      "  layers: {type: int, low: 1, high: 8}\n"
                      "  opt: {type: categorical, values: [adam, sgd, rmsprop]}\n"
                      "sampler: {type: random, seed: 1}\n"
                      "pruner: {type: median, warmup_steps: 5}\n"
                      "budget: {max_trials: ",
                      options.trials, ", max_failures: ", options.trials, "}\n",
                      "trainer: {external: true}\n");
}

int Run(const Options& options) {
  if (std::filesystem::exists(options.db)) {
    std::cerr << "dashboard-seed: " << options.db << " exists; give a new file\n";
    return 1;
  }
  const std::string file = StudyFile(options);
  absl::StatusOr<StudySpec> spec = ParseStudySpec(file);
  if (!spec.ok()) {
    std::cerr << "dashboard-seed: the study file: " << spec.status() << "\n";
    return 1;
  }
  SqliteStudyStore::Options store_options;
  store_options.sync = SqliteStudyStore::Options::Sync::kNormal;  // A fixture: speed first.
  auto store = SqliteStudyStore::Open(options.db, store_options);
  if (!store.ok()) {
    std::cerr << "dashboard-seed: " << store.status() << "\n";
    return 1;
  }
  const absl::Time started = absl::Now();
  // The study's trials end about now; each took ~2 minutes on its slot.
  const absl::Time first_start =
      started - absl::Seconds(125.0 * static_cast<double>(options.trials) / options.workers);
  StudyRecord record;
  record.name = options.study;
  record.spec = *spec;
  record.source_text = file;
  record.create_time = first_start - absl::Minutes(1);

  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<absl::Time> slot_free(options.workers, first_start);
  const char* kOptimizers[] = {"adam", "sgd", "rmsprop"};
  int64_t measurements = 0;
  StudyWrite write;
  write.study = options.study;
  write.create = record;
  for (int64_t number = 0; number < options.trials; ++number) {
    TrialRecord trial;
    trial.study = options.study;
    trial.number = number;
    const double x = -2 + 4 * unit(rng);
    const double lr = std::pow(10.0, -4 + 3 * unit(rng));
    const int64_t layers = 1 + static_cast<int64_t>(unit(rng) * 8) % 8;
    const std::string opt = kOptimizers[static_cast<int>(unit(rng) * 3) % 3];
    trial.params = {{"x", x}, {"lr", lr}, {"layers", layers}, {"opt", opt}};
    // The final loss the trial heads for: best near x = 0.5, lr = 1e-2.
    const double floor = (x - 0.5) * (x - 0.5) + std::abs(std::log10(lr) + 2) * 0.3 +
                         0.05 * layers + (opt == "sgd" ? 0.2 : 0.0) + 0.1 * unit(rng);
    const double draw = unit(rng);
    int steps = options.steps;
    if (draw < 0.05) {
      trial.state = TrialState::kFailed;
      steps = static_cast<int>(unit(rng) * options.steps / 2);
      trial.failure_reason = "CUDA out of memory (seeded)";
    } else if (draw < 0.20) {
      trial.state = TrialState::kPruned;
      steps = std::max(5, options.steps / 4 * (1 + static_cast<int>(unit(rng) * 2)));
      steps = std::min(steps, options.steps);
    } else {
      trial.state = TrialState::kComplete;
    }
    double loss = 0;
    for (int step = 0; step < steps; ++step) {
      loss = floor + 2.0 * std::exp(-step / 15.0) + 0.02 * (unit(rng) - 0.5);
      Measurement m;
      m.step = step;
      m.metrics = {{"loss", loss}};
      write.measurements.emplace_back(number, std::move(m));
      ++measurements;
    }
    if (trial.state == TrialState::kComplete) trial.final_metrics = {{"loss", loss}};
    const int slot = static_cast<int>(number % options.workers);
    trial.worker_id = absl::StrCat("gpu-host-", slot / 4, ":", slot % 4);
    trial.attempt = 1;
    trial.start_time = slot_free[slot] + absl::Seconds(1 + 4 * unit(rng));
    trial.end_time = trial.start_time + absl::Seconds(1.2 * std::max(steps, 1) + unit(rng));
    slot_free[slot] = trial.end_time;
    write.trials.push_back(std::move(trial));
    if (static_cast<int>(write.trials.size()) == options.batch || number + 1 == options.trials) {
      if (absl::Status status = (*store)->Apply(write); !status.ok()) {
        std::cerr << "dashboard-seed: writing trials up to " << number << ": " << status << "\n";
        return 1;
      }
      write = StudyWrite{};
      write.study = options.study;
    }
  }
  (*store)->WaitDurable();
  std::cout << "{\"trials\": " << options.trials << ", \"measurements\": " << measurements
            << ", \"seconds\": " << absl::ToDoubleSeconds(absl::Now() - started) << "}"
            << std::endl;
  return 0;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) {
  vernier::bench::Options options;
  CLI::App app{"dashboard-seed: a large finished study in a new database, for benchmarks"};
  app.add_option("--db", options.db, "new SQLite file")->required();
  app.add_option("--study", options.study)->capture_default_str();
  app.add_option("--trials", options.trials)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--steps", options.steps, "intermediate values of a COMPLETE trial")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--workers", options.workers, "worker slots the trials ran on")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", options.seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return vernier::bench::Run(options);
}
