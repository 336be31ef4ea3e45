#include "server/coordinator/coordinator.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/logic/given_params.h"
#include "server/logic/multi_objective.h"
#include "server/logic/trial_state_machine.h"
#include "server/logic/warm_start.h"

namespace vernier {
namespace {

bool Better(double a, double b, Goal goal) { return goal == Goal::kMaximize ? a > b : a < b; }

absl::Status UnknownStudy(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("study \"", name, "\" not found"));
}

// Checks the metrics of one report against the bounds in coordinator.h;
// INVALID_ARGUMENT naming `field` and the offending name or count.
absl::Status CheckMetrics(const MetricMap& metrics, absl::string_view field) {
  if (metrics.size() > kMaxMetricsPerReport) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", metrics.size(), " metrics, at most ", kMaxMetricsPerReport));
  }
  for (const auto& [name, value] : metrics) {
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty metric name"));
    if (name.size() > kMaxMetricNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": metric name \"", name.substr(0, 32),
                                                     "...\" is ", name.size(), " bytes, at most ",
                                                     kMaxMetricNameBytes));
    }
  }
  return absl::OkStatus();
}

// `metrics` with the objective `metric`'s `value` added when given;
// INVALID_ARGUMENT when `metrics` has it too.
absl::StatusOr<MetricMap> WithObjectiveValue(const std::string& metric, std::optional<double> value,
                                             MetricMap metrics) {
  if (value && !metrics.emplace(metric, *value).second) {
    return absl::InvalidArgumentError(
        absl::StrCat("value: the objective \"", metric, "\" is also in metrics; give it once"));
  }
  return metrics;
}

// Puts `measurement` into `values` (kept in step order), replacing a stored
// measurement of the same step.
void InsertMeasurement(std::vector<Measurement>& values, const Measurement& measurement) {
  auto at = std::lower_bound(values.begin(), values.end(), measurement.step,
                             [](const Measurement& m, int64_t step) { return m.step < step; });
  if (at != values.end() && at->step == measurement.step) {
    *at = measurement;
  } else {
    values.insert(at, measurement);
  }
}

// `reason` cut to kMaxFailureReasonBytes at a UTF-8 character boundary.
std::string BoundedReason(const std::string& reason) {
  if (reason.size() <= kMaxFailureReasonBytes) return reason;
  size_t end = kMaxFailureReasonBytes;
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(reason.substr(0, end), " [truncated]");
}

// Trials the study creates: budget.max_trials, or fewer when the sampler
// runs out of distinct points (a grid).
int64_t TrialBudget(const StudySpec& spec, const Sampler& sampler) {
  const std::optional<int64_t> capacity = sampler.Capacity(spec.space);
  return capacity ? std::min(spec.budget.max_trials, *capacity) : spec.budget.max_trials;
}

// A COMPLETE trial of a study with several objectives or with constraints:
// FAILED when an objective after the first is missing or NaN (the first is
// checked by CompleteTrial), else INFEASIBLE when it breaks a constraint.
void JudgeObjectivesAndConstraints(const StudySpec& spec, TrialRecord& trial) {
  for (size_t i = 1; i < spec.objectives.size(); ++i) {
    const std::string& metric = spec.objectives[i].metric;
    const std::optional<double> value = TrialMetric(trial, metric);
    if (!value || std::isnan(*value)) {
      trial.state = TrialState::kFailed;
      trial.failure_reason =
          value ? absl::StrCat("the objective metric \"", metric, "\" is NaN")
                : absl::StrCat("the trial reported no value of the objective metric \"", metric,
                               "\"");
      return;
    }
  }
  const std::string violated =
      ConstraintViolationReason(ConstraintMetrics(trial, spec.constraints), spec.constraints);
  if (!violated.empty()) {
    trial.state = TrialState::kInfeasible;
    trial.failure_reason = violated;
  }
}

}  // namespace

