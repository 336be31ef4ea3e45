#include "server/logic/given_params.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/logic/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

constexpr char kSpace[] = R"yaml(
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.05}
  units: {type: int, low: 16, high: 256, step: 16}
  batch: {type: categorical, values: [32, 64]}
  optimizer: {type: categorical, values: [sgd, momentum, adam]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {optimizer: momentum}}
)yaml";

class GivenParamsTest : public ::testing::Test {
 protected:
  absl::StatusOr<ParamMap> Fill(const ParamMap& given, const ParamMap& suggested = {}) {
    return FillGivenParams(space_, given, suggested, gen_);
  }

  // The message of a fill that must fail with INVALID_ARGUMENT.
  std::string Error(const ParamMap& given) {
    absl::StatusOr<ParamMap> filled = Fill(given);
    EXPECT_THAT(filled, StatusIs(absl::StatusCode::kInvalidArgument));
    return std::string(filled.status().message());
  }

  SearchSpace space_ = ParseSpace(kSpace);
  std::mt19937_64 gen_{42};
};

TEST_F(GivenParamsTest, FullValidSetIsKeptAndConvertedToEachType) {
  absl::StatusOr<ParamMap> filled = Fill({{"lr", 0.01},
                                          {"dropout", 0.15},
                                          {"units", 32.0},
                                          {"batch", std::string("64")},
                                          {"optimizer", std::string("momentum")},
                                          {"momentum", int64_t{0}}});
  // momentum 0 is outside [0.5, 0.99]: refused.
  EXPECT_THAT(filled, Not(IsOk()));
  filled = Fill({{"lr", int64_t{0}}});
  EXPECT_THAT(filled, Not(IsOk()));

  filled = Fill({{"lr", 0.01},
                 {"dropout", 0.15},
                 {"units", 32.0},
                 {"batch", std::string("64")},
                 {"optimizer", std::string("momentum")},
                 {"momentum", 0.9}});
  ASSERT_OK(filled);
  EXPECT_EQ(filled->at("lr"), ParamValue(0.01));
  EXPECT_NEAR(std::get<double>(filled->at("dropout")), 0.15, 1e-12);
  EXPECT_EQ(filled->at("units"), ParamValue(int64_t{32}));  // 32.0 -> int.
  EXPECT_EQ(filled->at("batch"), ParamValue(int64_t{64}));  // "64" -> the file's 64.
  EXPECT_EQ(filled->at("momentum"), ParamValue(0.9));
  EXPECT_EQ(filled->size(), 6);
}

TEST_F(GivenParamsTest, UnknownNameIsRefusedNamingItAndTheSpace) {
  EXPECT_THAT(Error({{"lrr", 0.01}}), AllOf(HasSubstr("params.lrr"), HasSubstr("not a parameter"),
                                            HasSubstr("0.01"), HasSubstr("lr, dropout")));
}

TEST_F(GivenParamsTest, WrongTypeIsRefusedNamingParameterAndValue) {
  EXPECT_THAT(Error({{"lr", std::string("fast")}}),
              AllOf(HasSubstr("params.lr"), HasSubstr("needs a number"), HasSubstr("\"fast\"")));
  EXPECT_THAT(Error({{"units", 32.5}}),
              AllOf(HasSubstr("params.units"), HasSubstr("whole number"), HasSubstr("32.5")));
  EXPECT_THAT(Error({{"units", std::string("32")}}), HasSubstr("params.units"));
}

TEST_F(GivenParamsTest, OutOfBoundsIsRefusedWithTheBounds) {
  EXPECT_THAT(Error({{"lr", 0.5}}),
              AllOf(HasSubstr("params.lr"), HasSubstr("0.5"), HasSubstr("outside [0.0001, 0.1]")));
  EXPECT_THAT(Error({{"units", int64_t{512}}}),
              AllOf(HasSubstr("params.units"), HasSubstr("512"), HasSubstr("[16, 256]")));
}

TEST_F(GivenParamsTest, OffTheStepIsRefused) {
  EXPECT_THAT(Error({{"dropout", 0.12}}),
              AllOf(HasSubstr("params.dropout"), HasSubstr("0.12"), HasSubstr("step grid")));
  EXPECT_THAT(Error({{"units", int64_t{40}}}),
              AllOf(HasSubstr("params.units"), HasSubstr("40"), HasSubstr("16 + k * 16")));
}

