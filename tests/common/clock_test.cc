// Clock: the fake clock's waits end when time is advanced to their deadline
// or when their condition holds, never on their own; the real clock's end on
// the condition or on time.
#include "common/clock.h"

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

// Bounds a hung test; never a timing check.
constexpr absl::Duration kPatience = absl::Seconds(60);

// The state a waiting thread watches, behind one mutex.
struct Flag {
  absl::Mutex mu;
  bool set ABSL_GUARDED_BY(mu) = false;
};

// A thread that waits on `clock` for `flag` until `deadline`.
class Waiter {
 public:
  Waiter(Clock* clock, Flag* flag, absl::Time deadline)
      : flag_(flag), thread_([this, clock, deadline] {
          absl::MutexLock lock(&flag_->mu);
          held_ = clock->AwaitWithDeadline(&flag_->mu, absl::Condition(&flag_->set), deadline);
          ended_.Notify();
        }) {}
  // Sets the flag so that a wait the test expected to end does end.
  ~Waiter() {
    Set();
    thread_.join();
  }
  void Set() {
    absl::MutexLock lock(&flag_->mu);
    flag_->set = true;
  }
  // Waits for the wait to end; false if it does not (within kPatience).
  bool Ended() { return ended_.WaitForNotificationWithTimeout(kPatience); }
  // What AwaitWithDeadline returned. REQUIRES: Ended().
  bool held() const { return held_; }

 private:
  Flag* const flag_;
  absl::Notification ended_;
  bool held_ = false;
  std::thread thread_;
};

TEST(FakeClockTest, StandsStillUntilAdvanced) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
}

TEST(FakeClockTest, WaitEndsWhenTimeReachesItsDeadline) {
  FakeClock clock;
  Flag flag;
  const absl::Time deadline = clock.Now() + absl::Seconds(10);
  Waiter waiter(&clock, &flag, deadline);
  ASSERT_TRUE(clock.AwaitWaiter(deadline));
  clock.Advance(absl::Seconds(9));
  ASSERT_TRUE(clock.AwaitWaiter(deadline));  // Short of the deadline: still waiting.
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(waiter.Ended());
  EXPECT_FALSE(waiter.held());
}

TEST(FakeClockTest, WaitEndsWhenItsConditionHolds) {
  FakeClock clock;
  Flag flag;
  const absl::Time start = clock.Now();
  Waiter waiter(&clock, &flag, start + absl::Hours(1));
  ASSERT_TRUE(clock.AwaitWaiter(start + absl::Hours(1)));
  waiter.Set();
  ASSERT_TRUE(waiter.Ended());
  EXPECT_TRUE(waiter.held());
  EXPECT_EQ(clock.Now(), start);
}

TEST(FakeClockTest, WaitWithAPassedDeadlineReturnsAtOnce) {
  FakeClock clock;
  Flag flag;
  absl::MutexLock lock(&flag.mu);
  EXPECT_FALSE(clock.AwaitWithDeadline(&flag.mu, absl::Condition(&flag.set), clock.Now()));
  flag.set = true;
  EXPECT_TRUE(clock.AwaitWithTimeout(&flag.mu, absl::Condition(&flag.set), absl::Hours(1)));
}

TEST(FakeClockTest, SleepEndsOnlyWhenAdvancedFarEnough) {
  FakeClock clock;
  absl::Notification slept;
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(2));
    slept.Notify();
  });
  const absl::Time deadline = clock.Now() + absl::Seconds(2);
  EXPECT_TRUE(clock.AwaitWaiter(deadline));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(clock.AwaitWaiter(deadline));  // Still asleep.
  EXPECT_FALSE(slept.HasBeenNotified());
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(slept.WaitForNotificationWithTimeout(kPatience));
  if (!slept.HasBeenNotified()) clock.Advance(absl::Hours(1));  // Let the thread end.
  sleeper.join();
}

TEST(FakeClockTest, OneAdvanceWakesEveryWaitItReaches) {
  FakeClock clock;
  Flag first_flag;
  Flag second_flag;
  const absl::Time start = clock.Now();
  Waiter first(&clock, &first_flag, start + absl::Seconds(1));
  Waiter second(&clock, &second_flag, start + absl::Seconds(2));
  Waiter third(&clock, &second_flag, start + absl::Seconds(9));
  ASSERT_TRUE(clock.AwaitWaiter(start + absl::Seconds(1)));
  ASSERT_TRUE(clock.AwaitWaiter(start + absl::Seconds(2)));
  ASSERT_TRUE(clock.AwaitWaiter(start + absl::Seconds(9)));
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(first.Ended());
  EXPECT_TRUE(second.Ended());
  EXPECT_TRUE(clock.AwaitWaiter(start + absl::Seconds(9)));  // Not reached yet.
}

TEST(FakeClockTest, AwaitWaiterGivesUpWhenNobodyWaits) {
  FakeClock clock;
  EXPECT_FALSE(clock.AwaitWaiter(clock.Now() + absl::Seconds(1), absl::ZeroDuration()));
}

TEST(RealClockTest, WaitEndsOnTheConditionOrTheDeadline) {
  RealClock clock;
  Flag flag;
  absl::MutexLock lock(&flag.mu);
  EXPECT_FALSE(clock.AwaitWithTimeout(&flag.mu, absl::Condition(&flag.set), absl::Milliseconds(1)));
  flag.set = true;
  EXPECT_TRUE(
      clock.AwaitWithDeadline(&flag.mu, absl::Condition(&flag.set), absl::InfiniteFuture()));
}

}  // namespace
}  // namespace vernier
