#include "server/logic/sobol_sampler.h"

#include <cmath>
#include <random>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/schema/study_schema.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

absl::StatusOr<StudySpec> ParseSobolStudy(const std::string& params, const std::string& sampler) {
  return ParseStudySpec("name: s\nobjective: {metric: m}\nparams:\n" + params +
                        "sampler: " + sampler + "\ntrainer: {command: [/bin/true]}\n");
}

double Unit(uint32_t x) { return std::ldexp(static_cast<double>(x), -32); }

TEST(SobolCoordinateTest, FirstDimensionIsVanDerCorput) {
  const double expected[] = {0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875, 0.0625};
  for (uint64_t n = 0; n < std::size(expected); ++n) {
    EXPECT_EQ(Unit(SobolCoordinate(0, n)), expected[n]) << n;
  }
}

TEST(SobolCoordinateTest, EveryDimensionStratifiesTheFirstPowerOfTwoPoints) {
  // Each dimension of a Sobol sequence puts exactly one of its first 2^m
  // points in each interval [k / 2^m, (k + 1) / 2^m).
  for (int d = 0; d < kSobolMaxDimensions; ++d) {
    std::set<uint32_t> cells;
    for (uint64_t n = 0; n < 64; ++n) cells.insert(SobolCoordinate(d, n) >> 26);
    EXPECT_EQ(cells.size(), 64u) << "dimension " << d;
  }
}

TEST(SobolSamplerTest, PointsStayInsideTheirSpace) {
  const SearchSpace space = MixedSpace();
  SobolSampler sampler(7);
  std::set<std::string> opts;
  for (int64_t n = 0; n < 512; ++n) {
    ParamMap p = sampler.Suggest(space, {}, n);
    ExpectInsideMixedSpace(p);
    opts.insert(std::get<std::string>(p.at("opt")));
  }
  EXPECT_EQ(opts.size(), 3u);
}

TEST(SobolSamplerTest, CoversTheSquareMoreEvenlyThanRandomDraws) {
  auto spec =
      ParseSobolStudy("  x: {type: float, low: 0, high: 1}\n  y: {type: float, low: 0, high: 1}\n",
                      "{type: sobol, seed: 7}");
  ASSERT_OK(spec);
  SobolSampler sobol(spec->sampler.seed);
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> uniform(0, 1);
  // 256 points over a 16 x 16 grid of cells: count the cells hit.
  std::set<int> sobol_cells, random_cells;
  auto cell = [](double x, double y) {
    return static_cast<int>(x * 16) * 16 + static_cast<int>(y * 16);
  };
  for (int64_t n = 0; n < 256; ++n) {
    ParamMap p = sobol.Suggest(spec->space, {}, n);
    sobol_cells.insert(cell(std::get<double>(p.at("x")), std::get<double>(p.at("y"))));
    random_cells.insert(cell(uniform(gen), uniform(gen)));
  }
  // The first two Sobol dimensions form a (0, 2)-sequence: one point per cell,
  // which a digital shift keeps. Random draws leave about 1/e of them empty.
  EXPECT_EQ(sobol_cells.size(), 256u);
  EXPECT_LT(random_cells.size(), 200u);
}

TEST(SobolSamplerTest, DeterministicForSeedAndTrialNumber) {
  auto spec =
      ParseSobolStudy("  x: {type: float, low: 0, high: 1}\n  k: {type: int, low: 0, high: 1000}\n",
                      "{type: sobol}");
  ASSERT_OK(spec);
  SobolSampler a(42), b(42), c(43);
  EXPECT_EQ(a.Suggest(spec->space, {}, 5), b.Suggest(spec->space, {}, 5));
  EXPECT_NE(a.Suggest(spec->space, {}, 5), a.Suggest(spec->space, {}, 6));
  EXPECT_NE(a.Suggest(spec->space, {}, 5), c.Suggest(spec->space, {}, 5));
}

TEST(SobolSamplerTest, TooManyParametersAreInvalid) {
  std::string params;
  for (int i = 0; i <= kSobolMaxDimensions; ++i) {
    params += "  p" + std::to_string(i) + ": {type: float, low: 0, high: 1}\n";
  }
  auto spec = ParseSobolStudy(params, "{type: sobol}");
  EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(spec.status().message(), HasSubstr("at most 21 parameters"));
  EXPECT_OK(ParseSobolStudy(params, "{type: random}"));
}

}  // namespace
}  // namespace vernier
