// Studies at rest (Study::Rest): a study that is over keeps only the last
// measurement of each trial in memory, answers every read as before by
// fetching the values from the store, loads itself whole before it changes
// (resume, exclude, refit), and is loaded at rest after a restart. Unloaded
// (Study::Unload) after a while without reads, it holds only its summary,
// which a restart reads instead of its trials.
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

constexpr char kCurves[] = R"(
name: curves
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 3}
pruner: {type: median, warmup_steps: 0, min_trials: 1}
trainer: {external: true}
)";

// Every trial with every value, as the API lists them, for comparison.
std::vector<std::string> Listing(Coordinator& coordinator, const TrialQuery& query) {
  std::vector<std::string> out;
  absl::StatusOr<TrialPage> page = coordinator.ListTrials("curves", query);
  EXPECT_OK(page);
  if (!page.ok()) return out;
  for (const ListedTrial& listed : page->trials) {
    std::string line =
        absl::StrCat("#", listed.trial.number, " ", TrialStateName(listed.trial.state),
                     " objective=", listed.objective_values[0].value_or(-1), " values=");
    for (const Measurement& m : listed.trial.intermediate) {
      absl::StrAppend(&line, m.step, ":", m.metrics.at("loss"), " ");
    }
    out.push_back(line);
  }
  return out;
}

class StudyRestTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    ASSERT_OK(Create(kCurves));
  }

  // Three trials of up to five steps (value base / step): two COMPLETE, the
  // third PRUNED at step 1 by the median pruner; the study then COMPLETEs.
  void RunStudy() {
    for (double base : {2.0, 1.0, 9.0}) {
      absl::StatusOr<TrialView> asked = coordinator_->Ask("curves");
      ASSERT_OK(asked);
      bool pruned = false;
      for (int step = 1; step <= 5 && !pruned; ++step) {
        absl::StatusOr<AskedReport> report =
            coordinator_->Report("curves", asked->trial.number, base / step, Measurement{step, {}});
        ASSERT_OK(report);
        pruned = report->should_prune;
      }
      if (!pruned) {
        ASSERT_OK(coordinator_->Tell("curves", asked->trial.number, TrialState::kComplete,
                                     base / 10, {}, ""));
      }
    }
    ASSERT_EQ(coordinator_->GetStudy("curves")->record.state, StudyState::kCompleted);
  }

  // The study rests, and is unloaded once idle long enough.
  void RestThenUnload() {
    coordinator_->RestStudiesThatAreOver();
    clock_.Advance(options_.unload_resting_after);
    coordinator_->RestStudiesThatAreOver();
  }

  static TrialQuery ByObjectiveThinned() {
    TrialQuery query;
    query.order = TrialOrder::kObjective;
    query.max_points_per_curve = 2;
    return query;
  }
};

TEST_F(StudyRestTest, AStudyThatIsOverRestsAndAnswersEveryReadAsBefore) {
  RunStudy();
  const std::vector<std::string> all = Listing(*coordinator_, TrialQuery{});
  const std::vector<std::string> thinned = Listing(*coordinator_, ByObjectiveThinned());
  const TrialView trial1 = *coordinator_->GetTrial("curves", 1);
  ASSERT_EQ(trial1.trial.intermediate.size(), 5u);

  coordinator_->RestStudiesThatAreOver();
  EXPECT_THAT(coordinator_->AtRest("curves"), IsOkAndHolds(true));
  EXPECT_EQ(Listing(*coordinator_, TrialQuery{}), all);
  EXPECT_EQ(Listing(*coordinator_, ByObjectiveThinned()), thinned);
  EXPECT_EQ(coordinator_->GetTrial("curves", 1)->trial.intermediate, trial1.trial.intermediate);
  absl::StatusOr<TrialsView> trials = coordinator_->ListTrials("curves");
  ASSERT_OK(trials);
  EXPECT_EQ(trials->trials[1].intermediate, trial1.trial.intermediate);
  absl::StatusOr<TrialsView> best = coordinator_->BestTrials("curves", 1);
  ASSERT_OK(best);
  ASSERT_EQ(best->trials.size(), 1u);
  EXPECT_EQ(best->trials[0].number, 1);
  // Whole, as GetTrial gives it (`vernier best` prints the curve).
  EXPECT_EQ(best->trials[0].intermediate, trial1.trial.intermediate);
}

TEST_F(StudyRestTest, AStudyThatStillRunsDoesNotRest) {
  absl::StatusOr<TrialView> asked = coordinator_->Ask("curves");
  ASSERT_OK(asked);
  ASSERT_OK(coordinator_->StopStudy("curves"));  // Stopped, with a trial still RUNNING.
  coordinator_->RestStudiesThatAreOver();
  EXPECT_THAT(coordinator_->AtRest("curves"), IsOkAndHolds(false));
}

TEST_F(StudyRestTest, AResumedStudyIsLoadedWholeAndItsPrunerSeesThePeersCurves) {
  RunStudy();
  coordinator_->RestStudiesThatAreOver();
  BudgetUpdate resume;
  resume.resume = true;
  resume.max_trials = 4;
  ASSERT_OK(coordinator_->UpdateStudy("curves", resume));
  EXPECT_THAT(coordinator_->AtRest("curves"), IsOkAndHolds(false));
  absl::StatusOr<TrialView> asked = coordinator_->Ask("curves");
  ASSERT_OK(asked);
  // Worse at step 1 than the median of the peers' step-1 values (2, 1, 9):
  // pruned. At rest only the pruned trial's step 1 is in memory (9), which
  // would let it go on: the pruner sees the reloaded curves.
  absl::StatusOr<AskedReport> report =
      coordinator_->Report("curves", asked->trial.number, 5.0, Measurement{1, {}});
  ASSERT_OK(report);
  EXPECT_TRUE(report->should_prune);
}

