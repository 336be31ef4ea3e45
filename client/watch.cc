#include "client/watch.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/live_view.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"

namespace vernier {
namespace {

constexpr int kDefaultWidth = 80;
// Plain output is read in logs and scripts, not on a screen: a wider view
// cuts fewer parameters.
constexpr int kPlainWidth = 100;
// Between two tries to reopen a broken stream: doubling from the first.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
// The live view is redrawn at least this often, for the running trials'
// durations, even when nothing happens.
constexpr absl::Duration kIdleRedraw = absl::Seconds(1);
constexpr absl::Duration kTick = absl::Milliseconds(1000 / kRedrawsPerSecond);

std::atomic<bool> g_watch_interrupted{false};

void OnWatchInterrupt(int) { g_watch_interrupted = true; }

// The study's trials in `states`, with their intermediate values or not.
absl::StatusOr<std::vector<v1::Trial>> ReadTrials(const CommandContext& ctx,
                                                  const std::string& study,
                                                  const std::vector<v1::TrialState>& states,
                                                  bool with_intermediate) {
  v1::ListTrialsRequest request;
  request.set_study(study);
  for (v1::TrialState state : states) request.add_states(state);
  request.set_omit_intermediate(!with_intermediate);
  return GetTrials(ctx, std::move(request));
}

// Whether a stream that ended with `status` (not by this watcher) is worth
// opening again: the server stopping or restarting, the network, or a
// server that cut off a watcher that fell behind.
bool WorthReopening(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:  // The server ended it; it should not.
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

// One watch of one study: the stream on the calling thread (Follow), redraws
// and `check` on a second one (Tick).
class Follower {
 public:
  // `ctx` and `options` are borrowed for the Follower's life.
  Follower(const CommandContext& ctx, std::string study, const FollowOptions& options,
           const v1::Study& info)
      : ctx_(ctx), study_(std::move(study)), options_(options), tracker_(info) {}

  absl::Status Run() {
    std::thread ticker([this] { Tick(); });
    absl::Status status = Follow();
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    ticker.join();
    ShowEnd(status);
    return status;
  }

 private:
  // How one stream ended, and whether it brought any event.
  struct StreamEnd {
    absl::Status status;
    bool had_events = false;
  };

  // Opens streams until the watch ends; its status.
  absl::Status Follow() {
    absl::Time broken_since = absl::InfiniteFuture();
    absl::Duration backoff = kFirstBackoff;
    for (;;) {
      grpc::ClientContext rpc;
      if (!Register(&rpc)) return StopStatus();
      const StreamEnd end = ReadStream(rpc);
      Unregister();
      if (Stopping()) return StopStatus();
      if (end.had_events) {
        broken_since = absl::InfiniteFuture();
        backoff = kFirstBackoff;
      }
      if (!WorthReopening(end.status)) {
        // After a restart on the same incarnation's numbers, the position
        // may be ahead of the server's: start over from a resync.
        if (end.status.code() != absl::StatusCode::kInvalidArgument || after_sequence_ == 0) {
          return end.status;
        }
        ForgetPosition();
        continue;
      }
      const absl::Time now = absl::Now();
      if (broken_since == absl::InfiniteFuture()) {
        broken_since = now;
        SayReconnecting(end.status);
      }
      if (now - broken_since > options_.reconnect_timeout) {
        return end.status.ok() ? absl::UnavailableError("the server keeps ending the watch")
                               : end.status;
      }
      WaitUnlessStopping(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  StreamEnd ReadStream(grpc::ClientContext& rpc) {
    v1::WatchStudyRequest request;
    request.set_study(study_);
    request.set_after_sequence(after_sequence_);
    request.set_incarnation(incarnation_);
    std::unique_ptr<grpc::ClientReaderInterface<v1::StudyEvent>> reader =
        ctx_.stub->WatchStudy(&rpc, request);
    StreamEnd end;
    v1::StudyEvent event;
    absl::Status handled;
    while (handled.ok() && reader->Read(&event)) {
      end.had_events = true;
      handled = Handle(event);
    }
    if (!handled.ok()) {
      rpc.TryCancel();
      while (reader->Read(&event)) {
      }
    }
    const grpc::Status finished = reader->Finish();
    end.status = handled.ok() ? FromGrpc(finished, ctx_.server_address) : handled;
    return end;
  }

  absl::Status Handle(const v1::StudyEvent& event) {
    if (event.has_resync()) {
      const absl::Status resynced = Resync();
      if (!resynced.ok()) {
        // The study was not read: the next stream must begin with a resync.
        ForgetPosition();
        return resynced;
      }
    } else {
      absl::MutexLock lock(&mu_);
      Print(tracker_.Apply(event));
    }
    after_sequence_ = event.sequence();
    incarnation_ = event.incarnation();
    absl::MutexLock lock(&mu_);
    tracker_.mutable_state().note.clear();
    dirty_ = true;
    if (tracker_.Over(options_.wait_for_running_trials)) StopLocked(absl::OkStatus());
    return absl::OkStatus();
  }

  // Reads the study again: its summary and running trials (and, once, the
  // trials that ended before, for `vernier run`).
  absl::Status Resync() {
    ASSIGN_OR_RETURN(v1::StudySummary summary, GetSummary(ctx_, study_));
    ASSIGN_OR_RETURN(std::vector<v1::Trial> running,
                     ReadTrials(ctx_, study_, {v1::TRIAL_STATE_RUNNING}, false));
    std::vector<v1::Trial> ended;
    const bool tell_ended = options_.tell_earlier_ends && !told_earlier_ends_;
    if (tell_ended) {
      ASSIGN_OR_RETURN(ended, ReadTrials(ctx_, study_,
                                         {v1::TRIAL_STATE_COMPLETE, v1::TRIAL_STATE_PRUNED,
                                          v1::TRIAL_STATE_FAILED, v1::TRIAL_STATE_INFEASIBLE},
                                         true));
    }
    absl::MutexLock lock(&mu_);
    tracker_.Reset(summary, running);
    if (tell_ended) {
      Print(tracker_.AddEnded(std::move(ended)));
      told_earlier_ends_ = true;
    }
    Print({StatusLine(tracker_.state())});
    return absl::OkStatus();
  }

  // The second thread: Ctrl-C, `check`, the pace, and redraws.
  void Tick() {
    absl::Time next_summary = absl::Now() + options_.summary_interval;
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&finished_), kTick);
        if (finished_) return;
        if (options_.interrupted != nullptr && options_.interrupted->load()) {
          StopLocked(absl::OkStatus());
        }
      }
      if (options_.check) {
        absl::Status checked = options_.check();
        if (!checked.ok()) Stop(std::move(checked));
      }
      if (absl::Now() >= next_summary) {
        next_summary = absl::Now() + options_.summary_interval;
        absl::StatusOr<v1::StudySummary> summary = GetSummary(ctx_, study_);
        absl::MutexLock lock(&mu_);
        if (summary.ok()) tracker_.Refresh(*summary);
      }
      absl::MutexLock lock(&mu_);
      if (options_.live && (dirty_ || absl::Now() - last_draw_ >= kIdleRedraw)) Draw();
    }
  }

  // The view once more as the watch ends, with the study read again when it
  // ended well: redrawn, or (final_summary) below the plain lines.
  void ShowEnd(const absl::Status& status) {
    if (status.ok()) {
      absl::StatusOr<v1::StudySummary> summary = GetSummary(ctx_, study_);
      absl::MutexLock lock(&mu_);
      if (summary.ok()) tracker_.Reset(*summary, {});
    }
    absl::MutexLock lock(&mu_);
    tracker_.mutable_state().note.clear();
    if (options_.live) {
      Draw();
    } else if (status.ok() && options_.final_summary) {
      tracker_.mutable_state().now_unix_ms = absl::ToUnixMillis(absl::Now());
      *ctx_.out << "\n"
                << absl::StrJoin(RenderLiveView(tracker_.state(), kPlainWidth), "\n") << "\n";
      ctx_.out->flush();
    }
  }

  // Redraws the view over the last one: up to its first line, each line
  // cleared and written, and whatever the last one had below cleared.
  void Draw() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    tracker_.mutable_state().now_unix_ms = absl::ToUnixMillis(absl::Now());
    // One column spare: a line that fills the terminal would wrap on some.
    const int width = (options_.width ? options_.width() : kDefaultWidth) - 1;
    const std::vector<std::string> lines = RenderLiveView(tracker_.state(), width);
    std::string frame;
    if (drawn_lines_ > 0) absl::StrAppend(&frame, "\r\x1b[", drawn_lines_, "A");
    for (const std::string& line : lines) absl::StrAppend(&frame, "\x1b[2K", line, "\n");
    absl::StrAppend(&frame, "\x1b[J");
    *ctx_.out << frame;
    ctx_.out->flush();
    drawn_lines_ = static_cast<int>(lines.size());
    dirty_ = false;
    last_draw_ = absl::Now();
  }

