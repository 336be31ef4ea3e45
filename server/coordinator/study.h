// Study: one study on the server, behind its own lock: its definition, its
// search algorithm and early-stopping rule, its trials (StudyTrials), its
// checkpoints (PbtCheckpoints) and the feed of its events (StudyEventLog).
// Every operation the coordinator offers on one study is a method here; the
// Coordinator only finds the study and routes.
//
// Locking, and why:
//   - mu_ guards the trials and checkpoints. It is held for in-memory work and
//     the store write of one change, never across a slow suggestion or a file
//     transfer, so one study's reports never wait for another's and a study's
//     own reports wait only milliseconds.
//   - create_mu_ serialises the creation of trials (a new sampled trial,
//     Ask, an enqueued trial): the creator reserves the next trial number
//     under it, computes the sampler's suggestion on a snapshot without mu_
//     (Sampler::PrepareSuggestion), then commits under mu_. Taken before mu_.
//   - Heartbeats never take either: the LeaseTable answers them.
//   - The event log has its own lock, taken after mu_: each commit publishes
//     its events with mu_ held (so they are in commit order), and watchers
//     read them without ever taking mu_.
//
// Thread-safety: thread-safe.
#ifndef VERNIER_SERVER_COORDINATOR_STUDY_H_
#define VERNIER_SERVER_COORDINATOR_STUDY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "server/coordinator/coordinator_observer.h"
#include "server/coordinator/lease_table.h"
#include "server/coordinator/pbt_checkpoints.h"
#include "server/coordinator/study_events.h"
#include "server/coordinator/study_summary.h"
#include "server/coordinator/study_trials.h"
#include "server/coordinator/trial_page.h"
#include "server/logic/placement.h"
#include "server/logic/pruner.h"
#include "server/logic/sampler.h"
#include "server/logic/study_record.h"
#include "server/storage/artifact_store.h"
#include "server/storage/checkpoint_store.h"
#include "server/storage/study_store.h"

