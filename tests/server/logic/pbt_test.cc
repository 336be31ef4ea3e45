#include "server/logic/pbt.h"

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/pruner.h"
#include "server/schema/study_schema.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

constexpr double kNotANumber = std::numeric_limits<double>::quiet_NaN();

absl::StatusOr<StudySpec> ParsePbtStudy(const std::string& pruner, const std::string& extra = "") {
  return ParseStudySpec(absl::StrCat(R"(
name: s
objective: {metric: acc, goal: maximize}
params:
  lr:     {type: float, low: 1.0e-4, high: 1.0, log: true}
  mom:    {type: float, low: 0.0, high: 0.9, step: 0.1}
  width:  {type: int, low: 8, high: 64, step: 8}
  opt:    {type: categorical, values: [sgd, adam]}
  beta:   {type: float, low: 0.1, high: 0.9, when: {opt: adam}}
  act:    {type: categorical, values: [relu, tanh, gelu]}
budget: {max_trials: 8, parallel: 4}
trainer: {command: [/bin/true]}
pruner: )",
                                     pruner, "\n", extra));
}

TEST(PbtSpecTest, Defaults) {
  auto spec = ParsePbtStudy("{type: pbt}");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->pruner.get<PbtSpec>()->interval, 1);
  EXPECT_DOUBLE_EQ(spec->pruner.get<PbtSpec>()->quantile, 0.25);
  EXPECT_DOUBLE_EQ(spec->pruner.get<PbtSpec>()->resample_probability, 0.25);
  EXPECT_THAT(spec->pruner.get<PbtSpec>()->perturb_factors, ::testing::ElementsAre(0.8, 1.2));
  EXPECT_EQ(spec->pruner.get<PbtSpec>()->min_population, 4);  // budget.parallel.
  // Every float that takes no part in a condition; ints may shape the model.
  EXPECT_THAT(spec->pruner.get<PbtSpec>()->params, ::testing::UnorderedElementsAre("lr", "mom"));
  EXPECT_OK(MakePruner(spec->pruner));
}

TEST(PbtSpecTest, ReadsEverySetting) {
  auto spec = ParsePbtStudy(
      "{type: pbt, interval: 2, quantile: 0.5, resample_probability: 0, perturb_factors: [0.5, "
      "2], params: [lr, width, act], min_population: 3}");
  ASSERT_OK(spec);
  EXPECT_EQ(spec->pruner.get<PbtSpec>()->interval, 2);
  EXPECT_DOUBLE_EQ(spec->pruner.get<PbtSpec>()->quantile, 0.5);
  EXPECT_DOUBLE_EQ(spec->pruner.get<PbtSpec>()->resample_probability, 0);
  EXPECT_THAT(spec->pruner.get<PbtSpec>()->perturb_factors, ::testing::ElementsAre(0.5, 2));
  EXPECT_THAT(spec->pruner.get<PbtSpec>()->params, ::testing::ElementsAre("lr", "width", "act"));
  EXPECT_EQ(spec->pruner.get<PbtSpec>()->min_population, 3);
}

TEST(PbtSpecTest, RejectsBadSettingsNamingFieldAndValue) {
  struct Case {
    std::string pruner;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"{type: pbt, quantile: 0.7}", "pruner.quantile: must be in (0, 0.5], got 0.7"},
           {"{type: pbt, quantile: 0}", "pruner.quantile"},
           {"{type: pbt, resample_probability: 1.5}", "pruner.resample_probability"},
           {"{type: pbt, perturb_factors: []}", "pruner.perturb_factors: must be a non-empty"},
           {"{type: pbt, perturb_factors: [1.2, -1]}", "pruner.perturb_factors[1]"},
           {"{type: pbt, params: [nope]}", "pruner.params[0]: \"nope\" is not a parameter"},
           {"{type: pbt, params: [beta]}", "pruner.params[0]: \"beta\" takes part in a `when`"},
           {"{type: pbt, params: [opt]}", "pruner.params[0]: \"opt\" takes part in a `when`"},
           {"{type: pbt, interval: 0}", "pruner.interval"},
           {"{type: pbt, min_population: 1}", "pruner.min_population"},
           {"{type: pbt, warmup_steps: 1}", "warmup_steps"},
           {"{type: patience, patience: 2, wrapped: {type: pbt}}", "pruner.wrapped.type"},
       }) {
    auto spec = ParsePbtStudy(c.pruner);
    ASSERT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument)) << c.pruner;
    EXPECT_THAT(spec.status().message(), HasSubstr(c.message)) << c.pruner;
  }
}

