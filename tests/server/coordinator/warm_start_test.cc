// Warm start through the coordinator: EnqueueTrial (order, budget, state,
// validation, restart) and `warm_start` copies (which trials, the budget, the
// sampler learning from them). Runs over a real SQLite file so that restarts
// read back what was written.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/server/storage/sqlite_test_util.h"

namespace vernier {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kWarmStudy[] = R"(
name: toy
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
  units: {type: int, low: 16, high: 256, step: 16}
  optimizer: {type: categorical, values: [sgd, momentum]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {optimizer: momentum}}
sampler: {type: random, seed: 3}
budget: {max_trials: 4, parallel: 4}
trainer: {command: [/bin/true]}
)";

// A study over [0, 1]^2; `extra` is appended (a sampler, a warm_start).
std::string PlaneStudy(const std::string& name, const std::string& extra, int max_trials) {
  return absl::StrCat("name: ", name,
                      "\nobjective: {metric: loss, goal: minimize}\n"
                      "params:\n  x: {type: float, low: 0, high: 1}\n"
                      "  y: {type: float, low: 0, high: 1}\n"
                      "budget: {max_trials: ",
                      max_trials, ", parallel: 1}\ntrainer: {command: [/bin/true]}\n", extra);
}

// Distance to the optimum of the synthetic loss below, (0.8, 0.2).
double Distance(const ParamMap& params) {
  return std::hypot(std::get<double>(params.at("x")) - 0.8, std::get<double>(params.at("y")) - 0.2);
}

class WarmStartTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  // A new store and coordinator over the same file, as after a server restart.
  void Restart() {
    coordinator_.reset();
    store_.reset();
    auto store = SqliteStudyStore::Open(dir_.File("study.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto created = Coordinator::Create(store_.get(), &clock_, CoordinatorOptions{});
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = *std::move(created);
  }

  StudyView Create(const std::string& spec) {
    absl::StatusOr<StudyView> view = CreateStudyFromYaml(*coordinator_, spec);
    EXPECT_TRUE(view.ok()) << view.status();
    return view.ok() ? *view : StudyView{};
  }

  TrialRecord Enqueue(const std::string& study, const ParamMap& params) {
    absl::StatusOr<TrialView> trial = coordinator_->EnqueueTrial(study, params);
    EXPECT_TRUE(trial.ok()) << trial.status();
    return trial.ok() ? trial->trial : TrialRecord{};
  }

  // The message of an EnqueueTrial that must fail with `code`.
  std::string EnqueueError(const std::string& study, const ParamMap& params,
                           absl::StatusCode code) {
    absl::StatusOr<TrialView> trial = coordinator_->EnqueueTrial(study, params);
    EXPECT_EQ(trial.status().code(), code) << trial.status();
    return std::string(trial.status().message());
  }

  // Leases the next trial (of any study) or nullopt.
  std::optional<Assignment> Acquire() {
    auto assignment = coordinator_->AcquireTrial("w", "cpu");
    EXPECT_TRUE(assignment.ok()) << assignment.status();
    return assignment.ok() ? *assignment : std::nullopt;
  }

  void Complete(const Assignment& a, double loss) {
    ASSERT_TRUE(
        coordinator_->CompleteTrial("w", a.lease, TrialState::kComplete, {{"loss", loss}}, "")
            .ok());
  }

  // Runs trials of `study` one at a time until none is left; returns their
  // parameters in the order they ran.
  std::vector<ParamMap> RunAll(const std::string& study,
                               const std::function<double(const ParamMap&)>& loss) {
    std::vector<ParamMap> ran;
    while (std::optional<Assignment> a = Acquire()) {
      EXPECT_EQ(a->lease.study, study);
      ran.push_back(a->trial.params);
      Complete(*a, loss(a->trial.params));
    }
    return ran;
  }

  std::vector<TrialRecord> Trials(const std::string& study) {
    auto trials = coordinator_->ListTrials(study);
    EXPECT_TRUE(trials.ok()) << trials.status();
    return trials.ok() ? trials->trials : std::vector<TrialRecord>{};
  }

  ScratchDir dir_;
  FakeClock clock_;
  std::unique_ptr<SqliteStudyStore> store_;
  std::unique_ptr<Coordinator> coordinator_;
};

double Loss(const ParamMap& params) {
  const double dx = std::get<double>(params.at("x")) - 0.8;
  const double dy = std::get<double>(params.at("y")) - 0.2;
  return dx * dx + dy * dy;
}

TEST_F(WarmStartTest, EnqueuedTrialsRunBeforeSampledOnesInEnqueueOrder) {
  Create(kWarmStudy);
  TrialRecord first = Enqueue("toy", {{"x", 0.25}, {"optimizer", std::string("sgd")}});
  TrialRecord second = Enqueue("toy", {{"x", 0.75}});
  EXPECT_EQ(first.number, 0);
  EXPECT_EQ(first.state, TrialState::kWaiting);
  EXPECT_EQ(first.origin, "enqueued");
  EXPECT_EQ(second.number, 1);

  std::optional<Assignment> a = Acquire();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->trial.number, 0);
  EXPECT_EQ(a->trial.params.at("x"), ParamValue(0.25));
  std::optional<Assignment> b = Acquire();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->trial.number, 1);
  EXPECT_EQ(b->trial.params.at("x"), ParamValue(0.75));
  std::optional<Assignment> c = Acquire();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->trial.number, 2);
  EXPECT_EQ(c->trial.origin, "");  // Sampled.
}

