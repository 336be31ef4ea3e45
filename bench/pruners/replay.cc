#include "bench/pruners/replay.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "server/coordinator/coordinator.h"
#include "server/schema/study_schema.h"
#include "server/storage/memory_study_store.h"

namespace vernier::bench {
namespace {

// A CSV file read as a header and rows of fields.
struct CsvTable {
  std::string path;
  std::map<std::string, size_t> columns;
  std::vector<std::vector<std::string>> rows;
};

absl::StatusOr<CsvTable> ReadCsv(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  CsvTable table{path, {}, {}};
  std::string line;
  int64_t line_number = 0;
  while (std::getline(file, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto fields = SplitCsvLine(line);
    if (!fields.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", fields.status().message()));
    }
    if (table.columns.empty()) {
      for (size_t i = 0; i < fields->size(); ++i) table.columns[(*fields)[i]] = i;
      continue;
    }
    if (fields->size() != table.columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": ", fields->size(),
                                                     " fields, the header has ",
                                                     table.columns.size()));
    }
    table.rows.push_back(*std::move(fields));
  }
  if (table.columns.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty"));
  return table;
}

absl::StatusOr<size_t> Column(const CsvTable& table, const std::string& name) {
  auto it = table.columns.find(name);
  if (it == table.columns.end()) {
    return absl::InvalidArgumentError(absl::StrCat(table.path, ": no column \"", name, "\""));
  }
  return it->second;
}

// Parses field `column` of data row `row` (0-based) as a number; `row` only
// serves the message (line = row + 2, after the header).
template <typename T>
absl::StatusOr<T> Number(const CsvTable& table, size_t row, size_t column) {
  T value{};
  const std::string& text = table.rows[row][column];
  bool ok;
  if constexpr (std::is_same_v<T, double>) {
    ok = absl::SimpleAtod(text, &value);
  } else {
    ok = absl::SimpleAtoi(text, &value);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(table.path, ":", row + 2, ": column ",
                                                   column + 1, ": not a number: \"", text, "\""));
  }
  return value;
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string StudyYaml(const ReplayOptions& options, const std::vector<int64_t>& order,
                      int64_t max_trials) {
  return absl::StrCat("name: replay\n", "objective: {metric: ", options.metric,
                      ", goal: maximize}\n", "params:\n  config: {type: categorical, values: [",
                      absl::StrJoin(order, ", "), "]}\n", "sampler: {type: grid}\n",
                      "pruner: ", options.pruner_yaml, "\n", "budget: {max_trials: ", max_trials,
                      ", parallel: ", options.workers, ", max_failures: 0}\n",
                      "trainer: {command: [replay]}\n");
}

absl::StatusOr<int64_t> ConfigOf(const Assignment& assignment, size_t num_configs) {
  auto it = assignment.trial.params.find("config");
  if (it == assignment.trial.params.end()) {
    return absl::InternalError(absl::StrCat("trial ", assignment.trial.number, " has no config"));
  }
  int64_t config = -1;
  if (const auto* i = std::get_if<int64_t>(&it->second)) config = *i;
  if (const auto* d = std::get_if<double>(&it->second)) config = static_cast<int64_t>(*d);
  if (config < 0 || config >= static_cast<int64_t>(num_configs)) {
    return absl::InternalError(absl::StrCat("trial ", assignment.trial.number, ": config \"",
                                            ParamValueToString(it->second), "\" out of range"));
  }
  return config;
}

// One simulated worker: the trial it runs and how far the curve has got.
struct SimWorker {
  std::string id;
  std::optional<Assignment> assignment;
  int64_t config = -1;
  size_t next = 0;  // Index of the next step of the curve to report.
};

// The whole simulation of one replay: the coordinator and its clock, the
// workers and an event queue of (time, worker) step reports. Ties are broken
// by worker index, as in optuna_replay.py.
class Simulation {
 public:
  Simulation(const CurveSet& set, const ReplayOptions& options) : set_(set), options_(options) {}