class PbtPolicyTest : public ::testing::Test {
 protected:
  PbtPolicyTest() {
    spec_ = VALUE_OR_FAIL(ParsePbtStudy(
        "{type: pbt, interval: 2, quantile: 0.25, resample_probability: 0, params: [lr, mom, "
        "width]}"));
    // At step 2: trial 0 leads, trial 3 lags.
    trials_ = {Trial(0, {0.5, 0.9}), Trial(1, {0.4, 0.7}), Trial(2, {0.3, 0.6}),
               Trial(3, {0.2, 0.3})};
    for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {2};
  }

  TrialRecord Trial(int64_t number, std::vector<double> values) {
    TrialRecord trial;
    trial.number = number;
    trial.state = TrialState::kRunning;
    trial.params = {{"lr", 0.01 * (number + 1)},
                    {"mom", 0.5},
                    {"width", int64_t{16}},
                    {"opt", std::string("sgd")}};
    for (size_t i = 0; i < values.size(); ++i) {
      trial.intermediate.push_back({static_cast<int64_t>(i + 1), {{"acc", values[i]}}});
    }
    return trial;
  }

  // The policy's settings, for a test to change before it decides.
  PbtSpec& Pbt() { return std::get<PbtSpec>(spec_.pruner.rule); }

  std::optional<ExploitDecision> Decide(int64_t number, int64_t step, uint64_t seed = 7) {
    PbtPolicy policy(Pbt(), spec_.space, seed);
    return policy.Decide(spec_.objective, trials_[number], step, Pointers(trials_), checkpoints_);
  }

  StudySpec spec_;
  std::vector<TrialRecord> trials_;
  CheckpointIndex checkpoints_;
};

TEST_F(PbtPolicyTest, BottomTrialExploitsTopTrial) {
  std::optional<ExploitDecision> decision = Decide(3, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 2);
  // The donor's parameters, perturbed by 0.8 or 1.2 (no resampling here).
  const double lr = std::get<double>(decision->params.at("lr"));
  EXPECT_TRUE(std::abs(lr - 0.008) < 1e-12 || std::abs(lr - 0.012) < 1e-12) << lr;
  const double mom = std::get<double>(decision->params.at("mom"));
  EXPECT_TRUE(std::abs(mom - 0.4) < 1e-12 || std::abs(mom - 0.6) < 1e-12) << mom;
  const int64_t width = std::get<int64_t>(decision->params.at("width"));
  EXPECT_TRUE(width == 16 || width == 8 || width == 24) << width;
  EXPECT_EQ(width % 8, 0);
  EXPECT_EQ(std::get<std::string>(decision->params.at("opt")), "sgd");
}

TEST_F(PbtPolicyTest, TopAndMiddleTrialsNeverExploit) {
  for (int64_t number : {0, 1, 2}) EXPECT_FALSE(Decide(number, 2).has_value()) << number;
}

TEST_F(PbtPolicyTest, NotBeforeTheFirstBoundary) {
  // Step 1: trial 3 is last too (0.2), but no multiple of interval 2 is <= 1.
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {1, 2};
  EXPECT_FALSE(Decide(3, 1).has_value());
  EXPECT_TRUE(Decide(3, 2).has_value());
  EXPECT_FALSE(Decide(3, 0).has_value());
}

TEST_F(PbtPolicyTest, NeedsADonorCheckpointAtOrBeforeTheStep) {
  checkpoints_.erase(0);
  EXPECT_FALSE(Decide(3, 2).has_value());
  checkpoints_[0] = {4};  // Only a later one: not usable at step 2.
  EXPECT_FALSE(Decide(3, 2).has_value());
  checkpoints_[0] = {0, 2, 4};
  ASSERT_TRUE(Decide(3, 2).has_value());
  EXPECT_EQ(Decide(3, 2)->donor_step, 2);
}