namespace vernier {

// ---- What the coordinator answers ----

// A study with its trial counts.
struct StudyView {
  StudyRecord record;
  std::map<TrialState, int64_t> trial_counts;
  // Only in CreateStudy's answer: what warm_start copied and skipped.
  std::string note;
};

// Trials with the objectives of their study, so that a caller can rank them
// without asking for the study again.
struct TrialsView {
  std::vector<TrialRecord> trials;
  std::vector<ObjectiveSpec> objectives;  // objectives[0] is the study's objective.
};

struct TrialView {
  TrialRecord trial;
  std::vector<ObjectiveSpec> objectives;
};

// A trial handed to a worker, with everything needed to run it.
struct Assignment {
  LeaseKey lease;
  TrialRecord trial;  // Its params are the trial's parameters.
  std::vector<ObjectiveSpec> objectives;
  // The study's fixed trainer settings for this trial (with the built-in
  // trainer's seed and checkpoint rules applied): the params file is these
  // settings overlaid with trial.params (OverlayTrialParams).
  nlohmann::json settings = nlohmann::json::object();
  std::vector<std::string> command;  // Empty: the built-in trainer.
  absl::Duration time_limit = absl::ZeroDuration();
  absl::Duration stop_grace = absl::Seconds(10);
  // The worker uploads the checkpoints the trial announces (pbt, or
  // checkpoint.every > 0).
  bool upload_checkpoints = false;
  std::string tensorboard_dir;  // tracking.tensorboard; empty: none.
  // The trial resumes from its own checkpoint at this step (an earlier
  // attempt's, see PbtCheckpoints::ResumeStep); nullopt: from the start.
  std::optional<int64_t> resume_step;
  // The most bytes of artifacts the worker may upload for the trial
  // (ArtifactUploadLimit); 0: it uploads none.
  int64_t max_artifact_bytes = 0;
};

// kExploit (pbt studies only): the trial goes on, in the same lease, from
// another trial's checkpoint with new parameters (see ExploitAnswer).
enum class TrialAction { kContinue, kStop, kExploit };

// What a worker needs to carry out an exploit: stop the trial's process, fetch
// the checkpoint of trial `donor` at `donor_step` (DownloadCheckpoint), and
// start the trial program again with `params` (over the settings of its
// Assignment) plus `resume_from`.
struct ExploitAnswer {
  int64_t donor = 0;
  int64_t donor_step = 0;
  ParamMap params;
};

// Report's answer: whether the pruner stopped the trial, and the trial.
struct AskedReport {
  bool should_prune = false;
  TrialView view;
};

// A change to a study's budget (`vernier study update` / `resume`): each set
// field replaces the budget's.
struct BudgetUpdate {
  std::optional<int64_t> max_trials;
  std::optional<int64_t> parallel;
  std::optional<int64_t> max_failures;
  std::optional<double> target;
  std::optional<double> max_seconds;
  std::optional<int64_t> patience_trials;
  std::optional<int64_t> priority;
  // Also make a STOPPED or COMPLETED study ACTIVE again.
  bool resume = false;
};

// The longest reason Study::Exclude stores.
inline constexpr size_t kMaxExclusionReasonBytes = 1000;

// What deleting a study removed (Study::Delete).
struct DeletedStudy {
  int64_t trials = 0;   // Trials deleted with it.
  int64_t stopped = 0;  // Of them, RUNNING ones (a forced delete).
};

// The shared parts every study works with. All must outlive the study;
// `checkpoints` may be null (no checkpoints kept).
struct StudyContext {
  StudyStore* store = nullptr;
  Clock* clock = nullptr;
  LeaseTable* leases = nullptr;
  CheckpointStore* checkpoints = nullptr;
  ArtifactStore* artifacts = nullptr;  // Null: the server keeps no artifacts.
  // How many of its last events the study keeps for watchers (>= 1).
  int64_t events_kept = kStudyEventsKept;
  // Told of suggestions and expired leases (metrics). Never null: the
  // coordinator passes a no-op observer when it has none.
  CoordinatorObserver* observer = nullptr;
};

class Study : public std::enable_shared_from_this<Study> {
 public:
  // A study from its record, with no trials yet (call Create or Load).
  // INVALID_ARGUMENT when the sampler or pruner cannot be built (a spec that
  // did not go through NormalizeStudySpec).
  static absl::StatusOr<std::shared_ptr<Study>> Make(StudyRecord record,
                                                     const StudyContext& context);

  // Stores the new study with its warm-start `copies` (numbered from 0, with
  // their intermediate values), all in one write. The store's error
  // (ALREADY_EXISTS when the name is taken).
  absl::Status Create(std::vector<TrialRecord> copies);
  // At start-up: the stored trials (see StudyTrials::Load) and checkpoints.
  // Ends the study when its trials already spent its budget (a crash between
  // a trial's end and the study's could leave it ACTIVE). `at_rest`: the
  // trials come with their last measurement only (see Rest()).
  absl::Status Load(std::vector<TrialRecord> trials, const CheckpointIndex& checkpoints,
                    bool at_rest = false);
  // At start-up, for a study stored with a resting summary (see Unload()):
  // it starts unloaded, holding `summary` instead of its trials.
  void LoadUnloaded(StudySummary summary) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Memory: a study that is over rests ----
  // Whether a study with `stored`'s record and trials is over: not ACTIVE,
  // and no trial RUNNING or WAITING (nothing can change it but a user).
  static bool IsOver(const StoredStudy& stored);
  // The same rule: `unfinished_trials` are the RUNNING and WAITING ones.
  static bool IsOver(StudyState state, int64_t unfinished_trials);
  // When the study is over, keeps only the last measurement of each trial
  // in memory (its objective value stays what it was); reads then fetch the
  // values from the store, and a change (resume, exclude, refit) reloads
  // the study whole first. So RSS grows with the studies that run, not with
  // the curves of those that ended.
  void Rest() ABSL_LOCKS_EXCLUDED(mu_);
  bool at_rest() const ABSL_LOCKS_EXCLUDED(mu_);
  // When the study has rested with no read for `idle`, stores its summary
  // (StudyStore::SetRestingSummary, once) and drops its trials: it then
  // holds its record and summary only, and a restarted server loads just
  // those. View() and Summary() answer from the summary; any other call
  // loads the trials back (at rest) first, and a change clears the stored
  // summary before it loads the study whole. The store's error (the study
  // stays loaded). So memory grows with the studies that run and with those
  // read lately, not with history.
  absl::Status Unload(absl::Duration idle) ABSL_LOCKS_EXCLUDED(mu_);
  bool unloaded() const ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& name() const { return spec_.name; }
  // Constant after construction.
  const StudySpec& spec() const { return spec_; }

