// Coordinator: the heart of vernier-server, as a facade over parts that each
// have one job:
//   - Study (study.h): one study behind its own lock: its trials
//     (StudyTrials: the invariants, committed through the store), its sampler
//     and pruner, its checkpoints and pbt (PbtCheckpoints);
//   - LeaseTable (lease_table.h): who holds each leased trial until when, on
//     the injected clock; heartbeats touch nothing else;
//   - JudgeFinalResult (judge.h): the one rule for a trial's final result;
//   - the built-in trainer's settings (common/builtin_trainer.h), beside the
//     trainer's contract.
// The Coordinator keeps the registry of studies, routes each call to its
// study, expires leases, and mints worker ids.
//
// Everything a call changes is written through the StudyStore before the call
// returns OK, so everything acknowledged survives a crash; callers that answer
// a client call WaitDurable() first. Knows nothing of gRPC or SQLite: the
// service layer converts protos to these calls, and the store hides the
// database.
//
// Thread-safety: thread-safe. Calls on different studies run in parallel;
// lock order: the registry, then one study (create lock, then state lock),
// then the lease table.
#ifndef VERNIER_SERVER_COORDINATOR_COORDINATOR_H_
#define VERNIER_SERVER_COORDINATOR_COORDINATOR_H_

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
#include "server/coordinator/coordinator_observer.h"
#include "server/coordinator/judge.h"
#include "server/coordinator/lease_table.h"
#include "server/coordinator/study.h"
#include "server/coordinator/study_events.h"
#include "server/coordinator/study_summary.h"
#include "server/coordinator/trial_logs.h"
#include "server/coordinator/worker_roster.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"
#include "server/storage/artifact_store.h"
#include "server/storage/checkpoint_store.h"
#include "server/storage/log_store.h"
#include "server/storage/study_store.h"

namespace vernier {

struct CoordinatorOptions {
  // How long a lease lasts without a heartbeat or report.
  absl::Duration lease = absl::Seconds(30);
  // How often workers are asked to heartbeat.
  absl::Duration heartbeat = absl::Seconds(5);
  // Where the trials' logs are kept (borrowed; must outlive the
  // coordinator). Null: the server keeps no logs, and the log calls answer
  // FAILED_PRECONDITION.
  LogStore* logs = nullptr;
  // Where the trials' artifacts are kept (borrowed; must outlive the
  // coordinator). Null: the server keeps none; workers upload none, and the
  // artifact calls answer FAILED_PRECONDITION.
  ArtifactStore* artifacts = nullptr;
  // How many of its last events each study keeps for WatchStudy to resume
  // from (>= 1).
  int64_t study_events_kept = kStudyEventsKept;
  // This server process's incarnation (StudyEvent sequences are numbered
  // per incarnation); empty: a random one, different at each start.
  std::string incarnation;
  // Told of suggestions and expired leases, for metrics (borrowed; must
  // outlive the coordinator). Null: no one is told.
  CoordinatorObserver* observer = nullptr;
  // True: studies that are over keep their curves in memory too (no
  // Study::Rest or Unload at start-up or later).
  bool keep_curves_in_memory = false;
  // A study at rest that no one read for this long is unloaded (Study::Unload).
  absl::Duration unload_resting_after = absl::Seconds(60);
};

// A worker's slot asking for a trial (AcquireTrial).
struct SlotOffer {
  std::string name;   // "cpu" or "cuda:N".
  int32_t index = 0;  // Its position among the worker's slots.
  SlotDescription description;
};

struct WorkerRegistration {
  std::string worker_id;
  absl::Duration lease;
  absl::Duration heartbeat;
};

// EnqueueFromStudy's answer.
struct EnqueuedFromStudy {
  TrialsView enqueued;  // The new WAITING trials, in rank order.
  // Per trial of the other study that did not fit: "trial N: why".
  std::vector<std::string> skipped;
};

class Coordinator {
 public:
  // Loads every study from `store` (which must outlive the coordinator; so
  // must `clock` and `checkpoints`), and the checkpoints `checkpoints` holds
  // (null: the server keeps none). RUNNING trials get a fresh lease, so live
  // workers keep them. Stored specs are never validated again. Returns the
  // store's error, or DATA_LOSS naming a study whose sampler or pruner
  // cannot be built from its stored spec.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      StudyStore* store, Clock* clock, CoordinatorOptions options,
      CheckpointStore* checkpoints = nullptr);