std::optional<double> ObjectiveValue(const TrialRecord& trial, const ObjectiveSpec& objective) {
  auto final_value = trial.final_metrics.find(objective.metric);
  if (final_value != trial.final_metrics.end()) return final_value->second;
  for (auto it = trial.intermediate.rbegin(); it != trial.intermediate.rend(); ++it) {
    auto value = it->metrics.find(objective.metric);
    if (value != it->metrics.end()) return value->second;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(StudyStore* store, Clock* clock,
                                                                 CoordinatorOptions options) {
  std::unique_ptr<Coordinator> coordinator(new Coordinator(store, clock, options));
  absl::MutexLock lock(&coordinator->mu_);
  RETURN_IF_ERROR(coordinator->Load());
  return coordinator;
}

absl::StatusOr<std::unique_ptr<Coordinator::StudyEntry>> Coordinator::MakeEntry(
    StudyRecord record) {
  auto entry = std::make_unique<StudyEntry>();
  ASSIGN_OR_RETURN(entry->spec, ParseStudySpec(record.spec_yaml));
  ASSIGN_OR_RETURN(entry->sampler, MakeSampler(entry->spec));
  ASSIGN_OR_RETURN(entry->pruner, MakePruner(entry->spec.pruner));
  entry->history_index = entry->sampler->NewHistoryIndex();
  if (entry->spec.pruner.type == "pbt") {
    entry->pbt = std::make_unique<PbtPolicy>(entry->spec.pruner, entry->spec.space,
                                             entry->spec.sampler.seed);
  }
  entry->record = std::move(record);
  return entry;
}

absl::Status Coordinator::Load() {
  ASSIGN_OR_RETURN(std::vector<StoredStudy> stored, store_->LoadAll());
  const absl::Time deadline = clock_->Now() + options_.lease;
  for (StoredStudy& study : stored) {
    auto entry = MakeEntry(study.study);
    if (!entry.ok()) {
      return absl::DataLossError(absl::StrCat("stored study \"", study.study.name,
                                              "\" no longer parses: ", entry.status().message()));
    }
    StudyEntry& e = **entry;
    e.trials = std::move(study.trials);
    for (size_t i = 0; i < e.trials.size(); ++i) {
      const TrialRecord& trial = e.trials[i];
      if (trial.number != static_cast<int64_t>(i)) {
        return absl::DataLossError(
            absl::StrCat("study \"", study.study.name, "\" is missing trial number ", i));
      }
      e.counts[trial.state]++;
      if (IsWarmStartCopy(trial)) e.copied++;
      if (trial.state == TrialState::kWaiting) e.waiting.insert(trial.number);
      ObserveTrial(e, trial.number);
      // Asked trials have no lease (kAskedWorkerId).
      if (trial.state == TrialState::kRunning && trial.worker_id != kAskedWorkerId) {
        e.lease_deadline[trial.number] = deadline;
      }
    }
    creation_order_.push_back(entry->get());
    studies_[e.record.name] = std::move(*entry);
  }
  return absl::OkStatus();
}

StudyView Coordinator::View(const StudyEntry& entry) const {
  StudyView view;
  view.record = entry.record;
  view.objective = entry.spec.objective;
  view.objectives = entry.spec.objectives;
  view.constraints = entry.spec.constraints;
  view.max_trials = entry.spec.budget.max_trials;
  view.trial_counts = entry.counts;
  return view;
}

absl::StatusOr<Coordinator::StudyEntry*> Coordinator::FindStudy(const std::string& name) {
  auto it = studies_.find(name);
  if (it == studies_.end()) return UnknownStudy(name);
  return it->second.get();
}

absl::StatusOr<TrialRecord*> Coordinator::FindTrial(StudyEntry& entry, int64_t number) {
  if (number < 0 || number >= static_cast<int64_t>(entry.trials.size())) {
    return absl::NotFoundError(
        absl::StrCat("trial ", number, " of study \"", entry.record.name, "\" not found"));
  }
  return &entry.trials[number];
}

absl::Status Coordinator::CheckLease(const TrialRecord& trial, const std::string& worker_id,
                                     const LeaseKey& lease) {
  if (trial.state == TrialState::kRunning && trial.attempt == lease.attempt &&
      trial.worker_id == worker_id && worker_id != kAskedWorkerId) {
    return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat("lease of trial ", lease.trial_number, " of study \"",
                                         lease.study, "\" (attempt ", lease.attempt,
                                         ") is no longer held by this worker"));
}

std::vector<const TrialRecord*> Coordinator::AllTrials(const StudyEntry& entry) {
  std::vector<const TrialRecord*> all;
  all.reserve(entry.trials.size());
  for (const TrialRecord& trial : entry.trials) all.push_back(&trial);
  return all;
}

absl::Status Coordinator::CommitTrial(StudyEntry& entry, TrialRecord updated) {
  const bool is_new = updated.number == static_cast<int64_t>(entry.trials.size());
  if (!is_new) {
    const TrialState from = entry.trials[updated.number].state;
    if (from != updated.state) RETURN_IF_ERROR(CheckTransition(from, updated.state));
  }
  RETURN_IF_ERROR(store_->PutTrial(updated));
  if (is_new) {
    entry.trials.push_back(TrialRecord{});
  } else {
    entry.counts[entry.trials[updated.number].state]--;
  }
  TrialRecord& slot = entry.trials[updated.number];
  updated.intermediate = std::move(slot.intermediate);
  slot = std::move(updated);
  entry.counts[slot.state]++;
  ObserveTrial(entry, slot.number);
  if (slot.state == TrialState::kWaiting) {
    entry.waiting.insert(slot.number);
  } else {
    entry.waiting.erase(slot.number);
  }
  if (slot.state == TrialState::kRunning && slot.worker_id != kAskedWorkerId) {
    entry.lease_deadline[slot.number] = clock_->Now() + options_.lease;
  } else {
    entry.lease_deadline.erase(slot.number);
  }
  return absl::OkStatus();
}

absl::Status Coordinator::SetStudyState(StudyEntry& entry, StudyState state, std::string reason) {
  RETURN_IF_ERROR(store_->UpdateStudyState(entry.record.name, state, reason));
  entry.record.state = state;
  entry.record.state_reason = std::move(reason);
  return absl::OkStatus();
}

absl::Status Coordinator::MaybeFinishStudy(StudyEntry& entry) {
  if (entry.record.state != StudyState::kActive) return absl::OkStatus();
  const int64_t failed = entry.counts[TrialState::kFailed];
  if (failed > entry.spec.budget.max_failures) {
    return SetStudyState(entry, StudyState::kStopped,
                         absl::StrCat(failed, " trials failed (budget.max_failures is ",
                                      entry.spec.budget.max_failures, ")"));
  }
  const int64_t finished = BudgetedTrials(entry) - entry.counts[TrialState::kWaiting] -
                           entry.counts[TrialState::kRunning];
  if (finished >= TrialBudget(entry.spec, *entry.sampler)) {
    return SetStudyState(entry, StudyState::kCompleted, "");
  }
  return absl::OkStatus();
}

absl::Status Coordinator::ExpireLeases() {
  absl::MutexLock lock(&mu_);
  return ExpireLeasesLocked();
}

absl::Status Coordinator::ExpireLeasesLocked() {
  const absl::Time now = clock_->Now();
  for (StudyEntry* entry : creation_order_) {
    std::vector<int64_t> expired;
    for (const auto& [number, deadline] : entry->lease_deadline) {
      if (deadline <= now) expired.push_back(number);
    }
    std::sort(expired.begin(), expired.end());
    for (int64_t number : expired) {
      TrialRecord updated = entry->trials[number];
      if (updated.retries < entry->spec.budget.max_retries) {
        updated.state = TrialState::kWaiting;
        updated.retries++;
      } else {
        updated.state = TrialState::kFailed;
        updated.end_time = now;
        updated.failure_reason =
            absl::StrCat("lease lost ", updated.retries + 1, " times (worker gone or unreachable)");
      }
      RETURN_IF_ERROR(CommitTrial(*entry, std::move(updated)));
    }
    if (!expired.empty()) RETURN_IF_ERROR(MaybeFinishStudy(*entry));
  }
  return absl::OkStatus();
}

absl::StatusOr<StudyView> Coordinator::CreateStudy(const std::string& spec_yaml) {
  StudyRecord record;
  record.spec_yaml = spec_yaml;
  record.state = StudyState::kActive;
  record.create_time = clock_->Now();
  ASSIGN_OR_RETURN(StudySpec spec, ParseStudySpec(spec_yaml));
  record.name = spec.name;
  absl::MutexLock lock(&mu_);
  if (studies_.count(record.name) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("study \"", record.name, "\" already exists"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<StudyEntry> entry, MakeEntry(record));
  RETURN_IF_ERROR(CheckWarmStartSource(entry->spec));
  RETURN_IF_ERROR(store_->CreateStudy(record));
  StudyEntry* created = entry.get();
  creation_order_.push_back(created);
  studies_[record.name] = std::move(entry);
  // Copies go in after the study is registered, so that memory matches the
  // store even when a write fails half way (a restart would load the same).
  ASSIGN_OR_RETURN(std::string note, CopyWarmStartTrials(*created));
  StudyView view = View(*created);
  view.note = std::move(note);
  return view;
}

absl::StatusOr<StudyView> Coordinator::GetStudy(const std::string& name) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(name));
  return View(*entry);
}

std::vector<StudyView> Coordinator::ListStudies() {
  absl::MutexLock lock(&mu_);
  std::vector<StudyView> views;
  for (const StudyEntry* entry : creation_order_) views.push_back(View(*entry));
  return views;
}

absl::StatusOr<StudyView> Coordinator::StopStudy(const std::string& name) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(name));
  if (entry->record.state == StudyState::kActive) {
    RETURN_IF_ERROR(SetStudyState(*entry, StudyState::kStopped, "stopped by a user"));
  }
  return View(*entry);
}