TEST_F(PbtPolicyTest, TakesTheDonorsLatestCheckpointAtOrBeforeTheStep) {
  // Trial 0 has reached step 4 and its checkpoint at 2 is gone (kept only the
  // last few); trial 3 at step 4 takes the one at 4.
  trials_[0].intermediate.push_back({3, {{"acc", 0.95}}});
  trials_[0].intermediate.push_back({4, {{"acc", 0.96}}});
  for (int64_t n = 1; n < 4; ++n) {
    trials_[n].intermediate.push_back({3, {{"acc", 0.5}}});
    trials_[n].intermediate.push_back({4, {{"acc", n == 3 ? 0.1 : 0.5}}});
  }
  checkpoints_[0] = {4, 6};
  std::optional<ExploitDecision> decision = Decide(3, 4);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 4);
}

TEST_F(PbtPolicyTest, WaitsForThePopulation) {
  // Trial 1 has not reached step 2 yet: three members, min_population 4.
  trials_[1].intermediate.pop_back();
  EXPECT_FALSE(Decide(3, 2).has_value());
  Pbt().min_population = 3;
  EXPECT_TRUE(Decide(3, 2).has_value());
}

TEST_F(PbtPolicyTest, FailedTrialsAreNotMembers) {
  trials_[2].state = TrialState::kFailed;
  EXPECT_FALSE(Decide(3, 2).has_value());  // Three members left.
}

TEST_F(PbtPolicyTest, UsesTheLastValueBeforeAMissingStep) {
  // Trial 2 skipped step 2 but reached step 3: it counts with its step-1 value.
  trials_[2].intermediate = {{1, {{"acc", 0.99}}}, {3, {{"acc", 0.99}}}};
  checkpoints_[2] = {1};
  std::optional<ExploitDecision> decision = Decide(3, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 2);
  EXPECT_EQ(decision->donor_step, 1);
}

TEST_F(PbtPolicyTest, NaNRanksLast) {
  trials_[1].intermediate[1].metrics["acc"] = kNotANumber;
  EXPECT_FALSE(Decide(3, 2).has_value());
  std::optional<ExploitDecision> decision = Decide(1, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
}

TEST_F(PbtPolicyTest, MinimizedObjective) {
  spec_.objective.goal = Goal::kMinimize;  // Now trial 3 leads and trial 0 lags.
  EXPECT_FALSE(Decide(3, 2).has_value());
  std::optional<ExploitDecision> decision = Decide(0, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 3);
}

TEST_F(PbtPolicyTest, NotTwiceAtTheSameStep) {
  // Trial 3 exploited at step 2, resumed from step 2 and reports step 2 again
  // (a donor checkpoint at an earlier step): no second exploit there.
  trials_[3].exploits.push_back({2, 0, 2, trials_[3].params});
  EXPECT_FALSE(Decide(3, 2).has_value());
  trials_[3].intermediate.push_back({3, {{"acc", 0.1}}});
  trials_[3].intermediate.push_back({4, {{"acc", 0.1}}});
  for (int64_t n = 0; n < 3; ++n) trials_[n].intermediate.push_back({4, {{"acc", 0.9}}});
  EXPECT_TRUE(Decide(3, 4).has_value());
}

TEST_F(PbtPolicyTest, DeterministicAndRebuiltAlike) {
  Pbt().quantile = 0.5;  // Two donors to choose from.
  Pbt().resample_probability = 0.5;
  Pbt().params = {"lr", "mom", "width", "opt"};
  std::optional<ExploitDecision> first = Decide(3, 2);
  ASSERT_TRUE(first.has_value());
  // A restarted coordinator: the same trials copied from storage, in another
  // order, and a fresh policy.
  std::vector<TrialRecord> reloaded(trials_.rbegin(), trials_.rend());
  CheckpointIndex index = checkpoints_;
  PbtPolicy policy(Pbt(), spec_.space, 7);
  std::optional<ExploitDecision> again =
      policy.Decide(spec_.objective, reloaded[0], 2, Pointers(reloaded), index);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->donor, first->donor);
  EXPECT_EQ(again->donor_step, first->donor_step);
  EXPECT_EQ(again->params, first->params);
}

