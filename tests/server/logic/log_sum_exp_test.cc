#include "server/logic/log_sum_exp.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace vernier {
namespace {

// Distance in units in the last place between two positive doubles.
double UlpDistance(double a, double b) {
  return std::abs(a - b) / (std::nextafter(b, 2 * b + 1) - b);
}

TEST(ExpOfNonPositiveTest, MatchesStdExpWithinTwoUlpsOverItsRange) {
  double worst = 0;
  for (int i = 0; i <= 600000; ++i) {
    const double x = -60.0 * i / 600000.0;
    worst = std::max(worst, UlpDistance(ExpOfNonPositive(x), std::exp(x)));
  }
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(ExpOfNonPositive(0.0), 1.0);
  EXPECT_EQ(ExpOfNonPositive(-std::log(2.0) * 10), std::exp(-std::log(2.0) * 10));
}

double NaiveLogSumExp(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += std::exp(v);
  return std::log(sum);
}

TEST(LogSumExpTest, AgreesWithTheDirectSumWhereThatDoesNotOverflow) {
  std::vector<double> scratch;
  const std::vector<double> values = {-3.0, 0.5, -1.25, 2.0, -7.5, -0.001};
  EXPECT_NEAR(LogSumExp(values, scratch), NaiveLogSumExp(values), 1e-14);
  EXPECT_NEAR(LogSumExp({1.0}, scratch), 1.0, 1e-15);
  EXPECT_NEAR(LogSumExp({0.0, 0.0}, scratch), std::log(2.0), 1e-15);
}

TEST(LogSumExpTest, StaysFiniteFarBeyondTheRangeOfExp) {
  std::vector<double> scratch;
  EXPECT_NEAR(LogSumExp({1000.0, 1000.0}, scratch), 1000.0 + std::log(2.0), 1e-12);
  EXPECT_NEAR(LogSumExp({-1000.0, -1001.0}, scratch), -1000.0 + std::log1p(std::exp(-1.0)), 1e-12);
}

TEST(LogSumExpTest, NegligibleTermsMoveTheResultByLessThanTheirBound) {
  std::vector<double> scratch;
  // 1 at 0 and 500 terms far below: the exact answer is log(1 + 500 e^-45).
  std::vector<double> values(500, -45.0);
  values.push_back(0.0);
  const double exact = std::log1p(500 * std::exp(-45.0));
  EXPECT_NEAR(LogSumExp(values, scratch), exact, 1e-15);
  // Terms near the cut-off still count.
  std::vector<double> kept(500, -30.0);
  kept.push_back(0.0);
  EXPECT_NEAR(LogSumExp(kept, scratch), std::log1p(500 * std::exp(-30.0)), 1e-15);
  EXPECT_GT(LogSumExp(kept, scratch), 0.0);
}

TEST(LogSumExpTest, EmptyInfiniteAndNanInputs) {
  std::vector<double> scratch;
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(LogSumExp({}, scratch), -inf);
  EXPECT_EQ(LogSumExp({-inf, -inf}, scratch), -inf);
  EXPECT_NEAR(LogSumExp({-inf, 2.0}, scratch), 2.0, 1e-15);
  EXPECT_EQ(LogSumExp({1.0, inf}, scratch), inf);
  EXPECT_TRUE(std::isnan(LogSumExp({1.0, std::nan("")}, scratch)));
  EXPECT_TRUE(std::isnan(LogSumExp({std::nan(""), -inf}, scratch)));
}

}  // namespace
}  // namespace vernier