absl::StatusOr<std::vector<TrialRecord>> Coordinator::ListTrials(const std::string& study) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(study));
  return entry->trials;
}

absl::StatusOr<std::vector<TrialRecord>> Coordinator::BestTrials(const std::string& study,
                                                                 int count) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(study));
  if (entry->spec.multi_objective()) return ParetoBest(*entry, count);
  const ObjectiveSpec& objective = entry->spec.objective;
  std::vector<std::pair<double, const TrialRecord*>> ranked;
  for (const TrialRecord& trial : entry->trials) {
    if (trial.state != TrialState::kComplete) continue;
    std::optional<double> value = ObjectiveValue(trial, objective);
    if (value && !std::isnan(*value)) ranked.emplace_back(*value, &trial);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [&objective](const auto& a, const auto& b) {
    return Better(a.first, b.first, objective.goal);
  });
  std::vector<TrialRecord> best;
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < std::max(count, 1); ++i) {
    best.push_back(*ranked[i].second);
  }
  return best;
}

std::vector<TrialRecord> Coordinator::ParetoBest(const StudyEntry& entry, int count) {
  std::vector<TrialRecord> best;
  for (const TrialRecord* trial : ParetoTrials(entry.trials, entry.spec.objectives)) {
    if (count > 0 && static_cast<int>(best.size()) >= count) break;
    best.push_back(*trial);
  }
  return best;
}

