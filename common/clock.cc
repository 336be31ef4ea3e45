#include "common/clock.h"

#include <algorithm>
#include <vector>

namespace vernier {

bool Clock::AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& condition,
                             absl::Duration timeout) {
  return AwaitWithDeadline(mu, condition, Now() + timeout);
}

void Clock::SleepFor(absl::Duration duration) {
  static constexpr bool kNever = false;
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  AwaitWithDeadline(&mu, absl::Condition(&kNever), Now() + duration);
}

bool RealClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                                  absl::Time deadline) {
  return mu->AwaitWithDeadline(condition, deadline);
}

absl::Time FakeClock::Now() { return absl::FromUnixNanos(now_ns_.load()); }

// The wait blocks in mu->Await on "condition, or the deadline is reached".
// absl::Mutex evaluates a waiter's condition again whenever its mutex is
// unlocked, so Advance() wakes a wait by locking and unlocking its mutex.
bool FakeClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                                  absl::Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (condition.Eval()) return true;
  if (Now() >= deadline) return false;
  Waiter waiter{mu, deadline};
  {
    absl::MutexLock lock(&mu_);
    waiters_.push_back(&waiter);
  }
  // Registered while `mu` is held: an Advance() that saw this waiter locks
  // `mu` only once the Await below has released it, and one that did not
  // see it moved the time before the Await reads it.
  struct Ready {
    const absl::Condition* condition;
    FakeClock* clock;
    absl::Time deadline;
    bool operator()() const { return condition->Eval() || clock->Now() >= deadline; }
  };
  const Ready ready{&condition, this, deadline};
  mu->Await(absl::Condition(&ready));

  mu_.Lock();
  waiter.waiting = false;
  if (waiter.wakers > 0) {
    // An Advance() saw this waiter and is about to lock `mu`: let it, so that
    // neither `waiter` nor `mu` goes away while it still uses them.
    mu->Unlock();
    mu_.Await(absl::Condition(
        +[](Waiter* w) { return w->wakers == 0; }, &waiter));
    waiters_.remove(&waiter);
    mu_.Unlock();
    mu->Lock();
  } else {
    waiters_.remove(&waiter);
    mu_.Unlock();
  }
  return condition.Eval();
}

void FakeClock::Advance(absl::Duration by) {
  now_ns_ += absl::ToInt64Nanoseconds(std::max(by, absl::ZeroDuration()));
  const absl::Time now = Now();
  std::vector<Waiter*> due;
  {
    absl::MutexLock lock(&mu_);
    for (Waiter* waiter : waiters_) {
      if (waiter->waiting && waiter->deadline <= now) {
        ++waiter->wakers;
        due.push_back(waiter);
      }
    }
  }
  for (Waiter* waiter : due) {
    waiter->mu->Lock();
    waiter->mu->Unlock();
    absl::MutexLock lock(&mu_);
    --waiter->wakers;
  }
}

bool FakeClock::AwaitWaiter(absl::Time deadline, absl::Duration patience) {
  struct Args {
    FakeClock* clock;
    absl::Time deadline;
  };
  Args args{this, deadline};
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                    for (const Waiter* waiter : a->clock->waiters_) {
                                      if (waiter->waiting && waiter->deadline == a->deadline) {
                                        return true;
                                      }
                                    }
                                    return false;
                                  },
                                  &args),
                              patience);
}

}  // namespace vernier