TEST_F(PbtPolicyTest, SeedsChooseAmongTheTopTrials) {
  Pbt().quantile = 0.5;  // Trials 0 and 1 are top; 2 and 3 bottom.
  std::set<int64_t> donors;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    std::optional<ExploitDecision> decision = Decide(3, 2, seed);
    ASSERT_TRUE(decision.has_value());
    donors.insert(decision->donor);
  }
  EXPECT_EQ(donors, (std::set<int64_t>{0, 1}));
}

TEST_F(PbtPolicyTest, PerturbStaysInsideTheSpace) {
  Pbt().resample_probability = 0.3;
  Pbt().perturb_factors = {0.01, 100};
  Pbt().params = {"lr", "mom", "width"};
  PbtPolicy policy(Pbt(), spec_.space, 3);
  std::set<double> lrs;
  for (int64_t step = 2; step < 200; step += 2) {
    ParamMap params = policy.Perturb(trials_[0].params, 3, step);
    const double lr = std::get<double>(params.at("lr"));
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1.0);
    lrs.insert(lr);
    const double mom = std::get<double>(params.at("mom"));
    EXPECT_GE(mom, 0.0);
    EXPECT_LE(mom, 0.9 + 1e-12);
    EXPECT_NEAR(mom * 10, std::round(mom * 10), 1e-9);
    const int64_t width = std::get<int64_t>(params.at("width"));
    EXPECT_GE(width, 8);
    EXPECT_LE(width, 64);
    EXPECT_EQ(width % 8, 0);
    EXPECT_EQ(std::get<std::string>(params.at("opt")), "sgd");  // Not listed: the donor's.
  }
  EXPECT_GT(lrs.size(), 3u);  // Clamped ends and resampled values.
  // A listed categorical is kept, or resampled with resample_probability.
  Pbt().params = {"act"};
  Pbt().resample_probability = 1;
  PbtPolicy resampling(Pbt(), spec_.space, 3);
  ParamMap donor = trials_[0].params;
  donor["act"] = std::string("relu");
  std::set<std::string> acts;
  for (int64_t step = 2; step < 100; step += 2) {
    acts.insert(std::get<std::string>(resampling.Perturb(donor, 3, step).at("act")));
  }
  EXPECT_EQ(acts, (std::set<std::string>{"relu", "tanh", "gelu"}));
  Pbt().resample_probability = 0;
  EXPECT_EQ(PbtPolicy(Pbt(), spec_.space, 3).Perturb(donor, 3, 2).at("act"),
            ParamValue(std::string("relu")));
  EXPECT_EQ(policy.Perturb(trials_[0].params, 3, 2), policy.Perturb(trials_[0].params, 3, 2));
}

// ---- Asynchronous populations: judged at every report against the latest
// boundary (interval 2 in the fixture; some tests use 4). ----

// A trial whose objective reports are exactly `curve` ({step, value}).
TrialRecord AtSteps(int64_t number, const std::vector<std::pair<int64_t, double>>& curve) {
  TrialRecord trial;
  trial.number = number;
  trial.state = TrialState::kRunning;
  trial.params = {{"lr", 0.01 * (number + 1)},
                  {"mom", 0.5},
                  {"width", int64_t{16}},
                  {"opt", std::string("sgd")}};
  for (const auto& [step, value] : curve) trial.intermediate.push_back({step, {{"acc", value}}});
  return trial;
}

void Report(TrialRecord& trial, int64_t step, double value) {
  trial.intermediate.push_back({step, {{"acc", value}}});
}

