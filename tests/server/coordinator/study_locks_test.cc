// Each study has its own lock, and heartbeats need none: a study stuck in a
// slow store write holds up neither another study nor any worker's heartbeat.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::IsEmpty;
using ::vernier::testing::IsOk;

// A store whose writes about study `slow` wait until Release().
class SlowStore : public MemoryStudyStore {
 public:
  explicit SlowStore(std::string slow) : slow_(std::move(slow)) {}
  void Hold() { held_ = true; }
  void Release() {
    if (!released_.HasBeenNotified()) released_.Notify();
  }
  absl::Notification& stuck() { return stuck_; }

  absl::Status Apply(const StudyWrite& write) override {
    if (held_ && write.study == slow_) {
      if (!stuck_.HasBeenNotified()) stuck_.Notify();
      released_.WaitForNotification();
    }
    return MemoryStudyStore::Apply(write);
  }

 private:
  const std::string slow_;
  std::atomic<bool> held_{false};
  absl::Notification stuck_;
  absl::Notification released_;
};

constexpr char kLockedStudy[] = R"(
objective: {metric: loss, goal: minimize}
params: {x: {type: float, low: 0, high: 1}}
budget: {max_trials: 10, parallel: 4}
trainer: {command: [python3, t.py]}
)";

TEST(StudyLocksTest, ASlowWriteHoldsUpOnlyItsOwnStudy) {
  SlowStore store("slow");
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Coordinator> coordinator,
                       Coordinator::Create(&store, &clock, CoordinatorOptions{}));
  ASSERT_THAT(CreateStudyFromYaml(*coordinator, std::string("name: slow\n") + kLockedStudy),
              IsOk());
  ASSERT_THAT(CreateStudyFromYaml(*coordinator, std::string("name: fast\n") + kLockedStudy),
              IsOk());
  ASSERT_OK_AND_ASSIGN(std::optional<Assignment> slow, coordinator->AcquireTrial("w1", "cpu"));
  ASSERT_EQ(slow->lease.study, "slow");

  // w1's report of the slow study gets stuck in its write, holding that
  // study's lock.
  store.Hold();
  std::thread stuck([&] {
    coordinator->ReportProgress("w1", slow->lease, {1, {{"loss", 0.5}}}).IgnoreError();
  });
  store.stuck().WaitForNotification();
  // Runs `call` on another thread; true when it returns while the slow
  // write is still stuck (the single lock of old made it wait for ever).
  const auto returns_while_stuck = [&store](const std::function<void()>& call) {
    absl::Notification done;
    std::thread thread([&] {
      call();
      done.Notify();
    });
    const bool returned = done.WaitForNotificationWithTimeout(absl::Seconds(20));
    if (!returned) store.Release();
    thread.join();
    return returned;
  };

  // Meanwhile heartbeats go on, and so does the other study.
  EXPECT_TRUE(returns_while_stuck(
      [&] { EXPECT_THAT(coordinator->Heartbeat("w1", {slow->lease}), IsEmpty()); }));
  EXPECT_TRUE(returns_while_stuck([&] {
    EXPECT_THAT(coordinator->EnqueueTrial("fast", {{"x", 0.5}}), IsOk());
    EXPECT_THAT(coordinator->StopStudy("fast"), IsOk());
    EXPECT_THAT(coordinator->ListTrials("fast"), IsOk());
  }));
  store.Release();
  stuck.join();
  EXPECT_EQ(coordinator->ListTrials("slow")->trials.at(0).intermediate.size(), 1u);
}

}  // namespace
}  // namespace vernier
