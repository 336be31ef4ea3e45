// Pruner replay: drives the real Coordinator (MemoryStudyStore, FakeClock)
// with recorded learning curves instead of real training, so that pruners can
// be compared on real curves in milliseconds.
//
// The recorded curves are the two CSV files that `vernier study export NAME
// --format csv [-o TRIALS] --intermediate CURVES` writes: TRIALS has one row
// per trial (number, state, objective_value, duration_seconds, params_*,
// final_*), CURVES one row per (number, step, metric, value).
//
// A replay is one study over the recorded configurations: its only parameter
// is `config`, a categorical over the configurations' indices in a random
// order drawn from the seed, and its sampler is `grid`, so trial n runs the
// n-th configuration of that order (each configuration once, as a random
// sampler over a finite set would without repeats). W simulated workers
// acquire trials, report the recorded metric step by step (each step costing
// simulated time), stop when the coordinator answers STOP, and complete a
// trial that reached its last step with its recorded final metrics.
//
// Thread-safety: the functions are reentrant; a Replay() uses only its own
// coordinator, store and clock.
#ifndef VERNIER_BENCH_PRUNERS_REPLAY_H_
#define VERNIER_BENCH_PRUNERS_REPLAY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vernier::bench {

// One recorded configuration: its learning curve and final metrics.
struct Curve {
  int64_t number = 0;                // Trial number in the recording.
  std::vector<int64_t> steps;        // Ascending.
  std::vector<double> values;        // values[i] was reported at steps[i].
  double final_value = 0;            // final_<metric>, else the last value.
  std::optional<double> final_test;  // final_test_accuracy, when recorded.
  double seconds_per_step = 1;       // duration_seconds / steps, when recorded.
};

struct CurveSet {
  std::vector<Curve> curves;  // Ordered by recorded trial number.
  int64_t max_steps = 0;      // Steps of a full curve (all curves have them).
  int64_t dropped = 0;        // Recorded trials left out (not COMPLETE, short curve).
};

// Reads the two export files and keeps the COMPLETE trials whose curve of
// `metric` has the most steps seen in the file (the full epoch budget).
// NOT_FOUND when a file cannot be opened; INVALID_ARGUMENT (naming the file,
// line and column) for a malformed row or a missing column; FAILED_PRECONDITION
// when no trial is left.
absl::StatusOr<CurveSet> LoadCurves(const std::string& trials_csv, const std::string& curves_csv,
                                    const std::string& metric);

// Splits one CSV line into fields (RFC 4180 quoting, as client/export.cc
// writes). INVALID_ARGUMENT for an unterminated quote.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(const std::string& line);

// The order in which a replay with `seed` visits `n` configurations: a
// Fisher-Yates shuffle driven by splitmix64 (bench/pruners/optuna_replay.py
// draws the same order).
std::vector<int64_t> ReplayOrder(int64_t n, uint64_t seed);

struct ReplayOptions {
  std::string metric = "val_accuracy";       // Maximized.
  std::string pruner_yaml = "{type: none}";  // The study's `pruner:` value.
  int workers = 1;
  uint64_t seed = 0;
  // Simulated seconds per step: 1 each, or each curve's recorded time.
  bool recorded_step_time = false;
  // Trials in the study; 0: every configuration once.
  int64_t max_trials = 0;
};

struct ReplayResult {
  int64_t epochs = 0;          // Steps reported, over all trials.
  int64_t complete = 0;        // Trials that reached their last step.
  int64_t pruned = 0;          // Trials the coordinator stopped.
  double best_value = 0;       // Final metric of the study's best trial.
  double best_test = 0;        // Its final test_accuracy (NaN when unrecorded).
  int64_t best_config = -1;    // Its index in CurveSet::curves.
  int64_t epochs_to_best = 0;  // Epochs spent when the best trial completed.
  double time_to_best = 0;     // Simulated seconds at that moment.
  double time = 0;             // Simulated seconds until the study ended.
};

// Runs one study to its end. INVALID_ARGUMENT for a pruner the study parser
// refuses (its message); INTERNAL when the coordinator answers something a
// worker would not expect (the message says what).
absl::StatusOr<ReplayResult> Replay(const CurveSet& set, const ReplayOptions& options);

}  // namespace vernier::bench

#endif  // VERNIER_BENCH_PRUNERS_REPLAY_H_
