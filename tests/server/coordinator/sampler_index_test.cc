// The coordinator's sampler history index (Sampler::NewHistoryIndex): a TPE
// study's suggestions come from an index kept across calls, and must be the
// suggestions of a sampler that reads the whole stored history (as a
// coordinator rebuilt from scratch would), through every way a trial changes
// and across restarts.
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/schema/study_schema.h"
#include "server/storage/memory_study_store.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"

namespace vernier {
namespace {

// Small startup and many trials: the good share passes its cap of 25 within
// the test. Failures are allowed: some tells fail their trial.
constexpr char kAsked[] = R"(
name: asked
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -5, high: 5}
  n: {type: int, low: 1, high: 64, log: true}
  k: {type: categorical, values: [a, b, c]}
sampler: {type: tpe, seed: 3, n_startup_trials: 5}
constraints: [{metric: mem, max: 4}]
budget: {max_trials: 400, max_failures: 1000}
trainer: {external: true}
)";

constexpr char kIndexWorkers[] = R"(
name: workers
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
sampler: {type: tpe, seed: 5, n_startup_trials: 4}
pruner: {type: none}
budget: {max_trials: 300, parallel: 3, max_failures: 1000, max_retries: 1}
trainer: {command: [python3, trial.py]}
)";

double IndexedLoss(const ParamMap& params) {
  const double x = std::get<double>(params.at("x"));
  return (x - 1.5) * (x - 1.5) + (std::get<std::string>(params.at("k")) == "b" ? 0 : 0.5);
}

class SamplerIndexTest : public ::testing::Test {
 protected:
  void Restart() {
    coordinator_.reset();
    auto created = Coordinator::Create(store_.get(), &clock_, options_);
    ASSERT_TRUE(created.ok()) << created.status();
    coordinator_ = std::move(*created);
  }

  // What a sampler that reads the whole stored history suggests for the
  // study's next trial.
  ParamMap FromScratch(const std::string& spec_yaml, const std::string& study) {
    absl::StatusOr<StudySpec> spec = ParseStudySpec(spec_yaml);
    EXPECT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<std::unique_ptr<Sampler>> sampler = MakeSampler(*spec);
    EXPECT_TRUE(sampler.ok()) << sampler.status();
    absl::StatusOr<TrialsView> trials = coordinator_->ListTrials(study);
    EXPECT_TRUE(trials.ok()) << trials.status();
    std::vector<const TrialRecord*> history;
    for (const TrialRecord& trial : trials->trials) history.push_back(&trial);
    return (*sampler)->Suggest(spec->space, history, static_cast<int64_t>(trials->trials.size()));
  }

  std::unique_ptr<StudyStore> store_ = std::make_unique<MemoryStudyStore>();
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(SamplerIndexTest, AskedTrialsAreThoseOfTheWholeHistory) {
  // On SQLite, so that the restarts rebuild the index from the file.
  auto opened = SqliteStudyStore::Open(":memory:");
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = *std::move(opened);
  Restart();
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kAsked).ok());
  std::vector<TrialRecord> running;
  for (int i = 0; i < 160; ++i) {
    if (i == 60 || i == 120) Restart();
    const ParamMap expected = FromScratch(kAsked, "asked");
    absl::StatusOr<TrialView> asked = coordinator_->Ask("asked");
    ASSERT_TRUE(asked.ok()) << asked.status();
    EXPECT_EQ(asked->trial.params, expected) << "trial " << asked->trial.number;
    running.push_back(asked->trial);
    if (running.size() < 3) continue;  // Up to three pending trials at once.
    const TrialRecord told = running.front();
    running.erase(running.begin());
    const double loss = std::round(IndexedLoss(told.params) * 8) / 8;  // Ties.
    absl::StatusOr<TrialView> result;
    switch (i % 5) {
      case 0:
        result = coordinator_->Tell("asked", told.number, TrialState::kPruned, std::nullopt,
                                    {{"loss", loss}}, "");
        break;
      case 1:
        result = coordinator_->Tell("asked", told.number, TrialState::kFailed, std::nullopt, {},
                                    "diverged");
        break;
      case 2:  // Breaks the constraint: INFEASIBLE.
        result = coordinator_->Tell("asked", told.number, TrialState::kComplete, loss,
                                    {{"mem", 9.0}}, "");
        break;
      default:
        result = coordinator_->Tell("asked", told.number, TrialState::kComplete, loss,
                                    {{"mem", 1.0}}, "");
    }
    ASSERT_TRUE(result.ok()) << result.status();
  }
}

TEST_F(SamplerIndexTest, WorkersTrialsAreThoseOfTheWholeHistory) {
  Restart();
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kIndexWorkers).ok());
  std::vector<Assignment> running;
  for (int i = 0; i < 120; ++i) {
    if (i == 70) Restart();
    if (i == 90) {
      // A lost lease sends its trial back to WAITING; the next acquire takes
      // it again (no suggestion), the one after suggests from the history.
      clock_.Advance(absl::Seconds(31));
      running.clear();
    }
    const ParamMap expected = FromScratch(kIndexWorkers, "workers");
    absl::StatusOr<std::optional<Assignment>> acquired = coordinator_->AcquireTrial("w", "cpu");
    ASSERT_TRUE(acquired.ok()) << acquired.status();
    ASSERT_TRUE(acquired->has_value()) << "acquire " << i;
    const Assignment& assignment = **acquired;
    if (assignment.trial.attempt == 1) {
      EXPECT_EQ(assignment.trial.params, expected) << "trial " << assignment.trial.number;
    }
    running.push_back(assignment);
    if (running.size() < 3) continue;
    const Assignment done = running.front();
    running.erase(running.begin());
    const double x = std::get<double>(done.trial.params.at("x"));
    const double acc = std::round((1 - (x - 0.7) * (x - 0.7)) * 16) / 16;
    // Reports first: a PRUNED trial is ranked by its deepest reported step.
    for (int64_t step = 0; step <= i % 3; ++step) {
      ASSERT_TRUE(coordinator_->ReportProgress("w", done.lease, {step, {{"acc", acc - 0.1}}}).ok());
    }
    const TrialState state = i % 4 == 0   ? TrialState::kPruned
                             : i % 7 == 0 ? TrialState::kFailed
                                          : TrialState::kComplete;
    ASSERT_TRUE(
        coordinator_->CompleteTrial("w", done.lease, state, {{"acc", acc}}, "stopped").ok());
  }
}

}  // namespace
}  // namespace vernier
