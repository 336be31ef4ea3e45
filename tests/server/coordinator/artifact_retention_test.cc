// Artifact retention: which trials' files a study keeps under keep best /
// all / none, with one objective and several, refits and unfinished trials.
#include "server/coordinator/artifact_retention.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TrialRecord Trial(int64_t number, TrialState state, MetricMap metrics = {}) {
  TrialRecord trial;
  trial.study = "s";
  trial.number = number;
  trial.state = state;
  trial.final_metrics = std::move(metrics);
  return trial;
}

std::vector<ObjectiveSpec> Maximize(const std::string& metric) {
  ObjectiveSpec objective;
  objective.metric = metric;
  objective.goal = Goal::kMaximize;
  return {objective};
}

ArtifactSpec Best(int64_t count) {
  ArtifactSpec policy;
  policy.keep = ArtifactKeep::kBest;
  policy.count = count;
  return policy;
}

// Trials 0-5: accuracies 0.5, 0.9, (pruned), 0.7, (failed), 0.8.
std::vector<TrialRecord> SixTrials() {
  return {Trial(0, TrialState::kComplete, {{"acc", 0.5}}),
          Trial(1, TrialState::kComplete, {{"acc", 0.9}}),
          Trial(2, TrialState::kPruned),
          Trial(3, TrialState::kComplete, {{"acc", 0.7}}),
          Trial(4, TrialState::kFailed),
          Trial(5, TrialState::kComplete, {{"acc", 0.8}})};
}

const std::set<int64_t> kAllSix = {0, 1, 2, 3, 4, 5};

TEST(ArtifactRetentionTest, KeepBestDeletesEveryTrialOutsideTheBestCount) {
  EXPECT_THAT(ArtifactTrialsToDelete(Best(2), SixTrials(), Maximize("acc"), kAllSix),
              ElementsAre(0, 2, 3, 4));
  EXPECT_THAT(ArtifactTrialsToDelete(Best(1), SixTrials(), Maximize("acc"), {0, 1}),
              ElementsAre(0));
  EXPECT_THAT(ArtifactTrialsToDelete(Best(10), SixTrials(), Maximize("acc"), kAllSix),
              ElementsAre(2, 4));
}

TEST(ArtifactRetentionTest, MinimizedObjectivesRankTheOtherWay) {
  std::vector<ObjectiveSpec> objectives = Maximize("acc");
  objectives[0].goal = Goal::kMinimize;
  EXPECT_THAT(ArtifactTrialsToDelete(Best(2), SixTrials(), objectives, kAllSix),
              ElementsAre(1, 2, 4, 5));
}

TEST(ArtifactRetentionTest, KeepAllDeletesNothingAndKeepNoneEverythingFinished) {
  ArtifactSpec all;
  all.keep = ArtifactKeep::kAll;
  EXPECT_THAT(ArtifactTrialsToDelete(all, SixTrials(), Maximize("acc"), kAllSix), IsEmpty());
  ArtifactSpec none;
  none.keep = ArtifactKeep::kNone;
  EXPECT_THAT(ArtifactTrialsToDelete(none, SixTrials(), Maximize("acc"), kAllSix),
              ElementsAre(0, 1, 2, 3, 4, 5));
}

TEST(ArtifactRetentionTest, RunningTrialsAndRefitsAreAlwaysKept) {
  std::vector<TrialRecord> trials = SixTrials();
  trials.push_back(Trial(6, TrialState::kRunning));
  trials.push_back(Trial(7, TrialState::kComplete, {{"acc", 0.1}}));
  trials.back().origin = std::string(kOriginRefitPrefix) + "1";
  ArtifactSpec none;
  none.keep = ArtifactKeep::kNone;
  EXPECT_THAT(ArtifactTrialsToDelete(none, trials, Maximize("acc"), {1, 6, 7}), ElementsAre(1));
  EXPECT_THAT(ArtifactTrialsToDelete(Best(1), trials, Maximize("acc"), {0, 1, 6, 7}),
              ElementsAre(0));
}

TEST(ArtifactRetentionTest, TrialsTheStudyDoesNotHaveAreDeleted) {
  EXPECT_THAT(ArtifactTrialsToDelete(Best(5), SixTrials(), Maximize("acc"), {1, 42}),
              ElementsAre(42));
}

TEST(ArtifactRetentionTest, SeveralObjectivesKeepTheParetoFrontCappedInRankOrder) {
  ObjectiveSpec accuracy{"acc", Goal::kMaximize};
  ObjectiveSpec latency{"latency", Goal::kMinimize};
  const std::vector<ObjectiveSpec> objectives = {accuracy, latency};
  // Front: 0 (0.9, 9), 1 (0.8, 5), 3 (0.7, 1); 2 is dominated by 1.
  const std::vector<TrialRecord> trials = {
      Trial(0, TrialState::kComplete, {{"acc", 0.9}, {"latency", 9}}),
      Trial(1, TrialState::kComplete, {{"acc", 0.8}, {"latency", 5}}),
      Trial(2, TrialState::kComplete, {{"acc", 0.6}, {"latency", 6}}),
      Trial(3, TrialState::kComplete, {{"acc", 0.7}, {"latency", 1}})};
  EXPECT_THAT(ArtifactTrialsToDelete(Best(5), trials, objectives, {0, 1, 2, 3}), ElementsAre(2));
  // Capped at 2, in the front's order (best first by the first objective).
  EXPECT_THAT(ArtifactTrialsToDelete(Best(2), trials, objectives, {0, 1, 2, 3}), ElementsAre(2, 3));
}

TEST(ArtifactRetentionTest, UploadLimitIsZeroOnlyWhenNothingWouldBeKept) {
  ArtifactSpec policy = Best(3);
  policy.max_bytes = 1234;
  TrialRecord trial = Trial(0, TrialState::kRunning);
  EXPECT_EQ(ArtifactUploadLimit(policy, trial), 1234);
  policy.keep = ArtifactKeep::kAll;
  EXPECT_EQ(ArtifactUploadLimit(policy, trial), 1234);
  policy.keep = ArtifactKeep::kNone;
  EXPECT_EQ(ArtifactUploadLimit(policy, trial), 0);
  trial.origin = std::string(kOriginRefitPrefix) + "0";
  EXPECT_EQ(ArtifactUploadLimit(policy, trial), 1234);
}

}  // namespace
}  // namespace vernier