absl::StatusOr<int64_t> Coordinator::Backup(const std::string& path) {
  // Under mu_, so the copy falls between two of the coordinator's writes.
  absl::MutexLock lock(&mu_);
  return store_->Backup(path);
}

WorkerRegistration Coordinator::RegisterWorker(const std::string& name,
                                               const std::vector<std::string>& slots) {
  absl::MutexLock lock(&mu_);
  // Ids only need to be unique per server run: leases are checked against the
  // stored trial, not against this registry, so a restarted server accepts
  // calls from workers registered with its predecessor.
  std::string id = absl::StrCat(name.empty() ? "worker" : name, "-",
                                absl::ToUnixMicros(clock_->Now()) % 1000000, "-", next_worker_++);
  worker_names_[id] = name;
  return WorkerRegistration{id, options_.lease, options_.heartbeat};
}

Assignment Coordinator::MakeAssignment(const StudyEntry& entry, const TrialRecord& trial) const {
  Assignment assignment;
  assignment.lease = LeaseKey{entry.record.name, trial.number, trial.attempt};
  assignment.trial = trial;
  nlohmann::json params = TrialParamsJson(entry.spec.trainer, trial.params);
  if (entry.spec.trainer.builtin() && !params.contains("seed")) {
    // A distinct, reproducible seed per trial for the built-in trainer.
    params["seed"] =
        static_cast<int64_t>((entry.spec.sampler.seed + 7919 * trial.number) % 2147483647);
  }
  if (entry.pbt != nullptr && entry.spec.trainer.builtin() &&
      !params.contains("checkpoint_every")) {
    // PBT exploits checkpoints: the built-in trainer saves one per interval.
    params["checkpoint_every"] = entry.spec.pruner.interval;
  }
  assignment.params_json = params.dump();
  assignment.command = entry.spec.trainer.command;
  assignment.time_limit = entry.spec.trainer.time_limit;
  assignment.stop_grace = entry.spec.trainer.stop_grace;
  assignment.upload_checkpoints = entry.pbt != nullptr;
  return assignment;
}

absl::StatusOr<std::optional<Assignment>> Coordinator::LeaseFrom(StudyEntry& entry,
                                                                 const std::string& worker_id) {
  if (entry.counts[TrialState::kRunning] >= entry.spec.budget.parallel) return std::nullopt;
  std::optional<TrialRecord> trial = NextTrial(entry, worker_id);
  if (!trial) return std::nullopt;
  const int64_t number = trial->number;
  RETURN_IF_ERROR(CommitTrial(entry, std::move(*trial)));
  return MakeAssignment(entry, entry.trials[number]);
}

absl::StatusOr<std::optional<Assignment>> Coordinator::AcquireTrial(const std::string& worker_id,
                                                                    const std::string& slot) {
  if (worker_id == kAskedWorkerId) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker_id: \"", worker_id, "\" is reserved for asked trials"));
  }
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  worker_names_.try_emplace(worker_id, worker_id);
  if (leasing_stopped_) return std::nullopt;
  for (StudyEntry* entry : creation_order_) {
    if (entry->record.state != StudyState::kActive) continue;
    if (entry->spec.trainer.external) continue;  // Its trials run through Ask/Tell only.
    ASSIGN_OR_RETURN(std::optional<Assignment> assignment, LeaseFrom(*entry, worker_id));
    if (assignment) return assignment;
  }
  return std::nullopt;
}

absl::StatusOr<TrialAction> Coordinator::ReportProgress(const std::string& worker_id,
                                                        const LeaseKey& lease,
                                                        const Measurement& measurement) {
  return ReportProgress(worker_id, lease, measurement, nullptr);
}