TEST_F(PbtPolicyTest, IrregularStepsAreJudgedAtTheBoundaryTheyPassed) {
  // Every trial reports steps 1, 3, 7 (never a multiple of interval 2) and
  // checkpoints at each; trial 3 lags throughout.
  trials_ = {AtSteps(0, {{1, 0.5}, {3, 0.9}, {7, 0.95}}), AtSteps(1, {{1, 0.4}, {3, 0.7}}),
             AtSteps(2, {{1, 0.3}, {3, 0.6}}), AtSteps(3, {{1, 0.2}, {3, 0.3}})};
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {1, 3};
  checkpoints_[0] = {1, 3, 7};
  EXPECT_FALSE(Decide(3, 1).has_value());                  // No boundary > 0 at or before step 1.
  std::optional<ExploitDecision> decision = Decide(3, 3);  // Boundary 2.
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 3);  // The donor's latest at or before step 3, not 7.
  // Having exploited at step 3 (boundary 2), it resumes from the donor's
  // step 3 and reports 7: judged again, at boundary 6.
  trials_[3].exploits.push_back({3, 0, 3, trials_[3].params});
  for (int64_t n : {1, 2, 3}) Report(trials_[n], 7, n == 3 ? 0.35 : 0.8);
  for (int64_t n : {1, 2, 3}) checkpoints_[n].insert(7);
  decision = Decide(3, 7);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 7);
}

TEST_F(PbtPolicyTest, LateArrivalIsJudgedOnceEnoughPeersPassTheBoundary) {
  Pbt().interval = 4;
  // Trial 3 is fast and bad: it reaches boundary 4 first.
  trials_ = {AtSteps(0, {{1, 0.5}, {2, 0.6}, {3, 0.7}}), AtSteps(1, {{1, 0.4}, {2, 0.5}, {3, 0.6}}),
             AtSteps(2, {{1, 0.3}, {2, 0.4}, {3, 0.5}}),
             AtSteps(3, {{1, 0.1}, {2, 0.1}, {3, 0.1}, {4, 0.1}})};
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {2};
  EXPECT_FALSE(Decide(3, 4).has_value());  // Alone at boundary 4.
  Report(trials_[3], 5, 0.1);
  Report(trials_[0], 4, 0.8);
  checkpoints_[0].insert(4);
  Report(trials_[1], 4, 0.7);
  EXPECT_FALSE(Decide(3, 5).has_value());  // Three of min_population 4.
  Report(trials_[2], 4, 0.6);
  Report(trials_[3], 6, 0.1);
  std::optional<ExploitDecision> decision = Decide(3, 6);  // Still boundary 4.
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 4);
}

TEST_F(PbtPolicyTest, TooSmallAPopulationWaits) {
  Pbt().interval = 4;
  trials_ = {AtSteps(0, {{4, 0.9}}), AtSteps(1, {{4, 0.8}}), AtSteps(2, {{3, 0.7}}),
             AtSteps(3, {{4, 0.1}, {5, 0.1}})};
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {4};
  // Trial 2 has not reached boundary 4: not a member, so three of
  // min_population 4.
  EXPECT_FALSE(Decide(3, 5).has_value());
  Pbt().min_population = 3;
  EXPECT_TRUE(Decide(3, 5).has_value());
  trials_[1].state = TrialState::kFailed;  // A FAILED trial is not a member.
  EXPECT_FALSE(Decide(3, 5).has_value());
  // A finished trial (COMPLETE or PRUNED) is a member.
  trials_[1].state = TrialState::kComplete;
  trials_[0].state = TrialState::kPruned;
  EXPECT_TRUE(Decide(3, 5).has_value());
}

TEST_F(PbtPolicyTest, PeersAreValuedAtTheJudgedStepNotLater) {
  // Trial 2 is far ahead and excellent at step 6, but at step 2 it was the
  // worst: against trial 3 at step 2 it ranks last, so trial 3 does not.
  Report(trials_[2], 3, 0.1);
  trials_[2].intermediate[1].metrics["acc"] = 0.1;
  Report(trials_[2], 6, 0.99);
  EXPECT_FALSE(Decide(3, 2).has_value());
  // A peer whose only reports lie after the judged step has no value to
  // compare: not a member (three left, min_population 4).
  trials_[2].intermediate = {{6, {{"acc", 0.99}}}};
  EXPECT_FALSE(Decide(3, 2).has_value());
  Pbt().min_population = 3;
  EXPECT_TRUE(Decide(3, 2).has_value());
}

