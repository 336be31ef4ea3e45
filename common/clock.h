// Clock: the source of time of the coordinator (leases, timeouts) and of the
// worker (heartbeats, backoff, the drain and shutdown deadlines), so that all
// of them can be tested without sleeping.
//
// A Clock tells the time and waits on it: AwaitWithDeadline is
// absl::Mutex::AwaitWithDeadline with the deadline measured on this clock, so
// a FakeClock's waits end when a test advances it, never because real time
// passed.
//
// Thread-safety: implementations are thread-safe.
#ifndef VERNIER_COMMON_CLOCK_H_
#define VERNIER_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <list>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vernier {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;

  // Waits until `condition` holds or this clock reaches `deadline`, whichever
  // comes first, with `mu` released meanwhile. Returns whether `condition`
  // holds on return; at once when it already holds or the deadline has
  // passed. As with absl::Mutex::Await, `condition` reads only state guarded
  // by `mu`, and whoever changes that state holds `mu` to do so.
  // REQUIRES: `mu` is held; it is held again on return.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                                 absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // AwaitWithDeadline(mu, condition, Now() + timeout).
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Returns once this clock has moved `duration` forward.
  void SleepFor(absl::Duration duration);
};

// The wall clock.
class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override;
};

// A clock that moves only when told to. Starts at an arbitrary fixed time.
// A wait on it ends when its condition holds (as absl's do) or when Advance()
// reaches its deadline. AwaitWaiter() lets a test see that a thread has begun
// to wait, so that it advances the time only then.
class FakeClock : public Clock {
 public:
  FakeClock() = default;
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;
  // REQUIRES: nothing waits on this clock.
  ~FakeClock() override = default;

  absl::Time Now() override;
  // REQUIRES (besides Clock's): `mu` outlives every Advance() that runs while
  // this wait lasts (a mutex on the waiter's stack is fine: the wait does not
  // return while an Advance() still uses it).
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override;

  // Moves the time forward by `by` and wakes the waits whose deadline it
  // reaches; returns once each of them has been told. REQUIRES: by >= 0, and
  // the caller holds no mutex a wait on this clock uses.
  void Advance(absl::Duration by);

  // Blocks until some thread waits on this clock with exactly `deadline`.
  // Returns false if none does within `patience` of real time (a bound on a
  // hung test, not a timing check).
  bool AwaitWaiter(absl::Time deadline, absl::Duration patience = absl::Seconds(60));

 private:
  // A wait in progress; lives on the waiting thread's stack.
  struct Waiter {
    absl::Mutex* mu;
    absl::Time deadline;
    // Still blocked in the wait (not yet returned).
    bool waiting = true;
    // Advance() calls about to lock `mu`; the wait returns only at zero.
    int wakers = 0;
  };

  // Nanoseconds since the Unix epoch. Atomic so that a wait's condition reads
  // it without taking mu_ (it runs with the waiter's mutex held).
  std::atomic<int64_t> now_ns_{int64_t{1'700'000'000} * 1'000'000'000};

  absl::Mutex mu_;
  std::list<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier

#endif  // VERNIER_COMMON_CLOCK_H_