TEST_F(StudyRestTest, AfterARestartAStudyThatIsOverIsLoadedAtRest) {
  RunStudy();
  const std::vector<std::string> all = Listing(*coordinator_, TrialQuery{});
  Restart();
  EXPECT_THAT(coordinator_->AtRest("curves"), IsOkAndHolds(true));
  EXPECT_EQ(Listing(*coordinator_, TrialQuery{}), all);
  ASSERT_OK(coordinator_->ExcludeTrial("curves", 0, "noise", false));  // A change wakes it.
  EXPECT_THAT(coordinator_->AtRest("curves"), IsOkAndHolds(false));
  EXPECT_EQ(coordinator_->GetTrial("curves", 1)->trial.intermediate.size(), 5u);
}

// What a study list, `study show` and the dashboard read of a study that
// is over, as one string to compare.
std::string Overview(Coordinator& coordinator) {
  absl::StatusOr<StudyView> view = coordinator.GetStudy("curves");
  absl::StatusOr<StudySummary> summary = coordinator.Summary("curves");
  EXPECT_OK(view);
  EXPECT_OK(summary);
  if (!view.ok() || !summary.ok()) return "";
  std::string out = absl::StrCat(StudyStateName(view->record.state), " counts:");
  // States counted 0 may be listed or not.
  for (const auto& [state, count] : view->trial_counts) {
    if (count != 0) absl::StrAppend(&out, " ", TrialStateName(state), "=", count);
  }
  absl::StrAppend(&out, " | summary:");
  for (const auto& [state, count] : summary->trial_counts) {
    if (count != 0) absl::StrAppend(&out, " ", TrialStateName(state), "=", count);
  }
  absl::StrAppend(&out, " budget=", summary->trial_budget, " finished=", summary->finished,
                  " best=", summary->best_trial.value_or(-1), " value=",
                  summary->best_objective_values.empty() ? -1 : summary->best_objective_values[0],
                  " rate=", summary->finished_per_minute_overall);
  return out;
}

TEST_F(StudyRestTest, UnloadedAfterAnIdleWhileItKeepsItsSummaryAndLoadsBackForReads) {
  RunStudy();
  const std::string overview = Overview(*coordinator_);
  const std::vector<std::string> all = Listing(*coordinator_, TrialQuery{});
  coordinator_->RestStudiesThatAreOver();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(false));  // Not idle long enough.

  clock_.Advance(options_.unload_resting_after);
  coordinator_->RestStudiesThatAreOver();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));
  EXPECT_EQ(Overview(*coordinator_), overview);
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));  // Answered from the summary.

  EXPECT_EQ(Listing(*coordinator_, TrialQuery{}), all);
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(false));
  EXPECT_EQ(coordinator_->GetTrial("curves", 1)->trial.intermediate.size(), 5u);
  EXPECT_EQ(coordinator_->BestTrials("curves", 1)->trials[0].number, 1);
  EXPECT_EQ(Overview(*coordinator_), overview);

  // Read a moment ago: it stays loaded until it was idle long enough again.
  clock_.Advance(options_.unload_resting_after / 2);
  coordinator_->RestStudiesThatAreOver();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(false));
  clock_.Advance(options_.unload_resting_after);
  coordinator_->RestStudiesThatAreOver();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));
}

TEST_F(StudyRestTest, ARestartReadsTheSummaryOfAnUnloadedStudyInsteadOfItsTrials) {
  RunStudy();
  const std::string overview = Overview(*coordinator_);
  const std::vector<std::string> all = Listing(*coordinator_, TrialQuery{});
  RestThenUnload();
  ASSERT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));
  ASSERT_FALSE(store_.LoadStudy("curves")->resting_summary.empty());

  Restart();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));
  EXPECT_EQ(Overview(*coordinator_), overview);
  EXPECT_EQ(Listing(*coordinator_, TrialQuery{}), all);
  // Calls about its trials find them, as before it was unloaded.
  EXPECT_THAT(coordinator_->Tell("curves", 0, TrialState::kComplete, 0.5, {}, "").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("COMPLETE")));
}

TEST_F(StudyRestTest, AChangeClearsTheStoredSummaryBeforeItIsWritten) {
  RunStudy();
  RestThenUnload();
  ASSERT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));

  ASSERT_OK(coordinator_->ExcludeTrial("curves", 1, "noise", false));
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(false));
  EXPECT_TRUE(store_.LoadStudy("curves")->resting_summary.empty());
  Restart();  // Loaded from its trials: the best is no longer trial 1.
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(false));
  EXPECT_EQ(coordinator_->Summary("curves")->best_trial, 0);

  // Unloaded again, its new summary is stored.
  RestThenUnload();
  Restart();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));
  EXPECT_EQ(coordinator_->Summary("curves")->best_trial, 0);
}

TEST_F(StudyRestTest, KeepingCurvesInMemoryLoadsAnUnloadedStudyWhole) {
  RunStudy();
  RestThenUnload();
  ASSERT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(true));
  options_.keep_curves_in_memory = true;
  Restart();
  EXPECT_THAT(coordinator_->Unloaded("curves"), IsOkAndHolds(false));
  EXPECT_THAT(coordinator_->AtRest("curves"), IsOkAndHolds(false));
  EXPECT_TRUE(store_.LoadStudy("curves")->resting_summary.empty());
  EXPECT_EQ(coordinator_->GetTrial("curves", 1)->trial.intermediate.size(), 5u);
}

}  // namespace
}  // namespace vernier
