// gMock matchers and gtest macros for absl::Status and absl::StatusOr<T>, for
// every test of the project.
//
//   EXPECT_THAT(store.PutTrial(trial), IsOk());
//   EXPECT_THAT(ParseStudySpec(text), StatusIs(absl::StatusCode::kInvalidArgument,
//                                              HasSubstr("params.lr.low")));
//   EXPECT_THAT(LoadTrial(7), IsOkAndHolds(Field(&TrialRecord::number, 7)));
//   EXPECT_OK(store.Flush());
//   ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(text));
//
// A failure prints the status (code and message), never only "false".
//
// Why this file exists: Debian 12's Abseil (20220623) ships no status
// matchers. Later Abseil (20240722 and after) has absl/status/status_matchers.h
// with the same names and meanings: `absl_testing::IsOk()`, `StatusIs(code)`,
// `StatusIs(code, message_matcher)`, `IsOkAndHolds(matcher)`, and
// `ABSL_EXPECT_OK` / `ABSL_ASSERT_OK` (unqualified `EXPECT_OK` / `ASSERT_OK`
// with ABSL_DEFINE_UNQUALIFIED_STATUS_TESTING_MACROS). On an upgrade, replace
// the matchers below by `using ::absl_testing::IsOk;` and so on, and the two
// macros by Abseil's; ASSERT_OK_AND_ASSIGN and VALUE_OR_FAIL stay (Abseil has
// no test counterpart of ASSIGN_OR_RETURN).
//
// Thread-safety: the matchers are immutable values; the macros record test
// failures as gtest's own assertions do.
#ifndef VERNIER_TESTS_TESTING_STATUS_MATCHERS_H_
#define VERNIER_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::testing {
namespace status_internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& statusor) {
  return statusor.status();
}

// Implements IsOk(): polymorphic over Status and StatusOr<T>.
class IsOkMatcher {
 public:
  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    if (!status.ok()) *listener << "whose status is " << status;
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

// Implements StatusIs(): polymorphic over Status and StatusOr<T>.
class StatusIsMatcher {
 public:
  StatusIsMatcher(::testing::Matcher<absl::StatusCode> code,
                  ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    *listener << "whose status is " << (status.ok() ? "OK" : status.ToString());
    return code_.Matches(status.code()) && message_.Matches(std::string(status.message()));
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeTo(os);
    *os << ", and has an error message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has a status code that ";
    code_.DescribeNegationTo(os);
    *os << ", or has an error message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  const ::testing::Matcher<absl::StatusCode> code_;
  const ::testing::Matcher<const std::string&> message_;
};

// Implements IsOkAndHolds() for one StatusOr<T> type.
template <typename StatusOrType>
class IsOkAndHoldsMatcherImpl : public ::testing::MatcherInterface<StatusOrType> {
 public:
  using ValueType = typename std::decay_t<StatusOrType>::value_type;

  template <typename InnerMatcher>
  explicit IsOkAndHoldsMatcherImpl(InnerMatcher&& inner)
      : inner_(::testing::SafeMatcherCast<const ValueType&>(std::forward<InnerMatcher>(inner))) {}

  bool MatchAndExplain(StatusOrType actual,
                       ::testing::MatchResultListener* listener) const override {
    if (!actual.ok()) {
      *listener << "whose status is " << actual.status();
      return false;
    }
    ::testing::StringMatchResultListener inner_listener;
    const bool matches = inner_.MatchAndExplain(*actual, &inner_listener);
    *listener << "whose value " << ::testing::PrintToString(*actual)
              << (matches ? " matches" : " doesn't match");
    const std::string explanation = inner_listener.str();
    if (!explanation.empty()) *listener << ", " << explanation;
    return matches;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "is OK and has a value that ";
    inner_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "isn't OK or has a value that ";
    inner_.DescribeNegationTo(os);
  }

 private:
  const ::testing::Matcher<const ValueType&> inner_;
};

// IsOkAndHolds(): turns into IsOkAndHoldsMatcherImpl once the StatusOr type is
// known.
template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename StatusOrType>
  operator ::testing::Matcher<StatusOrType>() const {  // NOLINT(google-explicit-constructor)
    return ::testing::Matcher<StatusOrType>(
        new IsOkAndHoldsMatcherImpl<const StatusOrType&>(inner_));
  }

