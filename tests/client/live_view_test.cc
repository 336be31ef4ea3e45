// The live view's parts on fixed states and events, without a terminal or a
// server: the progress bar, the ETA, the running trials' rows and the recent
// ended trials, every line within the width; and what StudyTracker makes of
// a study's events (the state, and the plain lines of `vernier watch` and
// `vernier run`).
#include "client/live_view.h"

#include <string>
#include <vector>

#include "client/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kNow = 1'700'000'000'000;

v1::Objective Objective(const std::string& metric, v1::Goal goal) {
  v1::Objective objective;
  objective.set_metric(metric);
  objective.set_goal(goal);
  return objective;
}

// A study 12 trials into a budget of 30: two running, three that did not
// make it.
LiveViewState ExampleState() {
  LiveViewState state;
  state.study = "mnist";
  state.state = v1::STUDY_STATE_ACTIVE;
  state.objectives = {Objective("val_loss", v1::GOAL_MINIMIZE)};
  state.max_trials = 30;
  state.finished_trials = 12;
  state.trial_counts = {{"RUNNING", 2}, {"COMPLETE", 9}, {"PRUNED", 2}, {"FAILED", 1}};
  state.finished_per_minute = 2.5;
  state.best_trial = 7;
  state.best_value = 0.0123;
  RunningTrialView reporting;
  reporting.number = 12;
  reporting.step = 4;
  reporting.metrics = {{"val_loss", 0.41}, {"acc", 0.9}};
  reporting.params = "lr=0.01 batch=64";
  reporting.worker = "local-0";
  reporting.start_time_unix_ms = kNow - 62'000;
  state.running[12] = reporting;
  RunningTrialView starting;
  starting.number = 13;
  starting.worker = "(ask)";
  starting.start_time_unix_ms = kNow - 5'000;
  state.running[13] = starting;
  EndedTrialView failed;
  failed.number = 10;
  failed.state = v1::TRIAL_STATE_FAILED;
  failed.reason = "CUDA out of memory";
  EndedTrialView pruned;
  pruned.number = 11;
  pruned.state = v1::TRIAL_STATE_PRUNED;
  pruned.step = 3;
  pruned.value = 0.8;
  state.recent = {failed, pruned};
  state.now_unix_ms = kNow;
  return state;
}

// Columns of a UTF-8 line: its code points.
int Columns(const std::string& line) {
  int columns = 0;
  for (char c : line) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return columns;
}

TEST(ProgressBarTest, FillsTheShareDone) {
  EXPECT_EQ(ProgressBar(0, 10, 12), "[----------]");
  EXPECT_EQ(ProgressBar(5, 10, 12), "[#####-----]");
  EXPECT_EQ(ProgressBar(10, 10, 12), "[##########]");
  EXPECT_EQ(ProgressBar(15, 10, 12), "[##########]");  // Never beyond full.
  EXPECT_EQ(ProgressBar(3, 0, 7), "[-----]");          // No budget: empty.
  EXPECT_EQ(ProgressBar(1, 2, 1), "[-]");              // At least 3 characters.
}

TEST(DurationTextTest, UsesTheTwoLargestUnits) {
  EXPECT_EQ(DurationText(45), "45s");
  EXPECT_EQ(DurationText(750), "12m 30s");
  EXPECT_EQ(DurationText(7500), "2h 05m");
  EXPECT_EQ(DurationText(-3), "0s");
}

TEST(EtaTest, IsTheRestOfTheBudgetAtTheRecentPace) {
  LiveViewState state = ExampleState();
  // 18 trials left at 2.5 a minute.
  ASSERT_TRUE(EtaSeconds(state).has_value());
  EXPECT_DOUBLE_EQ(*EtaSeconds(state), 18 / 2.5 * 60);
  EXPECT_THAT(RenderLiveView(state, 100)[1], HasSubstr("ETA 7m 12s"));

  state.finished_per_minute = 0;  // Nothing finished lately: unknown.
  EXPECT_FALSE(EtaSeconds(state).has_value());
  EXPECT_THAT(RenderLiveView(state, 100)[1], Not(HasSubstr("ETA")));

  state = ExampleState();
  state.state = v1::STUDY_STATE_STOPPED;
  EXPECT_FALSE(EtaSeconds(state).has_value());
}

