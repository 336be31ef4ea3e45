#include "server/logic/sampler.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace vernier {
namespace {

SearchSpace MixedSpace() {
  auto spec = ParseStudySpec(R"(
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
)");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec->space;
}

TEST(RandomSamplerTest, ValuesStayInsideTheirSpace) {
  SearchSpace space = MixedSpace();
  RandomSampler sampler(11);
  for (int64_t n = 0; n < 500; ++n) {
    ParamMap p = sampler.Suggest(space, {}, n);
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
  }
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

}  // namespace
}  // namespace vernier
