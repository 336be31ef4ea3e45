#include "server/coordinator/study_trials.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/logic/trial_state_machine.h"

namespace vernier {
namespace {

// Puts `measurement` into `values` (kept in step order), replacing a stored
// measurement of the same step.
void InsertMeasurement(std::vector<Measurement>& values, const Measurement& measurement) {
  auto at = std::lower_bound(values.begin(), values.end(), measurement.step,
                             [](const Measurement& m, int64_t step) { return m.step < step; });
  if (at != values.end() && at->step == measurement.step) {
    *at = measurement;
  } else {
    values.insert(at, measurement);
  }
}

bool OnWorker(const TrialRecord& trial) {
  return trial.state == TrialState::kRunning && trial.worker_id != kAskedWorkerId;
}

}  // namespace

StudyTrials::StudyTrials(StudyRecord record, std::unique_ptr<HistoryIndex> index,
                         LeaseTable* leases)
    : record_(std::move(record)), history_index_(std::move(index)), leases_(leases) {}

absl::Status StudyTrials::Load(std::vector<TrialRecord> trials) {
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].number != static_cast<int64_t>(i)) {
      return absl::DataLossError(
          absl::StrCat("study \"", record_.name, "\" is missing trial number ", i));
    }
  }
  for (TrialRecord& trial : trials) {
    if (IsWarmStartCopy(trial)) ++copied_;
    Put(std::move(trial));
  }
  return absl::OkStatus();
}

absl::Status StudyTrials::Check(const Change& change) const {
  auto next = static_cast<int64_t>(trials_.size());
  for (const TrialRecord& trial : change.trials) {
    if (trial.number == next) {
      ++next;
    } else if (trial.number < 0 || trial.number > next) {
      return absl::InternalError(absl::StrCat("trial ", trial.number, " of study \"", record_.name,
                                              "\" is out of sequence"));
    } else if (trial.number < static_cast<int64_t>(trials_.size())) {
      const TrialState from = trials_[trial.number].state;
      if (from != trial.state) RETURN_IF_ERROR(CheckTransition(from, trial.state));
    }
  }
  return absl::OkStatus();
}

void StudyTrials::KeepLastValues() {
  for (TrialRecord& trial : trials_) {
    if (trial.intermediate.size() <= 1) continue;
    std::vector<Measurement> last = {std::move(trial.intermediate.back())};
    trial.intermediate = std::move(last);  // Frees the rest, capacity included.
  }
}

void StudyTrials::ReleaseLeases() {
  for (const TrialRecord& trial : trials_) leases_->Release(record_.name, trial.number);
}

absl::Status StudyTrials::Commit(StudyStore& store, Change change) {
  RETURN_IF_ERROR(Check(change));
  StudyWrite write;
  write.study = record_.name;
  if (change.create_study) write.create = record_;
  write.state = change.study_state;
  write.spec = change.spec;
  write.trials = change.trials;
  write.measurements = change.measurements;
  RETURN_IF_ERROR(store.Apply(write));

  if (change.study_state) {
    record_.state = change.study_state->first;
    record_.state_reason = std::move(change.study_state->second);
  }
  if (change.spec) record_.spec = *std::move(change.spec);
  for (TrialRecord& trial : change.trials) {
    if (trial.number == static_cast<int64_t>(trials_.size())) {
      if (IsWarmStartCopy(trial)) ++copied_;
      trial.intermediate.clear();  // Its values come as measurements.
    }
    Put(std::move(trial));
  }
  for (const auto& [number, measurement] : change.measurements) {
    InsertMeasurement(trials_[number].intermediate, measurement);
    Observe(number);
    SyncLease(trials_[number]);  // A report renews the lease of a running trial.
  }
  return absl::OkStatus();
}

void StudyTrials::Put(TrialRecord trial) {
  const int64_t number = trial.number;
  if (number == static_cast<int64_t>(trials_.size())) {
    trials_.push_back(std::move(trial));
  } else {
    TrialRecord& slot = trials_[number];
    counts_[slot.state]--;
    trial.intermediate = std::move(slot.intermediate);
    slot = std::move(trial);
  }
  const TrialRecord& stored = trials_[number];
  counts_[stored.state]++;
  if (stored.state == TrialState::kWaiting) {
    waiting_.insert(number);
  } else {
    waiting_.erase(number);
  }
  SyncLease(stored);
  Observe(number);
}

void StudyTrials::Observe(int64_t number) {
  if (history_index_ != nullptr) history_index_->Observe(trials_[number]);
}

void StudyTrials::SyncLease(const TrialRecord& trial) {
  if (OnWorker(trial)) {
    leases_->Grant(LeaseKey{record_.name, trial.number, trial.attempt}, trial.worker_id);
  } else {
    leases_->Release(record_.name, trial.number);
  }
}

absl::StatusOr<const TrialRecord*> StudyTrials::Find(int64_t number) const {
  if (number < 0 || number >= static_cast<int64_t>(trials_.size())) {
    return absl::NotFoundError(
        absl::StrCat("trial ", number, " of study \"", record_.name, "\" not found"));
  }
  return &trials_[number];
}

int64_t StudyTrials::Count(TrialState state) const {
  auto it = counts_.find(state);
  return it == counts_.end() ? 0 : it->second;
}

std::optional<int64_t> StudyTrials::FirstWaiting() const {
  if (waiting_.empty()) return std::nullopt;
  return *waiting_.begin();
}

int64_t StudyTrials::BudgetedTrials() const {
  return static_cast<int64_t>(trials_.size()) - copied_;
}

}  // namespace vernier
