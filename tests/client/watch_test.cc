// `vernier watch` and `vernier run`'s progress (client/watch.h) against a
// real in-process server with an ask/tell study: each step a running trial
// reports shows up while the trial runs, the watch ends with the study, a
// broken stream resumes after the last event seen (nothing missed, nothing
// told twice), a restarted server is followed through its resync, and the
// live view redraws at most kRedrawsPerSecond times a second.
#include "client/watch.h"

#include <atomic>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "tests/testing/service_mocks.h"

namespace vernier {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using ::testing::Not;

constexpr char kWatchedStudy[] = R"(
name: w
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2}
trainer: {external: true}
)";

// A bound on a hung test, never a timing check.
constexpr absl::Duration kPatience = absl::Seconds(60);

// Output written by FollowStudy's threads and read by the test meanwhile.
class SharedOutput : public std::streambuf {
 public:
  std::string Text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }
  // Waits until the output holds `text`.
  bool Await(const std::string& text) {
    absl::MutexLock lock(&mu_);
    auto holds = [this, &text]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return text_.find(text) != std::string::npos;
    };
    const absl::Time give_up = absl::Now() + kPatience;
    while (!holds() && absl::Now() < give_up) {
      mu_.AwaitWithTimeout(absl::Condition(&changed_), absl::Milliseconds(50));
      changed_ = false;
    }
    return holds();
  }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) Append(std::string(1, traits_type::to_char_type(c)));
    return c;
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    Append(std::string(data, size));
    return size;
  }

 private:
  void Append(const std::string& text) {
    absl::MutexLock lock(&mu_);
    text_ += text;
    changed_ = true;
  }
  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
};

size_t Occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// FollowStudy on a thread of its own, as `vernier watch` runs it.
class Follow {
 public:
  Follow(v1::StudyService::StubInterface* stub, FollowOptions options)
      : out_(&output_), options_(std::move(options)) {
    ctx_ = CommandContext{stub, &out_, OutputFormat::kTable, "test-server"};
    options_.interrupted = &interrupted_;
    thread_ = std::thread([this] {
      status_ = FollowStudy(ctx_, "w", options_);
      done_ = true;
    });
  }
  ~Follow() {
    if (thread_.joinable()) End().IgnoreError();
  }
  // Waits for FollowStudy to end by itself (Ctrl-C after kPatience); its status.
  absl::Status End() {
    const absl::Time give_up = absl::Now() + kPatience;
    while (!done_ && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
    EXPECT_TRUE(done_) << "the watch did not end; output:\n" << output_.Text();
    interrupted_ = true;
    thread_.join();
    return status_;
  }
  // Ctrl-C, then End.
  absl::Status Interrupt() {
    interrupted_ = true;
    return End();
  }
  SharedOutput& output() { return output_; }

 private:
  SharedOutput output_;
  std::ostream out_;
  CommandContext ctx_;
  FollowOptions options_;
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> done_{false};
  absl::Status status_;
  std::thread thread_;
};

class WatchTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    CreateStudy(kWatchedStudy);
  }

  int64_t Ask() { return AskTrial("w").number(); }
  void Report(int64_t trial, int64_t step, double loss) { ReportValue("w", trial, step, loss); }
  void Tell(int64_t trial, double loss) { TellTrial("w", trial, loss); }

  void StopStudy() {
    grpc::ClientContext context;
    v1::StopStudyRequest request;
    request.set_name("w");
    v1::Study study;
    const grpc::Status status = studies_->StopStudy(&context, request, &study);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
};