  // ---- For people and tools ----

  // Creates a study from `spec`, validated and normalised here
  // (NormalizeStudySpec); `source_text` is the study file it came from, kept
  // for people (may be empty). With warm_start, the COMPLETE trials of the
  // older study that fit are copied (see SelectWarmStartTrials), in the same
  // write; they do not count toward budget.max_trials, and the answer's note
  // says what was copied and skipped. INVALID_ARGUMENT naming the field for a
  // bad spec, or warm_start.study for an unknown study; ALREADY_EXISTS.
  absl::StatusOr<StudyView> CreateStudy(StudySpec spec, std::string source_text = "");
  // NOT_FOUND for an unknown study.
  absl::StatusOr<StudyView> GetStudy(const std::string& name);
  std::vector<StudyView> ListStudies();
  // Stops an ACTIVE study (no new trials; running ones are told to stop at
  // their next report). NOT_FOUND; a study already ended is returned as is.
  absl::StatusOr<StudyView> StopStudy(const std::string& name);
  // Changes the budget of an ACTIVE study (max_trials, parallel,
  // max_failures), or, with update.resume, of a STOPPED or COMPLETED one
  // that becomes ACTIVE again, in one write. NOT_FOUND; INVALID_ARGUMENT
  // naming the field for a value a study file could not hold;
  // FAILED_PRECONDITION, saying why, for max_trials below the trials the
  // study already has, an update of an ended study, a resume of an ACTIVE
  // one, or a resume into a budget that would end it again at once (its
  // trials spend max_trials, too many failed, a stop condition holds).
  // A lower budget may end an ACTIVE study at once, as its last trial would.
  absl::StatusOr<StudyView> UpdateStudy(const std::string& name, const BudgetUpdate& update);
  // Deletes a study with its trials, checkpoints, artifacts and logs; the
  // name can be used again once the call returns. NOT_FOUND;
  // FAILED_PRECONDITION naming the RUNNING trials unless `force`, which
  // ends their leases (their workers' next calls are refused); the store's
  // error (nothing is deleted then). See Study::Delete.
  absl::StatusOr<DeletedStudy> DeleteStudy(const std::string& name, bool force);
  // Excludes a finished trial from what its study learns from, or includes
  // it again; see Study::Exclude. NOT_FOUND for an unknown study.
  absl::StatusOr<TrialView> ExcludeTrial(const std::string& study, int64_t number,
                                         const std::string& reason, bool include);
  // Every trial, by number. NOT_FOUND for an unknown study.
  absl::StatusOr<TrialsView> ListTrials(const std::string& study);
  // One page of the study's trials (SelectTrialPage, on a snapshot taken
  // under the study's lock; only the page's trials are copied). NOT_FOUND for
  // an unknown study; INVALID_ARGUMENT naming page_size or page_token.
  absl::StatusOr<TrialPage> ListTrials(const std::string& study, const TrialQuery& query);
  // Trial `number` of `study`, whole. NOT_FOUND naming the study or the trial.
  absl::StatusOr<TrialView> GetTrial(const std::string& study, int64_t number);
  // The best COMPLETE trials, best first, at most `count` (<= 0: 1). For a
  // multi-objective study: the Pareto front, the COMPLETE trials no other
  // COMPLETE trial dominates, sorted by the first objective (best first);
  // at most `count` of them, all when `count` <= 0. INFEASIBLE trials are
  // never best. NOT_FOUND.
  absl::StatusOr<TrialsView> BestTrials(const std::string& study, int count);
  // Where `study` stands now (SummarizeStudy, under the study's lock), with
  // why its trials wait given the slots of the connected workers. NOT_FOUND.
  absl::StatusOr<StudySummary> Summary(const std::string& study);
  // Copies the database to a new file at `path` (StudyStore::Backup) while
  // every study is held between two writes, so every write acknowledged
  // before the call is in the copy. Returns the copy's size in bytes, or the
  // store's error.
  absl::StatusOr<int64_t> Backup(const std::string& path);