TEST_F(WarmStartTest, PartialParametersAreFilledRespectingConditions) {
  Create(kWarmStudy);
  TrialRecord on = Enqueue("toy", {{"optimizer", std::string("momentum")}});
  EXPECT_EQ(on.params.size(), 4);  // x, units, optimizer and the switched-on momentum.
  ASSERT_EQ(on.params.count("momentum"), 1);
  EXPECT_GE(std::get<double>(on.params.at("momentum")), 0.5);
  TrialRecord off = Enqueue("toy", {{"optimizer", std::string("sgd")}, {"units", 48.0}});
  EXPECT_EQ(off.params.size(), 3);
  EXPECT_EQ(off.params.count("momentum"), 0);
  EXPECT_EQ(off.params.at("units"), ParamValue(int64_t{48}));
}

TEST_F(WarmStartTest, BadParametersAreInvalidArgumentNamingThemAndStoreNothing) {
  Create(kWarmStudy);
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(EnqueueError("toy", {{"lr", 0.1}}, kInvalid),
              AllOf(HasSubstr("params.lr"), HasSubstr("not a parameter")));
  EXPECT_THAT(EnqueueError("toy", {{"x", std::string("big")}}, kInvalid),
              AllOf(HasSubstr("params.x"), HasSubstr("\"big\"")));
  EXPECT_THAT(EnqueueError("toy", {{"x", 1.5}}, kInvalid),
              AllOf(HasSubstr("params.x"), HasSubstr("1.5"), HasSubstr("outside [0, 1]")));
  EXPECT_THAT(EnqueueError("toy", {{"units", int64_t{20}}}, kInvalid),
              AllOf(HasSubstr("params.units"), HasSubstr("20"), HasSubstr("step")));
  EXPECT_THAT(EnqueueError("toy", {{"optimizer", std::string("adam")}}, kInvalid),
              AllOf(HasSubstr("params.optimizer"), HasSubstr("\"adam\"")));
  EXPECT_THAT(
      EnqueueError("toy", {{"optimizer", std::string("sgd")}, {"momentum", 0.9}}, kInvalid),
      AllOf(HasSubstr("params.momentum"), HasSubstr("0.9"), HasSubstr("optimizer is \"sgd\"")));
  EXPECT_TRUE(Trials("toy").empty());
}

