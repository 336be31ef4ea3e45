#include "server/coordinator/coordinator.h"

#include <algorithm>
#include <random>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/logic/given_params.h"
#include "server/logic/warm_start.h"

namespace vernier {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(StudyStore* store, Clock* clock,
                                                                 CoordinatorOptions options,
                                                                 CheckpointStore* checkpoints) {
  std::unique_ptr<Coordinator> coordinator(new Coordinator(store, clock, options, checkpoints));
  RETURN_IF_ERROR(coordinator->Load());
  return coordinator;
}

absl::Status Coordinator::Load() {
  // The curves of studies that are over stay in the store (Study::Rest).
  const bool keep = options_.keep_curves_in_memory;
  std::set<std::string> resting;
  ASSIGN_OR_RETURN(std::vector<StoredStudy> stored,
                   store_->LoadAll([keep, &resting](const StoredStudy& study) {
                     if (keep || !Study::IsOver(study)) return true;
                     resting.insert(study.study.name);
                     return false;
                   }));
  std::map<std::string, CheckpointIndex> held;
  if (checkpoints_ != nullptr) {
    ASSIGN_OR_RETURN(held, checkpoints_->List());
  }
  absl::MutexLock lock(&registry_mu_);
  for (StoredStudy& study : stored) {
    const std::string name = study.study.name;
    const StudyState state = study.study.state;
    absl::StatusOr<std::shared_ptr<Study>> made = Study::Make(std::move(study.study), Context());
    if (!made.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored study \"", name, "\" cannot be set up: ", made.status().message()));
    }
    if (study.resting_summary.empty()) {
      RETURN_IF_ERROR(
          (*made)->Load(std::move(study.trials), held[name], /*at_rest=*/resting.count(name) > 0));
    } else {
      RETURN_IF_ERROR(LoadResting(**made, state, study.resting_summary, held[name]));
    }
    creation_order_.push_back(*made);
    studies_[name] = *std::move(made);
  }
  return absl::OkStatus();
}

absl::Status Coordinator::LoadResting(Study& study, StudyState state, const std::string& summary,
                                      const CheckpointIndex& checkpoints) {
  absl::StatusOr<StudySummary> parsed = ParseRestingSummary(summary, state, clock_->Now());
  if (parsed.ok() && !options_.keep_curves_in_memory) {
    study.LoadUnloaded(*std::move(parsed));
    return absl::OkStatus();
  }
  // Its trials are wanted (or the summary cannot be read): load them, and
  // clear the summary first so that it cannot outlive a change.
  RETURN_IF_ERROR(store_->SetRestingSummary(study.name(), std::nullopt));
  const bool keep = options_.keep_curves_in_memory;
  ASSIGN_OR_RETURN(StoredStudy stored, keep ? store_->LoadStudy(study.name())
                                            : store_->LoadStudyLastValues(study.name()));
  return study.Load(std::move(stored.trials), checkpoints, /*at_rest=*/!keep);
}

absl::StatusOr<std::shared_ptr<Study>> Coordinator::Find(const std::string& name) const {
  absl::ReaderMutexLock lock(&registry_mu_);
  auto it = studies_.find(name);
  if (it == studies_.end()) {
    return absl::NotFoundError(absl::StrCat("study \"", name, "\" not found"));
  }
  return it->second;
}

std::vector<std::shared_ptr<Study>> Coordinator::All() const {
  absl::ReaderMutexLock lock(&registry_mu_);
  return creation_order_;
}

void Coordinator::NoteWorkerCall(const std::string& worker_id) {
  if (worker_id != kAskedWorkerId) roster_.Seen(worker_id);
}

absl::Status Coordinator::CheckWorkerId(const std::string& worker_id) {
  if (worker_id != kAskedWorkerId) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("worker_id: \"", worker_id, "\" is reserved for asked trials"));
}

// ---- For people and tools ----

absl::StatusOr<std::pair<std::vector<TrialRecord>, std::string>> Coordinator::WarmStartCopiesOf(
    const StudySpec& spec) {
  if (!spec.warm_start) return std::make_pair(std::vector<TrialRecord>(), std::string());
  auto source = studies_.find(spec.warm_start->study);
  if (source == studies_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "warm_start.study: study \"", spec.warm_start->study, "\" not found on this server"));
  }
  ASSIGN_OR_RETURN(TrialsView old_trials, source->second->Trials());
  WarmStartCopies copies = SelectWarmStartTrials(spec, old_trials.trials);
  std::string note = WarmStartNote(spec, copies);
  return std::make_pair(std::move(copies.trials), std::move(note));
}

