// The coordinator with constraints (INFEASIBLE trials) and several
// objectives (Pareto BestTrials).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConstrained[] = R"(
name: small
objective: {metric: acc, goal: maximize}
constraints: [{metric: mem, max: 4.0}, {metric: params_m, min: 0.5, max: 20}]
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: tpe, n_startup_trials: 2}
budget: {max_trials: 5, parallel: 5}
trainer: {command: [/bin/true]}
)";

constexpr char kTwoObjectives[] = R"(
name: front
objectives: [{metric: acc, goal: maximize}, {metric: ms, goal: minimize}]
constraints: [{metric: mem, max: 4.0}]
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: nsga2, population_size: 4}
budget: {max_trials: 8, parallel: 8}
trainer: {command: [/bin/true]}
)";

class MultiObjectiveCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(&store_, &clock_, CoordinatorOptions{});
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = std::move(*created);
  }

  // Leases the next trial and ends it COMPLETE with `metrics`; returns the
  // stored trial.
  TrialRecord Run(const std::string& study, const MetricMap& metrics) {
    auto assignment = coordinator_->AcquireTrial("w", "cpu");
    EXPECT_TRUE(assignment.ok() && assignment->has_value());
    const LeaseKey lease = (*assignment)->lease;
    EXPECT_EQ(lease.study, study);
    EXPECT_TRUE(coordinator_->CompleteTrial("w", lease, TrialState::kComplete, metrics, "").ok());
    return coordinator_->ListTrials(study)->trials.at(lease.trial_number);
  }

  std::vector<int64_t> Best(const std::string& study, int count) {
    auto best = coordinator_->BestTrials(study, count);
    EXPECT_TRUE(best.ok()) << best.status();
    std::vector<int64_t> numbers;
    for (const TrialRecord& trial : best->trials) numbers.push_back(trial.number);
    return numbers;
  }

  MemoryStudyStore store_;
  FakeClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(MultiObjectiveCoordinatorTest, ConstraintViolationEndsInfeasible) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kConstrained).ok());
  TrialRecord ok = Run("small", {{"acc", 0.5}, {"mem", 4.0}, {"params_m", 0.5}});
  EXPECT_EQ(ok.state, TrialState::kComplete);
  EXPECT_EQ(ok.failure_reason, "");

  TrialRecord above = Run("small", {{"acc", 0.9}, {"mem", 5.5}, {"params_m", 1}});
  EXPECT_EQ(above.state, TrialState::kInfeasible);
  EXPECT_EQ(above.failure_reason, "constraint violated: mem = 5.5 is above max 4");
  EXPECT_EQ(above.final_metrics.at("acc"), 0.9);  // Kept, for people to see.

  TrialRecord below = Run("small", {{"acc", 0.95}, {"mem", 1}, {"params_m", 0.1}});
  EXPECT_EQ(below.state, TrialState::kInfeasible);
  EXPECT_THAT(below.failure_reason, HasSubstr("params_m = 0.1 is below min 0.5"));

  TrialRecord missing = Run("small", {{"acc", 0.97}, {"mem", 1}});
  EXPECT_EQ(missing.state, TrialState::kInfeasible);
  EXPECT_THAT(missing.failure_reason, HasSubstr("\"params_m\" was not reported"));

  TrialRecord nan = Run("small", {{"acc", 0.99}, {"mem", NAN}, {"params_m", 1}});
  EXPECT_EQ(nan.state, TrialState::kInfeasible);
  EXPECT_THAT(nan.failure_reason, HasSubstr("\"mem\" is NaN"));

  // Infeasible trials are never best, however good their objective; they
  // count as finished, so the study completes.
  EXPECT_THAT(Best("small", 5), ElementsAre(0));
  auto view = coordinator_->GetStudy("small");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->record.state, StudyState::kCompleted);
  EXPECT_EQ(view->trial_counts.at(TrialState::kInfeasible), 4);
  ASSERT_EQ(view->record.spec.constraints.size(), 2u);
  EXPECT_EQ(view->record.spec.constraints[1].metric, "params_m");

  // Stored as INFEASIBLE: a restarted server says the same.
  Restart();
  EXPECT_EQ(coordinator_->ListTrials("small")->trials.at(1).state, TrialState::kInfeasible);
  EXPECT_THAT(Best("small", 5), ElementsAre(0));
}

TEST_F(MultiObjectiveCoordinatorTest, MissingOrNanSecondObjectiveFailsTheTrial) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kTwoObjectives).ok());
  TrialRecord missing = Run("front", {{"acc", 0.5}, {"mem", 1}});
  EXPECT_EQ(missing.state, TrialState::kFailed);
  EXPECT_THAT(missing.failure_reason, HasSubstr("no value of the objective metric \"ms\""));
  TrialRecord nan = Run("front", {{"acc", 0.5}, {"ms", NAN}, {"mem", 1}});
  EXPECT_EQ(nan.state, TrialState::kFailed);
  EXPECT_THAT(nan.failure_reason, HasSubstr("\"ms\" is NaN"));
}

TEST_F(MultiObjectiveCoordinatorTest, BestTrialsIsTheFeasibleParetoFront) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kTwoObjectives).ok());
  auto view = coordinator_->GetStudy("front");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->record.spec.objectives.size(), 2u);
  EXPECT_EQ(view->record.spec.objectives[1].metric, "ms");
  EXPECT_EQ(view->record.spec.objectives[1].goal, Goal::kMinimize);

  Run("front", {{"acc", 0.80}, {"ms", 1}, {"mem", 1}});  // 0: front.
  Run("front", {{"acc", 0.90}, {"ms", 5}, {"mem", 1}});  // 1: front.
  Run("front", {{"acc", 0.85}, {"ms", 6}, {"mem", 1}});  // 2: dominated by 1.
  Run("front", {{"acc", 0.99}, {"ms", 0}, {"mem", 9}});  // 3: infeasible.
  Run("front", {{"acc", 0.95}, {"ms", 9}, {"mem", 1}});  // 4: front.
  Run("front", {{"acc", 0.70}, {"ms", 1}, {"mem", 1}});  // 5: dominated by 0.
  Run("front", {{"acc", 0.80}, {"ms", 1}, {"mem", 2}});  // 6: equal to 0: front too.
  EXPECT_EQ(coordinator_->ListTrials("front")->trials.at(3).state, TrialState::kInfeasible);

  // Sorted by the first objective, best (highest acc) first.
  EXPECT_THAT(Best("front", 0), ElementsAre(4, 1, 0, 6));
  EXPECT_THAT(Best("front", -1), ElementsAre(4, 1, 0, 6));
  EXPECT_THAT(Best("front", 2), ElementsAre(4, 1));
  EXPECT_THAT(Best("front", 100), ElementsAre(4, 1, 0, 6));
  Restart();
  EXPECT_THAT(Best("front", 0), ElementsAre(4, 1, 0, 6));
  EXPECT_EQ(coordinator_->BestTrials("nope", 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MultiObjectiveCoordinatorTest, SingleObjectiveBestTrialsUnchanged) {
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kConstrained).ok());
  Run("small", {{"acc", 0.5}, {"mem", 1}, {"params_m", 1}});
  Run("small", {{"acc", 0.7}, {"mem", 1}, {"params_m", 1}});
  Run("small", {{"acc", 0.6}, {"mem", 1}, {"params_m", 1}});
  EXPECT_THAT(Best("small", 0), ElementsAre(1));  // 0 means 1.
  EXPECT_THAT(Best("small", 2), ElementsAre(1, 2));
}

}  // namespace
}  // namespace vernier