  // ---- For people and tools ----
  StudyView View() const ABSL_LOCKS_EXCLUDED(mu_);
  // Stops an ACTIVE study; a study already ended is returned as is.
  absl::StatusOr<StudyView> Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // See Coordinator::UpdateStudy.
  absl::StatusOr<StudyView> Update(const BudgetUpdate& update) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the study from the store (StudyStore::DeleteStudy). From then on
  // every call that would change it answers NOT_FOUND, its leases are gone
  // (heartbeats report them lost) and its watchers end; the caller removes
  // its files and forgets it. FAILED_PRECONDITION naming the RUNNING trials
  // unless `force`; NOT_FOUND once deleted; the store's error.
  absl::StatusOr<DeletedStudy> Delete(bool force) ABSL_LOCKS_EXCLUDED(mu_, create_mu_);
  // Whether Delete() succeeded.
  bool deleted() const ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Scheduling (server/logic/placement.h) ----
  // The study as a candidate for a free slot now (its running trials,
  // priority and when it was last served); nullopt when it cannot lease
  // any trial (not ACTIVE without a refit waiting, deleted, run through
  // Ask/Tell).
  std::optional<ShareCandidate> ShareNow() const ABSL_LOCKS_EXCLUDED(mu_);
  // A worker was handed one of its trials; `serial` increases with each.
  void MarkServed(uint64_t serial) { last_served_.store(serial); }
  // Why trials that could start do not, given the connected `slots`
  // (WaitReason); "" when none waits (not ACTIVE, run through Ask/Tell, or
  // every trial created and none WAITING).
  std::string WaitReasonNow(absl::Span<const SeenSlot> slots) const ABSL_LOCKS_EXCLUDED(mu_);
  // Excludes finished trial `number` from what the study learns from
  // (TrialRecord::excluded, with `reason`), or with `include` takes that
  // back; doing what is already done changes nothing. NOT_FOUND naming the
  // trial; FAILED_PRECONDITION for a trial that has not finished;
  // INVALID_ARGUMENT for a reason over kMaxExclusionReasonBytes.
  absl::StatusOr<TrialView> Exclude(int64_t number, const std::string& reason, bool include)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every trial, whole; the store's error reading the values of a study at
  // rest.
  // The readers below load an unloaded study's trials first (see Unload()),
  // or answer the store's error.
  absl::StatusOr<TrialsView> Trials() ABSL_LOCKS_EXCLUDED(mu_);
  // See Coordinator::ListTrials(study, query).
  absl::StatusOr<TrialPage> ListTrials(const TrialQuery& query) ABSL_LOCKS_EXCLUDED(mu_);
  // Trial `number`; NOT_FOUND naming it and the study; the store's error
  // reading the values of a study at rest.
  absl::StatusOr<TrialView> GetTrial(int64_t number) ABSL_LOCKS_EXCLUDED(mu_);
  // See Coordinator::BestTrials.
  absl::StatusOr<TrialsView> Best(int count) ABSL_LOCKS_EXCLUDED(mu_);
  // Where the study stands now (SummarizeStudy).
  StudySummary Summary() const ABSL_LOCKS_EXCLUDED(mu_);
  // The feed of the study's events: every change committed from now on,
  // published once committed (the study's creation publishes none: no one
  // can watch a study before it exists), and a kStudyReloaded resync when
  // the study is read back from the store after a failed write. Lives as
  // long as the study.
  StudyEventLog& events() { return events_; }

