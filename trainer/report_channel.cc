#include "trainer/report_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vernier {
namespace {

double MetricOrNaN(const MetricMap& metrics, const std::string& name) {
  auto it = metrics.find(name);
  return it == metrics.end() ? std::nan("") : it->second;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReportChannel>> ReportChannel::FromEnvironment(
    const char* report_fd_env, std::FILE* log) {
  int fd = STDOUT_FILENO;
  const bool from_env = report_fd_env != nullptr && *report_fd_env != '\0';
  if (from_env) {
    if (!absl::SimpleAtoi(report_fd_env, &fd) || fd < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "VERNIER_REPORT_FD must be a file descriptor number, got \"", report_fd_env, "\""));
    }
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags == -1 || (flags & O_ACCMODE) == O_RDONLY) {
    return absl::FailedPreconditionError(
        absl::StrCat("report file descriptor ", fd, " is not open for writing",
                     from_env ? " (VERNIER_REPORT_FD)" : " (stdout)"));
  }
  return std::make_unique<ReportChannel>(fd, log);
}

bool ReportChannel::OnEpoch(const EpochSummary& summary) {
  WriteLine(FormatIntermediateReport(summary.epoch, summary.val_metrics));
  if (log_ != nullptr) {
    absl::FPrintF(log_,
                  "epoch %d/%d: train_loss %.4f  val_accuracy %.4f  val_loss %.4f  (%.1f s)\n",
                  summary.epoch, summary.num_epochs, summary.train_loss,
                  MetricOrNaN(summary.val_metrics, "val_accuracy"),
                  MetricOrNaN(summary.val_metrics, "val_loss"), summary.seconds);
    std::fflush(log_);
  }
  return status_.ok();
}

void ReportChannel::OnCheckpoint(int epoch, const std::string& dir) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(dir, error);
  WriteLine(FormatCheckpointReport(epoch, error ? dir : absolute.string()));
}

absl::Status ReportChannel::WriteFinal(const MetricMap& metrics) {
  WriteLine(FormatFinalReport(metrics));
  if (log_ != nullptr) {
    absl::FPrintF(log_, "test_accuracy %.4f  test_loss %.4f\n",
                  MetricOrNaN(metrics, "test_accuracy"), MetricOrNaN(metrics, "test_loss"));
    std::fflush(log_);
  }
  return status_;
}

void ReportChannel::WriteLine(const std::string& line) {
  if (!status_.ok()) return;
  const std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status_ = absl::UnavailableError(absl::StrCat("cannot write a report to file descriptor ",
                                                    fd_, ": ", std::strerror(errno)));
      return;
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace vernier
