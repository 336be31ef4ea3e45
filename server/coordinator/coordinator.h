// Coordinator: the heart of vernier-server. Owns every study's working state
// in memory (an index rebuilt from the StudyStore at start-up), decides which
// trial runs next (sampler), when a trial stops early (pruner), and when a
// lease is lost. Every change is written through the store before a call
// returns OK, so everything acknowledged survives a crash.
//
// Knows nothing of gRPC or SQLite: the service layer converts protos to these
// calls, and the store hides the database.
//
// Thread-safety: thread-safe; calls are serialised by one mutex (each call is
// in-memory work plus at most a couple of store writes).
#ifndef VERNIER_SERVER_COORDINATOR_COORDINATOR_H_
#define VERNIER_SERVER_COORDINATOR_COORDINATOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/logic/pbt.h"
#include "server/logic/pruner.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"
#include "server/storage/study_store.h"

namespace vernier {

struct CoordinatorOptions {
  // How long a lease lasts without a heartbeat or report.
  absl::Duration lease = absl::Seconds(30);
  // How often workers are asked to heartbeat.
  absl::Duration heartbeat = absl::Seconds(5);
};

// A study with derived facts, as answered to clients.
struct StudyView {
  StudyRecord record;
  ObjectiveSpec objective;
  int64_t max_trials = 0;
  std::map<TrialState, int64_t> trial_counts;
  // Only in CreateStudy's answer: what warm_start copied and skipped.
  std::string note;
  std::vector<ObjectiveSpec> objectives;  // All of them; objectives[0] == objective.
  std::vector<ConstraintSpec> constraints;
};

// Identifies one lease of one trial.
struct LeaseKey {
  std::string study;
  int64_t trial_number = 0;
  int32_t attempt = 0;
};

// A trial handed to a worker, with everything needed to run it.
struct Assignment {
  LeaseKey lease;
  TrialRecord trial;
  std::string params_json;           // The file behind VERNIER_PARAMS_FILE.
  std::vector<std::string> command;  // Empty: the built-in trainer.
  absl::Duration time_limit = absl::ZeroDuration();
  absl::Duration stop_grace = absl::Seconds(10);
  bool upload_checkpoints = false;  // pbt: the worker uploads announced checkpoints.
};

struct WorkerRegistration {
  std::string worker_id;
  absl::Duration lease;
  absl::Duration heartbeat;
};

// kExploit (pbt studies only): the trial goes on, in the same lease, from
// another trial's checkpoint with new parameters (see ExploitAnswer).
enum class TrialAction { kContinue, kStop, kExploit };

// What a worker needs to carry out an exploit: stop the trial's process, fetch
// the checkpoint of trial `donor` at `donor_step` (DownloadCheckpoint), and
// start the trial program again with `params_json` plus `resume_from`.
struct ExploitAnswer {
  int64_t donor = 0;
  int64_t donor_step = 0;
  std::string params_json;  // The trial's new parameters, as in Assignment.
};

// Bounds on what workers send, so that one bad trial cannot bloat the
// database or make its study too large to list (ListTrials answers every
// trial in one message).
inline constexpr size_t kMaxMetricsPerReport = 256;
inline constexpr size_t kMaxMetricNameBytes = 256;
// Longer failure reasons are cut (at a character boundary) and marked.
inline constexpr size_t kMaxFailureReasonBytes = 16 * 1024;

// The worker id of trials handed out by Coordinator::Ask. Such a trial has no
// lease: it never expires, survives restarts as RUNNING, and only Tell ends
// it. No worker can hold it: worker calls naming this id are refused.
inline constexpr char kAskedWorkerId[] = "(ask)";

// A trial with its study's objective, as answered to clients.
struct TrialView {
  TrialRecord trial;
  ObjectiveSpec objective;
};

// Coordinator::Report's answer: whether the pruner stopped the trial, and
// the trial as stored.
struct AskedReport {
  bool should_prune = false;
  TrialView view;
};

// The objective's value of a trial: its final metric, else its last
// intermediate one; nullopt when it reported none.
std::optional<double> ObjectiveValue(const TrialRecord& trial, const ObjectiveSpec& objective);

class Coordinator {
 public:
  // Loads every study from `store` (which must outlive the coordinator; so
  // must `clock`). RUNNING trials get a fresh lease, so live workers keep them.
  // Returns the store's error, or DATA_LOSS when a stored study no longer parses.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(StudyStore* store, Clock* clock,
                                                             CoordinatorOptions options);

  // ---- For people and tools ----

