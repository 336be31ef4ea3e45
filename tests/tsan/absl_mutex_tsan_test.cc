// TSan build only: ThreadSanitizer sees absl::Mutex and absl::CondVar
// (cmake/tsan/absl_mutex_tsan.cc), so a clean TSan tier means something.
// Each test fails under TSAN_OPTIONS=halt_on_error=1 if TSan reports a race
// on data that the locks do protect; race_canary.cc checks the other way,
// that a real race is still reported.
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

struct Counter {
  absl::Mutex mu;
  absl::CondVar changed;
  int value ABSL_GUARDED_BY(mu) = 0;
};

TEST(AbslMutexTsanTest, MutexLockOrdersWriters) {
  Counter counter;
  auto add = [&counter] {
    for (int i = 0; i < 10000; ++i) {
      absl::MutexLock lock(&counter.mu);
      ++counter.value;
    }
  };
  std::thread a(add), b(add);
  a.join();
  b.join();
  absl::MutexLock lock(&counter.mu);
  EXPECT_EQ(counter.value, 20000);
}

TEST(AbslMutexTsanTest, ReaderLockSeesTheWriter) {
  Counter counter;
  std::thread writer([&counter] {
    absl::MutexLock lock(&counter.mu);
    counter.value = 7;
  });
  int seen = 0;
  while (seen != 7) {
    absl::ReaderMutexLock lock(&counter.mu);
    seen = counter.value;
  }
  writer.join();
}

TEST(AbslMutexTsanTest, CondVarAndAwaitHandOver) {
  Counter counter;
  std::thread producer([&counter] {
    for (int i = 1; i <= 100; ++i) {
      absl::MutexLock lock(&counter.mu);
      counter.value = i;
      counter.changed.SignalAll();
    }
  });
  {
    absl::MutexLock lock(&counter.mu);
    while (counter.value < 50) counter.changed.WaitWithTimeout(&counter.mu, absl::Seconds(1));
  }
  {
    absl::MutexLock lock(&counter.mu);
    auto done = [&counter]()
                    ABSL_SHARED_LOCKS_REQUIRED(counter.mu) { return counter.value == 100; };
    counter.mu.Await(absl::Condition(&done));
  }
  producer.join();
}

// Abseil evaluates a waiter's condition inside the library, in the waiter
// or in the thread that unlocks; a condition that walks a container the
// other thread changes under the lock must still read cleanly. One round
// shows an unguarded evaluation only now and then, so it runs several.
void WaitForTheLastItem(int last) {
  struct Queue {
    absl::Mutex mu;
    std::vector<int> items ABSL_GUARDED_BY(mu);
  } queue;
  std::thread producer([&queue, last] {
    for (int i = 1; i <= last; ++i) {
      absl::MutexLock lock(&queue.mu);
      queue.items.push_back(i);
    }
  });
  auto has_last = [&queue, last]() ABSL_SHARED_LOCKS_REQUIRED(queue.mu) {
    for (int item : queue.items) {
      if (item == last) return true;
    }
    return false;
  };
  {
    absl::MutexLock lock(&queue.mu);
    while (!queue.mu.AwaitWithTimeout(absl::Condition(&has_last), absl::Milliseconds(10))) {
    }
  }
  queue.mu.LockWhen(absl::Condition(&has_last));
  EXPECT_EQ(queue.items.size(), static_cast<size_t>(last));
  queue.mu.Unlock();
  producer.join();
}

TEST(AbslMutexTsanTest, ConditionsEvaluatedByTheLibraryReadCleanly) {
  for (int round = 0; round < 20; ++round) WaitForTheLastItem(200);
}

}  // namespace