absl::StatusOr<StudyView> Coordinator::CreateStudy(StudySpec spec, std::string source_text) {
  RETURN_IF_ERROR(NormalizeStudySpec(spec));
  StudyRecord record;
  record.name = spec.name;
  record.spec = std::move(spec);
  record.source_text = std::move(source_text);
  record.state = StudyState::kActive;
  record.create_time = clock_->Now();
  // Held across the store write, so two creations of one name cannot race.
  absl::MutexLock lock(&registry_mu_);
  if (studies_.count(record.name) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("study \"", record.name, "\" already exists"));
  }
  ASSIGN_OR_RETURN(auto copies, WarmStartCopiesOf(record.spec));
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Study::Make(record, Context()));
  const absl::Status created = study->Create(std::move(copies.first));
  if (!created.ok()) {
    // A write that failed may have reached the store all the same (a commit
    // whose sync failed); the study then exists, reloaded by Create, and is
    // registered so that memory matches the store.
    if (store_->LoadStudy(record.name).ok()) {
      creation_order_.push_back(study);
      studies_[record.name] = std::move(study);
    }
    return created;
  }
  StudyView view = study->View();
  view.note = std::move(copies.second);
  creation_order_.push_back(study);
  studies_[record.name] = std::move(study);
  return view;
}

absl::StatusOr<StudyView> Coordinator::GetStudy(const std::string& name) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(name));
  return study->View();
}

std::vector<StudyView> Coordinator::ListStudies() {
  std::vector<StudyView> views;
  for (const std::shared_ptr<Study>& study : All()) views.push_back(study->View());
  return views;
}

absl::StatusOr<StudyView> Coordinator::StopStudy(const std::string& name) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(name));
  return study->Stop();
}

absl::StatusOr<StudyView> Coordinator::UpdateStudy(const std::string& name,
                                                   const BudgetUpdate& update) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(name));
  return study->Update(update);
}

absl::StatusOr<DeletedStudy> Coordinator::DeleteStudy(const std::string& name, bool force) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(name));
  ASSIGN_OR_RETURN(DeletedStudy deleted, study->Delete(force));
  // The files go while the name is still registered, so that a new study of
  // the same name cannot have files yet. A file that cannot be removed is
  // left behind (no call can reach it any more) rather than failing a
  // delete the database has already made.
  if (checkpoints_ != nullptr) checkpoints_->DeleteStudy(name).IgnoreError();
  if (options_.artifacts != nullptr) options_.artifacts->DeleteStudy(name).IgnoreError();
  if (options_.logs != nullptr) options_.logs->DeleteStudy(name).IgnoreError();
  absl::MutexLock lock(&registry_mu_);
  studies_.erase(name);
  creation_order_.erase(std::find(creation_order_.begin(), creation_order_.end(), study));
  return deleted;
}

absl::StatusOr<TrialView> Coordinator::ExcludeTrial(const std::string& study, int64_t number,
                                                    const std::string& reason, bool include) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Exclude(number, reason, include);
}

absl::StatusOr<TrialsView> Coordinator::ListTrials(const std::string& study) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Trials();
}

absl::StatusOr<TrialPage> Coordinator::ListTrials(const std::string& study,
                                                  const TrialQuery& query) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->ListTrials(query);
}

absl::StatusOr<TrialView> Coordinator::GetTrial(const std::string& study, int64_t number) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->GetTrial(number);
}

absl::StatusOr<TrialsView> Coordinator::BestTrials(const std::string& study, int count) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Best(count);
}

absl::StatusOr<StudySummary> Coordinator::Summary(const std::string& study) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  StudySummary summary = found->Summary();
  summary.wait_reason = found->WaitReasonNow(roster_.Slots());
  return summary;
}

absl::StatusOr<int64_t> Coordinator::Backup(const std::string& path)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {  // Locks every study, in creation order.
  const std::vector<std::shared_ptr<Study>> all = All();
  for (const std::shared_ptr<Study>& study : all) study->mutex()->Lock();
  absl::StatusOr<int64_t> bytes = store_->Backup(path);
  for (const std::shared_ptr<Study>& study : all) study->mutex()->Unlock();
  return bytes;
}

// ---- Ask/tell ----

void Coordinator::WaitDurable() { store_->WaitDurable(); }

absl::StatusOr<TrialView> Coordinator::Ask(const std::string& study) {
  RETURN_IF_ERROR(ExpireLeases());
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Ask();
}