  // INVALID_ARGUMENT (naming the field) for a bad spec; ALREADY_EXISTS.
  absl::StatusOr<StudyView> CreateStudy(const std::string& spec_yaml);
  // NOT_FOUND for an unknown study.
  absl::StatusOr<StudyView> GetStudy(const std::string& name);
  std::vector<StudyView> ListStudies();
  // Stops an ACTIVE study (no new trials; running ones are told to stop at
  // their next report). NOT_FOUND; a study already ended is returned as is.
  absl::StatusOr<StudyView> StopStudy(const std::string& name);
  // NOT_FOUND for an unknown study.
  absl::StatusOr<std::vector<TrialRecord>> ListTrials(const std::string& study);
  // The best COMPLETE trials, best first, at most `count` (<= 0: 1). For a
  // multi-objective study: the Pareto front, the COMPLETE trials no other
  // COMPLETE trial dominates, sorted by the first objective (best first);
  // at most `count` of them, all when `count` <= 0. INFEASIBLE trials are
  // never best. NOT_FOUND.
  absl::StatusOr<std::vector<TrialRecord>> BestTrials(const std::string& study, int count);
  // Copies the database to a new file at `path` (StudyStore::Backup), between
  // two writes: every write acknowledged before the call is in the copy.
  // Returns the copy's size in bytes, or the store's error.
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
  // metrics beyond the bounds above. +-inf is a valid objective. A FAILED
  // reason longer than kMaxFailureReasonBytes is cut.
  absl::StatusOr<TrialView> Tell(const std::string& study, int64_t trial_number, TrialState state,
                                 std::optional<double> value, const MetricMap& metrics,
                                 const std::string& failure_reason);
  // Records an intermediate result of an asked trial at measurement.step
  // (`value`, when given, is the objective metric's value there, merged into
  // measurement.metrics) and judges it with the study's pruner as
  // ReportProgress judges a worker's trial (a study no longer ACTIVE stops
  // it too). When the pruner stops it, the
  // trial is PRUNED before the call returns, and a later Tell with state
  // PRUNED returns it unchanged. A pbt study never exploits an asked trial
  // (it has no checkpoints here). Nothing is stored on an error: as Tell's
  // (NOT_FOUND; FAILED_PRECONDITION naming the trial and its state), and
  // INVALID_ARGUMENT for a negative step, no value at all, `value` given
  // twice, or metrics beyond the bounds above.
  absl::StatusOr<AskedReport> Report(const std::string& study, int64_t trial_number,
                                     std::optional<double> value, Measurement measurement);

  // Blocks until every store write made before the call is durable
  // (StudyStore::WaitDurable). Callers that answer a client call it, without
  // holding anything, after the call that wrote and before answering, so
  // that everything acknowledged is durable while concurrent callers share
  // one disk sync.
  void WaitDurable();

  // ---- Warm start: enqueued and copied trials ----
  // (Copies are made by CreateStudy for a spec with `warm_start`: the COMPLETE
  // trials of the older study that fit, see SelectWarmStartTrials; they do
  // not count toward budget.max_trials. An unknown older study is
  // INVALID_ARGUMENT naming warm_start.study.)

  // Adds a WAITING trial to an ACTIVE study, with the `given` parameters,
  // which may be partial: the others are the study's sampler's suggestion for
  // this trial number (FillGivenParams), fixed now. Workers get WAITING
  // trials in number order before the sampler suggests new ones, so enqueued
  // trials run in enqueue order. They count toward budget.max_trials.
  // NOT_FOUND for an unknown study; FAILED_PRECONDITION naming the state when
  // the study is not ACTIVE, or naming budget.max_trials when its trials all
  // exist already; INVALID_ARGUMENT naming the parameter and the value for a
  // bad parameter. The trial is stored before the call returns OK.
  absl::StatusOr<TrialRecord> EnqueueTrial(const std::string& study, const ParamMap& given);

  // ---- For workers ----