TEST_F(WarmStartTest, EnqueueNeedsAnActiveStudyWithBudgetLeft) {
  EXPECT_THAT(EnqueueError("nope", {}, absl::StatusCode::kNotFound), HasSubstr("\"nope\""));
  Create(kWarmStudy);
  for (int i = 0; i < 4; ++i) Enqueue("toy", {});
  EXPECT_THAT(EnqueueError("toy", {}, absl::StatusCode::kFailedPrecondition),
              HasSubstr("budget.max_trials is 4"));
  // The enqueued trials are the study's budget: nothing is sampled after them.
  int ran = 0;
  while (std::optional<Assignment> a = Acquire()) {
    Complete(*a, 1.0);
    ++ran;
  }
  EXPECT_EQ(ran, 4);
  EXPECT_EQ(coordinator_->GetStudy("toy")->record.state, StudyState::kCompleted);
  EXPECT_THAT(EnqueueError("toy", {}, absl::StatusCode::kFailedPrecondition),
              HasSubstr("is COMPLETED"));

  Create(PlaneStudy("stopped", "", 5));
  ASSERT_TRUE(coordinator_->StopStudy("stopped").ok());
  EXPECT_THAT(EnqueueError("stopped", {}, absl::StatusCode::kFailedPrecondition),
              AllOf(HasSubstr("\"stopped\""), HasSubstr("is STOPPED")));
}

TEST_F(WarmStartTest, RestartKeepsEnqueuedWaitingTrialsInOrder) {
  Create(kWarmStudy);
  std::vector<double> xs = {0.9, 0.1, 0.5};
  for (double x : xs) Enqueue("toy", {{"x", x}});
  Restart();
  std::vector<TrialRecord> trials = Trials("toy");
  ASSERT_EQ(trials.size(), 3);
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(trials[i].state, TrialState::kWaiting);
    EXPECT_EQ(trials[i].origin, "enqueued");
    std::optional<Assignment> a = Acquire();
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->trial.params.at("x"), ParamValue(xs[i]));
  }
}

TEST_F(WarmStartTest, UnknownWarmStartStudyIsInvalidArgumentNamingTheField) {
  absl::StatusOr<StudyView> view =
      CreateStudyFromYaml(*coordinator_, PlaneStudy("new", "warm_start: {study: old}\n", 3));
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(view.status().message()),
              AllOf(HasSubstr("warm_start.study"), HasSubstr("\"old\"")));
  EXPECT_EQ(coordinator_->GetStudy("new").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(WarmStartTest, CopiesTheCompleteTrialsThatFitAndSkipsTheOthers) {
  // The old study: 6 trials, one of them FAILED; y's range is wider than the
  // new study's, so trials with y > 0.5 do not fit.
  Create(absl::StrCat(
      "name: old\nobjective: {metric: loss, goal: minimize}\n"
      "params:\n  x: {type: float, low: 0, high: 1}\n  y: {type: float, low: 0, high: 1}\n"
      "budget: {max_trials: 6, parallel: 1, max_failures: 5}\n"
      "trainer: {command: [/bin/true]}\n"));
  const std::vector<std::pair<double, double>> points = {{0.1, 0.1}, {0.2, 0.9}, {0.3, 0.3},
                                                         {0.4, 0.4}, {0.5, 0.8}, {0.6, 0.2}};
  for (const auto& [x, y] : points) Enqueue("old", {{"x", x}, {"y", y}});
  for (int i = 0; i < 6; ++i) {
    std::optional<Assignment> a = Acquire();
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE(coordinator_->ReportProgress("w", a->lease, {1, {{"loss", 9.0}}}).ok());
    if (i == 3) {
      ASSERT_TRUE(coordinator_->CompleteTrial("w", a->lease, TrialState::kFailed, {}, "boom").ok());
    } else {
      Complete(*a, Loss(a->trial.params));
    }
  }
  const std::string spec = absl::StrCat(
      "name: new\nobjective: {metric: loss, goal: minimize}\n"
      "params:\n  x: {type: float, low: 0, high: 1}\n  y: {type: float, low: 0, high: 0.5}\n"
      "sampler: {type: tpe, seed: 1}\nbudget: {max_trials: 2, parallel: 1}\n"
      "trainer: {command: [/bin/true]}\nwarm_start: {study: old}\n");
  StudyView view = Create(spec);
  EXPECT_THAT(view.note,
              AllOf(HasSubstr("copied 3"), HasSubstr("skipped 2"), HasSubstr("params.y")));
  std::vector<TrialRecord> copies = Trials("new");
  ASSERT_EQ(copies.size(), 3);
  const std::vector<std::string> origins = {"warm_start:old#0", "warm_start:old#2",
                                            "warm_start:old#5"};
  for (size_t i = 0; i < copies.size(); ++i) {
    EXPECT_EQ(copies[i].number, static_cast<int64_t>(i));
    EXPECT_EQ(copies[i].state, TrialState::kComplete);
    EXPECT_EQ(copies[i].origin, origins[i]);
    ASSERT_EQ(copies[i].intermediate.size(), 1);
    EXPECT_EQ(copies[i].intermediate[0].step, 1);
  }
  EXPECT_EQ(copies[2].params.at("x"), ParamValue(0.6));
  EXPECT_DOUBLE_EQ(copies[2].final_metrics.at("loss"), Loss(copies[2].params));

  // Copies do not count toward max_trials: the new study still runs 2 trials,
  // also when the server restarts in between.
  std::optional<Assignment> a = Acquire();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->trial.number, 3);
  Complete(*a, 1.0);
  Restart();
  EXPECT_EQ(Trials("new").size(), 4);
  EXPECT_EQ(Trials("new")[0].intermediate.size(), 1);  // Stored, not just in memory.
  EXPECT_EQ(coordinator_->GetStudy("new")->record.state, StudyState::kActive);
  a = Acquire();
  ASSERT_TRUE(a.has_value());
  Complete(*a, 1.0);
  EXPECT_FALSE(Acquire().has_value());
  EXPECT_EQ(coordinator_->GetStudy("new")->record.state, StudyState::kCompleted);
  EXPECT_EQ(coordinator_->GetStudy("new")->trial_counts[TrialState::kComplete], 5);
}

