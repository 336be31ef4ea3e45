// Trial logs on the coordinator: streaming a stored log and following it,
// appends checked against the lease, attempts, and the pointer a FAILED
// trial's reason keeps to its log.
#include "server/coordinator/trial_logs.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/coordinator/judge.h"
#include "server/storage/log_store.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

constexpr char kLoggedStudy[] = R"(
name: s
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2, max_retries: 1}
trainer: {command: [python3, trial.py]}
)";

// What a reader got: the slices' data, joined, and the slices.
struct Received {
  std::string text;
  std::vector<LogSlice> slices;
};

TrialLogReader Collect(Received& into) {
  return TrialLogReader{[&into](const LogSlice& slice) {
                          into.text += slice.data;
                          into.slices.push_back(slice);
                          return true;
                        },
                        [] { return false; }};
}

class TrialLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto logs = LogStore::Open(dir_.File("logs"), /*max_bytes=*/1000);
    ASSERT_OK(logs);
    logs_ = *std::move(logs);
    options_.logs = logs_.get();
    auto created = Coordinator::Create(&store_, &clock_, options_);
    ASSERT_OK(created);
    coordinator_ = *std::move(created);
    ASSERT_OK(CreateStudyFromYaml(*coordinator_, kLoggedStudy));
    auto assignment = coordinator_->AcquireTrial("w", "cpu");
    ASSERT_TRUE(assignment.ok() && assignment->has_value());
    lease_ = (*assignment)->lease;
  }

  // The whole stored log of attempt `attempt` of trial 0.
  absl::StatusOr<Received> Stream(int32_t attempt, int64_t offset = 0, bool follow = false) {
    Received received;
    int32_t resolved = -1;
    absl::Status status =
        coordinator_->StreamTrialLog("s", 0, attempt, offset, follow, Collect(received), &resolved);
    if (!status.ok()) return status;
    resolved_ = resolved;
    return received;
  }

  testing::TempDir dir_;
  MemoryStudyStore store_;
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<Coordinator> coordinator_;
  LeaseKey lease_;
  int32_t resolved_ = -1;
};

TEST_F(TrialLogsTest, TheLeaseHolderAppendsAndAReaderGetsItBack) {
  EXPECT_THAT(coordinator_->AppendTrialLog("w", lease_, 0, "epoch 1\n"), IsOkAndHolds(8));
  EXPECT_THAT(coordinator_->AppendTrialLog("w", lease_, 8, "epoch 2\n"), IsOkAndHolds(16));
  auto received = Stream(0);
  ASSERT_OK(received);
  EXPECT_EQ(received->text, "epoch 1\nepoch 2\n");
  EXPECT_EQ(resolved_, 1);
  auto from = Stream(1, 8);
  ASSERT_OK(from);
  EXPECT_EQ(from->text, "epoch 2\n");
}

