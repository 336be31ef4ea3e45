// Excluded trials (TrialRecord::excluded): every sampler that learns from
// results suggests as if an excluded trial had failed (a result that says
// nothing), the pruners and stop conditions skip it, and LearnsFrom says so.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/sampler.h"
#include "server/logic/stop_conditions.h"
#include "server/logic/types.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/study_spec_for_test.h"

namespace vernier {
namespace {

StudySpec SpecWithSampler(const std::string& sampler) {
  return VALUE_OR_FAIL(testing::StudySpecForTest(
      absl::StrCat("name: s\nobjective: {metric: loss, goal: minimize}\nparams:\n"
                   "  x: {type: float, low: -5, high: 5}\n  y: {type: float, low: -5, high: 5}\n"
                   "sampler: ",
                   sampler, "\ntrainer: {command: [/bin/true]}\n")));
}

double Bowl(const ParamMap& params) {
  const double x = Number(params, "x") - 1.0;
  const double y = Number(params, "y") + 2.0;
  return x * x + y * y;
}

// The index of the best trial of `trials`.
size_t BestOf(const std::vector<TrialRecord>& trials) {
  size_t best = 0;
  for (size_t i = 1; i < trials.size(); ++i) {
    if (trials[i].final_metrics.at("loss") < trials[best].final_metrics.at("loss")) best = i;
  }
  return best;
}

class ExcludedTrialSamplerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExcludedTrialSamplerTest, SuggestsAsIfTheExcludedTrialHadFailed) {
  const StudySpec spec = SpecWithSampler(GetParam());
  auto sampler = MakeSampler(spec);
  ASSERT_OK(sampler);
  const std::vector<TrialRecord> history = RunStudy(**sampler, spec.space, 16, Bowl);
  const size_t best = BestOf(history);

  std::vector<TrialRecord> excluded = history;
  excluded[best].excluded = true;
  excluded[best].exclusion_reason = "ran on a broken GPU";
  std::vector<TrialRecord> failed = history;
  failed[best].state = TrialState::kFailed;
  failed[best].final_metrics.clear();

  const auto next = static_cast<int64_t>(history.size());
  const ParamMap with_exclusion = (*sampler)->Suggest(spec.space, Pointers(excluded), next);
  EXPECT_EQ(with_exclusion, (*sampler)->Suggest(spec.space, Pointers(failed), next));

  // A sampler that keeps an index answers the same from it.
  if (std::unique_ptr<HistoryIndex> index = (*sampler)->NewHistoryIndex()) {
    for (const TrialRecord& trial : history) index->Observe(trial);
    index->Observe(excluded[best]);  // The exclusion arrives as a new version.
    EXPECT_EQ((*sampler)->SuggestIndexed(spec.space, excluded, *index, next), with_exclusion);
  }
}

INSTANTIATE_TEST_SUITE_P(LearningSamplers, ExcludedTrialSamplerTest,
                         ::testing::Values("{type: tpe, seed: 7, n_startup_trials: 4}",
                                           "{type: gp, seed: 7, n_startup_trials: 4}",
                                           "{type: cmaes, seed: 7}"));

TEST(ExcludedTrialSamplerTest, TpeLearnsFromTheBestTrialUntilItIsExcluded) {
  // The test above would pass for a sampler that ignored every trial: here
  // the exclusion must change what TPE suggests.
  const StudySpec spec = SpecWithSampler("{type: tpe, seed: 7, n_startup_trials: 4}");
  auto sampler = MakeSampler(spec);
  ASSERT_OK(sampler);
  const std::vector<TrialRecord> history = RunStudy(**sampler, spec.space, 16, Bowl);
  std::vector<TrialRecord> excluded = history;
  excluded[BestOf(history)].excluded = true;
  const auto next = static_cast<int64_t>(history.size());
  EXPECT_NE((*sampler)->Suggest(spec.space, Pointers(history), next),
            (*sampler)->Suggest(spec.space, Pointers(excluded), next));
}

TEST(LearnsFromTest, ExcludedAndRefitTrialsAreNotLearnedFrom) {
  TrialRecord trial = Complete(0, {}, 1.0);
  EXPECT_TRUE(LearnsFrom(trial));
  trial.excluded = true;
  EXPECT_FALSE(LearnsFrom(trial));
  trial.excluded = false;
  trial.origin = absl::StrCat(kOriginRefitPrefix, "3");
  EXPECT_FALSE(LearnsFrom(trial));
}

TEST(ExcludedTrialStopConditionTest, AnExcludedTrialDoesNotReachTheTarget) {
  StudySpec spec = SpecWithSampler("{type: random}");
  spec.budget.target = 0.5;
  std::vector<TrialRecord> trials = {Complete(0, {}, 2.0), Complete(1, {}, 0.1)};
  const absl::Time now = absl::UnixEpoch();
  EXPECT_EQ(StopConditionReached(spec.budget, spec.objectives, trials, now, now),
            "budget.target 0.5 reached by trial 1 (loss = 0.1)");
  trials[1].excluded = true;
  EXPECT_EQ(StopConditionReached(spec.budget, spec.objectives, trials, now, now), std::nullopt);
}

}  // namespace
}  // namespace vernier