TEST(RenderLiveViewTest, ShowsProgressCountsBestRunningAndRecentTrials) {
  EXPECT_THAT(
      RenderLiveView(ExampleState(), 80),
      ElementsAre(
          "study mnist  ACTIVE  val_loss (min)",
          "[##############----------------------] 12/30 finished  40%  2.50/min  ETA 7m 12s",
          "running 2  complete 9  pruned 2  failed 1",  //
          "best     trial 7  val_loss=0.0123",
          // 83 columns: cut.
          "running  trial 12  step 4         val_loss=0.41  1m 02s  local-0  lr=0.01 bat...",
          "         trial 13  no report yet                     5s",
          "recent   trial 11  PRUNED at step 3  val_loss=0.8",
          "         trial 10  FAILED  CUDA out of memory"));
}

TEST(RenderLiveViewTest, EveryLineFitsTheWidth) {
  LiveViewState state = ExampleState();
  // Non-ASCII parameter values are cut between characters, never inside one.
  state.running[12].params = "optimizer=" + std::string(30, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9";
  for (int width : {20, 33, 40, 60, 80, 120}) {
    for (const std::string& line : RenderLiveView(state, width)) {
      EXPECT_LE(Columns(line), width) << width << ": " << line;
      EXPECT_NE(static_cast<unsigned char>(line.back()) & 0xC0, 0xC0) << line;
    }
  }
  // Too narrow for a bar: the numbers alone.
  EXPECT_THAT(RenderLiveView(state, 40)[1], StartsWith("12/30 finished  40%"));
  // Below 20 columns, 20 are used.
  for (const std::string& line : RenderLiveView(state, 5)) EXPECT_LE(Columns(line), 20);
}

TEST(RenderLiveViewTest, NewlinesInAFailureReasonStayOnOneLine) {
  LiveViewState state = ExampleState();
  state.recent[0].reason = "Traceback:\n  line 3\nKeyError";
  for (const std::string& line : RenderLiveView(state, 200)) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  }
  EXPECT_THAT(RenderLiveView(state, 200).back(), HasSubstr("Traceback:   line 3 KeyError"));
}

TEST(RenderLiveViewTest, ListsTheFirstRunningTrialsThenHowManyMore) {
  LiveViewState state = ExampleState();
  state.recent.clear();
  state.running.clear();
  for (int64_t number = 0; number < kShownRunningTrials + 3; ++number) {
    state.running[number].number = number;
  }
  const std::vector<std::string> lines = RenderLiveView(state, 80);
  EXPECT_EQ(lines.back(), "         and 3 more");
  EXPECT_EQ(lines.size(), 4u + kShownRunningTrials + 1);
}

TEST(RenderLiveViewTest, AStudyWithNothingYet) {
  LiveViewState state;
  state.study = "new";
  state.state = v1::STUDY_STATE_ACTIVE;
  state.objectives = {Objective("acc", v1::GOAL_MAXIMIZE)};
  state.max_trials = 10;
  EXPECT_THAT(RenderLiveView(state, 60),
              ElementsAre("study new  ACTIVE  acc (max)",
                          "[--------------------------------------] 0/10 finished  0%", "running 0",
                          "best     none yet", "running  none"));
}

TEST(RenderLiveViewTest, SeveralObjectivesShowTheParetoFrontAndEachValue) {
  LiveViewState state = ExampleState();
  state.objectives = {Objective("val_loss", v1::GOAL_MINIMIZE),
                      Objective("latency_ms", v1::GOAL_MINIMIZE)};
  state.pareto_front_size = 4;
  state.running[12].metrics["latency_ms"] = 13;
  const std::vector<std::string> lines = RenderLiveView(state, 120);
  EXPECT_EQ(lines[0], "study mnist  ACTIVE  val_loss (min), latency_ms (min)");
  EXPECT_EQ(lines[3], "best     4 trials on the Pareto front");
  EXPECT_THAT(lines[4], HasSubstr("val_loss=0.41 latency_ms=13  1m 02s"));
}

TEST(RenderLiveViewTest, AStoppedStudySaysWhyAndANoteShows) {
  LiveViewState state = ExampleState();
  state.state = v1::STUDY_STATE_STOPPED;
  state.state_reason = "3 trials failed";
  state.note = "reconnecting";
  EXPECT_EQ(RenderLiveView(state, 100)[0],
            "study mnist  STOPPED (3 trials failed)  val_loss (min)  [reconnecting]");
}