absl::StatusOr<TrialAction> Coordinator::ReportProgress(const std::string& worker_id,
                                                        const LeaseKey& lease,
                                                        const Measurement& measurement,
                                                        ExploitAnswer* exploit) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(lease.study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, lease.trial_number));
  if (trial->state == TrialState::kPruned && trial->attempt == lease.attempt &&
      trial->worker_id == worker_id) {
    return TrialAction::kStop;  // Already decided; the worker did not hear it.
  }
  RETURN_IF_ERROR(CheckLease(*trial, worker_id, lease));
  if (measurement.step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("step must be >= 0, got ", measurement.step));
  }
  RETURN_IF_ERROR(CheckMetrics(measurement.metrics, "measurement.metrics"));
  RETURN_IF_ERROR(RecordMeasurement(*entry, *trial, measurement));
  entry->lease_deadline[trial->number] = clock_->Now() + options_.lease;
  if (!PrunerStops(*entry, *trial, measurement.step)) {
    return MaybeExploit(*entry, *trial, measurement.step, exploit);
  }
  RETURN_IF_ERROR(PruneTrial(*entry, *trial));
  return TrialAction::kStop;
}

absl::Status Coordinator::RecordMeasurement(StudyEntry& entry, TrialRecord& trial,
                                            const Measurement& measurement) {
  RETURN_IF_ERROR(store_->AddMeasurement(entry.record.name, trial.number, measurement));
  InsertMeasurement(trial.intermediate, measurement);
  ObserveTrial(entry, trial.number);
  return absl::OkStatus();
}

bool Coordinator::PrunerStops(const StudyEntry& entry, const TrialRecord& trial, int64_t step) {
  // A study stopped meanwhile stops its running trials at their next report.
  return entry.record.state != StudyState::kActive ||
         entry.pruner->ShouldPrune(entry.spec.objective, trial, step, AllTrials(entry));
}

absl::Status Coordinator::PruneTrial(StudyEntry& entry, const TrialRecord& trial) {
  TrialRecord updated = trial;
  updated.state = TrialState::kPruned;
  updated.end_time = clock_->Now();
  RETURN_IF_ERROR(CommitTrial(entry, std::move(updated)));
  return MaybeFinishStudy(entry);
}

absl::Status Coordinator::CompleteTrial(const std::string& worker_id, const LeaseKey& lease,
                                        TrialState state, const MetricMap& final_metrics,
                                        const std::string& failure_reason) {
  if (state != TrialState::kComplete && state != TrialState::kPruned &&
      state != TrialState::kFailed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial ends COMPLETE, PRUNED or FAILED, not ", TrialStateName(state)));
  }
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(lease.study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, lease.trial_number));
  if (IsFinished(trial->state) && trial->attempt == lease.attempt &&
      trial->worker_id == worker_id) {
    return absl::OkStatus();  // A retry of a call that already took effect.
  }
  RETURN_IF_ERROR(CheckLease(*trial, worker_id, lease));
  TrialRecord updated = *trial;
  updated.state = state;
  updated.end_time = clock_->Now();
  if (state == TrialState::kComplete) {
    // A result that cannot be ranked fails the trial (as Optuna fails a NaN
    // objective) rather than being refused: the worker could not fix it, and
    // a refused CompleteTrial would leave the trial to expire and run again.
    const absl::Status valid = CheckMetrics(final_metrics, "final_metrics");
    if (valid.ok()) updated.final_metrics = final_metrics;
    const std::optional<double> value = ObjectiveValue(updated, entry->spec.objective);
    if (!valid.ok()) {
      updated.state = TrialState::kFailed;
      updated.failure_reason = std::string(valid.message());
    } else if (!value) {
      updated.state = TrialState::kFailed;
      updated.failure_reason =
          absl::StrCat("the trial reported no value of the objective metric \"",
                       entry->spec.objective.metric, "\"");
    } else if (std::isnan(*value)) {
      updated.state = TrialState::kFailed;
      updated.failure_reason =
          absl::StrCat("the objective metric \"", entry->spec.objective.metric, "\" is NaN");
    } else {
      JudgeObjectivesAndConstraints(entry->spec, updated);
    }
  } else if (state == TrialState::kFailed) {
    updated.failure_reason =
        failure_reason.empty() ? "failed (no reason given)" : BoundedReason(failure_reason);
  }
  RETURN_IF_ERROR(CommitTrial(*entry, std::move(updated)));
  return MaybeFinishStudy(*entry);
}

std::vector<LeaseKey> Coordinator::Heartbeat(const std::string& worker_id,
                                             const std::vector<LeaseKey>& leases) {
  absl::MutexLock lock(&mu_);
  // Renew first: a worker that heartbeats on time must not lose a lease to the
  // expiry pass below.
  std::vector<LeaseKey> lost;
  for (const LeaseKey& lease : leases) {
    auto study = studies_.find(lease.study);
    bool held = false;
    if (study != studies_.end()) {
      StudyEntry& entry = *study->second;
      if (lease.trial_number >= 0 &&
          lease.trial_number < static_cast<int64_t>(entry.trials.size())) {
        const TrialRecord& trial = entry.trials[lease.trial_number];
        held = CheckLease(trial, worker_id, lease).ok() &&
               entry.lease_deadline[trial.number] > clock_->Now();
        if (held) entry.lease_deadline[trial.number] = clock_->Now() + options_.lease;
      }
    }
    if (!held) lost.push_back(lease);
  }
  ExpireLeasesLocked().IgnoreError();  // Best effort; the next call retries.
  return lost;
}

