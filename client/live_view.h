// The terminal view of a study while it runs (`vernier watch`, `vernier run`):
// what it shows (LiveViewState), how a study's events change it and which
// plain lines they make (StudyTracker), and how it is drawn for a terminal
// width (RenderLiveView). Pure: no I/O, no RPCs and no clock (the time comes
// in with the state), so every part is tested on fixed states and events.
// client/watch.h follows a server's WatchStudy stream and drives it.
//
// Thread-safety: the functions are thread-safe; a StudyTracker is used by
// one thread at a time.
#ifndef VERNIER_CLIENT_LIVE_VIEW_H_
#define VERNIER_CLIENT_LIVE_VIEW_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vernier/v1/study.pb.h"
#include "vernier/v1/study_service.pb.h"

namespace vernier {

// One RUNNING trial as the view shows it.
struct RunningTrialView {
  int64_t number = 0;
  // Its last reported step; unset before its first report.
  std::optional<int64_t> step;
  // What it reported at that step. From a StudySummary: its objectives only.
  std::map<std::string, double> metrics;
  std::string params;  // ParamsSummary's text; empty when not known.
  std::string worker;  // Trial.worker_id ("(ask)" for an asked trial).
  int64_t start_time_unix_ms = 0;
};

// A trial that ended PRUNED, FAILED or INFEASIBLE, for the "recent" rows.
struct EndedTrialView {
  int64_t number = 0;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  std::optional<int64_t> step;   // Its last reported step, when known.
  std::optional<double> value;   // Its objective's value, when it has one.
  std::string reason;            // Why it FAILED / was INFEASIBLE.
  int64_t end_time_unix_ms = 0;  // 0: not known.
};

// How many ended trials the "recent" rows keep, and how many running trials
// the view lists before "and N more".
inline constexpr int kRecentEndedTrials = 5;
inline constexpr int kShownRunningTrials = 10;

// Everything the view shows of a study.
struct LiveViewState {
  std::string study;
  v1::StudyState state = v1::STUDY_STATE_UNSPECIFIED;
  std::string state_reason;
  // The study's objectives in order (objectives[0] is the one of
  // single-objective studies).
  std::vector<v1::Objective> objectives;
  // StudySummary.max_trials and finished_trials (no warm_start copies or
  // refits).
  int64_t max_trials = 0;
  int64_t finished_trials = 0;
  // Trials by state name ("COMPLETE", ...).
  std::map<std::string, int64_t> trial_counts;
  // Trials finished per minute lately (StudySummary.finished_per_minute_recent);
  // the ETA is the rest of the budget at this pace.
  double finished_per_minute = 0;
  // Single objective: the best trial so far and its value.
  std::optional<int64_t> best_trial;
  std::optional<double> best_value;
  // Several objectives: how many trials the Pareto front holds.
  int64_t pareto_front_size = 0;
  std::map<int64_t, RunningTrialView> running;  // By number.
  std::deque<EndedTrialView> recent;            // Oldest first.
  // A note beside the title, e.g. that the stream is reconnecting; empty: none.
  std::string note;
  // Now, for how long each running trial has run: Unix time in milliseconds.
  int64_t now_unix_ms = 0;
};

// "[#####-----]": `width` characters (at least 3), the share done/total
// filled; an empty bar when total is 0.
std::string ProgressBar(int64_t done, int64_t total, int width);

// "2h 05m", "12m 30s", "45s"; negative is 0s.
std::string DurationText(double seconds);

// Seconds until the budget is spent at the recent pace; unset when the
// study is not ACTIVE, nothing finished lately (pace 0), or without a budget.
std::optional<double> EtaSeconds(const LiveViewState& state);

// The view, one string per line (no newlines), each at most `width` columns
// (text cut with "..."; below 20, 20 is used). Lines:
//   study NAME  ACTIVE  loss (min)  [NOTE]
//   [#####-----] 12/30 finished  40%  2.50/min  ETA 7m 12s
//   running 3  waiting 1  complete 9  pruned 2  failed 1
//   best     trial 7  loss=0.0123
//   running  trial 12  step 4  loss=0.41  1m 02s  lr=0.01 batch=64
//   recent   trial 11  PRUNED at step 3  loss=0.8
std::vector<std::string> RenderLiveView(const LiveViewState& state, int width);

// One line for scripts and logs: "study w ACTIVE: 3/20 finished, 2 running,
// best trial 1 loss=0.25".
std::string StatusLine(const LiveViewState& state);

// Keeps a LiveViewState current from a study's WatchStudy events, and says
// what each event means as plain lines for a log:
//   trial 3 started on local-0  lr=0.01
//   trial 3 step 4 val_loss=0.41 acc=0.9
//   trial   3  PRUNED    val_loss=0.9  step=4  12.0s  lr=0.01   (TrialFinishedLine)
//   new best: trial 5 val_loss=0.12
//   study w: COMPLETED
// A trial's end is told once, even when a resumed or resynced stream
// replays it.
class StudyTracker {
 public:
  // `study` gives the name and the objectives.
  explicit StudyTracker(const v1::Study& study);

  // Starts over from the study as the server has it now (after a resync):
  // its summary and its RUNNING trials (their parameters; intermediate
  // values are not needed). Trial ends already told stay told.
  void Reset(const v1::StudySummary& summary, const std::vector<v1::Trial>& running);

  // Takes the counts, pace, best and state of a newer summary; the running
  // trials stay as the events made them.
  void Refresh(const v1::StudySummary& summary);

  // Applies one event other than a resync; returns its plain lines (none
  // when it changes nothing worth a line).
  std::vector<std::string> Apply(const v1::StudyEvent& event);

  // Trials that ended before the watch began: adds them to the recent rows,
  // and returns a TrialFinishedLine for each not told yet, by end time.
  std::vector<std::string> AddEnded(std::vector<v1::Trial> trials);

  // The study is no longer ACTIVE and, with `wait_for_running`, none of its
  // trials runs any more.
  bool Over(bool wait_for_running) const;

  const LiveViewState& state() const { return state_; }
  LiveViewState& mutable_state() { return state_; }

 private:
  std::vector<std::string> TrialCreated(const v1::Trial& trial);
  std::vector<std::string> TrialChanged(const v1::Trial& trial, v1::TrialState previous);
  std::vector<std::string> TrialEnded(v1::Trial trial);
  std::vector<std::string> Measured(int64_t trial, const v1::Measurement& measurement);
  std::vector<std::string> StudyStateChanged(v1::StudyState state, const std::string& reason);
  void CountMove(v1::TrialState from, v1::TrialState to);
  void AddRecent(const v1::Trial& trial, std::optional<int64_t> step);
  // A better single-objective value than the best so far.
  bool Improves(double value) const;

  LiveViewState state_;
  std::set<int64_t> told_ended_;  // Trials whose end has been told.
};

}  // namespace vernier

#endif  // VERNIER_CLIENT_LIVE_VIEW_H_
