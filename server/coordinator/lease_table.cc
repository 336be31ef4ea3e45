#include "server/coordinator/lease_table.h"

#include <algorithm>
#include <tuple>

namespace vernier {

void LeaseTable::Grant(const LeaseKey& lease, const std::string& worker_id) {
  const absl::Time deadline = clock_->Now() + length_;
  absl::MutexLock lock(&mu_);
  leases_[Key(lease.study, lease.trial_number)] = Holder{worker_id, lease.attempt, deadline};
}

void LeaseTable::Release(const std::string& study, int64_t trial_number) {
  absl::MutexLock lock(&mu_);
  leases_.erase(Key(study, trial_number));
}

bool LeaseTable::Renew(const LeaseKey& lease, const std::string& worker_id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(Key(lease.study, lease.trial_number));
  if (it == leases_.end()) return false;
  Holder& holder = it->second;
  if (holder.worker_id != worker_id || holder.attempt != lease.attempt || holder.deadline <= now) {
    return false;
  }
  holder.deadline = now + length_;
  return true;
}

std::vector<LeaseKey> LeaseTable::Expired() const {
  const absl::Time now = clock_->Now();
  std::vector<LeaseKey> expired;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, holder] : leases_) {
      if (holder.deadline <= now)
        expired.push_back(LeaseKey{key.first, key.second, holder.attempt});
    }
  }
  std::sort(expired.begin(), expired.end(), [](const LeaseKey& a, const LeaseKey& b) {
    return std::tie(a.study, a.trial_number) < std::tie(b.study, b.trial_number);
  });
  return expired;
}

bool LeaseTable::IsExpired(const LeaseKey& lease) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(Key(lease.study, lease.trial_number));
  return it != leases_.end() && it->second.attempt == lease.attempt && it->second.deadline <= now;
}

int64_t LeaseTable::Count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(leases_.size());
}

}  // namespace vernier