TEST(StatusLineTest, SaysProgressRunningAndBest) {
  EXPECT_EQ(StatusLine(ExampleState()),
            "study mnist ACTIVE: 12/30 finished, 2 running, best trial 7 val_loss=0.0123");
}

// ---- StudyTracker ----

v1::Study ExampleStudy() {
  v1::Study study;
  study.set_name("w");
  study.set_state(v1::STUDY_STATE_ACTIVE);
  study.set_max_trials(3);
  *study.mutable_objective() = Objective("loss", v1::GOAL_MINIMIZE);
  *study.add_objectives() = study.objective();
  return study;
}

v1::StudySummary EmptySummary() {
  v1::StudySummary summary;
  summary.set_study("w");
  summary.set_state(v1::STUDY_STATE_ACTIVE);
  summary.set_max_trials(3);
  return summary;
}

v1::Trial Trial(int64_t number, v1::TrialState state) {
  v1::Trial trial;
  trial.set_study("w");
  trial.set_number(number);
  trial.set_state(state);
  (*trial.mutable_params())["x"].set_double_value(0.5);
  trial.set_worker_id("(ask)");
  trial.set_start_time_unix_ms(kNow);
  return trial;
}

v1::StudyEvent Created(const v1::Trial& trial) {
  v1::StudyEvent event;
  *event.mutable_trial_created() = trial;
  return event;
}

v1::StudyEvent Changed(const v1::Trial& trial, v1::TrialState previous) {
  v1::StudyEvent event;
  *event.mutable_trial_changed()->mutable_trial() = trial;
  event.mutable_trial_changed()->set_previous_state(previous);
  return event;
}

v1::StudyEvent Measured(int64_t trial, int64_t step, std::map<std::string, double> metrics) {
  v1::StudyEvent event;
  event.mutable_measurement()->set_trial(trial);
  event.mutable_measurement()->mutable_measurement()->set_step(step);
  event.mutable_measurement()->mutable_measurement()->mutable_metrics()->insert(metrics.begin(),
                                                                                metrics.end());
  return event;
}

v1::StudyEvent StudyState(v1::StudyState state, const std::string& reason) {
  v1::StudyEvent event;
  event.mutable_study_state_changed()->set_state(state);
  event.mutable_study_state_changed()->set_reason(reason);
  return event;
}

v1::Trial Ended(int64_t number, v1::TrialState state, double value) {
  v1::Trial trial = Trial(number, state);
  trial.set_objective_value(value);
  trial.set_end_time_unix_ms(kNow + 1000);
  return trial;
}

class StudyTrackerTest : public ::testing::Test {
 protected:
  StudyTrackerTest() : tracker_(ExampleStudy()) { tracker_.Reset(EmptySummary(), {}); }
  StudyTracker tracker_;
};

TEST_F(StudyTrackerTest, TellsEachStepOfARunningTrialAndItsEndOnce) {
  EXPECT_THAT(tracker_.Apply(Created(Trial(0, v1::TRIAL_STATE_RUNNING))),
              ElementsAre("trial 0 started  x=0.5"));
  EXPECT_THAT(tracker_.Apply(Measured(0, 1, {{"loss", 0.5}, {"acc", 0.7}})),
              ElementsAre("trial 0 step 1 loss=0.5 acc=0.7"));
  EXPECT_EQ(tracker_.state().running.at(0).step, 1);
  EXPECT_THAT(tracker_.Apply(Measured(0, 2, {{"loss", 0.4}})),
              ElementsAre("trial 0 step 2 loss=0.4"));
  // A replayed measurement (a resumed stream) is not told again.
  EXPECT_THAT(tracker_.Apply(Measured(0, 2, {{"loss", 0.4}})), IsEmpty());

  const v1::Trial complete = Ended(0, v1::TRIAL_STATE_COMPLETE, 0.25);
  const std::vector<std::string> lines = tracker_.Apply(Changed(complete, v1::TRIAL_STATE_RUNNING));
  v1::Trial with_step = complete;
  with_step.add_intermediate()->set_step(2);
  EXPECT_THAT(lines,
              ElementsAre(TrialFinishedLine(with_step, "loss"), "new best: trial 0 loss=0.25"));
  EXPECT_THAT(lines[0], HasSubstr("  COMPLETE  "));
  EXPECT_THAT(lines[0], HasSubstr("step=2"));
  EXPECT_THAT(tracker_.Apply(Changed(complete, v1::TRIAL_STATE_RUNNING)), IsEmpty());

  const LiveViewState& state = tracker_.state();
  EXPECT_TRUE(state.running.empty());
  EXPECT_EQ(state.finished_trials, 1);
  EXPECT_EQ(state.trial_counts.at("COMPLETE"), 1);
  EXPECT_EQ(state.trial_counts.at("RUNNING"), 0);
  EXPECT_EQ(state.best_trial, 0);
}

