// ThreadSanitizer build only (VERNIER_SANITIZE=thread): tells TSan about
// absl::Mutex and absl::CondVar.
//
// Debian's Abseil is a shared library built without TSan, so TSan never sees
// an absl::Mutex being locked: every ABSL_GUARDED_BY member then looks like a
// data race. This file defines the public lock, unlock and wait functions of
// absl::Mutex and absl::CondVar in the executable, which takes precedence
// over the library's definitions (ELF symbol interposition); each one calls
// the library's own (found with dlsym(RTLD_NEXT)) and marks the mutex with
// __tsan_release before it gives the mutex up and __tsan_acquire after it has
// it. That gives TSan the happens-before edges of the locks, so the races it
// reports are real; it does not give TSan lock-order (deadlock) checking,
// and reader locks order readers among themselves too (a race between two
// readers can be missed). tests/tsan/absl_mutex_tsan_test.cc checks that
// this works. Remove the file once Abseil is built with TSan.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// These definitions call the library's through plain function pointers, which
// the thread-safety analysis cannot follow.
#pragma clang diagnostic ignored "-Wthread-safety-analysis"

namespace {

// The library's definition of `mangled` (the next one after this file's).
template <typename Fn>
Fn Real(const char* mangled) {
  void* symbol = dlsym(RTLD_NEXT, mangled);
  if (symbol == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found in Abseil\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(symbol);
}

void Acquired(const absl::Mutex* mu) { __tsan_acquire(const_cast<absl::Mutex*>(mu)); }
void Releasing(const absl::Mutex* mu) { __tsan_release(const_cast<absl::Mutex*>(mu)); }

// A condition that TSan sees being evaluated under its mutex. Abseil
// evaluates a waiter's condition inside the library: in the waiting thread
// after it has taken the mutex back but before the wrapper above marks that,
// and in the thread that unlocks the mutex after it has marked the release.
// Bracketing each evaluation with acquire and release gives TSan the edges
// the mutex really provides there.
class GuardedCondition {
 public:
  GuardedCondition(const absl::Condition& condition, const absl::Mutex* mu)
      : condition_(condition), mu_(mu) {}
  absl::Condition AsCondition() { return absl::Condition(&GuardedCondition::Eval, this); }

 private:
  static bool Eval(GuardedCondition* self) {
    Acquired(self->mu_);
    const bool holds = self->condition_.Eval();
    Releasing(self->mu_);
    return holds;
  }
  const absl::Condition& condition_;
  const absl::Mutex* mu_;
};

// Abseil's deadlock detection keeps a lock graph behind an internal spin lock
// that TSan cannot see, so it reports the graph's updates as races. The shim
// gives TSan no lock-order checking either way; clang-tsa checks lock order
// statically.
const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

}  // namespace

// The mangled names name Debian's inline namespace (absl::debian3).
#define VERNIER_REAL(fn_type, mangled) static const auto real = Real<fn_type>(mangled)

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  VERNIER_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  Acquired(this);
}

void Mutex::ReaderLock() {
  VERNIER_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  Acquired(this);
}

bool Mutex::TryLock() {
  VERNIER_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  VERNIER_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}

void Mutex::Unlock() {
  VERNIER_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Releasing(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  VERNIER_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Releasing(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  VERNIER_REAL(void (*)(Mutex*, const Condition&),
               "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  GuardedCondition guarded(cond, this);
  real(this, guarded.AsCondition());
  Acquired(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  VERNIER_REAL(void (*)(Mutex*, const Condition&),
               "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  GuardedCondition guarded(cond, this);
  real(this, guarded.AsCondition());
  Acquired(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  VERNIER_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
               "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  GuardedCondition guarded(cond, this);
  const bool met = real(this, guarded.AsCondition(), timeout);
  Acquired(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  VERNIER_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
               "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  GuardedCondition guarded(cond, this);
  const bool met = real(this, guarded.AsCondition(), deadline);
  Acquired(this);
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  VERNIER_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
               "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  GuardedCondition guarded(cond, this);
  const bool met = real(this, guarded.AsCondition(), timeout);
  Acquired(this);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  VERNIER_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
               "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  GuardedCondition guarded(cond, this);
  const bool met = real(this, guarded.AsCondition(), deadline);
  Acquired(this);
  return met;
}

// Await and CondVar::Wait give the mutex up while they wait and hold it again
// when they return.
void Mutex::Await(const Condition& cond) {
  VERNIER_REAL(void (*)(Mutex*, const Condition&),
               "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Releasing(this);
  GuardedCondition guarded(cond, this);
  real(this, guarded.AsCondition());
  Acquired(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  VERNIER_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
               "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Releasing(this);
  GuardedCondition guarded(cond, this);
  const bool met = real(this, guarded.AsCondition(), timeout);
  Acquired(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  VERNIER_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
               "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Releasing(this);
  GuardedCondition guarded(cond, this);
  const bool met = real(this, guarded.AsCondition(), deadline);
  Acquired(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  VERNIER_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Releasing(mu);
  real(this, mu);
  Acquired(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  VERNIER_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
               "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Releasing(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquired(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  VERNIER_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
               "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Releasing(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquired(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
