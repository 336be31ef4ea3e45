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

absl::Status MemoryStudyStore::CheckApplicable(const StudyWrite& write) {
  Entry* entry = FindStudy(write.study);
  if (write.create && entry != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("study '", write.study, "' already exists"));
  }
  if (!write.create && entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("study '", write.study, "' not found"));
  }
  for (const auto& [number, measurement] : write.measurements) {
    const bool stored = entry != nullptr && entry->trials.count(number) > 0;
    const bool written =
        std::any_of(write.trials.begin(), write.trials.end(),
                    [number = number](const TrialRecord& trial) { return trial.number == number; });
    if (!stored && !written) {
      return absl::NotFoundError(
          absl::StrCat("trial ", number, " of study '", write.study, "' not found"));
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryStudyStore::Apply(const StudyWrite& write) {
  RETURN_IF_ERROR(ValidateWrite(write));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckApplicable(write));
  // Nothing below can fail: the write is all or nothing.
  if (write.create) {
    index_.emplace(write.study, studies_.size());
    Entry& created = studies_.emplace_back();
    created.study = *write.create;
    created.study.create_time = TruncateToMicros(write.create->create_time);
  }
  Entry& entry = *FindStudy(write.study);
  if (write.state) {
    entry.study.state = write.state->first;
    entry.study.state_reason = write.state->second;
  }
  if (write.spec) entry.study.spec = *write.spec;
  for (const TrialRecord& trial : write.trials) {
    TrialRecord copy = StoredCopy(trial);
    auto [it, inserted] = entry.trials.try_emplace(trial.number);
    if (!inserted) copy.intermediate = std::move(it->second.intermediate);
    it->second = std::move(copy);
  }
  for (const auto& [number, measurement] : write.measurements) {
    InsertByStep(measurement, entry.trials.at(number).intermediate);
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryStudyStore::DeleteStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  auto found = index_.find(name);
  if (found == index_.end()) {
    return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  }
  const size_t position = found->second;
  const auto trials = static_cast<int64_t>(studies_[position].trials.size());
  studies_.erase(studies_.begin() + static_cast<std::ptrdiff_t>(position));
  index_.erase(found);
  for (auto& [unused_name, index] : index_) {
    if (index > position) --index;
  }
  return trials;
}

StoredStudy MemoryStudyStore::Stored(const Entry& entry) {
  StoredStudy stored;
  stored.study = entry.study;
  stored.resting_summary = entry.resting_summary;
  stored.trials.reserve(entry.trials.size());
  for (const auto& [number, trial] : entry.trials) stored.trials.push_back(trial);
  return stored;
}

absl::StatusOr<std::vector<StoredStudy>> MemoryStudyStore::LoadAll() {
  absl::MutexLock lock(&mu_);
  std::vector<StoredStudy> result;
  result.reserve(studies_.size());
  for (const Entry& entry : studies_) result.push_back(Stored(entry));
  return result;
}

absl::StatusOr<std::vector<StoredStudy>> MemoryStudyStore::LoadAll(
    const ValuesFilter& wants_values) {
  ASSIGN_OR_RETURN(std::vector<StoredStudy> studies, LoadAll());
  for (StoredStudy& study : studies) {
    if (!study.resting_summary.empty()) {
      study.trials.clear();
      continue;
    }
    std::vector<std::vector<Measurement>> values;
    for (TrialRecord& trial : study.trials) values.push_back(std::move(trial.intermediate));
    const bool wanted = wants_values(study);  // Sees the trials without their values.
    for (size_t i = 0; i < values.size(); ++i) study.trials[i].intermediate = std::move(values[i]);
    if (!wanted) KeepLastValues(study);
  }
  return studies;
}

absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> MemoryStudyStore::LoadValues(
    absl::string_view study, int64_t first, int64_t last) {
  absl::MutexLock lock(&mu_);
  std::map<int64_t, std::vector<Measurement>> values;
  const Entry* entry = FindStudy(study);
  if (entry == nullptr) return values;
  for (auto it = entry->trials.lower_bound(first); it != entry->trials.end() && it->first <= last;
       ++it) {
    if (!it->second.intermediate.empty()) values[it->first] = it->second.intermediate;
  }
  return values;
}

absl::StatusOr<StoredStudy> MemoryStudyStore::LoadStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  const Entry* entry = FindStudy(name);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  return Stored(*entry);
}

void MemoryStudyStore::KeepLastValues(StoredStudy& study) {
  for (TrialRecord& trial : study.trials) {
    if (trial.intermediate.size() > 1) {
      trial.intermediate.erase(trial.intermediate.begin(), trial.intermediate.end() - 1);
    }
  }
}

absl::StatusOr<StoredStudy> MemoryStudyStore::LoadStudyLastValues(absl::string_view name) {
  ASSIGN_OR_RETURN(StoredStudy study, LoadStudy(name));
  KeepLastValues(study);
  return study;
}

absl::Status MemoryStudyStore::SetRestingSummary(absl::string_view name,
                                                 const std::optional<std::string>& summary) {
  absl::MutexLock lock(&mu_);
  Entry* entry = FindStudy(name);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("study '", name, "' not found"));
  entry->resting_summary = summary.value_or("");
  return absl::OkStatus();
}

}  // namespace vernier