TEST_F(StudyTrackerTest, OnlyABetterValueIsANewBest) {
  tracker_.Apply(Created(Trial(0, v1::TRIAL_STATE_RUNNING)));
  tracker_.Apply(Created(Trial(1, v1::TRIAL_STATE_RUNNING)));
  tracker_.Apply(Changed(Ended(0, v1::TRIAL_STATE_COMPLETE, 0.25), v1::TRIAL_STATE_RUNNING));
  EXPECT_THAT(
      tracker_.Apply(Changed(Ended(1, v1::TRIAL_STATE_COMPLETE, 0.5), v1::TRIAL_STATE_RUNNING)),
      Not(Contains(HasSubstr("new best"))));
  EXPECT_EQ(tracker_.state().best_trial, 0);
  EXPECT_EQ(tracker_.state().best_value, 0.25);
}

TEST_F(StudyTrackerTest, PrunedAndFailedTrialsAreRecentWithTheirStepAndReason) {
  tracker_.Apply(Created(Trial(1, v1::TRIAL_STATE_RUNNING)));
  tracker_.Apply(Measured(1, 3, {{"loss", 0.9}}));
  EXPECT_THAT(
      tracker_.Apply(Changed(Ended(1, v1::TRIAL_STATE_PRUNED, 0.9), v1::TRIAL_STATE_RUNNING)),
      ElementsAre(AllOf(HasSubstr("PRUNED"), HasSubstr("step=3"))));
  tracker_.Apply(Created(Trial(2, v1::TRIAL_STATE_RUNNING)));
  v1::Trial failed = Trial(2, v1::TRIAL_STATE_FAILED);
  failed.set_failure_reason("exit code 1");
  EXPECT_THAT(tracker_.Apply(Changed(failed, v1::TRIAL_STATE_RUNNING)),
              ElementsAre(HasSubstr("reason: exit code 1")));

  const LiveViewState& state = tracker_.state();
  ASSERT_EQ(state.recent.size(), 2u);
  EXPECT_EQ(state.recent[0].number, 1);
  EXPECT_EQ(state.recent[0].step, 3);
  EXPECT_EQ(state.recent[1].reason, "exit code 1");
  EXPECT_THAT(RenderLiveView(state, 80), Contains("recent   trial 2  FAILED  exit code 1"));
}

TEST_F(StudyTrackerTest, KeepsOnlyTheLatestEndedTrials) {
  for (int64_t number = 0; number < kRecentEndedTrials + 2; ++number) {
    tracker_.Apply(Created(Trial(number, v1::TRIAL_STATE_RUNNING)));
    tracker_.Apply(Changed(Ended(number, v1::TRIAL_STATE_PRUNED, 1), v1::TRIAL_STATE_RUNNING));
  }
  ASSERT_EQ(tracker_.state().recent.size(), static_cast<size_t>(kRecentEndedTrials));
  EXPECT_EQ(tracker_.state().recent.front().number, 2);
}

TEST_F(StudyTrackerTest, ALostLeaseSendsTheTrialBackToTheQueue) {
  tracker_.Apply(Created(Trial(0, v1::TRIAL_STATE_RUNNING)));
  v1::Trial waiting = Trial(0, v1::TRIAL_STATE_WAITING);
  waiting.set_retries(1);
  EXPECT_THAT(tracker_.Apply(Changed(waiting, v1::TRIAL_STATE_RUNNING)),
              ElementsAre("trial 0 back in the queue (its worker's lease ran out; retry 1)"));
  EXPECT_TRUE(tracker_.state().running.empty());
  v1::Trial again = Trial(0, v1::TRIAL_STATE_RUNNING);
  again.set_worker_id("local-1");
  EXPECT_THAT(tracker_.Apply(Changed(again, v1::TRIAL_STATE_WAITING)),
              ElementsAre("trial 0 started on local-1  x=0.5"));
}

