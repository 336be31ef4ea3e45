#include "client/live_view.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/format.h"

namespace vernier {
namespace {

// Below this the view cannot say anything useful.
constexpr int kMinWidth = 20;
// The widest progress bar: a wider one says nothing more.
constexpr int kMaxBarWidth = 40;
// A bar narrower than this is left out.
constexpr int kMinBarWidth = 10;
// The label column of the lower sections ("running  ").
constexpr char kIndent[] = "         ";

std::string NumberText(double value) {
  if (std::isnan(value)) return "nan";
  return absl::StrFormat("%.6g", value);
}

bool IsFinished(v1::TrialState state) {
  return state == v1::TRIAL_STATE_COMPLETE || state == v1::TRIAL_STATE_PRUNED ||
         state == v1::TRIAL_STATE_FAILED || state == v1::TRIAL_STATE_INFEASIBLE;
}

// The states the "recent" rows tell of: the trials that did not make it.
bool IsProblem(v1::TrialState state) {
  return state == v1::TRIAL_STATE_PRUNED || state == v1::TRIAL_STATE_FAILED ||
         state == v1::TRIAL_STATE_INFEASIBLE;
}

// warm_start copies and refits are outside the budget: StudySummary's
// finished_trials does not count them, and a refit is not a candidate best.
bool OutsideBudget(const v1::Trial& trial) {
  return absl::StartsWith(trial.origin(), "warm_start:") ||
         absl::StartsWith(trial.origin(), "refit:");
}

// `text` on one line in at most `width` columns: control characters become
// spaces, and a longer text ends in "...". Columns are counted as UTF-8
// code points, so a cut never splits a character.
std::string FitToWidth(const std::string& text, int width) {
  std::string line;
  line.reserve(text.size());
  for (char c : text) line.push_back(absl::ascii_iscntrl(static_cast<unsigned char>(c)) ? ' ' : c);
  auto columns_before = [&line](size_t end) {
    int columns = 0;
    for (size_t i = 0; i < end; ++i)
      columns += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
    return columns;
  };
  if (columns_before(line.size()) <= width) return line;
  // Keep the code points that fit beside "...".
  size_t end = 0;
  int columns = 0;
  while (end < line.size()) {
    size_t next = end + 1;
    while (next < line.size() && (static_cast<unsigned char>(line[next]) & 0xC0) == 0x80) ++next;
    if (columns + 1 > width - 3) break;
    ++columns;
    end = next;
  }
  return line.substr(0, end) + std::string(std::min(width, 3), '.');
}

bool Maximized(const v1::Objective& objective) { return objective.goal() != v1::GOAL_MINIMIZE; }

// "loss=0.41 acc=0.9": the objectives' metrics first, in their order, then
// the others by name.
std::string MetricsText(const std::vector<v1::Objective>& objectives,
                        const std::map<std::string, double>& metrics) {
  std::vector<std::string> parts;
  std::set<std::string> shown;
  for (const v1::Objective& objective : objectives) {
    auto it = metrics.find(objective.metric());
    if (it == metrics.end() || !shown.insert(it->first).second) continue;
    parts.push_back(absl::StrCat(it->first, "=", NumberText(it->second)));
  }
  for (const auto& [name, value] : metrics) {
    if (shown.count(name) == 0) parts.push_back(absl::StrCat(name, "=", NumberText(value)));
  }
  return absl::StrJoin(parts, " ");
}

// The objectives' metrics alone: what a running trial's row shows.
std::string ObjectivesText(const std::vector<v1::Objective>& objectives,
                           const std::map<std::string, double>& metrics) {
  std::map<std::string, double> only;
  for (const v1::Objective& objective : objectives) {
    auto it = metrics.find(objective.metric());
    if (it != metrics.end()) only.insert(*it);
  }
  return MetricsText(objectives, only);
}

std::string ObjectiveHeading(const std::vector<v1::Objective>& objectives) {
  std::vector<std::string> parts;
  for (const v1::Objective& objective : objectives) {
    parts.push_back(absl::StrCat(objective.metric(), Maximized(objective) ? " (max)" : " (min)"));
  }
  return absl::StrJoin(parts, ", ");
}

std::string TitleLine(const LiveViewState& state) {
  std::string line = absl::StrCat("study ", state.study, "  ", StateName(state.state));
  if (!state.state_reason.empty()) absl::StrAppend(&line, " (", state.state_reason, ")");
  if (!state.objectives.empty()) absl::StrAppend(&line, "  ", ObjectiveHeading(state.objectives));
  if (!state.note.empty()) absl::StrAppend(&line, "  [", state.note, "]");
  return line;
}

std::string ProgressLine(const LiveViewState& state, int width) {
  std::string suffix;
  if (state.max_trials > 0) {
    const int64_t percent = std::min<int64_t>(
        100, state.finished_trials * 100 / std::max<int64_t>(1, state.max_trials));
    suffix =
        absl::StrFormat(" %d/%d finished  %d%%", state.finished_trials, state.max_trials, percent);
  } else {
    suffix = absl::StrFormat(" %d finished", state.finished_trials);
  }
  if (state.finished_per_minute > 0) {
    absl::StrAppend(&suffix, absl::StrFormat("  %.2f/min", state.finished_per_minute));
  }
  if (std::optional<double> eta = EtaSeconds(state)) {
    absl::StrAppend(&suffix, "  ETA ", DurationText(*eta));
  }
  const int bar_width = std::min(kMaxBarWidth, width - static_cast<int>(suffix.size()));
  if (state.max_trials <= 0 || bar_width < kMinBarWidth) return suffix.substr(1);
  return ProgressBar(state.finished_trials, state.max_trials, bar_width) + suffix;
}

// "running 3  waiting 1  complete 9  pruned 2": running always, the other
// states when some trial is in them.
std::string CountsLine(const LiveViewState& state) {
  auto count = [&state](v1::TrialState trial_state) -> int64_t {
    auto it = state.trial_counts.find(StateName(trial_state));
    return it == state.trial_counts.end() ? 0 : it->second;
  };
  std::string line = absl::StrCat("running ", count(v1::TRIAL_STATE_RUNNING));
  for (v1::TrialState trial_state :
       {v1::TRIAL_STATE_WAITING, v1::TRIAL_STATE_COMPLETE, v1::TRIAL_STATE_PRUNED,
        v1::TRIAL_STATE_FAILED, v1::TRIAL_STATE_INFEASIBLE}) {
    if (count(trial_state) > 0) {
      absl::StrAppend(&line, "  ", absl::AsciiStrToLower(StateName(trial_state)), " ",
                      count(trial_state));
    }
  }
  return line;
}

std::string BestLine(const LiveViewState& state) {
  if (state.objectives.size() > 1) {
    if (state.pareto_front_size == 0) return "best     none yet";
    return absl::StrCat("best     ", state.pareto_front_size, " trials on the Pareto front");
  }
  if (!state.best_trial) return "best     none yet";
  std::string line = absl::StrCat("best     trial ", *state.best_trial);
  if (state.best_value && !state.objectives.empty()) {
    absl::StrAppend(&line, "  ", state.objectives[0].metric(), "=", NumberText(*state.best_value));
  }
  return line;
}

// One row per running trial (the first kShownRunningTrials), columns aligned.
std::vector<std::string> RunningLines(const LiveViewState& state) {
  if (state.running.empty()) return {"running  none"};
  struct Row {
    std::string number, step, values, elapsed, rest;
  };
  std::vector<Row> rows;
  size_t widths[4] = {0, 0, 0, 0};
  for (const auto& [number, trial] : state.running) {
    if (static_cast<int>(rows.size()) == kShownRunningTrials) break;
    Row row;
    row.number = absl::StrCat("trial ", number);
    row.step = trial.step ? absl::StrCat("step ", *trial.step) : "no report yet";
    row.values = ObjectivesText(state.objectives, trial.metrics);
    row.elapsed = trial.start_time_unix_ms > 0 && state.now_unix_ms > 0
                      ? DurationText((state.now_unix_ms - trial.start_time_unix_ms) / 1000.0)
                      : "-";
    std::vector<std::string> rest;
    if (!trial.worker.empty() && trial.worker != "(ask)") rest.push_back(trial.worker);
    if (!trial.params.empty()) rest.push_back(trial.params);
    row.rest = absl::StrJoin(rest, "  ");
    widths[0] = std::max(widths[0], row.number.size());
    widths[1] = std::max(widths[1], row.step.size());
    widths[2] = std::max(widths[2], row.values.size());
    widths[3] = std::max(widths[3], row.elapsed.size());
    rows.push_back(std::move(row));
  }
  std::vector<std::string> lines;
  for (const Row& row : rows) {
    std::string line =
        absl::StrFormat("%s%-*s  %-*s  %-*s  %*s  %s", lines.empty() ? "running  " : kIndent,
                        static_cast<int>(widths[0]), row.number, static_cast<int>(widths[1]),
                        row.step, static_cast<int>(widths[2]), row.values,
                        static_cast<int>(widths[3]), row.elapsed, row.rest);
    lines.push_back(std::string(absl::StripTrailingAsciiWhitespace(line)));
  }
  const int more = static_cast<int>(state.running.size()) - kShownRunningTrials;
  if (more > 0) lines.push_back(absl::StrCat(kIndent, "and ", more, " more"));
  return lines;
}

std::string EndedText(const EndedTrialView& trial, const std::vector<v1::Objective>& objectives) {
  std::string text = absl::StrCat("trial ", trial.number, "  ", StateName(trial.state));
  if (trial.step) absl::StrAppend(&text, " at step ", *trial.step);
  if (trial.value && !objectives.empty()) {
    absl::StrAppend(&text, "  ", objectives[0].metric(), "=", NumberText(*trial.value));
  }
  if (!trial.reason.empty()) absl::StrAppend(&text, "  ", trial.reason);
  return text;
}

// The latest PRUNED / FAILED / INFEASIBLE trials, newest first; none: no row.
std::vector<std::string> RecentLines(const LiveViewState& state) {
  std::vector<std::string> lines;
  for (auto it = state.recent.rbegin(); it != state.recent.rend(); ++it) {
    lines.push_back(
        absl::StrCat(lines.empty() ? "recent   " : kIndent, EndedText(*it, state.objectives)));
  }
  return lines;
}

// The running trial of a StudySummary, its objectives' values by metric.
RunningTrialView ViewOf(const v1::RunningTrialSummary& running,
                        const std::vector<v1::Objective>& objectives) {
  RunningTrialView view;
  view.number = running.number();
  if (running.has_latest_step()) view.step = running.latest_step();
  for (int i = 0; i < running.objective_values_size() && i < static_cast<int>(objectives.size());
       ++i) {
    if (!std::isnan(running.objective_values(i))) {
      view.metrics[objectives[i].metric()] = running.objective_values(i);
    }
  }
  if (view.metrics.empty() && running.has_objective_value() && !objectives.empty()) {
    view.metrics[objectives[0].metric()] = running.objective_value();
  }
  view.worker = running.worker_id();
  view.start_time_unix_ms = running.start_time_unix_ms();
  return view;
}

RunningTrialView ViewOf(const v1::Trial& trial) {
  RunningTrialView view;
  view.number = trial.number();
  view.params = ParamsSummary(trial);
  view.worker = trial.worker_id();
  view.start_time_unix_ms = trial.start_time_unix_ms();
  if (!trial.intermediate().empty()) {
    const v1::Measurement& last = *trial.intermediate().rbegin();
    view.step = last.step();
    view.metrics.insert(last.metrics().begin(), last.metrics().end());
  }
  return view;
}

// " on local-0"; nothing for an asked trial, whose worker is the user.
std::string WorkerText(const std::string& worker) {
  if (worker.empty() || worker == "(ask)") return "";
  return absl::StrCat(" on ", worker);
}

std::string StartedLine(const v1::Trial& trial) {
  std::string line =
      absl::StrCat("trial ", trial.number(), " started", WorkerText(trial.worker_id()));
  const std::string params = ParamsSummary(trial);
  if (!params.empty()) absl::StrAppend(&line, "  ", params);
  return line;
}

}  // namespace

std::string ProgressBar(int64_t done, int64_t total, int width) {
  width = std::max(width, 3);
  const int inside = width - 2;
  int filled = 0;
  if (total > 0) {
    const double share = std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
    filled = static_cast<int>(std::floor(share * inside));
  }
  return absl::StrCat("[", std::string(filled, '#'), std::string(inside - filled, '-'), "]");
}

std::string DurationText(double seconds) {
  const int64_t s = std::llround(std::max(seconds, 0.0));
  if (s >= 3600) return absl::StrFormat("%dh %02dm", s / 3600, s % 3600 / 60);
  if (s >= 60) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

std::optional<double> EtaSeconds(const LiveViewState& state) {
  if (state.state != v1::STUDY_STATE_ACTIVE || state.finished_per_minute <= 0 ||
      state.max_trials <= 0) {
    return std::nullopt;
  }
  const int64_t left = std::max<int64_t>(0, state.max_trials - state.finished_trials);
  return left / state.finished_per_minute * 60.0;
}

std::vector<std::string> RenderLiveView(const LiveViewState& state, int width) {
  width = std::max(width, kMinWidth);
  std::vector<std::string> lines = {TitleLine(state), ProgressLine(state, width), CountsLine(state),
                                    BestLine(state)};
  for (std::string& line : RunningLines(state)) lines.push_back(std::move(line));
  for (std::string& line : RecentLines(state)) lines.push_back(std::move(line));
  for (std::string& line : lines) line = FitToWidth(line, width);
  return lines;
}

std::string StatusLine(const LiveViewState& state) {
  std::string line =
      absl::StrCat("study ", state.study, " ", StateName(state.state), ": ", state.finished_trials);
  if (state.max_trials > 0) absl::StrAppend(&line, "/", state.max_trials);
  absl::StrAppend(&line, " finished, ", state.running.size(), " running");
  if (state.objectives.size() > 1) {
    absl::StrAppend(&line, ", ", state.pareto_front_size, " on the Pareto front");
  } else if (state.best_trial && state.best_value && !state.objectives.empty()) {
    absl::StrAppend(&line, ", best trial ", *state.best_trial, " ", state.objectives[0].metric(),
                    "=", NumberText(*state.best_value));
  }
  return line;
}

StudyTracker::StudyTracker(const v1::Study& study) {
  state_.study = study.name();
  state_.state = study.state();
  state_.state_reason = study.state_reason();
  state_.objectives.assign(study.objectives().begin(), study.objectives().end());
  if (state_.objectives.empty()) state_.objectives.push_back(study.objective());
  state_.max_trials = study.max_trials();
  state_.trial_counts.insert(study.trial_counts().begin(), study.trial_counts().end());
}

void StudyTracker::Reset(const v1::StudySummary& summary, const std::vector<v1::Trial>& running) {
  // A study never becomes ACTIVE again: a summary is not taken for one that
  // the events said has ended (the reason stays the event's).
  if (state_.state == v1::STUDY_STATE_UNSPECIFIED || state_.state == v1::STUDY_STATE_ACTIVE) {
    state_.state = summary.state();
  }
  state_.trial_counts.clear();
  state_.trial_counts.insert(summary.trial_counts().begin(), summary.trial_counts().end());
  state_.finished_trials = summary.finished_trials();
  state_.best_trial.reset();
  state_.best_value.reset();
  if (summary.has_best_trial() && !summary.best_objective_values().empty()) {
    state_.best_trial = summary.best_trial();
    state_.best_value = summary.best_objective_values(0);
  }
  Refresh(summary);
  state_.running.clear();
  for (const v1::RunningTrialSummary& trial : summary.running()) {
    state_.running[trial.number()] = ViewOf(trial, state_.objectives);
  }
  for (const v1::Trial& trial : running) {
    if (trial.state() != v1::TRIAL_STATE_RUNNING) continue;
    RunningTrialView from_list = ViewOf(trial);
    auto [it, added] = state_.running.try_emplace(trial.number(), from_list);
    if (!added) it->second.params = from_list.params;
  }
}

void StudyTracker::Refresh(const v1::StudySummary& summary) {
  state_.max_trials = summary.max_trials();
  state_.finished_per_minute = summary.finished_per_minute_recent();
  state_.pareto_front_size = summary.pareto_front_size();
}

std::vector<std::string> StudyTracker::Apply(const v1::StudyEvent& event) {
  switch (event.event_case()) {
    case v1::StudyEvent::kTrialCreated:
      return TrialCreated(event.trial_created());
    case v1::StudyEvent::kTrialChanged:
      return TrialChanged(event.trial_changed().trial(), event.trial_changed().previous_state());
    case v1::StudyEvent::kMeasurement:
      return Measured(event.measurement().trial(), event.measurement().measurement());
    case v1::StudyEvent::kStudyStateChanged:
      return StudyStateChanged(event.study_state_changed().state(),
                               event.study_state_changed().reason());
    default:
      return {};
  }
}

std::vector<std::string> StudyTracker::AddEnded(std::vector<v1::Trial> trials) {
  std::sort(trials.begin(), trials.end(), [](const v1::Trial& a, const v1::Trial& b) {
    return a.end_time_unix_ms() < b.end_time_unix_ms();
  });
  std::vector<std::string> lines;
  for (const v1::Trial& trial : trials) {
    if (!IsFinished(trial.state()) || !told_ended_.insert(trial.number()).second) continue;
    std::optional<int64_t> step;
    if (!trial.intermediate().empty()) step = trial.intermediate().rbegin()->step();
    if (IsProblem(trial.state())) AddRecent(trial, step);
    lines.push_back(TrialFinishedLine(trial, state_.objectives[0].metric()));
  }
  return lines;
}

bool StudyTracker::Over(bool wait_for_running) const {
  if (state_.state == v1::STUDY_STATE_UNSPECIFIED || state_.state == v1::STUDY_STATE_ACTIVE) {
    return false;
  }
  return !wait_for_running || state_.running.empty();
}

std::vector<std::string> StudyTracker::TrialCreated(const v1::Trial& trial) {
  // A replay of what the last Reset already holds.
  if (told_ended_.count(trial.number()) > 0 || state_.running.count(trial.number()) > 0) return {};
  CountMove(v1::TRIAL_STATE_UNSPECIFIED, trial.state());
  switch (trial.state()) {
    case v1::TRIAL_STATE_RUNNING:
      state_.running[trial.number()] = ViewOf(trial);
      return {StartedLine(trial)};
    case v1::TRIAL_STATE_WAITING: {
      const std::string params = ParamsSummary(trial);
      return {
          absl::StrCat("trial ", trial.number(), " queued", params.empty() ? "" : "  ", params)};
    }
    default:
      // Created finished: a warm_start copy, never run here.
      told_ended_.insert(trial.number());
      return {};
  }
}

std::vector<std::string> StudyTracker::TrialChanged(const v1::Trial& trial,
                                                    v1::TrialState previous) {
  const int64_t number = trial.number();
  if (IsFinished(trial.state())) {
    if (told_ended_.count(number) > 0) return {};
    CountMove(previous, trial.state());
    return TrialEnded(trial);
  }
  if (trial.state() == v1::TRIAL_STATE_RUNNING && previous == v1::TRIAL_STATE_RUNNING) {
    // pbt: the trial goes on from another's checkpoint, with new parameters.
    auto it = state_.running.find(number);
    if (it != state_.running.end()) it->second.params = ParamsSummary(trial);
    return {
        absl::StrCat("trial ", number, " continues with new parameters  ", ParamsSummary(trial))};
  }
  if (trial.state() == v1::TRIAL_STATE_RUNNING) {
    if (state_.running.count(number) > 0) return {};  // A replay.
    CountMove(previous, trial.state());
    state_.running[number] = ViewOf(trial);
    return {StartedLine(trial)};
  }
  CountMove(previous, trial.state());
  const bool was_running = state_.running.erase(number) > 0;
  if (trial.state() == v1::TRIAL_STATE_WAITING &&
      (was_running || previous == v1::TRIAL_STATE_RUNNING)) {
    return {absl::StrCat("trial ", number, " back in the queue (its worker's lease ran out; retry ",
                         trial.retries(), ")")};
  }
  return {};
}

std::vector<std::string> StudyTracker::TrialEnded(v1::Trial trial) {
  const int64_t number = trial.number();
  told_ended_.insert(number);
  std::optional<int64_t> step;
  auto running = state_.running.find(number);
  if (running != state_.running.end()) {
    step = running->second.step;
    state_.running.erase(running);
  }
  if (!OutsideBudget(trial)) ++state_.finished_trials;
  if (IsProblem(trial.state())) AddRecent(trial, step);
  // The event's trial comes without its intermediate values: give
  // TrialFinishedLine the last step this tracker saw, which it prints.
  if (step && trial.intermediate().empty()) trial.add_intermediate()->set_step(*step);
  const std::string& metric = state_.objectives[0].metric();
  std::vector<std::string> lines = {TrialFinishedLine(trial, metric)};
  if (trial.state() == v1::TRIAL_STATE_COMPLETE && state_.objectives.size() == 1 &&
      trial.has_objective_value() && !OutsideBudget(trial) && Improves(trial.objective_value())) {
    state_.best_trial = number;
    state_.best_value = trial.objective_value();
    lines.push_back(absl::StrCat("new best: trial ", number, " ", metric, "=",
                                 NumberText(trial.objective_value())));
  }
  return lines;
}

std::vector<std::string> StudyTracker::Measured(int64_t trial, const v1::Measurement& measurement) {
  if (told_ended_.count(trial) > 0) return {};
  const std::map<std::string, double> metrics(measurement.metrics().begin(),
                                              measurement.metrics().end());
  auto [it, added] = state_.running.try_emplace(trial);
  RunningTrialView& view = it->second;
  if (added) view.number = trial;
  // A replay of the measurement the view holds already.
  if (view.step == measurement.step() && view.metrics == metrics) return {};
  if (!view.step || measurement.step() >= *view.step) {
    view.step = measurement.step();
    view.metrics = metrics;
  }
  std::string line = absl::StrCat("trial ", trial, " step ", measurement.step());
  const std::string values = MetricsText(state_.objectives, metrics);
  if (!values.empty()) absl::StrAppend(&line, " ", values);
  return {line};
}

std::vector<std::string> StudyTracker::StudyStateChanged(v1::StudyState state,
                                                         const std::string& reason) {
  if (state == state_.state && reason == state_.state_reason) return {};
  state_.state = state;
  state_.state_reason = reason;
  std::string line = absl::StrCat("study ", state_.study, ": ", StateName(state));
  if (!reason.empty()) absl::StrAppend(&line, " (", reason, ")");
  return {line};
}

void StudyTracker::CountMove(v1::TrialState from, v1::TrialState to) {
  if (from == to) return;
  if (from != v1::TRIAL_STATE_UNSPECIFIED) {
    int64_t& count = state_.trial_counts[StateName(from)];
    count = std::max<int64_t>(0, count - 1);
  }
  if (to != v1::TRIAL_STATE_UNSPECIFIED) ++state_.trial_counts[StateName(to)];
}

void StudyTracker::AddRecent(const v1::Trial& trial, std::optional<int64_t> step) {
  EndedTrialView ended;
  ended.number = trial.number();
  ended.state = trial.state();
  ended.step = step;
  if (trial.has_objective_value()) ended.value = trial.objective_value();
  ended.reason = trial.failure_reason();
  ended.end_time_unix_ms = trial.end_time_unix_ms();
  state_.recent.push_back(std::move(ended));
  while (static_cast<int>(state_.recent.size()) > kRecentEndedTrials) state_.recent.pop_front();
}

bool StudyTracker::Improves(double value) const {
  if (std::isnan(value)) return false;
  if (!state_.best_value) return true;
  return Maximized(state_.objectives[0]) ? value > *state_.best_value : value < *state_.best_value;
}

}  // namespace vernier
