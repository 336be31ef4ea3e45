#include "tests/testing/status_matchers.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace vernier::testing {
namespace {

using ::testing::DescribeMatcher;
using ::testing::Eq;
using ::testing::Gt;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pointee;

absl::StatusOr<int> Five() { return 5; }
absl::StatusOr<int> NoTrial() { return absl::NotFoundError("no trial 7"); }

TEST(IsOkTest, MatchesOkStatusAndStatusOrWithValue) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(Five(), IsOk());
}

TEST(IsOkTest, DoesNotMatchErrors) {
  EXPECT_THAT(absl::InternalError("boom"), Not(IsOk()));
  EXPECT_THAT(NoTrial(), Not(IsOk()));
}

TEST(IsOkTest, FailurePrintsTheStatus) {
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::NotFoundError("no trial 7"), IsOk()),
                          "whose status is NOT_FOUND: no trial 7");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(NoTrial(), IsOk()), "whose status is NOT_FOUND: no trial 7");
}

TEST(IsOkTest, Describes) {
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk(), /*negation=*/true), "is not OK");
}

TEST(StatusIsTest, MatchesCode) {
  EXPECT_THAT(absl::InvalidArgumentError("bad"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NoTrial(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(Five(), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusIsTest, DoesNotMatchAnotherCode) {
  EXPECT_THAT(absl::InvalidArgumentError("bad"), Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(Five(), Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(absl::OkStatus(), Not(StatusIs(absl::StatusCode::kInternal)));
}

TEST(StatusIsTest, MatchesMessage) {
  EXPECT_THAT(NoTrial(), StatusIs(absl::StatusCode::kNotFound, "no trial 7"));
  EXPECT_THAT(NoTrial(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("trial")));
  EXPECT_THAT(NoTrial(), Not(StatusIs(absl::StatusCode::kNotFound, "no trial")));
  EXPECT_THAT(NoTrial(), Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("study"))));
  // Both must hold.
  EXPECT_THAT(NoTrial(), Not(StatusIs(absl::StatusCode::kInternal, "no trial 7")));
}

TEST(StatusIsTest, TakesACodeMatcher) {
  EXPECT_THAT(NoTrial(), StatusIs(Not(absl::StatusCode::kOk)));
  EXPECT_THAT(Five(), Not(StatusIs(Not(absl::StatusCode::kOk))));
}

TEST(StatusIsTest, FailurePrintsTheStatus) {
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(NoTrial(), StatusIs(absl::StatusCode::kInvalidArgument)),
                          "whose status is NOT_FOUND: no trial 7");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kNotFound)),
                          "whose status is OK");
}

TEST(StatusIsTest, Describes) {
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound, "x")),
            "has a status code that is equal to NOT_FOUND, and has an error message that is "
            "equal to \"x\"");
}

TEST(IsOkAndHoldsTest, MatchesValue) {
  EXPECT_THAT(Five(), IsOkAndHolds(5));
  EXPECT_THAT(Five(), IsOkAndHolds(Gt(4)));
  EXPECT_THAT(absl::StatusOr<std::string>("adam"), IsOkAndHolds(HasSubstr("da")));
  EXPECT_THAT(absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(3)),
              IsOkAndHolds(Pointee(3)));
}

TEST(IsOkAndHoldsTest, DoesNotMatchAnotherValueOrAnError) {
  EXPECT_THAT(Five(), Not(IsOkAndHolds(6)));
  EXPECT_THAT(NoTrial(), Not(IsOkAndHolds(5)));
  EXPECT_THAT(NoTrial(), Not(IsOkAndHolds(::testing::_)));
}

TEST(IsOkAndHoldsTest, FailurePrintsTheStatusOrTheValue) {
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(NoTrial(), IsOkAndHolds(5)),
                          "whose status is NOT_FOUND: no trial 7");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(Five(), IsOkAndHolds(Eq(6))), "whose value 5 doesn't match");
}

TEST(IsOkAndHoldsTest, Describes) {
  EXPECT_EQ(DescribeMatcher<absl::StatusOr<int>>(IsOkAndHolds(5)),
            "is OK and has a value that is equal to 5");
}

TEST(ExpectOkTest, PassesOnOk) {
  EXPECT_OK(absl::OkStatus());
  EXPECT_OK(Five());
  ASSERT_OK(absl::OkStatus());
  ASSERT_OK(Five());
}

TEST(ExpectOkTest, FailsWithTheExpressionAndTheStatus) {
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(NoTrial()), "NoTrial() is not OK: NOT_FOUND: no trial 7");
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(absl::InternalError("boom")), "is not OK: INTERNAL: boom");
  EXPECT_FATAL_FAILURE(ASSERT_OK(NoTrial()), "NoTrial() is not OK: NOT_FOUND: no trial 7");
}

TEST(AssertOkAndAssignTest, BindsTheValue) {
  ASSERT_OK_AND_ASSIGN(const int five, Five());
  EXPECT_EQ(five, 5);
  int assigned = 0;
  ASSERT_OK_AND_ASSIGN(assigned, Five());
  EXPECT_EQ(assigned, 5);
  // Move-only values are moved out.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> owned,
                       absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(9)));
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(*owned, 9);
}

bool reached_after_assign = false;

void AssignFromAnError() {
  ASSERT_OK_AND_ASSIGN(const int value, NoTrial());
  reached_after_assign = true;
  (void)value;
}

TEST(AssertOkAndAssignTest, FailsAndReturnsOnAnErrorWithoutReadingIt) {
  reached_after_assign = false;
  EXPECT_FATAL_FAILURE(AssignFromAnError(), "NoTrial() is not OK: NOT_FOUND: no trial 7");
  EXPECT_FALSE(reached_after_assign);
}

TEST(ValueOrFailTest, ReturnsTheValue) { EXPECT_EQ(VALUE_OR_FAIL(Five()), 5); }

TEST(ValueOrFailTest, FailsAndReturnsADefaultOnAnError) {
  EXPECT_NONFATAL_FAILURE(EXPECT_EQ(VALUE_OR_FAIL(NoTrial()), 0),
                          "NoTrial() is not OK: NOT_FOUND: no trial 7");
}

}  // namespace
}  // namespace vernier::testing
