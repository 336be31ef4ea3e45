#include "server/coordinator/artifact_retention.h"

#include "server/coordinator/best_trials.h"

namespace vernier {

int64_t ArtifactUploadLimit(const ArtifactSpec& policy, const TrialRecord& trial) {
  if (policy.keep == ArtifactKeep::kNone && !IsRefit(trial)) return 0;
  return policy.max_bytes;
}

std::vector<int64_t> ArtifactTrialsToDelete(const ArtifactSpec& policy,
                                            absl::Span<const TrialRecord> trials,
                                            absl::Span<const ObjectiveSpec> objectives,
                                            const std::set<int64_t>& stored) {
  std::vector<int64_t> doomed;
  if (policy.keep == ArtifactKeep::kAll || stored.empty()) return doomed;
  std::set<int64_t> best;
  if (policy.keep == ArtifactKeep::kBest) {
    const int count = static_cast<int>(std::min<int64_t>(policy.count, 1 << 30));
    for (const TrialRecord* trial : RankBestTrials(trials, objectives, count)) {
      best.insert(trial->number);
    }
  }
  for (int64_t number : stored) {
    if (number < 0 || number >= static_cast<int64_t>(trials.size())) {
      doomed.push_back(number);
      continue;
    }
    const TrialRecord& trial = trials[static_cast<size_t>(number)];
    const bool keep = !IsFinished(trial.state) || IsRefit(trial) || best.count(number) > 0;
    if (!keep) doomed.push_back(number);
  }
  return doomed;
}

}  // namespace vernier