TEST_F(GivenParamsTest, CategoricalOutsideItsValuesIsRefusedListingThem) {
  EXPECT_THAT(Error({{"optimizer", std::string("adamw")}}),
              AllOf(HasSubstr("params.optimizer"), HasSubstr("\"adamw\""),
                    HasSubstr("[\"sgd\", \"momentum\", \"adam\"]")));
  EXPECT_THAT(Error({{"batch", int64_t{48}}}), AllOf(HasSubstr("params.batch"), HasSubstr("48")));
}

TEST_F(GivenParamsTest, ChildWhoseConditionDoesNotHoldIsRefused) {
  EXPECT_THAT(Error({{"optimizer", std::string("adam")}, {"momentum", 0.9}}),
              AllOf(HasSubstr("params.momentum"), HasSubstr("0.9"),
                    HasSubstr("exists only when optimizer is \"momentum\""),
                    HasSubstr("optimizer is \"adam\"")));
}

TEST_F(GivenParamsTest, ChildWithoutItsParentIsRefusedAskingForTheParent) {
  EXPECT_THAT(Error({{"momentum", 0.9}}),
              AllOf(HasSubstr("params.momentum"), HasSubstr("give optimizer too")));
}

TEST_F(GivenParamsTest, MissingParametersComeFromTheSuggestionAndRespectConditions) {
  const ParamMap suggested = {{"lr", 0.001},
                              {"dropout", 0.1},
                              {"units", int64_t{64}},
                              {"batch", int64_t{32}},
                              {"optimizer", std::string("adam")}};
  // The given parent switches the child on: it is drawn, inside its bounds.
  absl::StatusOr<ParamMap> filled = Fill({{"optimizer", std::string("momentum")}}, suggested);
  ASSERT_OK(filled);
  EXPECT_EQ(filled->at("lr"), ParamValue(0.001));
  EXPECT_EQ(filled->at("units"), ParamValue(int64_t{64}));
  ASSERT_EQ(filled->count("momentum"), 1);
  EXPECT_GE(Number(*filled, "momentum"), 0.5);
  EXPECT_LE(Number(*filled, "momentum"), 0.99);

  // The given parent switches the suggested child off.
  ParamMap with_child = suggested;
  with_child["optimizer"] = std::string("momentum");
  with_child["momentum"] = 0.7;
  filled = Fill({{"optimizer", std::string("sgd")}}, with_child);
  ASSERT_OK(filled);
  EXPECT_EQ(filled->count("momentum"), 0);
  EXPECT_EQ(filled->at("optimizer"), ParamValue(std::string("sgd")));
}

TEST_F(GivenParamsTest, CompleteParamsMustCoverExactlyTheActiveParameters) {
  const ParamMap full = {{"lr", 0.001},
                         {"dropout", 0.1},
                         {"units", int64_t{64}},
                         {"batch", int64_t{32}},
                         {"optimizer", std::string("adam")}};
  EXPECT_OK(CheckCompleteParams(space_, full));
  ParamMap missing = full;
  missing.erase("units");
  EXPECT_THAT(std::string(CheckCompleteParams(space_, missing).status().message()),
              HasSubstr("params.units: missing"));
  ParamMap needs_child = full;
  needs_child["optimizer"] = std::string("momentum");
  EXPECT_THAT(std::string(CheckCompleteParams(space_, needs_child).status().message()),
              HasSubstr("params.momentum: missing"));
  ParamMap extra_child = full;
  extra_child["momentum"] = 0.9;
  EXPECT_THAT(std::string(CheckCompleteParams(space_, extra_child).status().message()),
              HasSubstr("params.momentum"));
  ParamMap foreign = full;
  foreign["epochs"] = int64_t{3};
  EXPECT_THAT(std::string(CheckCompleteParams(space_, foreign).status().message()),
              HasSubstr("params.epochs"));
}

TEST_F(GivenParamsTest, ParamsInSpaceDropsForeignNames) {
  EXPECT_EQ(ParamsInSpace(space_, {{"lr", 0.01}, {"epochs", int64_t{3}}}),
            (ParamMap{{"lr", 0.01}}));
}

}  // namespace
}  // namespace vernier