  // ---- Ask/tell: for users who run trials in their own loop ----

  // Hands out the study's first WAITING trial, else a new trial sampled from
  // the history (as AcquireTrial would), as RUNNING under kAskedWorkerId.
  // Ignores budget.parallel (the caller's loop chooses its own parallelism).
  // NOT_FOUND; FAILED_PRECONDITION when the study is not ACTIVE (naming its
  // state) or its trials are all created (naming budget.max_trials).
  absl::StatusOr<TrialView> Ask(const std::string& study);
  // Ends an asked trial: COMPLETE, PRUNED or FAILED. `value` is the objective
  // metric's value, merged into `metrics`. Nothing is stored on an error:
  // NOT_FOUND for an unknown study or trial; FAILED_PRECONDITION, naming the
  // trial and its state, when it is not RUNNING or is leased to a worker;
  // INVALID_ARGUMENT for another state, `value` given twice (also in
  // `metrics`), COMPLETE without the objective or with a NaN objective, or
  // metrics beyond the bounds of judge.h. +-inf is a valid objective. A
  // FAILED reason longer than kMaxFailureReasonBytes is cut.
  absl::StatusOr<TrialView> Tell(const std::string& study, int64_t trial_number, TrialState state,
                                 std::optional<double> value, const MetricMap& metrics,
                                 const std::string& failure_reason);
  // Records an intermediate result of an asked trial at measurement.step
  // (`value`, when given, is the objective metric's value there, merged into
  // measurement.metrics) and judges it with the study's pruner as
  // ReportProgress judges a worker's trial (a study no longer ACTIVE stops
  // it too). When the pruner stops it, the trial is PRUNED before the call
  // returns, and a later Tell with state PRUNED returns it unchanged. A pbt
  // study never exploits an asked trial (it has no checkpoints here).
  // Nothing is stored on an error: as Tell's (NOT_FOUND; FAILED_PRECONDITION
  // naming the trial and its state), and INVALID_ARGUMENT for a negative
  // step, no value at all, `value` given twice, or metrics beyond the bounds.
  absl::StatusOr<AskedReport> Report(const std::string& study, int64_t trial_number,
                                     std::optional<double> value, Measurement measurement);

  // Blocks until every store write made before the call is durable
  // (StudyStore::WaitDurable). Callers that answer a client call it, without
  // holding anything, after the call that wrote and before answering, so
  // that everything acknowledged is durable while concurrent callers share
  // one disk sync.
  void WaitDurable();

  // ---- Warm start: enqueued trials ----

  // Adds a WAITING trial to an ACTIVE study, with the `given` parameters,
  // which may be partial: the others are the study's sampler's suggestion for
  // this trial number (FillGivenParams), fixed now. Workers get WAITING
  // trials in number order before the sampler suggests new ones, so enqueued
  // trials run in enqueue order. They count toward budget.max_trials.
  // NOT_FOUND for an unknown study; FAILED_PRECONDITION naming the state when
  // the study is not ACTIVE, or naming budget.max_trials when its trials all
  // exist already; INVALID_ARGUMENT naming the parameter and the value for a
  // bad parameter. The trial is stored before the call returns OK.
  absl::StatusOr<TrialView> EnqueueTrial(const std::string& study, const ParamMap& given);
  // Re-runs the best `top` COMPLETE trials of `from_study` in `study`: their
  // parameters that are in `study`'s space are enqueued as EnqueueTrial does,
  // best first; a trial whose values do not fit is skipped (INVALID_ARGUMENT
  // from EnqueueTrial), with the reason in `skipped`. NOT_FOUND for either
  // unknown study; INVALID_ARGUMENT for `top` < 1; another error of
  // EnqueueTrial stops it (the trials before stay enqueued; the message says
  // how many).
  absl::StatusOr<EnqueuedFromStudy> EnqueueFromStudy(const std::string& study,
                                                     const std::string& from_study, int top);
  // Adds a WAITING refit trial (origin kOriginRefitPrefix + source) to a study
  // that has ended: the parameters of trial `source`, or of the best COMPLETE
  // trial when unset, trained once more on the training plus validation data
  // (its settings carry "refit": true, and for the built-in trainer the
  // epochs the source trained, see RefitEpochs). Workers lease it although
  // the study is not ACTIVE; it is never pruned, not in the best trials, and
  // does not count toward the budget. NOT_FOUND for an unknown study or
  // trial; FAILED_PRECONDITION naming the reason for an ACTIVE study, an
  // external trainer, a refit already WAITING or RUNNING, a source that is
  // not COMPLETE or is itself a refit, no COMPLETE trial, or a
  // multi-objective study without `source`.
  absl::StatusOr<TrialView> Refit(const std::string& study, std::optional<int64_t> source);