absl::StatusOr<TrialView> Coordinator::Tell(const std::string& study, int64_t trial_number,
                                            TrialState state, std::optional<double> value,
                                            const MetricMap& metrics,
                                            const std::string& failure_reason) {
  RETURN_IF_ERROR(ExpireLeases());
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Tell(trial_number, state, value, metrics, failure_reason);
}

absl::StatusOr<AskedReport> Coordinator::Report(const std::string& study, int64_t trial_number,
                                                std::optional<double> value,
                                                Measurement measurement) {
  RETURN_IF_ERROR(ExpireLeases());
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Report(trial_number, value, std::move(measurement));
}

// ---- Enqueued trials ----

absl::StatusOr<TrialView> Coordinator::Refit(const std::string& study,
                                             std::optional<int64_t> source) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Refit(source);
}

absl::StatusOr<TrialView> Coordinator::EnqueueTrial(const std::string& study,
                                                    const ParamMap& given) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->Enqueue(given);
}

absl::StatusOr<EnqueuedFromStudy> Coordinator::EnqueueFromStudy(const std::string& study,
                                                                const std::string& from_study,
                                                                int top) {
  if (top < 1) return absl::InvalidArgumentError(absl::StrCat("top: must be >= 1, got ", top));
  ASSIGN_OR_RETURN(std::shared_ptr<Study> target, Find(study));
  ASSIGN_OR_RETURN(std::shared_ptr<Study> source, Find(from_study));
  EnqueuedFromStudy result;
  result.enqueued.objectives = target->spec().objectives;
  ASSIGN_OR_RETURN(TrialsView best_trials, source->Best(top));
  for (const TrialRecord& best : best_trials.trials) {
    absl::StatusOr<TrialView> added =
        target->Enqueue(ParamsInSpace(target->spec().space, best.params));
    if (absl::IsInvalidArgument(added.status())) {
      result.skipped.push_back(absl::StrCat("trial ", best.number, ": ", added.status().message()));
      continue;
    }
    if (!added.ok()) {
      return absl::Status(
          added.status().code(),
          absl::StrCat(added.status().message(), " (", result.enqueued.trials.size(),
                       " trials of \"", from_study, "\" enqueued before)"));
    }
    result.enqueued.trials.push_back(std::move(added->trial));
  }
  return result;
}

// ---- For workers ----

WorkerRegistration Coordinator::RegisterWorker(const std::string& name) {
  // Leases are checked against the stored trial, not against a registry, so
  // a restarted server accepts calls from workers registered with its
  // predecessor: ids must differ across server runs too, hence the run's
  // random incarnation in each.
  std::string id = absl::StrCat(name.empty() ? "worker" : name, "-", incarnation_.substr(0, 8), "-",
                                next_worker_.fetch_add(1));
  NoteWorkerCall(id);
  return WorkerRegistration{std::move(id), options_.lease, options_.heartbeat};
}

absl::StatusOr<std::optional<Assignment>> Coordinator::AcquireTrial(const std::string& worker_id,
                                                                    const SlotOffer& slot) {
  RETURN_IF_ERROR(CheckWorkerId(worker_id));
  NoteWorkerCall(worker_id);
  roster_.SlotAsked(worker_id, slot.index, slot.description);
  RETURN_IF_ERROR(ExpireLeases());
  if (leasing_stopped_.load()) return std::nullopt;
  for (const std::shared_ptr<Study>& study : InFairShareOrder(slot.description)) {
    ASSIGN_OR_RETURN(std::optional<Assignment> assignment, study->Lease(worker_id));
    if (!assignment) continue;
    study->MarkServed(next_serve_.fetch_add(1) + 1);
    roster_.SlotLeased(worker_id, slot.index);
    return assignment;
  }
  return std::nullopt;
}

std::vector<std::shared_ptr<Study>> Coordinator::InFairShareOrder(
    const SlotDescription& slot) const {
  std::vector<std::shared_ptr<Study>> studies;
  std::vector<ShareCandidate> candidates;
  for (std::shared_ptr<Study>& study : All()) {
    if (SlotMismatch(study->spec(), slot)) continue;
    std::optional<ShareCandidate> candidate = study->ShareNow();
    if (!candidate) continue;
    candidates.push_back(*candidate);
    studies.push_back(std::move(study));
  }
  std::vector<std::shared_ptr<Study>> ordered;
  ordered.reserve(studies.size());
  for (size_t i : FairShareOrder(candidates)) ordered.push_back(std::move(studies[i]));
  return ordered;
}