TEST_F(PbtPolicyTest, NoSecondExploitAtOneBoundary) {
  Pbt().interval = 4;
  trials_ = {AtSteps(0, {{1, 0.5}, {2, 0.6}, {3, 0.7}, {4, 0.8}, {5, 0.85}}),
             AtSteps(1, {{1, 0.4}, {2, 0.5}, {3, 0.6}, {4, 0.7}, {5, 0.75}}),
             AtSteps(2, {{1, 0.3}, {2, 0.4}, {3, 0.5}, {4, 0.6}, {5, 0.65}}),
             AtSteps(3, {{1, 0.1}, {2, 0.1}, {3, 0.1}, {4, 0.1}, {5, 0.1}})};
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {2, 4};
  std::optional<ExploitDecision> first = Decide(3, 5);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->donor_step, 4);
  // It exploited at step 5 (boundary 4) and resumed after the donor's step 4:
  // its reports at 5, 6 and 7, still bottom, are not judged again.
  trials_[3].exploits.push_back({5, first->donor, first->donor_step, trials_[3].params});
  for (int64_t step : {5, 6, 7}) {
    for (TrialRecord& trial : trials_) {
      if (trial.intermediate.back().step < step) Report(trial, step, trial.number == 3 ? 0.1 : 0.9);
    }
    trials_[3].intermediate.back().metrics["acc"] = 0.05;
    EXPECT_FALSE(Decide(3, step).has_value()) << step;
  }
  for (TrialRecord& trial : trials_) Report(trial, 8, trial.number == 3 ? 0.05 : 0.9);
  EXPECT_TRUE(Decide(3, 8).has_value());  // The next boundary.
}

TEST_F(PbtPolicyTest, ResumedFromAnEarlierStepIsNotJudgedUntilAfterTheExploitsBoundary) {
  Pbt().interval = 2;
  // Trial 3 exploited at step 5 (boundary 4) from the donor's step 2; it now
  // re-runs steps 3 and 4 (boundaries 2 and 4), which are not judged.
  for (TrialRecord& trial : trials_) {
    for (int64_t step = 3; step <= 6; ++step) Report(trial, step, trial.number == 3 ? 0.1 : 0.9);
  }
  trials_[3].exploits.push_back({5, 0, 2, trials_[3].params});
  EXPECT_FALSE(Decide(3, 3).has_value());
  EXPECT_FALSE(Decide(3, 4).has_value());
  EXPECT_FALSE(Decide(3, 5).has_value());
  EXPECT_TRUE(Decide(3, 6).has_value());
}

TEST_F(PbtPolicyTest, NaNBetweenBoundariesRanksLast) {
  trials_ = {AtSteps(0, {{1, 0.5}, {3, kNotANumber}}), AtSteps(1, {{1, 0.4}, {3, 0.7}}),
             AtSteps(2, {{1, 0.3}, {3, 0.6}}), AtSteps(3, {{1, 0.2}, {3, 0.3}})};
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {3};
  // Trial 0's NaN at step 3 ranks it last: it exploits, trial 3 does not.
  EXPECT_FALSE(Decide(3, 3).has_value());
  std::optional<ExploitDecision> decision = Decide(0, 3);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 1);
  // A NaN is never a donor, even in the top quantile.
  Pbt().quantile = 0.5;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    decision = Decide(3, 3, seed);
    ASSERT_TRUE(decision.has_value());
    EXPECT_NE(decision->donor, 0);
  }
}

