// WatchStudy through the real server (ServerRunner: SQLite file, coordinator,
// gRPC) on a loopback port: a watcher sees changes as they are made, resumes
// where it left off, is told to resync when it cannot, and neither a
// cancelled stream nor a stopping server is held up by it.
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kWatchedStudy[] = R"(
name: w
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 100}
trainer: {external: true}
)";

// A bound on a hung test, never a timing check: each stream ends with
// DEADLINE_EXCEEDED after it instead of blocking the test for ever.
constexpr absl::Duration kPatience = absl::Seconds(60);

// One open WatchStudy stream.
struct Watch {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::StudyEvent>> reader;

  // The next event; an empty one (and a failure) when the stream ended.
  v1::StudyEvent Next() {
    v1::StudyEvent event;
    EXPECT_TRUE(reader->Read(&event)) << "the stream ended: " << reader->Finish().error_message();
    return event;
  }
  // Cancels the stream; how it ended.
  grpc::Status Cancel() {
    context.TryCancel();
    v1::StudyEvent ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  }
  // How the stream ended, once it ended by itself.
  grpc::Status End() {
    v1::StudyEvent ignored;
    while (reader->Read(&ignored)) {
    }
    return reader->Finish();
  }
};

class WatchStudyServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    CreateStudy(kWatchedStudy);
  }

  std::unique_ptr<Watch> StartWatch(int64_t after_sequence = 0, const std::string& incarnation = "",
                                    const std::string& study = "w") {
    auto watch = std::make_unique<Watch>();
    watch->context.set_deadline(absl::ToChronoTime(absl::Now() + kPatience));
    v1::WatchStudyRequest request;
    request.set_study(study);
    request.set_after_sequence(after_sequence);
    request.set_incarnation(incarnation);
    watch->reader = studies_->WatchStudy(&watch->context, request);
    return watch;
  }

  int64_t Ask() { return AskTrial("w").number(); }
  void Report(int64_t trial, int64_t step, double loss) { ReportValue("w", trial, step, loss); }
  void Tell(int64_t trial, double loss) { TellTrial("w", trial, loss); }

  // Waits until the server runs `n` watches of study "w".
  void AwaitWatchers(int n) {
    const absl::Time give_up = absl::Now() + kPatience;
    while (*runner_->coordinator().Watchers("w") != n && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(*runner_->coordinator().Watchers("w"), n);
  }
};