TEST_F(WatchTest, PlainLinesTellEachStepAsItHappensAndTheWatchEndsWithTheStudy) {
  Follow follow(studies_.get(), FollowOptions());
  SharedOutput& output = follow.output();
  ASSERT_TRUE(output.Await("study w ACTIVE: 0/2 finished, 0 running\n")) << output.Text();

  const int64_t first = Ask();
  ASSERT_TRUE(output.Await("trial 0 started  x=")) << output.Text();
  // Each report shows up before the next is made: while the trial runs.
  for (const auto& [step, loss] :
       std::vector<std::pair<int, std::string>>{{0, "0.5"}, {1, "0.4"}, {2, "0.3"}}) {
    Report(first, step, std::stod(loss));
    ASSERT_TRUE(output.Await(absl::StrCat("trial 0 step ", step, " loss=", loss, "\n")))
        << output.Text();
  }
  EXPECT_THAT(output.Text(), Not(HasSubstr("COMPLETE")));
  Tell(first, 0.25);
  ASSERT_TRUE(output.Await("new best: trial 0 loss=0.25\n")) << output.Text();
  const int64_t second = Ask();
  Report(second, 0, 0.9);
  ASSERT_TRUE(output.Await("trial 1 step 0 loss=0.9\n")) << output.Text();
  Tell(second, 0.5);

  EXPECT_TRUE(follow.End().ok());
  const std::string text = output.Text();
  EXPECT_EQ(Occurrences(text, "  COMPLETE  "), 2u) << text;
  EXPECT_THAT(text, HasSubstr("trial   0  COMPLETE  loss=0.25  step=2"));
  EXPECT_THAT(text, HasSubstr("study w: COMPLETED\n"));
  // The final summary, below the log.
  EXPECT_THAT(text, HasSubstr("\nstudy w  COMPLETED  loss (min)\n"));
  EXPECT_THAT(text, HasSubstr("] 2/2 finished  100%"));
  EXPECT_THAT(text, HasSubstr("best     trial 0  loss=0.25\n"));
  EXPECT_LT(text.find("trial 0 step 2"), text.find("trial   0  COMPLETE"));
}

TEST_F(WatchTest, AnEndedStudyIsSummedUpAtOnce) {
  Tell(Ask(), 0.3);
  Tell(Ask(), 0.2);
  FollowOptions options;
  options.tell_earlier_ends = true;  // As `vernier run` of a finished study.
  Follow follow(studies_.get(), options);
  EXPECT_TRUE(follow.End().ok());
  const std::string text = follow.output().Text();
  EXPECT_EQ(Occurrences(text, "  COMPLETE  "), 2u) << text;
  EXPECT_THAT(text, HasSubstr("study w COMPLETED: 2/2 finished, 0 running, best trial 1 loss=0.2"));
}

TEST_F(WatchTest, RunProgressWaitsForTheTrialsOfAStoppedStudy) {
  FollowOptions options;
  options.wait_for_running_trials = true;
  options.final_summary = false;
  Follow follow(studies_.get(), options);
  SharedOutput& output = follow.output();
  ASSERT_TRUE(output.Await("study w ACTIVE")) << output.Text();
  const int64_t trial = Ask();
  ASSERT_TRUE(output.Await("trial 0 started")) << output.Text();
  StopStudy();
  ASSERT_TRUE(output.Await("study w: STOPPED")) << output.Text();
  // Still followed: the trial's next report, which the stopped study prunes.
  Report(trial, 0, 0.7);
  EXPECT_TRUE(follow.End().ok());
  const std::string text = output.Text();
  EXPECT_LT(text.find("study w: STOPPED"), text.find("trial 0 step 0 loss=0.7\n")) << text;
  EXPECT_THAT(text, HasSubstr("trial 0 step 0 loss=0.7\n"));
  EXPECT_THAT(text, HasSubstr("trial   0  PRUNED    loss=0.7  step=0"));
  EXPECT_THAT(text, Not(HasSubstr("best     ")));  // No final summary.
}

TEST_F(WatchTest, AnUnknownStudyIsNotFound) {
  std::ostringstream out;
  CommandContext ctx{studies_.get(), &out, OutputFormat::kTable, "test-server"};
  absl::Status status = FollowStudy(ctx, "nope", FollowOptions());
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("nope"));
  status = WatchCommand(ctx, WatchArgs{"nope", /*once=*/true});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(out.str(), "");
}

