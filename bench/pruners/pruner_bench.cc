// Pruner replay benchmark: replays recorded learning curves through the real
// coordinator (see replay.h) once per (pruner, worker count, seed) and prints
// one CSV row per replay. bench/pruners/report.py turns the rows (with those
// of optuna_replay.py) into the table of bench/README.md.
//
// Usage: pruner_bench --trials TRIALS.csv --curves CURVES.csv [--metric val_accuracy]
//          [--seeds 50] [--workers 4,8] [--step-time unit|recorded] [--max-trials 0]
//          [--pruner LABEL=YAML]...
// Without --pruner: none, median, percentile (25), asha and hyperband with
// their defaults (hyperband's max_resource: the curves' step count).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/pruners/replay.h"

namespace vernier::bench {
namespace {

struct Options {
  std::string trials_csv;
  std::string curves_csv;
  std::string metric = "val_accuracy";
  int seeds = 50;
  std::vector<int> workers = {4, 8};
  bool recorded_step_time = false;
  int64_t max_trials = 0;
  std::vector<std::pair<std::string, std::string>> pruners;  // (label, YAML)
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr,
               "pruner_bench: %s\nusage: pruner_bench --trials TRIALS.csv --curves CURVES.csv "
               "[--metric M] [--seeds N] [--workers 4,8] [--step-time unit|recorded] "
               "[--max-trials N] [--pruner LABEL=YAML]...\n",
               problem.c_str());
  std::exit(2);
}

Options ParseFlags(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(absl::StrCat(flag, ": missing value"));
    const std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--trials") {
      options.trials_csv = value;
    } else if (flag == "--curves") {
      options.curves_csv = value;
    } else if (flag == "--metric") {
      options.metric = value;
    } else if (flag == "--seeds") {
      ok = absl::SimpleAtoi(value, &options.seeds) && options.seeds > 0;
    } else if (flag == "--workers") {
      options.workers.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int w = 0;
        ok = ok && absl::SimpleAtoi(part, &w) && w > 0;
        options.workers.push_back(w);
      }
    } else if (flag == "--step-time") {
      ok = value == "unit" || value == "recorded";
      options.recorded_step_time = value == "recorded";
    } else if (flag == "--max-trials") {
      ok = absl::SimpleAtoi(value, &options.max_trials) && options.max_trials >= 0;
    } else if (flag == "--pruner") {
      std::pair<std::string, std::string> pruner = absl::StrSplit(value, absl::MaxSplits('=', 1));
      ok = !pruner.first.empty() && !pruner.second.empty();
      options.pruners.push_back(std::move(pruner));
    } else {
      Usage(absl::StrCat("unknown flag ", flag));
    }
    if (!ok) Usage(absl::StrCat(flag, ": bad value \"", value, "\""));
  }
  if (options.trials_csv.empty() || options.curves_csv.empty()) {
    Usage("--trials and --curves are required");
  }
  return options;
}

std::vector<std::pair<std::string, std::string>> DefaultPruners(int64_t max_steps) {
  return {{"none", "{type: none}"},
          {"median", "{type: median}"},
          {"percentile", "{type: percentile, percentile: 25}"},
          {"asha", "{type: asha}"},
          {"hyperband", absl::StrCat("{type: hyperband, max_resource: ", max_steps, "}")}};
}

int Run(const Options& flags) {
  auto set = LoadCurves(flags.trials_csv, flags.curves_csv, flags.metric);
  if (!set.ok()) {
    std::fprintf(stderr, "pruner_bench: %s\n", std::string(set.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "pruner_bench: %zu configurations of %lld steps (%lld trials left out)\n",
               set->curves.size(), static_cast<long long>(set->max_steps),
               static_cast<long long>(set->dropped));
  const auto pruners = flags.pruners.empty() ? DefaultPruners(set->max_steps) : flags.pruners;
  std::printf(
      "impl,pruner,workers,seed,epochs,full_epochs,complete,pruned,best_value,best_test,"
      "best_number,epochs_to_best,time_to_best,time\n");
  const int64_t trials = flags.max_trials > 0
                             ? std::min<int64_t>(flags.max_trials, set->curves.size())
                             : static_cast<int64_t>(set->curves.size());
  for (const auto& [label, yaml] : pruners) {
    for (int workers : flags.workers) {
      for (int seed = 0; seed < flags.seeds; ++seed) {
        ReplayOptions options;
        options.metric = flags.metric;
        options.pruner_yaml = yaml;
        options.workers = workers;
        options.seed = static_cast<uint64_t>(seed);
        options.recorded_step_time = flags.recorded_step_time;
        options.max_trials = flags.max_trials;
        auto result = Replay(*set, options);
        if (!result.ok()) {
          std::fprintf(stderr, "pruner_bench: %s (workers %d, seed %d): %s\n", label.c_str(),
                       workers, seed, std::string(result.status().message()).c_str());
          return 1;
        }
        std::printf("vernier,%s,%d,%d,%lld,%lld,%lld,%lld,%.17g,%.17g,%lld,%lld,%.17g,%.17g\n",
                    label.c_str(), workers, seed, static_cast<long long>(result->epochs),
                    static_cast<long long>(trials * set->max_steps),
                    static_cast<long long>(result->complete),
                    static_cast<long long>(result->pruned), result->best_value, result->best_test,
                    static_cast<long long>(set->curves[result->best_config].number),
                    static_cast<long long>(result->epochs_to_best), result->time_to_best,
                    result->time);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) {
  return vernier::bench::Run(vernier::bench::ParseFlags(argc, argv));
}
