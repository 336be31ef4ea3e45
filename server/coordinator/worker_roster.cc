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

void WorkerRoster::SlotAsked(const std::string& worker_id, int32_t index,
                             const SlotDescription& slot) {
  absl::MutexLock lock(&mu_);
  slots_[worker_id][index] = SeenSlot{slot, /*busy=*/false};
}

void WorkerRoster::SlotLeased(const std::string& worker_id, int32_t index) {
  absl::MutexLock lock(&mu_);
  auto worker = slots_.find(worker_id);
  if (worker == slots_.end()) return;
  auto slot = worker->second.find(index);
  if (slot != worker->second.end()) slot->second.busy = true;
}

std::vector<SeenSlot> WorkerRoster::Slots() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  ForgetSilentLocked(now);
  std::vector<SeenSlot> slots;
  for (const auto& [worker, of_worker] : slots_) {
    for (const auto& [index, slot] : of_worker) slots.push_back(slot);
  }
  return slots;
}

void WorkerRoster::ForgetSilentLocked(absl::Time now) {
  absl::erase_if(last_call_, [&](const auto& entry) { return now - entry.second > window_; });
  // A loop, not erase_if: the analysis cannot see mu_ held inside a lambda.
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (last_call_.count(it->first) == 0) {
      slots_.erase(it++);  // Erasing leaves the other iterators valid.
    } else {
      ++it;
    }
  }
  last_forget_ = now;
}

}  // namespace vernier