  WorkerRegistration RegisterWorker(const std::string& name, const std::vector<std::string>& slots);
  // The next trial to run, or nullopt when no study has one ready.
  absl::StatusOr<std::optional<Assignment>> AcquireTrial(const std::string& worker_id,
                                                         const std::string& slot);
  // Records an intermediate result and decides whether the trial goes on.
  // ABORTED when `worker_id` no longer holds the lease; NOT_FOUND for an
  // unknown trial; INVALID_ARGUMENT for a negative step or metrics beyond the
  // bounds above (nothing is stored then).
  // Bad input has these defined answers:
  //   - NaN and +-inf values are stored as they are; the pruners stop a trial
  //     whose value is NaN.
  //   - Steps may come in any order; they are kept in step order, and the
  //     pruner judges at the step just reported.
  //   - A step reported again replaces the stored one (Optuna keeps the first
  //     and warns): a retried trial re-reports its steps from the start, and
  //     the attempt that finishes is the one whose curve is kept.
  absl::StatusOr<TrialAction> ReportProgress(const std::string& worker_id, const LeaseKey& lease,
                                             const Measurement& measurement);
  // As above; in a pbt study the answer may also be kExploit, with `*exploit`
  // filled in (when `exploit` is null, a pbt study answers kContinue
  // instead). Before answering kExploit the trial's new parameters and an
  // ExploitRecord (its parameters before, the donor) are stored.
  absl::StatusOr<TrialAction> ReportProgress(const std::string& worker_id, const LeaseKey& lease,
                                             const Measurement& measurement,
                                             ExploitAnswer* exploit);
  // Records how a trial ended: COMPLETE, PRUNED or FAILED (else
  // INVALID_ARGUMENT). ABORTED when the lease is gone. Repeating the call for
  // a trial that already ended under the same lease is OK (workers retry).
  // COMPLETE becomes FAILED, with the reason, when the objective metric (any
  // of them) is missing or NaN or the metrics break the bounds above; +-inf
  // is a valid objective (ranked last or first, as in Optuna). COMPLETE
  // becomes INFEASIBLE, with a reason naming the metric, its value and the
  // bound, when a constraint metric is outside its bounds, missing or NaN.
  // A FAILED reason longer than kMaxFailureReasonBytes is cut.
  absl::Status CompleteTrial(const std::string& worker_id, const LeaseKey& lease, TrialState state,
                             const MetricMap& final_metrics, const std::string& failure_reason);
  // Renews the leases still held; returns those that are not.
  std::vector<LeaseKey> Heartbeat(const std::string& worker_id,
                                  const std::vector<LeaseKey>& leases);
  // Takes back a trial its worker will not finish (the worker is stopping):
  // RUNNING -> WAITING, without spending one of its retries. ABORTED when
  // `worker_id` no longer holds the lease; NOT_FOUND for an unknown trial.
  absl::Status ReleaseTrial(const std::string& worker_id, const LeaseKey& lease);

  // ---- Checkpoints (pbt) ----
  // The server keeps the last kPbtCheckpointsKept checkpoints of each trial
  // (CheckpointStore); the coordinator keeps the index the pbt decision reads.

  // Records that the checkpoint of the trial behind `lease` at `step` was
  // received: checks the lease (ABORTED / NOT_FOUND as ReportProgress;
  // INVALID_ARGUMENT for a negative step), then runs `commit` (which makes the
  // checkpoint visible in the store) and, when it succeeds, adds it to the
  // index, forgetting the oldest beyond kPbtCheckpointsKept.
  absl::Status AddCheckpoint(const std::string& worker_id, const LeaseKey& lease, int64_t step,
                             const std::function<absl::Status()>& commit);
  // Whether the worker holding `lease` may fetch trial `donor`'s checkpoint
  // at `step` of the same study: ABORTED when the lease is not held,
  // NOT_FOUND when the server holds no such checkpoint. The one the trial's
  // last exploit was given stays allowed after it leaves the index.
  absl::Status CheckCheckpointDownload(const std::string& worker_id, const LeaseKey& lease,
                                       int64_t donor, int64_t step);
  // At start-up: the checkpoints the store holds, study -> index. Studies
  // the coordinator does not know are ignored.
  void RestoreCheckpoints(const std::map<std::string, CheckpointIndex>& stored);

  // From now on AcquireTrial leases nothing (the server is stopping); every
  // other call works as before. Irreversible.
  void StopLeasing();

  // Sends RUNNING trials whose lease expired back to WAITING (or FAILED when
  // their retries are spent). Every worker call does this too; the server also
  // calls it periodically.
  absl::Status ExpireLeases();

 private:
  struct StudyEntry {
    StudyRecord record;
    StudySpec spec;
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<Pruner> pruner;
    std::vector<TrialRecord> trials;  // trials[i].number == i.
    std::set<int64_t> waiting;        // Numbers of WAITING trials.
    std::map<TrialState, int64_t> counts;
    absl::flat_hash_map<int64_t, absl::Time> lease_deadline;  // RUNNING trials.
    int64_t copied = 0;              // Trials copied by warm_start (IsWarmStartCopy).
    std::unique_ptr<PbtPolicy> pbt;  // pbt studies only; reads `spec`.
    CheckpointIndex checkpoints;     // Checkpoints the server holds (pbt).
    // The sampler's index of `trials` (Sampler::NewHistoryIndex), or null.
    // Observes every trial after each change, so a suggestion need not
    // re-read the history; rebuilt by Load() from the stored trials.
    std::unique_ptr<HistoryIndex> history_index;
  };