  // Plain mode: writes `lines` at once (flushed, for logs and pipes).
  void Print(const std::vector<std::string>& lines) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (options_.live || lines.empty()) return;
    for (const std::string& line : lines) *ctx_.out << line << "\n";
    ctx_.out->flush();
  }

  void SayReconnecting(const absl::Status& why) {
    absl::MutexLock lock(&mu_);
    tracker_.mutable_state().note = "reconnecting";
    dirty_ = true;
    Print({absl::StrCat("watch of study ", study_, " interrupted (",
                        why.ok() ? "the server ended it" : why.message(), "); reconnecting")});
  }

  void ForgetPosition() {
    after_sequence_ = 0;
    incarnation_.clear();
  }

  // Makes `rpc` the stream a Stop cancels; false when the watch is ending.
  bool Register(grpc::ClientContext* rpc) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    stream_ = rpc;
    return true;
  }
  void Unregister() {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }

  void Stop(absl::Status why) {
    absl::MutexLock lock(&mu_);
    StopLocked(std::move(why));
  }
  // Ends the watch with `why` (the first reason given wins).
  void StopLocked(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!stopping_) {
      stopping_ = true;
      stop_status_ = std::move(why);
    }
    if (stream_ != nullptr) stream_->TryCancel();
  }
  bool Stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }
  absl::Status StopStatus() {
    absl::MutexLock lock(&mu_);
    return stop_status_;
  }
  void WaitUnlessStopping(absl::Duration duration) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), duration);
  }

  // Constant after construction.
  const CommandContext& ctx_;
  const std::string study_;
  const FollowOptions& options_;

  // The position in the stream; the Follow thread's alone.
  int64_t after_sequence_ = 0;
  std::string incarnation_;
  bool told_earlier_ends_ = false;

  absl::Mutex mu_;
  StudyTracker tracker_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // The open one; borrowed.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Follow returned: Tick ends.
  // The live view: changed since drawn, lines drawn last, when.
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;
  int drawn_lines_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace

