#include "worker/log_shipper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace vernier::worker {
namespace {

// Wait between retries of the last round while the coordinator cannot be
// reached.
constexpr absl::Duration kFinishRetry = absl::Milliseconds(200);

bool IsTransient(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// The size of the file at `path`; 0 when it does not exist.
int64_t FileSize(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : 0;
}

}  // namespace

LogShipper::LogShipper(LogShipperOptions options, v1::WorkerService::StubInterface* stub,
                       std::string worker_id, v1::TrialLease lease)
    : options_(std::move(options)),
      stub_(stub),
      worker_id_(std::move(worker_id)),
      lease_(std::move(lease)),
      clock_(options_.clock != nullptr ? options_.clock : &real_clock_),
      thread_([this] { Loop(); }) {}

LogShipper::~LogShipper() { Finish(); }

void LogShipper::Follow(const std::string& path) {
  absl::MutexLock lock(&mu_);
  const int64_t base = files_.empty() ? 0 : files_.back().base + FileSize(files_.back().path);
  files_.push_back(File{path, base});
}

void LogShipper::Finish() {
  if (joined_) return;
  {
    absl::MutexLock lock(&mu_);
    finishing_ = true;
  }
  thread_.join();
  joined_ = true;
}

int64_t LogShipper::acknowledged() const {
  absl::MutexLock lock(&mu_);
  return acknowledged_;
}

void LogShipper::Log(absl::string_view line) const {
  if (options_.log) options_.log(line);
}

void LogShipper::Loop() {
  while (true) {
    bool finishing = false;
    {
      absl::MutexLock lock(&mu_);
      clock_->AwaitWithTimeout(&mu_, absl::Condition(&finishing_), options_.interval);
      finishing = finishing_;
    }
    if (!finishing) {
      Ship(/*all=*/false);
      continue;
    }
    // The last round: everything, retried for a while if it must be.
    const absl::Time give_up = clock_->Now() + options_.finish_patience;
    while (Ship(/*all=*/true) == Round::kUnreachable && clock_->Now() < give_up) {
      clock_->SleepFor(kFinishRetry);
    }
    return;
  }
}

std::string LogShipper::ReadAt(int64_t offset) const {
  File file;
  {
    absl::MutexLock lock(&mu_);
    // The last file that starts at or before `offset`: an earlier file read
    // to its end hands over to the next, which starts where it ended.
    for (const File& candidate : files_) {
      if (candidate.base <= offset) file = candidate;
    }
    if (files_.empty()) return "";
  }
  const int fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";  // Not created yet.
  std::string data(options_.max_read_bytes, '\0');
  ssize_t n = -1;
  do {
    n = pread(fd, data.data(), data.size(), static_cast<off_t>(offset - file.base));
  } while (n < 0 && errno == EINTR);
  close(fd);
  data.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return data;
}

LogShipper::Round LogShipper::Ship(bool all) {
  if (stopped_) return Round::kStopped;
  int64_t sent = 0;
  while (all || sent < options_.max_tick_bytes) {
    const int64_t offset = acknowledged();
    const std::string data = ReadAt(offset);
    if (data.empty()) return Round::kCaughtUp;
    v1::AppendTrialLogRequest request;
    request.set_worker_id(worker_id_);
    *request.mutable_lease() = lease_;
    request.set_offset(offset);
    request.set_data(data);
    v1::AppendTrialLogResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    const grpc::Status status = stub_->AppendTrialLog(&context, request, &response);
    if (IsTransient(status)) return Round::kUnreachable;
    if (!status.ok()) {
      stopped_ = true;
      Log(absl::StrCat(
          "trial ", lease_.study(), "#", lease_.trial_number(), " (attempt ", lease_.attempt(),
          "): its output is no longer sent to the coordinator: ", status.error_message()));
      return Round::kStopped;
    }
    {
      absl::MutexLock lock(&mu_);
      acknowledged_ = response.next_offset();
    }
    // An answer that does not move on would make this loop spin: the next
    // tick tries again.
    if (response.next_offset() == offset) return Round::kMore;
    sent += static_cast<int64_t>(data.size());
  }
  return Round::kMore;
}

}  // namespace vernier::worker