absl::Status Coordinator::ReleaseTrial(const std::string& worker_id, const LeaseKey& lease) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(lease.study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, lease.trial_number));
  RETURN_IF_ERROR(CheckLease(*trial, worker_id, lease));
  TrialRecord updated = *trial;
  updated.state = TrialState::kWaiting;  // `retries` counts lost leases only.
  return CommitTrial(*entry, std::move(updated));
}

ParamMap Coordinator::SuggestParams(const StudyEntry& entry, int64_t number) {
  if (entry.history_index == nullptr) {
    return entry.sampler->Suggest(entry.spec.space, AllTrials(entry), number);
  }
  return entry.sampler->SuggestIndexed(entry.spec.space, entry.trials, *entry.history_index,
                                       number);
}

void Coordinator::ObserveTrial(StudyEntry& entry, int64_t number) {
  if (entry.history_index != nullptr) entry.history_index->Observe(entry.trials[number]);
}

int64_t Coordinator::BudgetedTrials(const StudyEntry& entry) {
  return static_cast<int64_t>(entry.trials.size()) - entry.copied;
}

absl::Status Coordinator::CheckWarmStartSource(const StudySpec& spec) {
  if (spec.warm_start && studies_.count(spec.warm_start->study) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "warm_start.study: study \"", spec.warm_start->study, "\" not found on this server"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrialAction> Coordinator::MaybeExploit(StudyEntry& entry, TrialRecord& trial,
                                                      int64_t step, ExploitAnswer* exploit) {
  if (entry.pbt == nullptr || exploit == nullptr) return TrialAction::kContinue;
  std::optional<ExploitDecision> decision =
      entry.pbt->Decide(entry.spec.objective, trial, step, AllTrials(entry), entry.checkpoints);
  if (!decision) return TrialAction::kContinue;
  TrialRecord updated = trial;
  updated.exploits.push_back(
      ExploitRecord{step, decision->donor, decision->donor_step, std::move(updated.params)});
  updated.params = std::move(decision->params);
  const int64_t number = updated.number;
  RETURN_IF_ERROR(CommitTrial(entry, std::move(updated)));
  // Its checkpoints after the donor's step belong to the run it abandons.
  auto own = entry.checkpoints.find(number);
  if (own != entry.checkpoints.end()) {
    own->second.erase(own->second.upper_bound(decision->donor_step), own->second.end());
  }
  exploit->donor = decision->donor;
  exploit->donor_step = decision->donor_step;
  exploit->params_json = MakeAssignment(entry, entry.trials[number]).params_json;
  return TrialAction::kExploit;
}

absl::Status Coordinator::AddCheckpoint(const std::string& worker_id, const LeaseKey& lease,
                                        int64_t step, const std::function<absl::Status()>& commit) {
  if (step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("step: must be >= 0, got ", step));
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(lease.study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, lease.trial_number));
  RETURN_IF_ERROR(CheckLease(*trial, worker_id, lease));
  RETURN_IF_ERROR(commit());
  // As CheckpointStore: later steps belong to a run the trial abandoned.
  std::set<int64_t>& steps = entry->checkpoints[trial->number];
  steps.erase(steps.upper_bound(step), steps.end());
  steps.insert(step);
  while (steps.size() > static_cast<size_t>(kPbtCheckpointsKept)) steps.erase(steps.begin());
  return absl::OkStatus();
}

absl::Status Coordinator::CheckCheckpointDownload(const std::string& worker_id,
                                                  const LeaseKey& lease, int64_t donor,
                                                  int64_t step) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(lease.study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, lease.trial_number));
  RETURN_IF_ERROR(CheckLease(*trial, worker_id, lease));
  // The checkpoint this trial's last exploit was given stays fetchable while
  // its files last, even if the donor has since exploited itself (which drops
  // it from the index) before this worker came to fetch it.
  const bool promised = !trial->exploits.empty() && trial->exploits.back().donor == donor &&
                        trial->exploits.back().donor_step == step;
  auto held = entry->checkpoints.find(donor);
  if (!promised && (held == entry->checkpoints.end() || held->second.count(step) == 0)) {
    return absl::NotFoundError(absl::StrCat(
        "study \"", lease.study, "\" has no checkpoint of trial ", donor, " at step ", step));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Coordinator::CopyWarmStartTrials(StudyEntry& entry) {
  if (!entry.spec.warm_start) return std::string();
  RETURN_IF_ERROR(CheckWarmStartSource(entry.spec));
  const StudyEntry& source = *studies_.at(entry.spec.warm_start->study);
  WarmStartCopies copies = SelectWarmStartTrials(entry.spec, source.trials);
  for (TrialRecord& copy : copies.trials) {
    const std::vector<Measurement> intermediate = copy.intermediate;
    RETURN_IF_ERROR(CommitTrial(entry, copy));
    for (const Measurement& measurement : intermediate) {
      RETURN_IF_ERROR(store_->AddMeasurement(entry.record.name, copy.number, measurement));
    }
    entry.trials[copy.number].intermediate = intermediate;
    ObserveTrial(entry, copy.number);
    entry.copied++;
  }
  return WarmStartNote(entry.spec, copies);
}

absl::StatusOr<TrialRecord> Coordinator::EnqueueTrial(const std::string& study,
                                                      const ParamMap& given) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(study));
  if (entry->record.state != StudyState::kActive) {
    return absl::FailedPreconditionError(absl::StrCat("study \"", study, "\" is ",
                                                      StudyStateName(entry->record.state),
                                                      "; only an ACTIVE study takes new trials"));
  }
  const int64_t budget = TrialBudget(entry->spec, *entry->sampler);
  if (BudgetedTrials(*entry) >= budget) {
    return absl::FailedPreconditionError(absl::StrCat(
        "study \"", study, "\" already has all ", budget,
        " trials of its budget (budget.max_trials is ", entry->spec.budget.max_trials, ")"));
  }
  TrialRecord trial;
  trial.study = study;
  trial.number = static_cast<int64_t>(entry->trials.size());
  trial.state = TrialState::kWaiting;
  trial.origin = std::string(kOriginEnqueued);
  const ParamMap suggested = SuggestParams(*entry, trial.number);
  // Children that a given parent switches on, and the sampler left out, are
  // drawn like RandomSampler's: from (seed, trial number).
  const uint64_t seed = entry->spec.sampler.seed;
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(trial.number), 0x656e71u};
  std::mt19937_64 gen(seq);
  ASSIGN_OR_RETURN(trial.params, FillGivenParams(entry->spec.space, given, suggested, gen));
  const int64_t number = trial.number;
  RETURN_IF_ERROR(CommitTrial(*entry, std::move(trial)));
  return entry->trials[number];
}

