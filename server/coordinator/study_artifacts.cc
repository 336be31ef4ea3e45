// The artifact methods of Study (study.h): uploads checked against the
// trial's lease, listings and reads for people, and retention.
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/coordinator/artifact_retention.h"
#include "server/coordinator/study.h"

namespace vernier {

absl::StatusOr<ArtifactStore*> Study::Artifacts() const {
  if (artifacts_ != nullptr) return artifacts_;
  return absl::FailedPreconditionError(
      "this server keeps no artifacts (its database is in memory; start it with --db FILE)");
}

absl::StatusOr<std::unique_ptr<Study::ArtifactUpload>> Study::StartArtifactUpload(
    const std::string& worker_id, const LeaseKey& lease) {
  ASSIGN_OR_RETURN(ArtifactStore * store, Artifacts());
  int64_t limit = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    ASSIGN_OR_RETURN(const TrialRecord* trial, LeasedTrial(worker_id, lease));
    limit = ArtifactUploadLimit(spec_.artifacts, *trial);
  }
  if (limit == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", spec_.name, "\" keeps no artifacts of trial ", lease.trial_number,
                     " (artifacts.keep is none)"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ArtifactStore::Writer> writer,
                   store->StartWrite(spec_.name, lease.trial_number, limit));
  return std::unique_ptr<ArtifactUpload>(
      new ArtifactUpload(shared_from_this(), worker_id, lease, std::move(writer)));
}

absl::Status Study::CommitArtifacts(const ArtifactUpload& upload) {
  // Under the lock: the trial cannot end between the check and the commit,
  // so retention never misses files that arrive for a trial it judges.
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LeasedTrial(upload.worker_id_, upload.lease_).status());
  return upload.writer_->Commit();
}

absl::StatusOr<std::vector<StoredArtifact>> Study::ListArtifacts(
    std::optional<int64_t> trial) const {
  ASSIGN_OR_RETURN(ArtifactStore * store, Artifacts());
  std::set<int64_t> trials;
  if (trial.has_value()) {
    absl::ReaderMutexLock lock(&mu_);
    RETURN_IF_ERROR(trials_.Find(*trial).status());
    trials.insert(*trial);
  } else {
    ASSIGN_OR_RETURN(trials, store->Trials(spec_.name));
  }
  std::vector<StoredArtifact> files;
  for (int64_t number : trials) {
    ASSIGN_OR_RETURN(std::vector<StoredArtifact> listed, store->List(spec_.name, number));
    for (StoredArtifact& file : listed) files.push_back(std::move(file));
  }
  return files;
}

absl::Status Study::ReadArtifact(int64_t trial, const std::string& path,
                                 const ArtifactSink& sink) const {
  ASSIGN_OR_RETURN(ArtifactStore * store, Artifacts());
  {
    absl::ReaderMutexLock lock(&mu_);
    RETURN_IF_ERROR(trials_.Find(trial).status());
  }
  // Without the lock: a file being read while retention deletes it reads on
  // (the store renames it away first) or is NOT_FOUND.
  return store->Read(spec_.name, trial, path, sink);
}

absl::Status Study::EnforceArtifactRetention() {
  if (artifacts_ == nullptr || spec_.artifacts.keep == ArtifactKeep::kAll) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::set<int64_t> stored, artifacts_->Trials(spec_.name));
  std::vector<int64_t> doomed;
  {
    absl::ReaderMutexLock lock(&mu_);
    doomed = ArtifactTrialsToDelete(spec_.artifacts, trials_.trials(), spec_.objectives, stored);
  }
  // A finished trial never uploads again, so deleting after the lock is
  // released cannot remove files that arrived meanwhile.
  absl::Status status;
  for (int64_t trial : doomed) status.Update(artifacts_->DeleteTrial(spec_.name, trial));
  return status;
}

}  // namespace vernier
