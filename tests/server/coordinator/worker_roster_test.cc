#include "server/coordinator/worker_roster.h"

#include "gtest/gtest.h"

namespace vernier {
namespace {

TEST(WorkerRosterTest, CountsDistinctWorkersWithinTheWindow) {
  FakeClock clock;
  WorkerRoster roster(&clock, absl::Seconds(30));
  EXPECT_EQ(roster.Connected(), 0);
  roster.Seen("a");
  roster.Seen("b");
  roster.Seen("a");
  EXPECT_EQ(roster.Connected(), 2);
}

TEST(WorkerRosterTest, SilentWorkerIsForgottenAfterTheWindow) {
  FakeClock clock;
  WorkerRoster roster(&clock, absl::Seconds(30));
  roster.Seen("a");
  roster.Seen("b");
  clock.Advance(absl::Seconds(20));
  roster.Seen("a");  // Heartbeats; b does not.
  clock.Advance(absl::Seconds(20));
  EXPECT_EQ(roster.Connected(), 1);
  clock.Advance(absl::Seconds(31));
  EXPECT_EQ(roster.Connected(), 0);
  roster.Seen("b");  // Back again.
  EXPECT_EQ(roster.Connected(), 1);
}

}  // namespace
}  // namespace vernier
