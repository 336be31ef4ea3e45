// `vernier watch STUDY`, and the progress `vernier run` shows: follows a
// study through WatchStudy and shows it (client/live_view.h), either as a
// view redrawn in place on a terminal (ANSI cursor movement, at most
// kRedrawsPerSecond times a second) or as one plain line per event for logs
// and CI (a trial started, each step a running trial reports, its end, a new
// best, the study's end).
//
// A broken stream is reopened after the last event seen (the server replays
// what was missed), and the study is read again (GetStudySummary and the
// running trials) whenever the server answers with a resync: at the start,
// after it restarted, or when the watcher fell too far behind.
//
// Thread-safety: FollowStudy is called by one thread; it runs a second one
// of its own for redraws and `check`, and uses ctx.stub from both.
#ifndef VERNIER_CLIENT_WATCH_H_
#define VERNIER_CLIENT_WATCH_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/commands.h"

namespace vernier {

inline constexpr int kRedrawsPerSecond = 4;

struct FollowOptions {
  // True: redraw the view in place (stdout is a terminal). False: plain lines.
  bool live = false;
  // The terminal's columns, asked at each redraw; unset: 80.
  std::function<int()> width;
  // `vernier run`: go on after the study ended until none of its trials runs,
  // and first tell the trials that ended before the watch began.
  bool wait_for_running_trials = false;
  bool tell_earlier_ends = false;
  // At the end, write the study's final view (plain lines: below the log).
  bool final_summary = true;
  // Called about kRedrawsPerSecond times a second from FollowStudy's own
  // thread; an error ends the watch with it (`vernier run`: a worker or the
  // server died, Ctrl-C). Unset: none.
  std::function<absl::Status()> check;
  // Set (by a signal handler, Ctrl-C): ends the watch, with OK. Borrowed.
  const std::atomic<bool>* interrupted = nullptr;
  // How often the pace (trials per minute, hence the ETA) is read again.
  absl::Duration summary_interval = absl::Seconds(10);
  // How long a broken stream is retried before the watch gives up.
  absl::Duration reconnect_timeout = absl::Seconds(60);
};

// Follows `study` until it is COMPLETED or STOPPED (with
// wait_for_running_trials, and none of its trials runs), `interrupted` is
// set or `check` fails; writes to ctx.out. Errors: the server's answer
// (NOT_FOUND naming an unknown study), UNAVAILABLE once the server stayed
// unreachable for reconnect_timeout, or `check`'s error.
absl::Status FollowStudy(const CommandContext& ctx, const std::string& study,
                         const FollowOptions& options);

// `vernier watch`'s arguments, as given on the command line.
struct WatchArgs {
  std::string study;
  bool once = false;   // --once: one snapshot, then exit.
  bool plain = false;  // --plain: plain lines even on a terminal.
};

// `vernier watch STUDY [--once] [--plain]`: the live view while stdout is a
// terminal, plain lines otherwise; ends with the final summary when the
// study ends, or on Ctrl-C (OK either way). --once writes the view once,
// without cursor movement. Errors as FollowStudy.
absl::Status WatchCommand(const CommandContext& ctx, const WatchArgs& args);

// Writes the study's view as it is now, once (`--once`), `width` columns
// wide.
absl::Status WatchSnapshot(const CommandContext& ctx, const std::string& study, int width);

// True when standard output is a terminal.
bool StdoutIsTerminal();
// Standard output's columns ($COLUMNS or 80 when it is not a terminal).
int TerminalWidth();

}  // namespace vernier

#endif  // VERNIER_CLIENT_WATCH_H_