absl::StatusOr<TrialAction> Coordinator::ReportProgress(const std::string& worker_id,
                                                        const LeaseKey& lease,
                                                        const Measurement& measurement,
                                                        ExploitAnswer* exploit) {
  NoteWorkerCall(worker_id);
  RETURN_IF_ERROR(ExpireLeases());
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  return study->ReportProgress(worker_id, lease, measurement, exploit);
}

absl::Status Coordinator::CompleteTrial(const std::string& worker_id, const LeaseKey& lease,
                                        TrialState state, const MetricMap& final_metrics,
                                        const std::string& failure_reason) {
  if (state != TrialState::kComplete && state != TrialState::kPruned &&
      state != TrialState::kFailed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial ends COMPLETE, PRUNED or FAILED, not ", TrialStateName(state)));
  }
  NoteWorkerCall(worker_id);
  RETURN_IF_ERROR(ExpireLeases());
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  // Once the trial's end is stored, its files or another's may fall out of
  // what the study keeps. A failure leaves files that the next pass deletes.
  absl::Cleanup retention = [study] { study->EnforceArtifactRetention().IgnoreError(); };
  if (state == TrialState::kFailed && options_.logs != nullptr) {
    // The reason is a tail of the trial's output; the whole is on the server.
    return study->CompleteTrial(
        worker_id, lease, state, final_metrics,
        WithLogPointer(failure_reason.empty() ? "failed (no reason given)" : failure_reason,
                       lease.study, lease.trial_number, lease.attempt, kMaxFailureReasonBytes));
  }
  return study->CompleteTrial(worker_id, lease, state, final_metrics, failure_reason);
}

std::vector<LeaseKey> Coordinator::Heartbeat(const std::string& worker_id,
                                             const std::vector<LeaseKey>& leases) {
  // Renew first: a worker that heartbeats on time must not lose a lease to the
  // expiry pass below.
  NoteWorkerCall(worker_id);
  std::vector<LeaseKey> lost;
  for (const LeaseKey& lease : leases) {
    if (worker_id == kAskedWorkerId || !leases_.Renew(lease, worker_id)) lost.push_back(lease);
  }
  ExpireLeases().IgnoreError();  // Best effort; the next call retries.
  return lost;
}

absl::Status Coordinator::ReleaseTrial(const std::string& worker_id, const LeaseKey& lease) {
  NoteWorkerCall(worker_id);
  RETURN_IF_ERROR(ExpireLeases());
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  return study->ReleaseTrial(worker_id, lease);
}

// ---- Checkpoints ----

absl::StatusOr<std::unique_ptr<Study::CheckpointUpload>> Coordinator::StartCheckpointUpload(
    const std::string& worker_id, const LeaseKey& lease, int64_t step) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  return study->StartCheckpointUpload(worker_id, lease, step);
}

absl::Status Coordinator::DownloadCheckpoint(
    const std::string& worker_id, const LeaseKey& lease, int64_t donor, int64_t step,
    const std::function<bool(absl::string_view file, absl::string_view data)>& sink) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  return study->DownloadCheckpoint(worker_id, lease, donor, step, sink);
}

// ---- Artifacts ----

absl::StatusOr<std::unique_ptr<Study::ArtifactUpload>> Coordinator::StartArtifactUpload(
    const std::string& worker_id, const LeaseKey& lease) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  return study->StartArtifactUpload(worker_id, lease);
}

absl::StatusOr<std::vector<StoredArtifact>> Coordinator::ListArtifacts(
    const std::string& study, std::optional<int64_t> trial) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->ListArtifacts(trial);
}

absl::Status Coordinator::ReadArtifact(const std::string& study, int64_t trial,
                                       const std::string& path, const ArtifactSink& sink) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->ReadArtifact(trial, path, sink);
}

// ---- Leases ----

// ---- Trial logs ----

namespace {

absl::Status NoLogs() {
  return absl::FailedPreconditionError("this server keeps no logs (in-memory database)");
}

}  // namespace

absl::StatusOr<int64_t> Coordinator::AppendTrialLog(const std::string& worker_id,
                                                    const LeaseKey& lease, int64_t offset,
                                                    absl::string_view data) {
  if (options_.logs == nullptr) return NoLogs();
  ASSIGN_OR_RETURN(std::shared_ptr<Study> study, Find(lease.study));
  RETURN_IF_ERROR(study->CheckLease(worker_id, lease));
  // Written outside the study's lock: a lease lost meanwhile only means the
  // last bytes of that attempt arrived as it ended.
  return options_.logs->Append(LogKey{lease.study, lease.trial_number, lease.attempt}, offset,
                               data);
}

