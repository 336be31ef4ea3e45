// EvenSpacing: which positions of a sequence an evenly spaced sample picks.
#include "server/logic/even_spacing.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace vernier {
namespace {

TEST(EvenSpacingTest, PicksThePositionsEvenlySpacedWhileTheyStream) {
  const auto picked = [](int64_t count, int64_t keep, int64_t asked) {
    EvenSpacing spacing(count, keep);
    std::vector<int64_t> out;
    for (int64_t position = 0; position < asked; ++position) {
      if (spacing.Picks(position)) out.push_back(position);
    }
    return out;
  };
  EXPECT_EQ(picked(10, 4, 10), (std::vector<int64_t>{0, 2, 5, 7}));
  EXPECT_EQ(picked(10, 0, 10).size(), 10u);  // No cap.
  EXPECT_EQ(picked(3, 4, 3).size(), 3u);     // Fewer than the cap.
  EXPECT_EQ(picked(10, 4, 15).size(), 4u);   // Items beyond the count are not picked.
  EXPECT_EQ(picked(0, 4, 6).size(), 6u);     // Count unknown: all, for EvenlySpaced after.
  EXPECT_EQ(picked(100000, 2000, 100000).size(), 2000u);
}

}  // namespace
}  // namespace vernier
