#include "server/coordinator/worker_roster.h"

namespace vernier {

void WorkerRoster::Seen(const std::string& worker_id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  last_call_[worker_id] = now;
  if (now - last_forget_ > window_) ForgetSilentLocked(now);
}

int64_t WorkerRoster::Connected() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  ForgetSilentLocked(now);
  return static_cast<int64_t>(last_call_.size());
}

void WorkerRoster::ForgetSilentLocked(absl::Time now) {
  absl::erase_if(last_call_, [&](const auto& entry) { return now - entry.second > window_; });
  last_forget_ = now;
}

}  // namespace vernier