absl::Status Coordinator::StreamTrialLog(const std::string& study, int64_t trial, int32_t attempt,
                                         int64_t offset, bool follow, const TrialLogReader& reader,
                                         int32_t* resolved_attempt) {
  if (options_.logs == nullptr) return NoLogs();
  if (attempt < 0) return absl::InvalidArgumentError(absl::StrCat("attempt: ", attempt, " < 0"));
  if (offset < 0) return absl::InvalidArgumentError(absl::StrCat("offset: ", offset, " < 0"));
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  ASSIGN_OR_RETURN(TrialView view, found->GetTrial(trial));
  if (view.trial.attempt == 0) {
    return absl::NotFoundError(
        absl::StrCat("trial ", trial, " of study \"", study, "\" has not run yet: it has no log"));
  }
  if (attempt > view.trial.attempt) {
    return absl::NotFoundError(absl::StrCat("trial ", trial, " of study \"", study,
                                            "\" has no attempt ", attempt, " (it has run ",
                                            view.trial.attempt, ")"));
  }
  const int32_t chosen = attempt == 0 ? view.trial.attempt : attempt;
  *resolved_attempt = chosen;
  auto attempt_ended = [found, trial, chosen] {
    absl::StatusOr<TrialView> now = found->GetTrial(trial);
    return !now.ok() || now->trial.state != TrialState::kRunning || now->trial.attempt != chosen;
  };
  return vernier::StreamTrialLog(*options_.logs, LogKey{study, trial, chosen}, offset, follow,
                                 attempt_ended, reader);
}

// ---- Study events ----

namespace {

absl::Status WatchesEnded() {
  return absl::UnavailableError("the server is stopping; watch again to resume");
}

}  // namespace

std::string Coordinator::NewIncarnation() {
  std::random_device entropy;
  const uint64_t bits = (uint64_t{entropy()} << 32) ^ entropy();
  return absl::StrFormat("%016x", bits);
}

absl::Status Coordinator::WatchStudy(const std::string& study, const WatchStart& start,
                                     const StudyEventReader& reader) {
  if (watches_ended_.load()) return WatchesEnded();
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  // Asked again after Find: EndWatches() sets the flag before it lists the
  // studies whose watches it ends, so a study it missed is seen here.
  if (watches_ended_.load()) return WatchesEnded();
  StudyEventReader durable = reader;
  durable.before_send = [this, &reader] {
    store_->WaitDurable();
    if (reader.before_send) reader.before_send();
  };
  const absl::Status watched = found->events().Watch(start, incarnation_, *clock_, durable);
  // Delete() closes the feed of the study it deletes.
  if (absl::IsUnavailable(watched) && !watches_ended_.load() && found->deleted()) {
    return absl::NotFoundError(absl::StrCat("study \"", study, "\" was deleted"));
  }
  return watched;
}

absl::StatusOr<int> Coordinator::Watchers(const std::string& study) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->events().watchers();
}

void Coordinator::EndWatches() {
  watches_ended_.store(true);
  for (const std::shared_ptr<Study>& study : All()) study->events().Close();
}

void Coordinator::StopLeasing() { leasing_stopped_.store(true); }

void Coordinator::RestStudiesThatAreOver() {
  if (options_.keep_curves_in_memory) return;
  for (const std::shared_ptr<Study>& study : All()) {
    study->Rest();
    // A store that cannot take the summary now leaves the study loaded; the
    // next call tries again.
    study->Unload(options_.unload_resting_after).IgnoreError();
  }
}

absl::StatusOr<bool> Coordinator::AtRest(const std::string& study) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->at_rest();
}

absl::StatusOr<bool> Coordinator::Unloaded(const std::string& study) {
  ASSIGN_OR_RETURN(std::shared_ptr<Study> found, Find(study));
  return found->unloaded();
}

absl::Status Coordinator::ExpireLeases() {
  const std::vector<LeaseKey> expired = leases_.Expired();  // Sorted by study.
  absl::Status status;
  for (size_t begin = 0; begin < expired.size();) {
    size_t end = begin;
    while (end < expired.size() && expired[end].study == expired[begin].study) ++end;
    const std::vector<LeaseKey> of_study(expired.begin() + begin, expired.begin() + end);
    absl::StatusOr<std::shared_ptr<Study>> study = Find(of_study.front().study);
    if (study.ok()) status.Update((*study)->ExpireLeases(of_study));
    begin = end;
  }
  return status;
}

}  // namespace vernier
