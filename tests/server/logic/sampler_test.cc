#include "server/logic/sampler.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "server/logic/grid_sampler.h"
#include "server/logic/sobol_sampler.h"
#include "tests/server/logic/test_util.h"

namespace vernier {
namespace {

TEST(RandomSamplerTest, ValuesStayInsideTheirSpace) {
  SearchSpace space = MixedSpace();
  RandomSampler sampler(11);
  for (int64_t n = 0; n < 500; ++n) ExpectInsideMixedSpace(sampler.Suggest(space, {}, n));
}

TEST(RandomSamplerTest, LogScaleSpreadsOverDecades) {
  SearchSpace space = MixedSpace();
  RandomSampler sampler(3);
  int below_1e3 = 0;
  const int n = 2000;
  for (int64_t i = 0; i < n; ++i) {
    if (std::get<double>(sampler.Suggest(space, {}, i).at("lr")) < 1e-3) ++below_1e3;
  }
  // Two of five decades lie below 1e-3: expect ~40 %, far from the ~0.1 % a
  // linear draw would give.
  EXPECT_GT(below_1e3, n * 0.3);
  EXPECT_LT(below_1e3, n * 0.5);
}

TEST(RandomSamplerTest, DeterministicForSeedAndTrialNumber) {
  SearchSpace space = MixedSpace();
  RandomSampler a(42), b(42), c(43);
  EXPECT_EQ(a.Suggest(space, {}, 5), b.Suggest(space, {}, 5));
  EXPECT_NE(a.Suggest(space, {}, 5), a.Suggest(space, {}, 6));
  EXPECT_NE(a.Suggest(space, {}, 5), c.Suggest(space, {}, 5));
}

TEST(RandomSamplerTest, EveryCategoryAppears) {
  SearchSpace space = MixedSpace();
  RandomSampler sampler(1);
  std::map<std::string, int> seen;
  for (int64_t i = 0; i < 300; ++i)
    seen[std::get<std::string>(sampler.Suggest(space, {}, i).at("opt"))]++;
  EXPECT_EQ(seen.size(), 3u);
}

// Samplers that read no history keep an index that costs nothing, so the
// coordinator does not list a long history for each of their suggestions;
// their indexed suggestions are their plain ones.
TEST(HistoryFreeSamplerTest, RandomSobolAndGridKeepAnIndexAndSuggestAsWithoutIt) {
  SearchSpace space = MixedSpace();
  std::vector<TrialRecord> trials(3);
  for (int64_t n = 0; n < 3; ++n) trials[n].number = n;
  const RandomSampler random(5);
  const SobolSampler sobol(5);
  const GridSampler grid((GridSpec()));
  for (const Sampler* sampler : std::vector<const Sampler*>{&random, &sobol, &grid}) {
    std::unique_ptr<HistoryIndex> index = sampler->NewHistoryIndex();
    ASSERT_NE(index, nullptr);
    for (const TrialRecord& trial : trials) index->Observe(trial);
    for (int64_t n = 3; n < 20; ++n) {
      EXPECT_EQ(sampler->SuggestIndexed(space, trials, *index, n), sampler->Suggest(space, {}, n));
    }
  }
}

}  // namespace
}  // namespace vernier
