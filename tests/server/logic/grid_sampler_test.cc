#include "server/logic/grid_sampler.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/schema/study_schema.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

absl::StatusOr<StudySpec> Parse(const std::string& params, const std::string& sampler) {
  return ParseStudySpec("name: s\nobjective: {metric: m}\nparams:\n" + params +
                        "sampler: " + sampler + "\ntrainer: {command: [/bin/true]}\n");
}

StudySpec MustParse(const std::string& params, const std::string& sampler) {
  return VALUE_OR_FAIL(Parse(params, sampler));
}

// Every point of the grid, in trial order.
std::vector<ParamMap> Points(const StudySpec& spec) {
  GridSampler sampler((*spec.sampler.get<GridSpec>()));
  std::optional<int64_t> capacity = sampler.Capacity(spec.space);
  EXPECT_TRUE(capacity.has_value());
  std::vector<ParamMap> points;
  for (int64_t n = 0; n < capacity.value_or(0); ++n)
    points.push_back(sampler.Suggest(spec.space, {}, n));
  return points;
}

TEST(GridSamplerTest, EnumeratesEveryPointInNestedLoopOrder) {
  StudySpec spec = MustParse(R"(
  opt:  {type: categorical, values: [sgd, adam]}
  k:    {type: int, low: 1, high: 5, step: 2}
  x:    {type: float, low: 0.0, high: 1.0}
)",
                             "{type: grid, resolution: 2}");
  std::vector<ParamMap> expected;
  for (const char* opt : {"sgd", "adam"}) {
    for (int64_t k : {1, 3, 5}) {
      for (double x : {0.0, 1.0}) {
        expected.push_back({{"opt", std::string(opt)}, {"k", k}, {"x", x}});
      }
    }
  }
  EXPECT_EQ(Points(spec), expected);
}

TEST(GridSamplerTest, FloatsOnStepsLogScaleAndPerParameterResolution) {
  StudySpec spec = MustParse(R"(
  lr:   {type: float, low: 1.0e-4, high: 1.0, log: true}
  drop: {type: float, low: 0.0, high: 0.25, step: 0.125}
  mom:  {type: float, low: 0.0, high: 1.0}
)",
                             "{type: grid, resolution: {lr: 5}}");
  std::vector<ParamMap> points = Points(spec);
  ASSERT_EQ(points.size(), 5u * 3u * 5u);  // mom keeps the default resolution 5.
  std::set<double> lr, drop, mom;
  for (const ParamMap& p : points) {
    lr.insert(std::get<double>(p.at("lr")));
    drop.insert(std::get<double>(p.at("drop")));
    mom.insert(std::get<double>(p.at("mom")));
  }
  std::vector<double> lrs(lr.begin(), lr.end());
  const double expected_lr[] = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  ASSERT_EQ(lrs.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(std::log10(lrs[i]), std::log10(expected_lr[i]), 1e-9);
  EXPECT_EQ(drop, (std::set<double>{0.0, 0.125, 0.25}));
  EXPECT_EQ(mom, (std::set<double>{0.0, 0.25, 0.5, 0.75, 1.0}));
}

TEST(GridSamplerTest, ConditionalParametersCombineOnlyWithTheirParentsValues) {
  StudySpec spec = MustParse(R"(
  opt: {type: categorical, values: [sgd, momentum, adam]}
  mom: {type: categorical, values: [0.5, 0.9], when: {opt: momentum}}
  beta: {type: categorical, values: [a, b, c], when: {opt: adam}}
  bs:  {type: int, low: 1, high: 2}
)",
                             "{type: grid}");
  std::vector<ParamMap> expected;
  auto add = [&](ParamMap p) {
    for (int64_t bs : {1, 2}) {
      ParamMap q = p;
      q["bs"] = bs;
      expected.push_back(q);
    }
  };
  add({{"opt", std::string("sgd")}});
  add({{"opt", std::string("momentum")}, {"mom", 0.5}});
  add({{"opt", std::string("momentum")}, {"mom", 0.9}});
  for (const char* beta : {"a", "b", "c"})
    add({{"opt", std::string("adam")}, {"beta", std::string(beta)}});
  EXPECT_EQ(Points(spec), expected);
}

TEST(GridSamplerTest, SuggestionIgnoresHistoryAndWrapsAfterTheLastPoint) {
  StudySpec spec = MustParse("  k: {type: int, low: 0, high: 2}\n", "{type: grid}");
  GridSampler sampler((*spec.sampler.get<GridSpec>()));
  EXPECT_EQ(sampler.Capacity(spec.space), 3);
  EXPECT_EQ(sampler.Suggest(spec.space, {}, 1), (ParamMap{{"k", int64_t{1}}}));
  EXPECT_EQ(sampler.Suggest(spec.space, {}, 4), (ParamMap{{"k", int64_t{1}}}));
}

TEST(GridSamplerTest, ResolutionErrorsNameTheField) {
  const std::string params =
      "  x: {type: float, low: 0, high: 1}\n  k: {type: int, low: 1, high: 3}\n";
  EXPECT_THAT(Parse(params, "{type: grid, resolution: 0}").status().message(),
              HasSubstr("sampler.resolution"));
  EXPECT_THAT(Parse(params, "{type: grid, resolution: {k: 3}}").status().message(),
              HasSubstr("sampler.resolution.k"));
  EXPECT_THAT(Parse(params, "{type: grid, resolution: {nope: 3}}").status().message(),
              HasSubstr("sampler.resolution.nope"));
  EXPECT_THAT(Parse(params, "{type: grid, resolution: {x: 0}}").status().message(),
              HasSubstr("sampler.resolution.x"));
  auto huge = Parse(params, "{type: grid, resolution: 5000000}");
  EXPECT_THAT(huge, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(huge.status().message(), HasSubstr("sampler.resolution"));
  EXPECT_THAT(
      Parse("  k: {type: int, low: 0, high: 100000000}\n", "{type: grid}").status().message(),
      HasSubstr("sampler.resolution"));
  EXPECT_OK(Parse(params, "{type: grid, resolution: 3000000}"));  // 9 million points.
}

}  // namespace
}  // namespace vernier