TEST_F(TrialLogsTest, AppendsWithoutTheLeaseAreRefused) {
  LeaseKey other = lease_;
  other.attempt = 2;
  EXPECT_THAT(coordinator_->AppendTrialLog("w", other, 0, "x").status(),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(coordinator_->AppendTrialLog("someone-else", lease_, 0, "x").status(),
              StatusIs(absl::StatusCode::kAborted));
  LeaseKey unknown = lease_;
  unknown.study = "nope";
  EXPECT_THAT(coordinator_->AppendTrialLog("w", unknown, 0, "x").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(TrialLogsTest, ALogOfAnEarlierAttemptStaysReadableAfterARetry) {
  ASSERT_OK(coordinator_->AppendTrialLog("w", lease_, 0, "first run\n"));
  clock_.Advance(absl::Seconds(31));  // The worker vanished: the lease expires.
  ASSERT_OK(coordinator_->ExpireLeases());
  auto again = coordinator_->AcquireTrial("w2", "cpu");
  ASSERT_TRUE(again.ok() && again->has_value());
  ASSERT_EQ((*again)->lease.attempt, 2);
  ASSERT_OK(coordinator_->AppendTrialLog("w2", (*again)->lease, 0, "second run\n"));
  EXPECT_EQ(Stream(1)->text, "first run\n");
  EXPECT_EQ(Stream(0)->text, "second run\n");
  EXPECT_EQ(resolved_, 2);
  EXPECT_THAT(Stream(3).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no attempt 3 (it has run 2)")));
}

TEST_F(TrialLogsTest, UnknownStudiesTrialsAndTrialsNotStartedAreNotFound) {
  Received ignored;
  int32_t resolved = 0;
  EXPECT_THAT(coordinator_->StreamTrialLog("nope", 0, 0, 0, false, Collect(ignored), &resolved),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(coordinator_->StreamTrialLog("s", 7, 0, 0, false, Collect(ignored), &resolved),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("7")));
  ASSERT_OK(coordinator_->EnqueueTrial("s", {}));
  EXPECT_THAT(coordinator_->StreamTrialLog("s", 1, 0, 0, false, Collect(ignored), &resolved),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has not run yet")));
  EXPECT_THAT(coordinator_->StreamTrialLog("s", 0, -1, 0, false, Collect(ignored), &resolved),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attempt")));
  EXPECT_THAT(coordinator_->StreamTrialLog("s", 0, 0, -1, false, Collect(ignored), &resolved),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset")));
}

TEST_F(TrialLogsTest, AnEmptyLogSendsOneEmptySliceAndACutLogSaysWhereItStarts) {
  auto empty = Stream(0);
  ASSERT_OK(empty);
  ASSERT_EQ(empty->slices.size(), 1u);
  EXPECT_EQ(empty->slices[0].end, 0);
  const std::string big(1500, 'x');
  ASSERT_OK(coordinator_->AppendTrialLog("w", lease_, 0, big));
  auto cut = Stream(0);
  ASSERT_OK(cut);
  ASSERT_FALSE(cut->slices.empty());
  EXPECT_EQ(cut->slices[0].offset, 500);
  EXPECT_EQ(cut->slices[0].first_kept, 500);
  EXPECT_EQ(cut->text.size(), 1000u);
}

TEST_F(TrialLogsTest, FollowingSendsNewOutputUntilTheAttemptEnds) {
  ASSERT_OK(coordinator_->AppendTrialLog("w", lease_, 0, "one\n"));
  absl::Notification got_first;
  Received received;
  TrialLogReader reader{[&](const LogSlice& slice) {
                          received.text += slice.data;
                          if (received.text == "one\n") got_first.Notify();
                          return true;
                        },
                        [] { return false; }};
  absl::Status followed;
  int32_t resolved = 0;
  std::thread follower([&] {
    followed = coordinator_->StreamTrialLog("s", 0, 0, 0, /*follow=*/true, reader, &resolved);
  });
  got_first.WaitForNotification();
  ASSERT_OK(coordinator_->AppendTrialLog("w", lease_, 4, "two\n"));
  // The worker stores its last output, then reports the end.
  ASSERT_OK(coordinator_->AppendTrialLog("w", lease_, 8, "three\n"));
  ASSERT_OK(coordinator_->CompleteTrial("w", lease_, TrialState::kComplete, {{"acc", 0.5}}, ""));
  follower.join();
  EXPECT_OK(followed);
  EXPECT_EQ(received.text, "one\ntwo\nthree\n");
}

TEST_F(TrialLogsTest, FollowingStopsWhenTheReaderGoesAway) {
  std::atomic<bool> gone{false};
  TrialLogReader reader{[](const LogSlice&) { return true; }, [&] { return gone.load(); }};
  absl::Status followed;
  int32_t resolved = 0;
  std::thread follower([&] {
    followed = coordinator_->StreamTrialLog("s", 0, 0, 0, /*follow=*/true, reader, &resolved);
  });
  gone = true;
  follower.join();
  EXPECT_THAT(followed, StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(TrialLogsTest, AFailedTrialsReasonPointsAtItsLog) {
  ASSERT_OK(coordinator_->CompleteTrial("w", lease_, TrialState::kFailed, {},
                                        "exit code 1: Traceback ..."));
  auto trial = coordinator_->GetTrial("s", 0);
  ASSERT_OK(trial);
  EXPECT_EQ(trial->trial.failure_reason,
            "exit code 1: Traceback ... (full log: vernier logs s 0 --attempt 1)");
}

TEST_F(TrialLogsTest, WithoutALogStoreTheLogCallsAreRefusedAndReasonsStayAsGiven) {
  CoordinatorOptions without{absl::Seconds(30), absl::Seconds(5)};
  MemoryStudyStore store;
  auto created = Coordinator::Create(&store, &clock_, without);
  ASSERT_OK(created);
  Coordinator& coordinator = **created;
  ASSERT_OK(CreateStudyFromYaml(coordinator, kLoggedStudy));
  auto assignment = coordinator.AcquireTrial("w", "cpu");
  ASSERT_TRUE(assignment.ok() && assignment->has_value());
  const LeaseKey lease = (*assignment)->lease;
  EXPECT_THAT(coordinator.AppendTrialLog("w", lease, 0, "x").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("keeps no logs")));
  Received ignored;
  int32_t resolved = 0;
  EXPECT_THAT(coordinator.StreamTrialLog("s", 0, 0, 0, false, Collect(ignored), &resolved),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("keeps no logs")));
  ASSERT_OK(coordinator.CompleteTrial("w", lease, TrialState::kFailed, {}, "boom"));
  EXPECT_EQ(coordinator.GetTrial("s", 0)->trial.failure_reason, "boom");
}

TEST(WithLogPointerTest, CutsTheReasonSoThatThePointerAlwaysFits) {
  const std::string pointer = " (full log: vernier logs s 3 --attempt 2)";
  EXPECT_EQ(WithLogPointer("boom", "s", 3, 2, 1000), "boom" + pointer);
  const std::string long_reason(2000, 'x');
  const std::string bounded = WithLogPointer(long_reason, "s", 3, 2, 100);
  EXPECT_EQ(bounded.size(), 100u);
  EXPECT_THAT(bounded, EndsWith(" [truncated]" + pointer));
  // Never inside a UTF-8 character: "é" is two bytes.
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";
  const std::string cut = WithLogPointer(accents, "s", 3, 2, pointer.size() + 12 + 5);
  EXPECT_EQ(cut, "\xc3\xa9\xc3\xa9 [truncated]" + pointer);
}

}  // namespace
}  // namespace vernier