  absl::StatusOr<ReplayResult> Run() {
    const int64_t n = static_cast<int64_t>(set_.curves.size());
    const int64_t max_trials = options_.max_trials > 0 ? std::min(options_.max_trials, n) : n;
    // The lease never runs out in simulated time: no worker is ever lost.
    CoordinatorOptions coordinator_options{absl::Hours(24 * 365 * 100), absl::Seconds(5)};
    ASSIGN_OR_RETURN(coordinator_, Coordinator::Create(&store_, &clock_, coordinator_options));
    const std::string yaml = StudyYaml(options_, ReplayOrder(n, options_.seed), max_trials);
    ASSIGN_OR_RETURN(StudySpec spec, StudySpecFromFile(yaml));
    RETURN_IF_ERROR(coordinator_->CreateStudy(std::move(spec), yaml).status());
    workers_.resize(options_.workers);
    for (SimWorker& worker : workers_) {
      worker.id = coordinator_->RegisterWorker("sim").worker_id;
    }
    for (size_t w = 0; w < workers_.size(); ++w) RETURN_IF_ERROR(StartNext(w));
    while (!events_.empty()) {
      auto [time, w] = events_.top();
      events_.pop();
      clock_.Advance(absl::Seconds(time - now_));
      now_ = time;
      RETURN_IF_ERROR(ReportStep(w));
    }
    return Finish(max_trials);
  }

 private:
  using Event = std::pair<double, size_t>;  // (time, worker index)

  double StepCost(int64_t config) const {
    return options_.recorded_step_time ? set_.curves[config].seconds_per_step : 1.0;
  }

  // Leases the next trial for worker `w`, if the study has one.
  absl::Status StartNext(size_t w) {
    SimWorker& worker = workers_[w];
    worker.assignment.reset();
    ASSIGN_OR_RETURN(std::optional<Assignment> assignment,
                     coordinator_->AcquireTrial(worker.id, "slot"));
    if (!assignment) return absl::OkStatus();
    ASSIGN_OR_RETURN(worker.config, ConfigOf(*assignment, set_.curves.size()));
    worker.assignment = std::move(assignment);
    worker.next = 0;
    events_.emplace(now_ + StepCost(worker.config), w);
    return absl::OkStatus();
  }

  absl::Status ReportStep(size_t w) {
    SimWorker& worker = workers_[w];
    const Curve& curve = set_.curves[worker.config];
    const LeaseKey& lease = worker.assignment->lease;
    Measurement measurement;
    measurement.step = curve.steps[worker.next];
    measurement.metrics[options_.metric] = curve.values[worker.next];
    ++worker.next;
    ++epochs_;
    ASSIGN_OR_RETURN(TrialAction action,
                     coordinator_->ReportProgress(worker.id, lease, measurement));
    if (action == TrialAction::kStop) {
      ++pruned_;
      return StartNext(w);
    }
    if (worker.next < curve.steps.size()) {
      events_.emplace(now_ + StepCost(worker.config), w);
      return absl::OkStatus();
    }
    MetricMap final_metrics{{options_.metric, curve.final_value}};
    if (curve.final_test) final_metrics["test_accuracy"] = *curve.final_test;
    RETURN_IF_ERROR(
        coordinator_->CompleteTrial(worker.id, lease, TrialState::kComplete, final_metrics, ""));
    ++complete_;
    completed_at_[lease.trial_number] = {epochs_, now_};
    return StartNext(w);
  }

  absl::StatusOr<ReplayResult> Finish(int64_t max_trials) {
    ASSIGN_OR_RETURN(StudyView view, coordinator_->GetStudy("replay"));
    if (view.record.state != StudyState::kCompleted || complete_ + pruned_ != max_trials) {
      return absl::InternalError(absl::StrCat("study ended ", StudyStateName(view.record.state),
                                              " after ", complete_, " complete and ", pruned_,
                                              " pruned trials of ", max_trials));
    }
    ReplayResult result;
    result.epochs = epochs_;
    result.complete = complete_;
    result.pruned = pruned_;
    result.time = now_;
    ASSIGN_OR_RETURN(TrialsView best_view, coordinator_->BestTrials("replay", 1));
    const std::vector<TrialRecord>& best = best_view.trials;
    if (best.empty()) return absl::InternalError("no COMPLETE trial");
    result.best_value = best[0].final_metrics.at(options_.metric);
    auto test = best[0].final_metrics.find("test_accuracy");
    result.best_test = test == best[0].final_metrics.end() ? std::nan("") : test->second;
    ASSIGN_OR_RETURN(result.best_config, ConfigOf(Assignment{{}, best[0]}, set_.curves.size()));
    std::tie(result.epochs_to_best, result.time_to_best) = completed_at_.at(best[0].number);
    return result;
  }

