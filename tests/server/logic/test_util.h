// Helpers shared by the pure-logic tests: search spaces from YAML, a
// sequential ask/tell loop for samplers, a mixed search space with every kind
// of parameter, and learning curves built by hand.
#ifndef VERNIER_TESTS_SERVER_LOGIC_TEST_UTIL_H_
#define VERNIER_TESTS_SERVER_LOGIC_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/study_spec_for_test.h"

namespace vernier {

// Parses `params` (YAML lines of a study file's params block) into a search
// space of a study that minimises "loss".
// A bad block is a test failure, and gives an empty space.
inline SearchSpace ParseSpace(const std::string& params) {
  return VALUE_OR_FAIL(
             testing::StudySpecForTest(absl::StrCat("name: s\nobjective: {metric: loss}\nparams:\n",
                                                    params, "trainer: {command: [/bin/true]}\n")))
      .space;
}

inline double Number(const ParamMap& params, const std::string& name) {
  const ParamValue& value = params.at(name);
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::get<double>(value);
}

inline TrialRecord Complete(int64_t number, ParamMap params, double loss) {
  TrialRecord trial;
  trial.number = number;
  trial.params = std::move(params);
  trial.state = TrialState::kComplete;
  trial.final_metrics["loss"] = loss;
  return trial;
}

inline std::vector<const TrialRecord*> Pointers(const std::vector<TrialRecord>& trials) {
  std::vector<const TrialRecord*> out;
  for (const TrialRecord& trial : trials) out.push_back(&trial);
  return out;
}

// Asks and tells `n` trials one after another; `check` sees each suggestion.
inline std::vector<TrialRecord> RunStudy(
    const Sampler& sampler, const SearchSpace& space, int n,
    const std::function<double(const ParamMap&)>& loss,
    const std::function<void(const ParamMap&)>& check = nullptr) {
  std::vector<TrialRecord> trials;
  trials.reserve(n);
  for (int i = 0; i < n; ++i) {
    ParamMap params = sampler.Suggest(space, Pointers(trials), i);
    if (check) check(params);
    const double value = loss(params);
    trials.push_back(Complete(i, std::move(params), value));
  }
  return trials;
}

// Asks for `count` trials numbered from trials.size() in turn, each added to
// `trials` as RUNNING before the next ask (parallel workers asking before any
// reports); returns their parameters in order.
inline std::vector<ParamMap> AskWhileRunning(const Sampler& sampler, const SearchSpace& space,
                                             std::vector<TrialRecord>& trials, int count) {
  std::vector<ParamMap> batch;
  for (int k = 0; k < count; ++k) {
    TrialRecord running;
    running.number = static_cast<int64_t>(trials.size());
    running.params = sampler.Suggest(space, Pointers(trials), running.number);
    running.state = TrialState::kRunning;
    batch.push_back(running.params);
    trials.push_back(std::move(running));
  }
  return batch;
}

// Asks the next trial of `trials` from the whole history and from `index`,
// fails unless the two suggestions are equal, and appends the trial as
// RUNNING (observed by `index`), as a coordinator would.
inline ::testing::AssertionResult AskIndexedAsScanned(const Sampler& sampler,
                                                      const SearchSpace& space, HistoryIndex& index,
                                                      std::vector<TrialRecord>& trials) {
  const auto number = static_cast<int64_t>(trials.size());
  ParamMap scanned = sampler.Suggest(space, Pointers(trials), number);
  if (sampler.SuggestIndexed(space, trials, index, number) != scanned) {
    return ::testing::AssertionFailure()
           << "trial " << number << ": the indexed suggestion differs from the scanned one";
  }
  TrialRecord asked;
  asked.number = number;
  asked.params = std::move(scanned);
  asked.state = TrialState::kRunning;
  trials.push_back(std::move(asked));
  index.Observe(trials.back());
  return ::testing::AssertionSuccess();
}

inline double BestLoss(const std::vector<TrialRecord>& trials) {
  double best = INFINITY;
  for (const TrialRecord& t : trials) best = std::min(best, t.final_metrics.at("loss"));
  return best;
}

// Log float, stepped float, log int, stepped int, categorical, and a float
// that exists only when opt == momentum.
inline SearchSpace MixedSpace() {
  return VALUE_OR_FAIL(testing::StudySpecForTest(R"(
name: s
objective: {metric: m}
params:
  lr:    {type: float, low: 1.0e-5, high: 1.0, log: true}
  drop:  {type: float, low: 0.0, high: 0.5, step: 0.1}
  units: {type: int, low: 16, high: 256, log: true}
  depth: {type: int, low: 1, high: 9, step: 2}
  opt:   {type: categorical, values: [sgd, momentum, adam]}
  mom:   {type: float, low: 0.5, high: 0.99, when: {opt: momentum}}
trainer: {command: [/bin/true]}
)"))
      .space;
}

// Checks that `p` is a point of MixedSpace(): bounds, grids, types, and the
// condition on `mom`.
inline void ExpectInsideMixedSpace(const ParamMap& p) {
  double lr = std::get<double>(p.at("lr"));
  EXPECT_GE(lr, 1e-5);
  EXPECT_LE(lr, 1.0);
  double drop = std::get<double>(p.at("drop"));
  EXPECT_NEAR(drop * 10, std::round(drop * 10), 1e-9);
  EXPECT_LE(drop, 0.5 + 1e-12);
  int64_t units = std::get<int64_t>(p.at("units"));
  EXPECT_GE(units, 16);
  EXPECT_LE(units, 256);
  int64_t depth = std::get<int64_t>(p.at("depth"));
  EXPECT_EQ(depth % 2, 1);
  EXPECT_LE(depth, 9);
  const std::string& opt = std::get<std::string>(p.at("opt"));
  EXPECT_EQ(p.count("mom") == 1, opt == "momentum") << opt;
  if (p.count("mom") == 1) {
    EXPECT_GE(std::get<double>(p.at("mom")), 0.5);
    EXPECT_LE(std::get<double>(p.at("mom")), 0.99);
  }
}

// A trial that reported metric "acc" at the given {step, value} points.
inline TrialRecord CurveAtSteps(int64_t number, std::vector<std::pair<int64_t, double>> points,
                                TrialState state = TrialState::kComplete) {
  TrialRecord trial;
  trial.number = number;
  trial.state = state;
  for (const auto& [step, value] : points) trial.intermediate.push_back({step, {{"acc", value}}});
  return trial;
}

}  // namespace vernier

#endif  // VERNIER_TESTS_SERVER_LOGIC_TEST_UTIL_H_