TEST_F(StudyTrackerTest, TheStudyIsOverWhenItEndsOrWithRunningTrialsWhenTheyEnd) {
  tracker_.Apply(Created(Trial(0, v1::TRIAL_STATE_RUNNING)));
  EXPECT_FALSE(tracker_.Over(false));
  EXPECT_THAT(tracker_.Apply(StudyState(v1::STUDY_STATE_STOPPED, "stopped by a user")),
              ElementsAre("study w: STOPPED (stopped by a user)"));
  EXPECT_TRUE(tracker_.Over(false));
  EXPECT_FALSE(tracker_.Over(true));  // Trial 0 still runs.
  tracker_.Apply(Changed(Ended(0, v1::TRIAL_STATE_COMPLETE, 1), v1::TRIAL_STATE_RUNNING));
  EXPECT_TRUE(tracker_.Over(true));
}

TEST_F(StudyTrackerTest, ResetTakesTheSummaryAndTheRunningTrialsParameters) {
  v1::StudySummary summary = EmptySummary();
  summary.set_finished_trials(2);
  (*summary.mutable_trial_counts())["COMPLETE"] = 2;
  (*summary.mutable_trial_counts())["RUNNING"] = 1;
  summary.set_best_trial(1);
  summary.add_best_objective_values(0.1);
  summary.set_finished_per_minute_recent(3);
  v1::RunningTrialSummary* running = summary.add_running();
  running->set_number(2);
  running->set_latest_step(5);
  running->set_objective_value(0.3);
  running->add_objective_values(0.3);
  running->set_worker_id("local-0");
  running->set_start_time_unix_ms(kNow - 10'000);
  tracker_.Reset(summary, {Trial(2, v1::TRIAL_STATE_RUNNING)});

  const LiveViewState& state = tracker_.state();
  EXPECT_EQ(state.finished_trials, 2);
  EXPECT_EQ(state.best_trial, 1);
  EXPECT_EQ(state.best_value, 0.1);
  EXPECT_EQ(state.finished_per_minute, 3);
  ASSERT_EQ(state.running.count(2), 1u);
  const RunningTrialView& view = state.running.at(2);
  EXPECT_EQ(view.step, 5);
  EXPECT_EQ(view.metrics.at("loss"), 0.3);
  EXPECT_EQ(view.params, "x=0.5");
  EXPECT_EQ(view.worker, "local-0");
  EXPECT_EQ(StatusLine(state), "study w ACTIVE: 2/3 finished, 1 running, best trial 1 loss=0.1");
  // A replayed start of a trial the summary holds is not told again.
  EXPECT_THAT(tracker_.Apply(Changed(Trial(2, v1::TRIAL_STATE_RUNNING), v1::TRIAL_STATE_WAITING)),
              IsEmpty());
}

TEST_F(StudyTrackerTest, EarlierEndsAreToldByEndTimeAndNotAgain) {
  v1::Trial first = Ended(4, v1::TRIAL_STATE_COMPLETE, 0.2);
  first.set_end_time_unix_ms(kNow + 10);
  v1::Trial second = Ended(3, v1::TRIAL_STATE_PRUNED, 0.9);
  second.set_end_time_unix_ms(kNow + 20);
  second.add_intermediate()->set_step(2);
  const std::vector<std::string> lines = tracker_.AddEnded({second, first});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], StartsWith("trial   4  COMPLETE"));
  EXPECT_THAT(lines[1], StartsWith("trial   3  PRUNED"));
  ASSERT_EQ(tracker_.state().recent.size(), 1u);
  EXPECT_EQ(tracker_.state().recent[0].step, 2);
  EXPECT_THAT(tracker_.Apply(Changed(first, v1::TRIAL_STATE_RUNNING)), IsEmpty());
  EXPECT_THAT(tracker_.AddEnded({first}), IsEmpty());
}

}  // namespace
}  // namespace vernier