  // ---- For workers ----

  WorkerRegistration RegisterWorker(const std::string& name);
  // The next trial for `slot` to run, or nullopt when no study has one
  // ready that fits it: among the studies whose resources and placement the
  // slot meets, in fair-share order (FairShareOrder: fewest running trials
  // per priority first, then the one served longest ago, then the oldest),
  // the first that has one: its first WAITING trial, else a new sampled one.
  // INVALID_ARGUMENT for the reserved worker id kAskedWorkerId.
  absl::StatusOr<std::optional<Assignment>> AcquireTrial(const std::string& worker_id,
                                                         const SlotOffer& slot);
  // The same for a slot that does not describe itself (an older worker).
  absl::StatusOr<std::optional<Assignment>> AcquireTrial(const std::string& worker_id,
                                                         const std::string& slot) {
    return AcquireTrial(worker_id, SlotOffer{slot, 0, SlotDescription{}});
  }
  // Records an intermediate result and decides whether the trial goes on.
  // ABORTED when `worker_id` no longer holds the lease; NOT_FOUND for an
  // unknown trial; INVALID_ARGUMENT for a negative step or metrics beyond the
  // bounds of judge.h (nothing is stored then).
  // Bad input has these defined answers:
  //   - NaN and +-inf values are stored as they are; the pruners stop a trial
  //     whose value is NaN.
  //   - Steps may come in any order; they are kept in step order, and the
  //     pruner judges at the step just reported.
  //   - A step reported again replaces the stored one (Optuna keeps the first
  //     and warns): a retried trial re-reports its steps from the start, and
  //     the attempt that finishes is the one whose curve is kept.
  // In a pbt study the answer may also be kExploit, with `*exploit` filled in
  // (when `exploit` is null, a pbt study answers kContinue instead); the
  // trial's new parameters and an ExploitRecord (its parameters before, the
  // donor) are stored with the measurement.
  absl::StatusOr<TrialAction> ReportProgress(const std::string& worker_id, const LeaseKey& lease,
                                             const Measurement& measurement,
                                             ExploitAnswer* exploit = nullptr);
  // Records how a trial ended (JudgeFinalResult, ResultSource::kWorker):
  // COMPLETE, PRUNED or FAILED (else INVALID_ARGUMENT). ABORTED when the
  // lease is gone. Repeating the call for a trial that already ended under
  // the same lease is OK (workers retry).
  absl::Status CompleteTrial(const std::string& worker_id, const LeaseKey& lease, TrialState state,
                             const MetricMap& final_metrics, const std::string& failure_reason);
  // Renews the leases still held; returns those that are not. Reads and
  // writes the lease table only (no study's lock).
  std::vector<LeaseKey> Heartbeat(const std::string& worker_id,
                                  const std::vector<LeaseKey>& leases);
  // Takes back a trial its worker will not finish (the worker is stopping):
  // RUNNING -> WAITING, without spending one of its retries. ABORTED when
  // `worker_id` no longer holds the lease; NOT_FOUND for an unknown trial.
  absl::Status ReleaseTrial(const std::string& worker_id, const LeaseKey& lease);

  // ---- Checkpoints (pbt) ----
  // The server keeps the last kPbtCheckpointsKept checkpoints of each trial.

