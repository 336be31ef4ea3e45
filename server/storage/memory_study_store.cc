#include "server/storage/memory_study_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/storage/record_codec.h"

namespace vernier {
namespace {

// The copy of `trial` that a store keeps: times cut to microseconds, no
// intermediates (only AddMeasurement writes those).
TrialRecord StoredCopy(const TrialRecord& trial) {
  TrialRecord copy = trial;
  copy.intermediate.clear();
  copy.start_time = TruncateToMicros(trial.start_time);
  copy.end_time = TruncateToMicros(trial.end_time);
  return copy;
}

// Inserts `measurement` into `intermediate` (ascending by step), replacing the
// one at the same step.
void InsertByStep(const Measurement& measurement, std::vector<Measurement>& intermediate) {
  auto it =
      std::lower_bound(intermediate.begin(), intermediate.end(), measurement.step,
                       [](const Measurement& stored, int64_t step) { return stored.step < step; });
  if (it != intermediate.end() && it->step == measurement.step) {
    *it = measurement;
  } else {
    intermediate.insert(it, measurement);
  }
}

}  // namespace

MemoryStudyStore::Entry* MemoryStudyStore::FindStudy(absl::string_view name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &studies_[it->second];
}

TrialRecord* MemoryStudyStore::FindTrial(absl::string_view study, int64_t number) {
  Entry* entry = FindStudy(study);
  if (entry == nullptr) return nullptr;
  auto it = entry->trials.find(number);
  return it == entry->trials.end() ? nullptr : &it->second;
}

absl::Status MemoryStudyStore::CreateStudy(const StudyRecord& study) {
  RETURN_IF_ERROR(ValidateStudy(study));
  absl::MutexLock lock(&mu_);
  if (!index_.try_emplace(study.name, studies_.size()).second) {
    return absl::AlreadyExistsError(absl::StrCat("study '", study.name, "' already exists"));
  }
  Entry& entry = studies_.emplace_back();
  entry.study = study;
  entry.study.create_time = TruncateToMicros(study.create_time);
  return absl::OkStatus();
}

absl::Status MemoryStudyStore::UpdateStudyState(absl::string_view name, StudyState state,
                                                absl::string_view reason) {
  RETURN_IF_ERROR(ValidateStudyState(state));
  absl::MutexLock lock(&mu_);
  Entry* entry = FindStudy(name);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  entry->study.state = state;
  entry->study.state_reason = std::string(reason);
  return absl::OkStatus();
}

absl::Status MemoryStudyStore::PutTrial(const TrialRecord& trial) {
  RETURN_IF_ERROR(ValidateTrial(trial));
  absl::MutexLock lock(&mu_);
  Entry* entry = FindStudy(trial.study);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("study '", trial.study, "' not found"));
  }
  TrialRecord copy = StoredCopy(trial);
  auto [it, inserted] = entry->trials.try_emplace(trial.number);
  if (!inserted) copy.intermediate = std::move(it->second.intermediate);
  it->second = std::move(copy);
  return absl::OkStatus();
}

absl::Status MemoryStudyStore::AddMeasurement(absl::string_view study, int64_t trial_number,
                                              const Measurement& measurement) {
  RETURN_IF_ERROR(ValidateMeasurement(measurement));
  absl::MutexLock lock(&mu_);
  TrialRecord* trial = FindTrial(study, trial_number);
  if (trial == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("trial ", trial_number, " of study '", study, "' not found"));
  }
  InsertByStep(measurement, trial->intermediate);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredStudy>> MemoryStudyStore::LoadAll() {
  absl::MutexLock lock(&mu_);
  std::vector<StoredStudy> result;
  result.reserve(studies_.size());
  for (const Entry& entry : studies_) {
    StoredStudy& stored = result.emplace_back();
    stored.study = entry.study;
    stored.trials.reserve(entry.trials.size());
    for (const auto& [number, trial] : entry.trials) stored.trials.push_back(trial);
  }
  return result;
}

}  // namespace vernier
