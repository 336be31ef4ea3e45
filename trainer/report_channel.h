// The trial-protocol report channel of vernier-train (see
// common/trial_protocol.h): one JSON line per epoch and a final line, written
// unbuffered to the descriptor in VERNIER_REPORT_FD or to stdout, plus a short
// human-readable line per event on a log stream (stderr in the binary).
//
// Thread-safety: not thread-safe; one thread writes at a time.
#ifndef VERNIER_TRAINER_REPORT_CHANNEL_H_
#define VERNIER_TRAINER_REPORT_CHANNEL_H_

#include <cstdio>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/trial_protocol.h"
#include "trainer/progress.h"

namespace vernier {

class ReportChannel : public ProgressSink {
 public:
  // Returns a channel on the descriptor named by `report_fd_env` (the value of
  // VERNIER_REPORT_FD; nullptr or "" when unset means stdout). Returns
  // INVALID_ARGUMENT if the value is not a non-negative integer and
  // FAILED_PRECONDITION if that descriptor is not open for writing. `log` as
  // in the constructor.
  static absl::StatusOr<std::unique_ptr<ReportChannel>> FromEnvironment(const char* report_fd_env,
                                                                        std::FILE* log);

  // Borrows `fd` (never closed here) and `log` (nullptr: no log lines) for the
  // channel's lifetime.
  ReportChannel(int fd, std::FILE* log) : fd_(fd), log_(log) {}

  // Writes the epoch's intermediate report (step = epoch, the validation
  // metrics) and a log line. Returns false, asking the loop to stop, once a
  // write has failed; status() then says why.
  bool OnEpoch(const EpochSummary& summary) override;

  // Writes a checkpoint report (FormatCheckpointReport) for `dir`, made
  // absolute so that the worker need not know the trial's working directory.
  void OnCheckpoint(int epoch, const std::string& dir) override;

  // Writes the final report and a log line. Returns UNAVAILABLE if the write
  // fails (or an earlier one did).
  absl::Status WriteFinal(const MetricMap& metrics);

  // OK, or the first write error.
  const absl::Status& status() const { return status_; }

 private:
  // Writes `line` plus a newline in full, retrying partial writes.
  void WriteLine(const std::string& line);

  const int fd_;
  std::FILE* const log_;
  absl::Status status_;
};

}  // namespace vernier

#endif  // VERNIER_TRAINER_REPORT_CHANNEL_H_