TEST_F(WatchTest, OnceWritesOneSnapshot) {
  const int64_t trial = Ask();
  Report(trial, 3, 0.45);
  std::ostringstream out;
  CommandContext ctx{studies_.get(), &out, OutputFormat::kTable, "test-server"};
  ASSERT_TRUE(WatchCommand(ctx, WatchArgs{"w", /*once=*/true}).ok());
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("study w  ACTIVE  loss (min)\n"));
  EXPECT_THAT(text, HasSubstr("0/2 finished  0%"));
  EXPECT_THAT(text, HasSubstr("running  trial 0  step 3  loss=0.45"));
  EXPECT_THAT(text, HasSubstr("x="));
  EXPECT_EQ(text.find('\x1b'), std::string::npos);  // No cursor movement.
}

// A WatchStudy stream that breaks after `events` events, as a dropped
// connection does: it reads the real server's stream on a context of its own.
class BreakingReader : public grpc::ClientReaderInterface<v1::StudyEvent> {
 public:
  BreakingReader(v1::StudyService::Stub& stub, const v1::WatchStudyRequest& request, int events)
      : left_(events) {
    inner_ = stub.WatchStudy(&context_, request);
  }
  bool Read(v1::StudyEvent* event) override {
    if (left_ == 0 || !inner_->Read(event)) return false;
    --left_;
    return true;
  }
  grpc::Status Finish() override {
    context_.TryCancel();
    v1::StudyEvent ignored;
    while (inner_->Read(&ignored)) {
    }
    inner_->Finish();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection dropped");
  }
  bool NextMessageSize(uint32_t* size) override { return inner_->NextMessageSize(size); }
  void WaitForInitialMetadata() override { inner_->WaitForInitialMetadata(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::StudyEvent>> inner_;
  int left_;
};

TEST_F(WatchTest, ABrokenStreamResumesAfterTheLastEventSeen) {
  // The real server behind a mock stub whose first WatchStudy stream breaks
  // after 3 events: the resync, trial 0's start and its step 0.
  NiceMock<v1::MockStudyServiceStub> stub;
  ON_CALL(stub, GetStudy(_, _, _)).WillByDefault([this](auto* context, const auto& r, auto* s) {
    return studies_->GetStudy(context, r, s);
  });
  ON_CALL(stub, GetStudySummary(_, _, _))
      .WillByDefault([this](auto* context, const auto& r, auto* s) {
        return studies_->GetStudySummary(context, r, s);
      });
  ON_CALL(stub, ListTrials(_, _, _)).WillByDefault([this](auto* context, const auto& r, auto* s) {
    return studies_->ListTrials(context, r, s);
  });
  absl::Mutex mu;
  std::vector<v1::WatchStudyRequest> requests;
  ON_CALL(stub, WatchStudyRaw(_, _))
      .WillByDefault([&](grpc::ClientContext* context, const v1::WatchStudyRequest& request)
                         -> grpc::ClientReaderInterface<v1::StudyEvent>* {
        absl::MutexLock lock(&mu);
        requests.push_back(request);
        if (requests.size() == 1) return new BreakingReader(*studies_, request, 3);
        return studies_->WatchStudy(context, request).release();
      });

  Follow follow(&stub, FollowOptions());
  SharedOutput& output = follow.output();
  ASSERT_TRUE(output.Await("study w ACTIVE")) << output.Text();
  const int64_t trial = Ask();
  Report(trial, 0, 0.5);
  ASSERT_TRUE(output.Await("trial 0 step 0 loss=0.5\n")) << output.Text();
  // Made while the stream is broken or being reopened: replayed on resume.
  Report(trial, 1, 0.4);
  Report(trial, 2, 0.3);
  ASSERT_TRUE(output.Await("trial 0 step 2 loss=0.3\n")) << output.Text();
  ASSERT_TRUE(follow.Interrupt().ok());

  const std::string text = output.Text();
  EXPECT_EQ(Occurrences(text, "watch of study w interrupted ("), 1u) << text;
  EXPECT_EQ(Occurrences(text, "); reconnecting\n"), 1u) << text;
  // Resumed, not read again: one status line, each step told once, in order.
  EXPECT_EQ(Occurrences(text, "study w ACTIVE:"), 1u) << text;
  EXPECT_EQ(Occurrences(text, "trial 0 started"), 1u) << text;
  for (const std::string step : {"step 0 ", "step 1 ", "step 2 "}) {
    EXPECT_EQ(Occurrences(text, "trial 0 " + step), 1u) << step << "\n" << text;
  }
  EXPECT_LT(text.find("trial 0 step 1"), text.find("trial 0 step 2"));
  absl::MutexLock lock(&mu);
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests[0].after_sequence(), 0);
  // The resync carries sequence 0; the start and step 0 are events 1 and 2.
  EXPECT_EQ(requests[1].after_sequence(), 2);
  EXPECT_FALSE(requests[1].incarnation().empty());
}

TEST_F(WatchTest, ARestartedServerIsFollowedThroughItsResync) {
  const int port = runner_->port();
  // A channel of the watch's own: the fixture's stubs change with the server.
  std::unique_ptr<v1::StudyService::Stub> stub = v1::StudyService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  Follow follow(stub.get(), FollowOptions());
  SharedOutput& output = follow.output();
  ASSERT_TRUE(output.Await("study w ACTIVE")) << output.Text();
  const int64_t trial = Ask();
  Report(trial, 0, 0.5);
  ASSERT_TRUE(output.Await("trial 0 step 0 loss=0.5\n")) << output.Text();

  runner_.reset();
  ASSERT_TRUE(output.Await("reconnecting")) << output.Text();
  StartServer(
      [port](ServerOptions& options) { options.listen = absl::StrCat("127.0.0.1:", port); });
  // The new server's first answer is a resync: the study is read again.
  ASSERT_TRUE(output.Await("study w ACTIVE: 0/2 finished, 1 running")) << output.Text();
  Report(trial, 1, 0.4);
  ASSERT_TRUE(output.Await("trial 0 step 1 loss=0.4\n")) << output.Text();
  EXPECT_TRUE(follow.Interrupt().ok());
}

TEST_F(WatchTest, TheLiveViewRedrawsInPlaceAtMostFourTimesASecond) {
  FollowOptions options;
  options.live = true;
  options.width = [] { return 70; };
  const absl::Time start = absl::Now();
  Follow follow(studies_.get(), options);
  SharedOutput& output = follow.output();
  const int64_t first = Ask();
  for (int step = 0; step < 20; ++step) {
    Report(first, step, 1.0 / (step + 1));
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(output.Await("running  trial 0  step 19")) << output.Text();
  Tell(first, 0.01);
  Tell(Ask(), 0.5);
  ASSERT_TRUE(follow.End().ok());
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  const std::string text = output.Text();
  const size_t frames = Occurrences(text, "\x1b[J");
  EXPECT_GE(frames, 2u);
  // One per tick at most, and the last one.
  EXPECT_LE(frames, static_cast<size_t>(seconds * kRedrawsPerSecond) + 2) << seconds;
  // Each frame but the first goes back up over the one before.
  EXPECT_EQ(Occurrences(text, "\r\x1b["), frames - 1);
  // The last frame: the study's end; no plain lines at all.
  const std::string last = text.substr(text.rfind("\r\x1b["));
  EXPECT_THAT(last, HasSubstr("study w  COMPLETED  loss (min)"));
  EXPECT_THAT(last, HasSubstr("best     trial 0  loss=0.01"));
  EXPECT_THAT(text, Not(HasSubstr("trial 0 step")));
  for (size_t at = text.find("\x1b[2K"); at != std::string::npos;
       at = text.find("\x1b[2K", at + 1)) {
    const size_t end = text.find('\n', at);
    EXPECT_LE(end - at - 4, 69u) << text.substr(at, end - at);
  }
}

}  // namespace
}  // namespace vernier