  const CurveSet& set_;
  const ReplayOptions& options_;
  MemoryStudyStore store_;
  FakeClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<SimWorker> workers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  double now_ = 0;
  int64_t epochs_ = 0;
  int64_t complete_ = 0;
  int64_t pruned_ = 0;
  std::map<int64_t, std::pair<int64_t, double>> completed_at_;  // number -> (epochs, time)
};

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        fields.back() += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated quoted field");
  return fields;
}

std::vector<int64_t> ReplayOrder(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(SplitMix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

absl::StatusOr<CurveSet> LoadCurves(const std::string& trials_csv, const std::string& curves_csv,
                                    const std::string& metric) {
  ASSIGN_OR_RETURN(CsvTable trials, ReadCsv(trials_csv));
  ASSIGN_OR_RETURN(CsvTable curves, ReadCsv(curves_csv));
  ASSIGN_OR_RETURN(size_t t_number, Column(trials, "number"));
  ASSIGN_OR_RETURN(size_t t_state, Column(trials, "state"));
  ASSIGN_OR_RETURN(size_t c_number, Column(curves, "number"));
  ASSIGN_OR_RETURN(size_t c_step, Column(curves, "step"));
  ASSIGN_OR_RETURN(size_t c_metric, Column(curves, "metric"));
  ASSIGN_OR_RETURN(size_t c_value, Column(curves, "value"));
  const auto t_duration = Column(trials, "duration_seconds");
  const auto t_final = Column(trials, "final_" + metric);
  const auto t_test = Column(trials, "final_test_accuracy");

  std::map<int64_t, std::map<int64_t, double>> by_trial;  // number -> step -> value
  for (size_t r = 0; r < curves.rows.size(); ++r) {
    if (curves.rows[r][c_metric] != metric) continue;
    ASSIGN_OR_RETURN(int64_t number, Number<int64_t>(curves, r, c_number));
    ASSIGN_OR_RETURN(int64_t step, Number<int64_t>(curves, r, c_step));
    ASSIGN_OR_RETURN(double value, Number<double>(curves, r, c_value));
    by_trial[number][step] = value;
  }
  CurveSet set;
  for (const auto& [number, steps] : by_trial) {
    set.max_steps = std::max<int64_t>(set.max_steps, steps.size());
  }
  for (size_t r = 0; r < trials.rows.size(); ++r) {
    ASSIGN_OR_RETURN(int64_t number, Number<int64_t>(trials, r, t_number));
    auto it = by_trial.find(number);
    if (trials.rows[r][t_state] != "COMPLETE" || it == by_trial.end() ||
        static_cast<int64_t>(it->second.size()) < set.max_steps) {
      ++set.dropped;
      continue;
    }
    Curve curve;
    curve.number = number;
    for (const auto& [step, value] : it->second) {
      curve.steps.push_back(step);
      curve.values.push_back(value);
    }
    curve.final_value = curve.values.back();
    if (t_final.ok() && !trials.rows[r][*t_final].empty()) {
      ASSIGN_OR_RETURN(curve.final_value, Number<double>(trials, r, *t_final));
    }
    if (t_test.ok() && !trials.rows[r][*t_test].empty()) {
      ASSIGN_OR_RETURN(curve.final_test, Number<double>(trials, r, *t_test));
    }
    if (t_duration.ok() && !trials.rows[r][*t_duration].empty()) {
      ASSIGN_OR_RETURN(double seconds, Number<double>(trials, r, *t_duration));
      curve.seconds_per_step = seconds / static_cast<double>(curve.steps.size());
    }
    set.curves.push_back(std::move(curve));
  }
  if (set.curves.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        trials_csv, ": no COMPLETE trial with a full curve of ", metric, " in ", curves_csv));
  }
  std::sort(set.curves.begin(), set.curves.end(),
            [](const Curve& a, const Curve& b) { return a.number < b.number; });
  return set;
}

absl::StatusOr<ReplayResult> Replay(const CurveSet& set, const ReplayOptions& options) {
  if (options.workers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("workers: must be >= 1, got ", options.workers));
  }
  return Simulation(set, options).Run();
}

}  // namespace vernier::bench