void Coordinator::RestoreCheckpoints(const std::map<std::string, CheckpointIndex>& stored) {
  absl::MutexLock lock(&mu_);
  for (const auto& [study, index] : stored) {
    auto entry = studies_.find(study);
    if (entry == studies_.end()) continue;
    for (const auto& [number, steps] : index) {
      std::set<int64_t>& kept = entry->second->checkpoints[number];
      kept.insert(steps.begin(), steps.end());
      while (kept.size() > static_cast<size_t>(kPbtCheckpointsKept)) kept.erase(kept.begin());
    }
  }
}

void Coordinator::StopLeasing() {
  absl::MutexLock lock(&mu_);
  leasing_stopped_ = true;
}

// ---- Ask/tell ----

void Coordinator::WaitDurable() { store_->WaitDurable(); }

std::optional<TrialRecord> Coordinator::NextTrial(StudyEntry& entry, const std::string& worker_id) {
  TrialRecord trial;
  if (!entry.waiting.empty()) {
    trial = entry.trials[*entry.waiting.begin()];
  } else if (BudgetedTrials(entry) < TrialBudget(entry.spec, *entry.sampler)) {
    trial.study = entry.record.name;
    trial.number = static_cast<int64_t>(entry.trials.size());
    trial.params = SuggestParams(entry, trial.number);
  } else {
    return std::nullopt;
  }
  trial.state = TrialState::kRunning;
  trial.worker_id = worker_id;
  trial.attempt++;
  trial.start_time = clock_->Now();
  return trial;
}

absl::StatusOr<TrialView> Coordinator::Ask(const std::string& study) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(study));
  if (entry->record.state != StudyState::kActive) {
    return absl::FailedPreconditionError(absl::StrCat("study \"", study, "\" is ",
                                                      StudyStateName(entry->record.state),
                                                      ", not ACTIVE: it hands out no more trials"));
  }
  std::optional<TrialRecord> trial = NextTrial(*entry, kAskedWorkerId);
  if (!trial) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", study, "\" has created all its trials (budget.max_trials is ",
                     entry->spec.budget.max_trials, ", ", BudgetedTrials(*entry),
                     " created); tell the running ones to finish it"));
  }
  const int64_t number = trial->number;
  RETURN_IF_ERROR(CommitTrial(*entry, *std::move(trial)));
  return TrialView{entry->trials[number], entry->spec.objective};
}

