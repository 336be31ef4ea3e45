// A study as the coordinator keeps and stores it: its definition (normalised,
// see NormalizeStudySpec) and its state.
#ifndef VERNIER_SERVER_LOGIC_STUDY_RECORD_H_
#define VERNIER_SERVER_LOGIC_STUDY_RECORD_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

struct StudyRecord {
  std::string name;  // == spec.name.
  StudySpec spec;
  // The study file as submitted, kept for people (export, show); empty when
  // the study was created from a typed spec alone. Never parsed again.
  std::string source_text;
  StudyState state = StudyState::kActive;
  std::string state_reason;  // Why it stopped; empty while ACTIVE.
  absl::Time create_time = absl::UnixEpoch();
};

// A study and all of its trials, as loaded from storage.
struct StoredStudy {
  StudyRecord study;
  std::vector<TrialRecord> trials;  // Ascending by number.
  // What the server wrote when it unloaded the study's trials (a study that
  // is over, see Study::Unload); empty when it holds them. Opaque here.
  std::string resting_summary;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_STUDY_RECORD_H_