  // Starts receiving the checkpoint of the trial behind `lease` at `step`;
  // its Commit() checks the lease again and makes it visible. NOT_FOUND for
  // an unknown study or trial; see Study::StartCheckpointUpload.
  absl::StatusOr<std::unique_ptr<Study::CheckpointUpload>> StartCheckpointUpload(
      const std::string& worker_id, const LeaseKey& lease, int64_t step);
  // Sends trial `donor`'s checkpoint at `step` of the same study to the
  // worker holding `lease`; see Study::DownloadCheckpoint.
  absl::Status DownloadCheckpoint(
      const std::string& worker_id, const LeaseKey& lease, int64_t donor, int64_t step,
      const std::function<bool(absl::string_view file, absl::string_view data)>& sink);

  // ---- Artifacts (options.artifacts) ----
  // After each CompleteTrial the study's retention deletes the files of the
  // trials its `artifacts` policy no longer keeps (artifact_retention.h).

  // Starts receiving the artifacts of the trial behind `lease`; its Commit()
  // checks the lease again and makes them the trial's. NOT_FOUND for an
  // unknown study or trial; see Study::StartArtifactUpload.
  absl::StatusOr<std::unique_ptr<Study::ArtifactUpload>> StartArtifactUpload(
      const std::string& worker_id, const LeaseKey& lease);
  // The stored artifact files of `study` (of trial `trial` only, when set).
  // NOT_FOUND naming the study or trial; see Study::ListArtifacts.
  absl::StatusOr<std::vector<StoredArtifact>> ListArtifacts(const std::string& study,
                                                            std::optional<int64_t> trial);
  // Sends one stored file; see Study::ReadArtifact.
  absl::Status ReadArtifact(const std::string& study, int64_t trial, const std::string& path,
                            const ArtifactSink& sink);

  // ---- Trial logs (options.logs) ----
  // A FAILED trial's reason ends with a pointer to its log (WithLogPointer).

  // Stores output of the trial behind `lease` from `offset`
  // (LogStore::Append) and returns where its log now ends.
  // FAILED_PRECONDITION when the server keeps no logs; ABORTED when
  // `worker_id` no longer holds the lease; NOT_FOUND for an unknown study or
  // trial; LogStore::Append's errors.
  absl::StatusOr<int64_t> AppendTrialLog(const std::string& worker_id, const LeaseKey& lease,
                                         int64_t offset, absl::string_view data);
  // Streams the log of attempt `attempt` (0: the latest) of trial `trial` of
  // `study` to `reader` (see StreamTrialLog; with `follow`, until the trial
  // no longer runs that attempt), after setting *resolved_attempt.
  // FAILED_PRECONDITION when the server keeps no logs; NOT_FOUND naming the
  // study, the trial, or an attempt it has not started; INVALID_ARGUMENT for
  // a negative attempt or offset; CANCELLED when the reader went away.
  absl::Status StreamTrialLog(const std::string& study, int64_t trial, int32_t attempt,
                              int64_t offset, bool follow, const TrialLogReader& reader,
                              int32_t* resolved_attempt);

  // ---- Study events (study_events.h) ----

  // Sends the events of `study` to `reader` from `start` (see
  // StudyEventLog::Watch) until the reader goes away or EndWatches() is
  // called; each batch is durable before it is sent (WaitDurable). NOT_FOUND
  // for an unknown study; CANCELLED when the reader went away; UNAVAILABLE
  // once EndWatches() was called; INVALID_ARGUMENT naming after_sequence.
  absl::Status WatchStudy(const std::string& study, const WatchStart& start,
                          const StudyEventReader& reader);
  // The incarnation the events' sequences belong to (see
  // CoordinatorOptions::incarnation).
  const std::string& incarnation() const { return incarnation_; }
  // How many WatchStudy calls on `study` are running. NOT_FOUND.
  absl::StatusOr<int> Watchers(const std::string& study);
  // Ends every WatchStudy, running or to come, with UNAVAILABLE, so that a
  // stopping server does not wait for its watchers. Irreversible.
  void EndWatches();

  // From now on AcquireTrial leases nothing (the server is stopping); every
  // other call works as before. Irreversible.
  void StopLeasing();

  // Study::Rest() for every study: those that are over keep only the last
  // measurement of each trial in memory; then Study::Unload() after
  // options.unload_resting_after without a read. The server calls it
  // periodically; at start-up such studies are loaded that way.
  void RestStudiesThatAreOver();
  // Whether `study` is at rest / unloaded now. NOT_FOUND.
  absl::StatusOr<bool> AtRest(const std::string& study);
  absl::StatusOr<bool> Unloaded(const std::string& study);