absl::StatusOr<TrialRecord> Coordinator::ToldTrial(const StudyEntry& entry, TrialRecord trial,
                                                   TrialState state, std::optional<double> value,
                                                   const MetricMap& metrics,
                                                   const std::string& failure_reason) {
  if (state != TrialState::kComplete && state != TrialState::kPruned &&
      state != TrialState::kFailed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial ends COMPLETE, PRUNED or FAILED, not ", TrialStateName(state)));
  }
  const std::string& metric = entry.spec.objective.metric;
  ASSIGN_OR_RETURN(MetricMap final_metrics, WithObjectiveValue(metric, value, metrics));
  RETURN_IF_ERROR(CheckMetrics(final_metrics, "metrics"));
  auto objective = final_metrics.find(metric);
  if (state == TrialState::kComplete) {
    if (objective == final_metrics.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "value: a COMPLETE trial needs the objective \"", metric, "\" (value or metrics)"));
    }
    if (std::isnan(objective->second)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value: the objective \"", metric, "\" is NaN"));
    }
    for (size_t i = 1; i < entry.spec.objectives.size(); ++i) {
      const std::string& other = entry.spec.objectives[i].metric;
      auto it = final_metrics.find(other);
      if (it == final_metrics.end() || std::isnan(it->second)) {
        return absl::InvalidArgumentError(
            absl::StrCat("metrics: a COMPLETE trial needs a value of every objective; \"", other,
                         it == final_metrics.end() ? "\" is missing" : "\" is NaN"));
      }
    }
  }
  trial.state = state;
  trial.final_metrics = std::move(final_metrics);
  // A told trial that breaks a constraint ends INFEASIBLE, as a worker's does.
  if (state == TrialState::kComplete) JudgeObjectivesAndConstraints(entry.spec, trial);
  if (state == TrialState::kFailed) {
    trial.failure_reason =
        failure_reason.empty() ? "failed (no reason given)" : BoundedReason(failure_reason);
  }
  return trial;
}

absl::StatusOr<TrialView> Coordinator::Tell(const std::string& study, int64_t trial_number,
                                            TrialState state, std::optional<double> value,
                                            const MetricMap& metrics,
                                            const std::string& failure_reason) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, trial_number));
  if (state == TrialState::kPruned && trial->state == TrialState::kPruned &&
      trial->worker_id == kAskedWorkerId) {
    return TrialView{*trial, entry->spec.objective};  // Report pruned it already.
  }
  RETURN_IF_ERROR(CheckAskedTrial(study, *trial, "told"));
  ASSIGN_OR_RETURN(TrialRecord updated,
                   ToldTrial(*entry, *trial, state, value, metrics, failure_reason));
  updated.end_time = clock_->Now();
  RETURN_IF_ERROR(CommitTrial(*entry, std::move(updated)));
  RETURN_IF_ERROR(MaybeFinishStudy(*entry));
  return TrialView{entry->trials[trial_number], entry->spec.objective};
}

absl::Status Coordinator::CheckAskedTrial(const std::string& study, const TrialRecord& trial,
                                          absl::string_view call) {
  if (trial.state == TrialState::kRunning && trial.worker_id == kAskedWorkerId) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "trial ", trial.number, " of study \"", study, "\" is ", TrialStateName(trial.state),
      trial.state == TrialState::kRunning ? " on a worker" : "",
      ": only a RUNNING trial handed out by Ask can be ", call));
}

absl::StatusOr<AskedReport> Coordinator::Report(const std::string& study, int64_t trial_number,
                                                std::optional<double> value,
                                                Measurement measurement) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExpireLeasesLocked());
  ASSIGN_OR_RETURN(StudyEntry * entry, FindStudy(study));
  ASSIGN_OR_RETURN(TrialRecord * trial, FindTrial(*entry, trial_number));
  RETURN_IF_ERROR(CheckAskedTrial(study, *trial, "reported"));
  if (measurement.step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("step: must be >= 0, got ", measurement.step));
  }
  ASSIGN_OR_RETURN(measurement.metrics, WithObjectiveValue(entry->spec.objective.metric, value,
                                                           std::move(measurement.metrics)));
  if (measurement.metrics.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("value: a report needs the objective \"",
                                                   entry->spec.objective.metric,
                                                   "\" or other metrics"));
  }
  RETURN_IF_ERROR(CheckMetrics(measurement.metrics, "metrics"));
  RETURN_IF_ERROR(RecordMeasurement(*entry, *trial, measurement));
  const bool prune = PrunerStops(*entry, *trial, measurement.step);
  if (prune) RETURN_IF_ERROR(PruneTrial(*entry, *trial));
  return AskedReport{prune, TrialView{entry->trials[trial_number], entry->spec.objective}};
}

}  // namespace vernier