absl::Status FollowStudy(const CommandContext& ctx, const std::string& study,
                         const FollowOptions& options) {
  ASSIGN_OR_RETURN(const v1::Study info, GetStudy(ctx, study));
  Follower follower(ctx, study, options, info);
  return follower.Run();
}

absl::Status WatchSnapshot(const CommandContext& ctx, const std::string& study, int width) {
  ASSIGN_OR_RETURN(const v1::Study info, GetStudy(ctx, study));
  ASSIGN_OR_RETURN(const v1::StudySummary summary, GetSummary(ctx, study));
  ASSIGN_OR_RETURN(const std::vector<v1::Trial> running,
                   ReadTrials(ctx, study, {v1::TRIAL_STATE_RUNNING}, false));
  StudyTracker tracker(info);
  tracker.Reset(summary, running);
  tracker.mutable_state().now_unix_ms = summary.time_unix_ms();
  *ctx.out << absl::StrJoin(RenderLiveView(tracker.state(), width), "\n") << "\n";
  return absl::OkStatus();
}

absl::Status WatchCommand(const CommandContext& ctx, const WatchArgs& args) {
  const bool terminal = StdoutIsTerminal();
  if (args.once) return WatchSnapshot(ctx, args.study, terminal ? TerminalWidth() : kPlainWidth);
  signal(SIGINT, OnWatchInterrupt);
  signal(SIGTERM, OnWatchInterrupt);
  FollowOptions options;
  options.live = terminal && !args.plain;
  options.width = TerminalWidth;
  options.interrupted = &g_watch_interrupted;
  return FollowStudy(ctx, args.study, options);
}

bool StdoutIsTerminal() { return isatty(STDOUT_FILENO) == 1; }

int TerminalWidth() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  int columns = 0;
  const char* env = std::getenv("COLUMNS");
  if (env != nullptr && absl::SimpleAtoi(env, &columns) && columns > 0) return columns;
  return kDefaultWidth;
}

}  // namespace vernier