TEST_F(WarmStartTest, MaxTrialsCopiesOnlyTheBest) {
  Create(PlaneStudy("old", "", 5));
  const std::vector<double> xs = {0.0, 0.9, 0.3, 0.8, 0.5};
  for (double x : xs) Enqueue("old", {{"x", x}, {"y", 0.2}});
  RunAll("old", Loss);
  Create(PlaneStudy("new", "warm_start: {study: old, max_trials: 2}\n", 1));
  std::vector<TrialRecord> copies = Trials("new");
  ASSERT_EQ(copies.size(), 2);
  EXPECT_EQ(copies[0].origin, "warm_start:old#1");  // x 0.9
  EXPECT_EQ(copies[1].origin, "warm_start:old#3");  // x 0.8, the optimum
}

// TPE seeded with a prior study's trials proposes points near the prior
// optimum from its first trial; without them its first trials are random
// start-up draws. Seeds are fixed, so the comparison is deterministic.
TEST_F(WarmStartTest, TpeSeededFromAPriorStudyProposesNearItsOptimumSooner) {
  Create(PlaneStudy("prior", "sampler: {type: random, seed: 11}\n", 40));
  RunAll("prior", Loss);
  constexpr int kTrials = 8;
  Create(
      PlaneStudy("warm", "sampler: {type: tpe, seed: 5}\nwarm_start: {study: prior}\n", kTrials));
  const std::vector<ParamMap> warm = RunAll("warm", Loss);
  Create(PlaneStudy("cold", "sampler: {type: tpe, seed: 5}\n", kTrials));
  const std::vector<ParamMap> cold = RunAll("cold", Loss);
  ASSERT_EQ(warm.size(), kTrials);
  ASSERT_EQ(cold.size(), kTrials);
  double warm_total = 0;
  double cold_total = 0;
  int warm_near = 0;
  int cold_near = 0;
  for (int i = 0; i < kTrials; ++i) {
    warm_total += Distance(warm[i]);
    cold_total += Distance(cold[i]);
    warm_near += Distance(warm[i]) < 0.2;
    cold_near += Distance(cold[i]) < 0.2;
  }
  EXPECT_LT(warm_total, cold_total / 2) << "mean distance to the optimum, warm vs cold";
  EXPECT_GT(warm_near, cold_near);
}

}  // namespace
}  // namespace vernier