  // ---- Creating trials (each takes create_mu_) ----
  // For a worker: the first WAITING trial, else a new sampled one, RUNNING
  // under `worker_id`; nullopt when the study is not ACTIVE, runs its trials
  // through Ask/Tell (trainer external), has budget.parallel trials running
  // or has created every trial of its budget.
  using LeaseAnswer = absl::StatusOr<std::optional<Assignment>>;
  LeaseAnswer Lease(const std::string& worker_id) ABSL_LOCKS_EXCLUDED(mu_, create_mu_);
  // See Coordinator::Ask.
  absl::StatusOr<TrialView> Ask() ABSL_LOCKS_EXCLUDED(mu_, create_mu_);
  // See Coordinator::EnqueueTrial.
  absl::StatusOr<TrialView> Enqueue(const ParamMap& given) ABSL_LOCKS_EXCLUDED(mu_, create_mu_);
  // See Coordinator::Refit.
  absl::StatusOr<TrialView> Refit(std::optional<int64_t> source)
      ABSL_LOCKS_EXCLUDED(mu_, create_mu_);

  // ---- A trial's progress and end (see Coordinator) ----
  absl::StatusOr<TrialAction> ReportProgress(const std::string& worker_id, const LeaseKey& lease,
                                             const Measurement& measurement, ExploitAnswer* exploit)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CompleteTrial(const std::string& worker_id, const LeaseKey& lease, TrialState state,
                             const MetricMap& final_metrics, const std::string& failure_reason)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ReleaseTrial(const std::string& worker_id, const LeaseKey& lease)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<TrialView> Tell(int64_t trial_number, TrialState state,
                                 std::optional<double> value, const MetricMap& metrics,
                                 const std::string& failure_reason) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<AskedReport> Report(int64_t trial_number, std::optional<double> value,
                                     Measurement measurement) ABSL_LOCKS_EXCLUDED(mu_);
  // OK when `worker_id` holds `lease`; ABORTED (the lease is gone) or
  // NOT_FOUND as ReportProgress.
  absl::Status CheckLease(const std::string& worker_id, const LeaseKey& lease)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sends each trial of `expired` (leases of this study that the LeaseTable
  // found past their deadline) back to WAITING, or FAILED when its retries
  // are spent; a lease renewed or ended meanwhile is left alone.
  absl::Status ExpireLeases(const std::vector<LeaseKey>& expired) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Checkpoints ----
  // A checkpoint being received from the worker that holds a lease.
  class CheckpointUpload {
   public:
    // Appends a chunk (CheckpointStore::Writer::Append's errors).
    absl::Status Append(absl::string_view file, absl::string_view data) {
      return writer_->Append(file, data);
    }
    // Checks the lease again and makes the checkpoint visible and indexed.
    absl::Status Commit() { return study_->CommitCheckpoint(*this); }
    int64_t bytes() const { return writer_->bytes(); }

   private:
    friend class Study;
    CheckpointUpload(std::shared_ptr<Study> study, std::string worker_id, LeaseKey lease,
                     int64_t step, std::unique_ptr<CheckpointStore::Writer> writer)
        : study_(std::move(study)),
          worker_id_(std::move(worker_id)),
          lease_(std::move(lease)),
          step_(step),
          writer_(std::move(writer)) {}
    const std::shared_ptr<Study> study_;  // Kept alive while the upload runs.
    const std::string worker_id_;
    const LeaseKey lease_;
    const int64_t step_;
    const std::unique_ptr<CheckpointStore::Writer> writer_;
  };
  // Starts receiving the checkpoint of the trial behind `lease` at `step`.
  // FAILED_PRECONDITION when the server keeps no checkpoints; ABORTED /
  // NOT_FOUND as ReportProgress; INVALID_ARGUMENT for a negative step.
  absl::StatusOr<std::unique_ptr<CheckpointUpload>> StartCheckpointUpload(
      const std::string& worker_id, const LeaseKey& lease, int64_t step) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends trial `donor`'s checkpoint at `step` to `sink` (see
  // CheckpointStore::Read) when the worker holding `lease` may fetch it:
  // FAILED_PRECONDITION when the server keeps no checkpoints; ABORTED when the
  // lease is not held; NOT_FOUND when the server does not hold it.
  absl::Status DownloadCheckpoint(
      const std::string& worker_id, const LeaseKey& lease, int64_t donor, int64_t step,
      const std::function<bool(absl::string_view file, absl::string_view data)>& sink)
      ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Artifacts (study_artifacts.cc) ----
  // The files of one trial being received from the worker that holds its
  // lease.
  class ArtifactUpload {
   public:
    // Appends a chunk (ArtifactStore::Writer::Append's errors).
    absl::Status Append(absl::string_view path, absl::string_view data) {
      return writer_->Append(path, data);
    }
    // Checks the lease again and makes the files the trial's artifacts.
    absl::Status Commit() { return study_->CommitArtifacts(*this); }
    int64_t bytes() const { return writer_->bytes(); }
    int64_t files() const { return writer_->files(); }

   private:
    friend class Study;
    ArtifactUpload(std::shared_ptr<Study> study, std::string worker_id, LeaseKey lease,
                   std::unique_ptr<ArtifactStore::Writer> writer)
        : study_(std::move(study)),
          worker_id_(std::move(worker_id)),
          lease_(std::move(lease)),
          writer_(std::move(writer)) {}
    const std::shared_ptr<Study> study_;  // Kept alive while the upload runs.
    const std::string worker_id_;
    const LeaseKey lease_;
    const std::unique_ptr<ArtifactStore::Writer> writer_;
  };
  // Starts receiving the artifacts of the trial behind `lease`, at most its
  // ArtifactUploadLimit bytes. FAILED_PRECONDITION when the server keeps no
  // artifacts or the study keeps none of this trial (artifacts.keep none);
  // ABORTED / NOT_FOUND as ReportProgress.
  absl::StatusOr<std::unique_ptr<ArtifactUpload>> StartArtifactUpload(const std::string& worker_id,
                                                                      const LeaseKey& lease)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The stored files of trial `trial` (every trial's when nullopt), by trial
  // then path. FAILED_PRECONDITION when the server keeps no artifacts;
  // NOT_FOUND naming an unknown trial; the store's errors.
  absl::StatusOr<std::vector<StoredArtifact>> ListArtifacts(std::optional<int64_t> trial) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sends a stored file (ArtifactStore::Read); errors as ListArtifacts and
  // Read's.
  absl::Status ReadArtifact(int64_t trial, const std::string& path, const ArtifactSink& sink) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the files of the trials the study's `artifacts` policy no longer
  // keeps (ArtifactTrialsToDelete). Called after a trial ends; the files are
  // removed without the study's lock. Errors leave files behind, which the
  // next call tries again.
  absl::Status EnforceArtifactRetention() ABSL_LOCKS_EXCLUDED(mu_);

  // The study's lock, for a caller that must see every study between two
  // writes (a backup). Locks nothing by itself.
  absl::Mutex* mutex() ABSL_LOCK_RETURNED(mu_) { return &mu_; }

 private:
  Study(StudyRecord record, const StudyContext& context, std::unique_ptr<Sampler> sampler,
        std::unique_ptr<Pruner> pruner);

  // Writes `change` through the store and applies it (StudyTrials::Commit),
  // then publishes its events. When the store reports an error the write may
  // still have reached the disk (a commit whose sync failed), so the study
  // is reloaded from the store: memory equals the store after every failure.
  absl::Status Commit(StudyTrials::Change change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What `change` is, for its events once it is committed.
  ChangeNote NoteOf(const StudyTrials::Change& change) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Replaces the trials in memory by what the store holds, and tells the
  // watchers to read the study again.
  absl::Status Reload() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when memory is known to equal the store, values included; otherwise
  // reloads first (a reload after a failed write that itself failed, or a
  // study at rest), or returns why it cannot.
  absl::Status EnsureLoaded() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads an unloaded study's trials back, at rest (the summary stays
  // stored: nothing changed); OK at once when they are held.
  absl::Status LoadTrialsBack() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For the readers: LoadTrialsBack() under the exclusive lock, taken only
  // when the study is unloaded.
  absl::Status HoldTrials() ABSL_LOCKS_EXCLUDED(mu_);
  // UNAVAILABLE when the study was unloaded again between HoldTrials() and
  // the reader's lock (possible only after `idle` without a read).
  absl::Status CheckHeld() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void NoteRead() { last_read_micros_.store(absl::ToUnixMicros(clock_->Now())); }
  // Completes or stops the study when its budget is spent.
  absl::Status MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state and reason the study ends in under `budget` as its trials
  // stand; nullopt while it goes on.
  std::optional<std::pair<StudyState, std::string>> EndUnder(const BudgetSpec& budget) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // MaybeFinish for a study with budget.max_seconds, which time alone can
  // end: before a trial is handed out.
  absl::Status MaybeFinishOnTime() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StudyView ViewLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  TrialView TrialViewOf(int64_t number) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool Active() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // NOT_FOUND once the study is deleted.
  absl::Status CheckNotDeleted() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Whether the last trial is a refit waiting for a worker (the only trial
  // a study that has ended hands out).
  bool RefitWaiting() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // At rest: puts the stored values of `listed`'s trials back, thinned as
  // `query` asks. Does nothing otherwise.
  absl::Status RestoreValues(const TrialQuery& query, std::vector<ListedTrial>& listed) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // At rest: puts each of `trials`' stored values back, whole (a read of a
  // few trials: one store read each). Does nothing otherwise.
  absl::Status RestoreWholeCurves(std::vector<TrialRecord>& trials) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Whether every trial of the budget exists.
  bool BudgetSpent() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Whether a worker may lease a trial now (ACTIVE, not external, fewer than
  // budget.parallel running).
  bool WorkerMayLease() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // The trial behind `lease`, when RUNNING under exactly this lease on
  // `worker_id`; ABORTED (the lease is gone) or NOT_FOUND otherwise.
  absl::StatusOr<const TrialRecord*> LeasedTrial(const std::string& worker_id,
                                                 const LeaseKey& lease) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Trial `number` when it is RUNNING from Ask; FAILED_PRECONDITION naming it,
  // its state and what `call` needs otherwise; NOT_FOUND.
  absl::StatusOr<const TrialRecord*> AskedTrial(int64_t number, absl::string_view call) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // `trial` RUNNING under `worker_id`, its attempt counted, started now.
  TrialRecord Started(TrialRecord trial, const std::string& worker_id) const;
  // Leases (or asks) WAITING trial `number` under `worker_id`.
  absl::StatusOr<TrialRecord> StartWaiting(int64_t number, const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The refit trial a worker may lease from a study that has ended, if one
  // is WAITING and budget.parallel allows.
  LeaseAnswer LeaseRefit(const std::string& worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refit's checks; the trial whose parameters it runs again.
  absl::StatusOr<const TrialRecord*> RefitSourceTrial(std::optional<int64_t> source) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Lease()'s answer when it needs no new suggestion: no trial (the study
  // cannot give `worker_id` one now), a WAITING trial now leased, or the
  // error of leasing it. nullopt: a new trial must be suggested.
  std::optional<LeaseAnswer> LeaseWithoutSuggesting(const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for Ask(): an error (not ACTIVE, budget spent), a WAITING trial
  // now asked, or nullopt: a new trial must be suggested.
  std::optional<absl::StatusOr<TrialView>> AskWithoutSuggesting()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits trial `number` with `params`, RUNNING under `worker_id`.
  absl::Status StartNew(int64_t number, ParamMap params, const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The sampler's suggestion for the next trial number, computed on a
  // snapshot without mu_ held: {number, params}.
  std::pair<int64_t, ParamMap> SuggestNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(create_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Records `measurement` of RUNNING `trial` and judges it: the pruner's (or
  // a stopped study's) STOP ends it PRUNED, a pbt exploit gives it new
  // parameters (when `exploit` is not null); all in one change.
  absl::StatusOr<TrialAction> RecordAndJudge(const TrialRecord& trial,
                                             const Measurement& measurement, ExploitAnswer* exploit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Assignment AssignmentOf(const TrialRecord& trial) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The trainer settings of `trial` (see Assignment::settings).
  nlohmann::json SettingsOf(const TrialRecord& trial) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The epochs a refit of trial `source` trains (see RefitEpochs); nullopt
  // outside the built-in trainer or when the source reported no epoch.
  std::optional<int64_t> RefitEpochsOf(int64_t source) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CommitCheckpoint(const CheckpointUpload& upload) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CommitArtifacts(const ArtifactUpload& upload) ABSL_LOCKS_EXCLUDED(mu_);
  // FAILED_PRECONDITION when the server keeps no artifacts.
  absl::StatusOr<ArtifactStore*> Artifacts() const;

  // Constant after construction, but for its budget: budget_ below.
  const StudySpec spec_;
  StudyStore* const store_;
  Clock* const clock_;
  LeaseTable* const leases_;
  ArtifactStore* const artifacts_;  // May be null.
  CoordinatorObserver* const observer_;
  const std::unique_ptr<Sampler> sampler_;
  const std::unique_ptr<Pruner> pruner_;

  absl::Mutex create_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  // spec_.budget until Update() changes it.
  BudgetSpec budget_ ABSL_GUARDED_BY(mu_);
  // Trials the study creates: budget_.max_trials, or fewer when the sampler
  // runs out of distinct points (a grid).
  int64_t trial_budget_ ABSL_GUARDED_BY(mu_);
  StudyTrials trials_ ABSL_GUARDED_BY(mu_);
  // A write failed and reloading the study failed too: memory may differ
  // from the store until a reload succeeds.
  bool stale_ ABSL_GUARDED_BY(mu_) = false;
  // Delete() succeeded: nothing may change the study any more.
  bool deleted_ ABSL_GUARDED_BY(mu_) = false;
  // Rest(): the trials hold their last measurement only; EnsureLoaded()
  // reloads the study whole before a change.
  bool at_rest_ ABSL_GUARDED_BY(mu_) = false;
  // Unload(): trials_ holds the record only; resting_summary_ the rest.
  bool unloaded_ ABSL_GUARDED_BY(mu_) = false;
  // The summary stored by Unload() (or found at start-up) until a change
  // clears it.
  std::optional<StudySummary> resting_summary_ ABSL_GUARDED_BY(mu_);
  // When a reader last asked for the trials (or the study rested), for Unload.
  std::atomic<int64_t> last_read_micros_{0};
  PbtCheckpoints checkpoints_ ABSL_GUARDED_BY(mu_);
  StudyEventLog events_;                  // Thread-safe; published to with mu_ held.
  std::atomic<uint64_t> last_served_{0};  // MarkServed's serial; 0: never.
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_STUDY_H_