  Coordinator(StudyStore* store, Clock* clock, CoordinatorOptions options)
      : store_(store), clock_(clock), options_(options) {}

  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static absl::StatusOr<std::unique_ptr<StudyEntry>> MakeEntry(StudyRecord record);
  StudyView View(const StudyEntry& entry) const;
  absl::StatusOr<StudyEntry*> FindStudy(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The trial behind a lease, or NOT_FOUND.
  absl::StatusOr<TrialRecord*> FindTrial(StudyEntry& entry, int64_t number)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when `trial` is RUNNING under exactly this lease; ABORTED otherwise.
  static absl::Status CheckLease(const TrialRecord& trial, const std::string& worker_id,
                                 const LeaseKey& lease);

  // Writes `updated` through the store, then replaces the in-memory trial and
  // keeps the counters, the waiting set and the lease table in step.
  absl::Status CommitTrial(StudyEntry& entry, TrialRecord updated)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ExpireLeasesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Completes or stops the study when its budget is spent.
  absl::Status MaybeFinishStudy(StudyEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetStudyState(StudyEntry& entry, StudyState state, std::string reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases a waiting trial, or samples a new one, of `entry`; nullopt when the
  // study has no room.
  absl::StatusOr<std::optional<Assignment>> LeaseFrom(StudyEntry& entry,
                                                      const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Assignment MakeAssignment(const StudyEntry& entry, const TrialRecord& trial) const;
  // The next trial of `entry` to run, RUNNING under `worker_id` but not yet
  // committed: its first waiting trial, else a new one sampled from the
  // history; nullopt when every trial of the budget is created.
  std::optional<TrialRecord> NextTrial(StudyEntry& entry, const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when `trial` is RUNNING and was handed out by Ask, else
  // FAILED_PRECONDITION naming it, its state, and what `call` needs.
  static absl::Status CheckAskedTrial(const std::string& study, const TrialRecord& trial,
                                      absl::string_view call);
  // Tell's checks of the result; the updated trial, or INVALID_ARGUMENT.
  static absl::StatusOr<TrialRecord> ToldTrial(const StudyEntry& entry, TrialRecord trial,
                                               TrialState state, std::optional<double> value,
                                               const MetricMap& metrics,
                                               const std::string& failure_reason);
  // Stores `measurement` of `trial` (RUNNING, checked by the caller) and
  // keeps the in-memory trial and the sampler's index up to date.
  absl::Status RecordMeasurement(StudyEntry& entry, TrialRecord& trial,
                                 const Measurement& measurement) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `trial`, which has just reported `step`, stops: the study is no
  // longer ACTIVE, or its pruner says so.
  static bool PrunerStops(const StudyEntry& entry, const TrialRecord& trial, int64_t step);
  // Ends `trial` PRUNED now, and the study when that spent its budget.
  absl::Status PruneTrial(StudyEntry& entry, const TrialRecord& trial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks the study's pbt policy about the step just reported; on an exploit
  // stores the trial's new parameters and returns kExploit.
  absl::StatusOr<TrialAction> MaybeExploit(StudyEntry& entry, TrialRecord& trial, int64_t step,
                                           ExploitAnswer* exploit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::vector<const TrialRecord*> AllTrials(const StudyEntry& entry);
  // Trials that count toward budget.max_trials: all but the warm_start copies.
  static int64_t BudgetedTrials(const StudyEntry& entry);
  // Stores the warm_start copies of a new study (already in the store) and
  // adds them to `entry`; returns the note for the answer. INVALID_ARGUMENT
  // naming warm_start.study when that study does not exist.
  absl::StatusOr<std::string> CopyWarmStartTrials(StudyEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // INVALID_ARGUMENT naming warm_start.study when `spec` warm-starts from a
  // study that does not exist.
  absl::Status CheckWarmStartSource(const StudySpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The sampler's suggestion for trial `number` of `entry`, from its history
  // index when it keeps one (the same answer as from the whole history).
  static ParamMap SuggestParams(const StudyEntry& entry, int64_t number);
  // Tells the history index (if any) that trial `number` changed.
  static void ObserveTrial(StudyEntry& entry, int64_t number);
  // BestTrials of a multi-objective study: its Pareto front.
  static std::vector<TrialRecord> ParetoBest(const StudyEntry& entry, int count);

  // Constant after construction.
  StudyStore* const store_;
  Clock* const clock_;
  const CoordinatorOptions options_;

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<StudyEntry>> studies_ ABSL_GUARDED_BY(mu_);
  std::vector<StudyEntry*> creation_order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> worker_names_ ABSL_GUARDED_BY(mu_);
  uint64_t next_worker_ ABSL_GUARDED_BY(mu_) = 0;
  bool leasing_stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_COORDINATOR_H_