TEST_F(PbtPolicyTest, RandomnessIsKeyedOnTheBoundaryNotTheStep) {
  Pbt().interval = 4;
  Pbt().quantile = 0.5;  // Two donors to choose from.
  Pbt().resample_probability = 0.5;
  trials_ = {AtSteps(0, {{4, 0.9}, {5, 0.9}, {6, 0.9}}), AtSteps(1, {{4, 0.8}, {5, 0.8}}),
             AtSteps(2, {{4, 0.3}, {5, 0.3}}), AtSteps(3, {{4, 0.2}, {5, 0.2}})};
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {4};
  // Judged at step 5 or, had the population arrived later, at step 6: the
  // same donor and parameters (the same (seed, trial, boundary 4)).
  for (uint64_t seed = 0; seed < 8; ++seed) {
    std::optional<ExploitDecision> at5 = Decide(3, 5, seed);
    Report(trials_[3], 6, 0.2);
    std::optional<ExploitDecision> at6 = Decide(3, 6, seed);
    trials_[3].intermediate.pop_back();
    ASSERT_TRUE(at5.has_value());
    ASSERT_TRUE(at6.has_value());
    EXPECT_EQ(at5->donor, at6->donor);
    EXPECT_EQ(at5->donor_step, at6->donor_step);
    EXPECT_EQ(at5->params, at6->params);
  }
}

TEST_F(PbtPolicyTest, RestartedCoordinatorDecidesTheSameBetweenBoundaries) {
  Pbt().quantile = 0.5;
  Pbt().resample_probability = 0.5;
  Pbt().params = {"lr", "mom", "width", "opt"};
  trials_ = {AtSteps(0, {{1, 0.5}, {3, 0.9}}), AtSteps(1, {{1, 0.4}, {3, 0.7}}),
             AtSteps(2, {{1, 0.3}, {3, 0.6}}), AtSteps(3, {{1, 0.2}, {3, 0.3}})};
  trials_[2].exploits.push_back({1, 0, 0, trials_[2].params});  // History comes along too.
  for (int64_t n = 0; n < 4; ++n) checkpoints_[n] = {1, 3};
  std::optional<ExploitDecision> first = Decide(3, 3);
  ASSERT_TRUE(first.has_value());
  // The trials as storage gives them back, in another order, and a fresh
  // policy and checkpoint index.
  std::vector<TrialRecord> reloaded(trials_.rbegin(), trials_.rend());
  CheckpointIndex index(checkpoints_.rbegin(), checkpoints_.rend());
  PbtPolicy policy(Pbt(), spec_.space, 7);
  std::optional<ExploitDecision> again =
      policy.Decide(spec_.objective, reloaded[0], 3, Pointers(reloaded), index);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->donor, first->donor);
  EXPECT_EQ(again->donor_step, first->donor_step);
  EXPECT_EQ(again->params, first->params);
}

TEST_F(PbtPolicyTest, NotTheDonorsCheckpointItIsAboutToDrop) {
  // Trial 0 is far ahead and holds kPbtCheckpointsKept checkpoints; the only
  // one at or before step 2 is its oldest, which its next checkpoint deletes,
  // likely before the worker fetches it: not offered.
  checkpoints_[0] = {2, 4, 6, 8};
  ASSERT_EQ(checkpoints_[0].size(), static_cast<size_t>(kPbtCheckpointsKept));
  EXPECT_FALSE(Decide(3, 2).has_value());
  Pbt().quantile = 0.5;  // Trial 1 is a donor too, with room to spare.
  std::optional<ExploitDecision> decision = Decide(3, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 1);
  // With one fewer held, the oldest stays until two more come: offered.
  Pbt().quantile = 0.25;
  checkpoints_[0] = {2, 4, 6};
  decision = Decide(3, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 2);
}

TEST_F(PbtPolicyTest, NotADonorsCheckpointFromBeforeItsOwnExploit) {
  // Trial 0 exploited at step 2 from trial 1's step 1: its own checkpoint at
  // step 1 holds the run it abandoned, which its parameters no longer match.
  trials_[0].exploits.push_back({2, 1, 1, trials_[0].params});
  checkpoints_[0] = {1};
  EXPECT_FALSE(Decide(3, 2).has_value());
  checkpoints_[0] = {1, 2};  // Taken by the resumed run.
  std::optional<ExploitDecision> decision = Decide(3, 2);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->donor, 0);
  EXPECT_EQ(decision->donor_step, 2);
}

}  // namespace
}  // namespace vernier