TEST_F(WatchStudyServiceTest, AWatcherSeesTrialsAndReportsAsTheyHappen) {
  std::unique_ptr<Watch> watch = StartWatch();
  const v1::StudyEvent start = watch->Next();
  ASSERT_TRUE(start.has_resync());
  EXPECT_EQ(start.resync().reason(), v1::RESYNC_REASON_START);
  EXPECT_EQ(start.sequence(), 0);
  EXPECT_THAT(start.incarnation(), Not(IsEmpty()));

  const int64_t trial = Ask();
  const v1::StudyEvent created = watch->Next();
  ASSERT_TRUE(created.has_trial_created()) << created.DebugString();
  EXPECT_EQ(created.sequence(), 1);
  EXPECT_EQ(created.trial_created().number(), trial);
  EXPECT_EQ(created.trial_created().state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(created.trial_created().params().count("x"), 1u);
  EXPECT_EQ(created.incarnation(), start.incarnation());
  EXPECT_GT(created.time_unix_ms(), 0);

  Report(trial, 1, 0.5);
  const v1::StudyEvent measured = watch->Next();
  ASSERT_TRUE(measured.has_measurement()) << measured.DebugString();
  EXPECT_EQ(measured.sequence(), 2);
  EXPECT_EQ(measured.measurement().trial(), trial);
  EXPECT_EQ(measured.measurement().measurement().step(), 1);
  EXPECT_EQ(measured.measurement().measurement().metrics().at("loss"), 0.5);

  Tell(trial, 0.25);
  const v1::StudyEvent ended = watch->Next();
  ASSERT_TRUE(ended.has_trial_changed()) << ended.DebugString();
  EXPECT_EQ(ended.sequence(), 3);
  EXPECT_EQ(ended.trial_changed().previous_state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(ended.trial_changed().trial().state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_EQ(ended.trial_changed().trial().objective_value(), 0.25);
  EXPECT_THAT(ended.trial_changed().trial().intermediate(), IsEmpty());
}

TEST_F(WatchStudyServiceTest, ResumingReplaysExactlyTheMissedEvents) {
  std::unique_ptr<Watch> first = StartWatch();
  const std::string incarnation = first->Next().incarnation();
  const int64_t trial = Ask();
  Report(trial, 1, 0.5);
  ASSERT_TRUE(first->Next().has_trial_created());
  const v1::StudyEvent last_seen = first->Next();
  ASSERT_TRUE(last_seen.has_measurement());
  EXPECT_EQ(first->Cancel().error_code(), grpc::StatusCode::CANCELLED);

  // Missed while away: a report and the trial's end.
  Report(trial, 2, 0.4);
  Tell(trial, 0.3);

  std::unique_ptr<Watch> again = StartWatch(last_seen.sequence(), incarnation);
  const v1::StudyEvent step2 = again->Next();
  ASSERT_TRUE(step2.has_measurement()) << step2.DebugString();
  EXPECT_EQ(step2.sequence(), last_seen.sequence() + 1);
  EXPECT_EQ(step2.measurement().measurement().step(), 2);
  const v1::StudyEvent ended = again->Next();
  ASSERT_TRUE(ended.has_trial_changed()) << ended.DebugString();
  EXPECT_EQ(ended.sequence(), last_seen.sequence() + 2);
  // Nothing else was missed: the next event is the next change.
  const int64_t next = Ask();
  const v1::StudyEvent created = again->Next();
  ASSERT_TRUE(created.has_trial_created()) << created.DebugString();
  EXPECT_EQ(created.trial_created().number(), next);
  EXPECT_EQ(created.sequence(), last_seen.sequence() + 3);
}

TEST_F(WatchStudyServiceTest, AnotherIncarnationOrADroppedSequenceGetsAResync) {
  std::unique_ptr<Watch> watch = StartWatch();
  const std::string incarnation = watch->Next().incarnation();
  const int64_t trial = Ask();
  Report(trial, 1, 0.5);

  std::unique_ptr<Watch> stale = StartWatch(1, "a-server-that-is-gone");
  const v1::StudyEvent resync = stale->Next();
  ASSERT_TRUE(resync.has_resync()) << resync.DebugString();
  EXPECT_EQ(resync.resync().reason(), v1::RESYNC_REASON_NEW_INCARNATION);
  EXPECT_EQ(resync.sequence(), 2);  // The last event: read the study, then go on after it.
  EXPECT_EQ(resync.incarnation(), incarnation);
  Report(trial, 2, 0.4);
  EXPECT_EQ(stale->Next().sequence(), 3);

  // A restarted server numbers its events anew, as another incarnation.
  watch.reset();
  stale.reset();
  runner_.reset();
  StartServer([](ServerOptions& options) { options.coordinator.study_events_kept = 2; });
  std::unique_ptr<Watch> after_restart = StartWatch(3, incarnation);
  const v1::StudyEvent restarted = after_restart->Next();
  ASSERT_TRUE(restarted.has_resync()) << restarted.DebugString();
  EXPECT_EQ(restarted.resync().reason(), v1::RESYNC_REASON_NEW_INCARNATION);
  EXPECT_EQ(restarted.sequence(), 0);
  EXPECT_NE(restarted.incarnation(), incarnation);

  // This server keeps 2 events: after 4 of them, resuming after the first is
  // too late.
  Report(trial, 3, 0.3);
  Report(trial, 4, 0.2);
  Report(trial, 5, 0.1);
  Report(trial, 6, 0.05);
  std::unique_ptr<Watch> late = StartWatch(1, restarted.incarnation());
  const v1::StudyEvent dropped = late->Next();
  ASSERT_TRUE(dropped.has_resync()) << dropped.DebugString();
  EXPECT_EQ(dropped.resync().reason(), v1::RESYNC_REASON_EVENTS_DROPPED);
  EXPECT_EQ(dropped.sequence(), 4);
}

TEST_F(WatchStudyServiceTest, BadRequestsAreRefused) {
  std::unique_ptr<Watch> unknown = StartWatch(0, "", "nope");
  grpc::Status status = unknown->End();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("nope"));

  std::unique_ptr<Watch> nameless = StartWatch(0, "", "");
  EXPECT_EQ(nameless->End().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  std::unique_ptr<Watch> watch = StartWatch();
  const std::string incarnation = watch->Next().incarnation();
  std::unique_ptr<Watch> ahead = StartWatch(5, incarnation);
  status = ahead->End();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("after_sequence"));
  std::unique_ptr<Watch> negative = StartWatch(-1, incarnation);
  EXPECT_EQ(negative->End().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(WatchStudyServiceTest, ACancelledStreamFreesItsWatcher) {
  std::unique_ptr<Watch> watch = StartWatch();
  ASSERT_TRUE(watch->Next().has_resync());
  EXPECT_EQ(*runner_->coordinator().Watchers("w"), 1);
  EXPECT_EQ(watch->Cancel().error_code(), grpc::StatusCode::CANCELLED);
  AwaitWatchers(0);
}

// The server ends open watches as it stops: with a grace of ten minutes,
// a watch it waited for would hold this test far past its time limit.
TEST_F(WatchStudyServiceTest, TheServerStopsWithAWatcherOpen) {
  std::unique_ptr<Watch> watch = StartWatch();
  ASSERT_TRUE(watch->Next().has_resync());
  runner_->Shutdown(absl::Minutes(10));
  const grpc::Status status = watch->End();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

}  // namespace
}  // namespace vernier
