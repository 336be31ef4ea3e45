#include "server/coordinator/lease_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class LeaseTableTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  LeaseTable leases_{&clock_, absl::Seconds(30)};
};

TEST_F(LeaseTableTest, OnlyTheHolderOfTheAttemptRenewsBeforeTheDeadline) {
  const LeaseKey lease{"s", 3, 2};
  leases_.Grant(lease, "w1");
  EXPECT_TRUE(leases_.Renew(lease, "w1"));
  EXPECT_FALSE(leases_.Renew(lease, "w2"));
  EXPECT_FALSE(leases_.Renew(LeaseKey{"s", 3, 1}, "w1"));  // An older attempt.
  EXPECT_FALSE(leases_.Renew(LeaseKey{"t", 3, 2}, "w1"));  // Another study.
  clock_.Advance(absl::Seconds(29));
  EXPECT_TRUE(leases_.Renew(lease, "w1"));  // Deadline now 59 s.
  clock_.Advance(absl::Seconds(29));
  EXPECT_THAT(leases_.Expired(), IsEmpty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(leases_.Renew(lease, "w1"));  // Expired leases are not renewed.
  EXPECT_THAT(leases_.Expired(), ElementsAre(lease));
  EXPECT_TRUE(leases_.IsExpired(lease));
}

TEST_F(LeaseTableTest, ExpiredLeasesComeOutInStudyAndTrialOrderUntilReleased) {
  leases_.Grant(LeaseKey{"b", 1, 1}, "w");
  leases_.Grant(LeaseKey{"a", 7, 1}, "w");
  leases_.Grant(LeaseKey{"a", 2, 3}, "w");
  clock_.Advance(absl::Seconds(30));
  EXPECT_THAT(leases_.Expired(),
              ElementsAre(LeaseKey{"a", 2, 3}, LeaseKey{"a", 7, 1}, LeaseKey{"b", 1, 1}));
  leases_.Release("a", 7);
  leases_.Grant(LeaseKey{"a", 2, 4}, "w");  // Leased again: a fresh deadline.
  EXPECT_THAT(leases_.Expired(), ElementsAre(LeaseKey{"b", 1, 1}));
  EXPECT_FALSE(leases_.IsExpired(LeaseKey{"a", 2, 3}));
}

TEST_F(LeaseTableTest, CountIsTheTrialsLeasedExpiredOnesUntilReleased) {
  EXPECT_EQ(leases_.Count(), 0);
  leases_.Grant(LeaseKey{"a", 1, 1}, "w");
  leases_.Grant(LeaseKey{"a", 2, 1}, "w");
  leases_.Grant(LeaseKey{"a", 2, 2}, "w");  // The same trial again.
  EXPECT_EQ(leases_.Count(), 2);
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(leases_.Count(), 2);
  leases_.Release("a", 1);
  EXPECT_EQ(leases_.Count(), 1);
}

}  // namespace
}  // namespace vernier
