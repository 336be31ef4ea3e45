#include "server/storage/study_store.h"

#include <string>
#include <utility>

namespace vernier {

absl::Status StudyStore::CreateStudy(const StudyRecord& study) {
  StudyWrite write;
  write.study = study.name;
  write.create = study;
  return Apply(write);
}

absl::Status StudyStore::UpdateStudyState(absl::string_view name, StudyState state,
                                          absl::string_view reason) {
  StudyWrite write;
  write.study = std::string(name);
  write.state.emplace(state, std::string(reason));
  return Apply(write);
}

absl::Status StudyStore::PutTrial(const TrialRecord& trial) {
  StudyWrite write;
  write.study = trial.study;
  write.trials.push_back(trial);
  return Apply(write);
}

absl::Status StudyStore::AddMeasurement(absl::string_view study, int64_t trial_number,
                                        const Measurement& measurement) {
  StudyWrite write;
  write.study = std::string(study);
  write.measurements.emplace_back(trial_number, measurement);
  return Apply(write);
}

}  // namespace vernier