 private:
  const InnerMatcher inner_;
};

// The predicate-formatter behind EXPECT_OK and friends: names the expression
// and prints its status.
template <typename StatusType>
::testing::AssertionResult IsOkFormat(const char* expression, const StatusType& actual) {
  const absl::Status& status = GetStatus(actual);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expression << " is not OK: " << status;
}

template <typename T>
T ValueOrFail(absl::StatusOr<T> statusor, const char* expression, const char* file, int line) {
  static_assert(std::is_default_constructible_v<T>,
                "VALUE_OR_FAIL needs a value to return after a failure");
  if (statusor.ok()) return *std::move(statusor);
  ADD_FAILURE_AT(file, line) << expression << " is not OK: " << statusor.status();
  return T{};
}

}  // namespace status_internal

// Matches an OK absl::Status, or an absl::StatusOr<T> that holds a value.
inline ::testing::PolymorphicMatcher<status_internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(status_internal::IsOkMatcher());
}

// Matches a Status or StatusOr<T> whose code matches `code` (an
// absl::StatusCode or a matcher of one) and whose message matches `message`
// (a string, which must equal the message, or a string matcher such as
// HasSubstr("...")).
template <typename CodeMatcher, typename MessageMatcher>
::testing::PolymorphicMatcher<status_internal::StatusIsMatcher> StatusIs(CodeMatcher&& code,
                                                                         MessageMatcher&& message) {
  return ::testing::MakePolymorphicMatcher(status_internal::StatusIsMatcher(
      ::testing::MatcherCast<absl::StatusCode>(std::forward<CodeMatcher>(code)),
      ::testing::MatcherCast<const std::string&>(std::forward<MessageMatcher>(message))));
}

// As above, whatever the message.
template <typename CodeMatcher>
::testing::PolymorphicMatcher<status_internal::StatusIsMatcher> StatusIs(CodeMatcher&& code) {
  return StatusIs(std::forward<CodeMatcher>(code), ::testing::_);
}

// Matches an absl::StatusOr<T> that holds a value matching `inner` (a value of
// T, compared with ==, or a matcher of T).
template <typename InnerMatcher>
status_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>> IsOkAndHolds(
    InnerMatcher&& inner) {
  return status_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>>(
      std::forward<InnerMatcher>(inner));
}

}  // namespace vernier::testing

// EXPECT_OK(expr) / ASSERT_OK(expr): `expr` (an absl::Status or
// absl::StatusOr<T>) is OK. Abseil's ABSL_EXPECT_OK / ABSL_ASSERT_OK.
#define EXPECT_OK(expression) \
  EXPECT_PRED_FORMAT1(::vernier::testing::status_internal::IsOkFormat, expression)
#define ASSERT_OK(expression) \
  ASSERT_PRED_FORMAT1(::vernier::testing::status_internal::IsOkFormat, expression)

#define VERNIER_TESTING_CONCAT_INNER_(x, y) x##y
#define VERNIER_TESTING_CONCAT_(x, y) VERNIER_TESTING_CONCAT_INNER_(x, y)

// `ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr());` binds the value of the
// absl::StatusOr<T> `rexpr` to `lhs` (a declaration or an lvalue), or fails the
// test and returns from the enclosing function, printing the error, when it
// holds none: never reads an error StatusOr. Like every ASSERT_*, only in a
// function returning void (a TEST body, SetUp, a void helper).
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)      \
  VERNIER_TESTING_ASSERT_OK_AND_ASSIGN_IMPL_( \
      VERNIER_TESTING_CONCAT_(vernier_testing_statusor_, __LINE__), lhs, rexpr)

#define VERNIER_TESTING_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)       \
  auto statusor = (rexpr);                                                     \
  if (!statusor.ok()) FAIL() << #rexpr << " is not OK: " << statusor.status(); \
  lhs = *std::move(statusor)

// `VALUE_OR_FAIL(StatusOrExpr())`: the value of an absl::StatusOr<T>, or, when
// it holds an error, a non-fatal test failure that prints the error, and T{}.
// For helpers that return a value and so cannot ASSERT: the test goes on with
// a default value, already failed, instead of reading an error StatusOr
// (undefined behaviour). REQUIRES: T is default-constructible.
#define VALUE_OR_FAIL(rexpr) \
  ::vernier::testing::status_internal::ValueOrFail((rexpr), #rexpr, __FILE__, __LINE__)

#endif  // VERNIER_TESTS_TESTING_STATUS_MATCHERS_H_