  // Sends RUNNING trials whose lease expired back to WAITING (or FAILED when
  // their retries are spent). Every worker call does this too; the server also
  // calls it periodically.
  absl::Status ExpireLeases();

  // ---- For metrics: cheap reads, no study's lock ----

  // Trials leased to workers now (asked trials have no lease).
  int64_t ActiveLeases() const { return leases_.Count(); }
  // Workers that called within the last lease length (WorkerRoster).
  int64_t ConnectedWorkers() { return roster_.Connected(); }
  // RegisterWorker calls since this coordinator was created.
  int64_t WorkerRegistrations() const { return static_cast<int64_t>(next_worker_.load()); }

 private:
  Coordinator(StudyStore* store, Clock* clock, CoordinatorOptions options,
              CheckpointStore* checkpoints)
      : store_(store),
        clock_(clock),
        options_(options),
        checkpoints_(checkpoints),
        incarnation_(options.incarnation.empty() ? NewIncarnation() : options.incarnation),
        observer_(options.observer != nullptr ? options.observer : &no_observer_),
        leases_(clock, options.lease),
        roster_(clock, options.lease) {}

  absl::Status Load() ABSL_LOCKS_EXCLUDED(registry_mu_);
  // Load() of a study stored with a resting summary: unloaded with it, or
  // (keep_curves_in_memory, or a summary that cannot be read) with its
  // trials, the summary cleared.
  absl::Status LoadResting(Study& study, StudyState state, const std::string& summary,
                           const CheckpointIndex& checkpoints);
  StudyContext Context() {
    return StudyContext{
        store_,   clock_, &leases_, checkpoints_, options_.artifacts, options_.study_events_kept,
        observer_};
  }
  // 16 random hex digits.
  static std::string NewIncarnation();
  // The study called `name`, or NOT_FOUND. A study deleted meanwhile stays
  // alive while a caller holds it, and refuses changes (Study::Delete).
  absl::StatusOr<std::shared_ptr<Study>> Find(const std::string& name) const
      ABSL_LOCKS_EXCLUDED(registry_mu_);
  // Every study, in creation order.
  std::vector<std::shared_ptr<Study>> All() const ABSL_LOCKS_EXCLUDED(registry_mu_);
  // The studies whose trials `slot` can run and that may lease one now, in
  // the order the slot is offered to them (FairShareOrder).
  std::vector<std::shared_ptr<Study>> InFairShareOrder(const SlotDescription& slot) const
      ABSL_LOCKS_EXCLUDED(registry_mu_);
  // Counts `worker_id` as connected now (WorkerRoster); every worker call
  // does this.
  void NoteWorkerCall(const std::string& worker_id);
  // ABORTED-style refusal of calls that name the reserved asked worker id.
  static absl::Status CheckWorkerId(const std::string& worker_id);
  // The warm-start copies of a new study and the note about them.
  absl::StatusOr<std::pair<std::vector<TrialRecord>, std::string>> WarmStartCopiesOf(
      const StudySpec& spec) ABSL_SHARED_LOCKS_REQUIRED(registry_mu_);

  // Constant after construction.
  StudyStore* const store_;
  Clock* const clock_;
  const CoordinatorOptions options_;
  CheckpointStore* const checkpoints_;
  const std::string incarnation_;
  CoordinatorObserver no_observer_;  // Tells no one; observer_ when none is given.
  CoordinatorObserver* const observer_;

  LeaseTable leases_;    // Thread-safe.
  WorkerRoster roster_;  // Thread-safe.
  std::atomic<bool> leasing_stopped_{false};
  std::atomic<bool> watches_ended_{false};
  std::atomic<uint64_t> next_worker_{0};
  std::atomic<uint64_t> next_serve_{0};  // Study::MarkServed's serials.

  mutable absl::Mutex registry_mu_;
  std::map<std::string, std::shared_ptr<Study>> studies_ ABSL_GUARDED_BY(registry_mu_);
  std::vector<std::shared_ptr<Study>> creation_order_ ABSL_GUARDED_BY(registry_mu_);
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_COORDINATOR_H_
