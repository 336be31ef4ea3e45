#include "server/coordinator/study.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"
#include "server/coordinator/artifact_retention.h"
#include "server/coordinator/best_trials.h"
#include "server/coordinator/judge.h"
#include "server/logic/given_params.h"
#include "server/logic/random.h"
#include "server/logic/refit.h"
#include "server/logic/stop_conditions.h"

namespace vernier {
namespace {

int64_t TrialBudget(const StudySpec& spec, const BudgetSpec& budget, const Sampler& sampler) {
  const std::optional<int64_t> capacity = sampler.Capacity(spec.space);
  return capacity ? std::min(budget.max_trials, *capacity) : budget.max_trials;
}

// The trials the pruner and pbt compare a trial with (LearnsFrom).
std::vector<const TrialRecord*> LearnedFrom(const std::vector<TrialRecord>& trials) {
  std::vector<const TrialRecord*> learned;
  learned.reserve(trials.size());
  for (const TrialRecord& trial : trials) {
    if (LearnsFrom(trial)) learned.push_back(&trial);
  }
  return learned;
}

// Puts `measurement` into a copy of `trial`'s values, as a commit would.
TrialRecord WithMeasurement(TrialRecord trial, const Measurement& measurement) {
  auto at = std::lower_bound(trial.intermediate.begin(), trial.intermediate.end(), measurement.step,
                             [](const Measurement& m, int64_t step) { return m.step < step; });
  if (at != trial.intermediate.end() && at->step == measurement.step) {
    *at = measurement;
  } else {
    trial.intermediate.insert(at, measurement);
  }
  return trial;
}

absl::Status NotActive(const StudyRecord& record, absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("study \"", record.name, "\" is ", StudyStateName(record.state), what));
}

}  // namespace

absl::StatusOr<std::shared_ptr<Study>> Study::Make(StudyRecord record,
                                                   const StudyContext& context) {
  ASSIGN_OR_RETURN(std::unique_ptr<Sampler> sampler, MakeSampler(record.spec));
  ASSIGN_OR_RETURN(std::unique_ptr<Pruner> pruner, MakePruner(record.spec.pruner));
  return std::shared_ptr<Study>(
      new Study(std::move(record), context, std::move(sampler), std::move(pruner)));
}

Study::Study(StudyRecord record, const StudyContext& context, std::unique_ptr<Sampler> sampler,
             std::unique_ptr<Pruner> pruner)
    : spec_(record.spec),
      store_(context.store),
      clock_(context.clock),
      leases_(context.leases),
      artifacts_(context.artifacts),
      observer_(context.observer),
      sampler_(std::move(sampler)),
      pruner_(std::move(pruner)),
      budget_(spec_.budget),
      trial_budget_(TrialBudget(spec_, spec_.budget, *sampler_)),
      trials_(std::move(record), sampler_->NewHistoryIndex(), context.leases),
      checkpoints_(spec_, context.checkpoints),
      events_(context.events_kept) {}

absl::Status Study::Create(std::vector<TrialRecord> copies) {
  absl::MutexLock lock(&mu_);
  StudyTrials::Change change;
  change.create_study = true;
  for (TrialRecord& copy : copies) {
    for (const Measurement& measurement : copy.intermediate) {
      change.measurements.emplace_back(copy.number, measurement);
    }
    change.trials.push_back(std::move(copy));
  }
  return Commit(std::move(change));
}

absl::Status Study::Load(std::vector<TrialRecord> trials, const CheckpointIndex& checkpoints,
                         bool at_rest) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(trials_.Load(std::move(trials)));
  at_rest_ = at_rest;
  checkpoints_.Restore(checkpoints);
  // A crash between a trial's end and the deletion left these behind.
  for (const TrialRecord& trial : trials_.trials()) {
    if (IsFinished(trial.state)) checkpoints_.DropFinished(trial.number);
  }
  return MaybeFinish();
}

void Study::LoadUnloaded(StudySummary summary) {
  absl::MutexLock lock(&mu_);
  at_rest_ = true;
  unloaded_ = true;
  resting_summary_ = std::move(summary);
  NoteRead();
}

absl::Status Study::Commit(StudyTrials::Change change) {
  RETURN_IF_ERROR(CheckNotDeleted());
  RETURN_IF_ERROR(EnsureLoaded());
  RETURN_IF_ERROR(trials_.Check(change));
  // The study's creation publishes nothing: no one can watch it yet.
  std::optional<ChangeNote> note;
  if (!change.create_study) note = NoteOf(change);
  const absl::Status written = trials_.Commit(*store_, std::move(change));
  if (!written.ok()) {
    stale_ = true;
    Reload().IgnoreError();  // EnsureLoaded() tries again at the next write.
    return written;
  }
  if (!note) return written;
  for (StudyEvent& event :
       EventsOfChange(*note, trials_.trials(), spec_.objectives, clock_->Now())) {
    events_.Publish(std::move(event));
  }
  return written;
}

ChangeNote Study::NoteOf(const StudyTrials::Change& change) const {
  ChangeNote note;
  const std::vector<TrialRecord>& held = trials_.trials();
  for (const TrialRecord& trial : change.trials) {
    std::optional<TrialState> before;
    if (trial.number < static_cast<int64_t>(held.size())) before = held[trial.number].state;
    note.trials.emplace_back(trial.number, before);
  }
  note.measurements = change.measurements;
  note.study_state = change.study_state;
  return note;
}

absl::Status Study::Reload() {
  ASSIGN_OR_RETURN(StoredStudy stored, store_->LoadStudy(spec_.name));
  trials_.ReleaseLeases();
  StudyTrials reloaded(std::move(stored.study), sampler_->NewHistoryIndex(), leases_);
  RETURN_IF_ERROR(reloaded.Load(std::move(stored.trials)));
  trials_ = std::move(reloaded);
  stale_ = false;
  at_rest_ = false;
  unloaded_ = false;
  StudyEvent resync;
  resync.time = clock_->Now();
  resync.resync_reason = ResyncReason::kStudyReloaded;
  events_.Publish(std::move(resync));
  return absl::OkStatus();
}

absl::Status Study::EnsureLoaded() {
  if (!stale_ && !at_rest_) return absl::OkStatus();
  if (resting_summary_) {
    // A change follows: from now on a restart must load the trials, not a
    // summary that would no longer be true.
    const absl::Status cleared = store_->SetRestingSummary(spec_.name, std::nullopt);
    if (!cleared.ok()) {
      return absl::UnavailableError(absl::StrCat("study \"", spec_.name,
                                                 "\" cannot be changed now: clearing its "
                                                 "resting summary failed: ",
                                                 cleared.message()));
    }
    resting_summary_.reset();
  }
  const absl::Status reloaded = Reload();
  if (reloaded.ok()) return reloaded;
  return absl::UnavailableError(absl::StrCat(
      "study \"", spec_.name, "\" cannot be read back after a failed write: ", reloaded.message()));
}

absl::Status Study::LoadTrialsBack() {
  if (!unloaded_) return absl::OkStatus();
  ASSIGN_OR_RETURN(StoredStudy stored, store_->LoadStudyLastValues(spec_.name));
  StudyTrials loaded(std::move(stored.study), sampler_->NewHistoryIndex(), leases_);
  RETURN_IF_ERROR(loaded.Load(std::move(stored.trials)));
  trials_ = std::move(loaded);
  unloaded_ = false;
  NoteRead();
  return absl::OkStatus();
}

absl::Status Study::HoldTrials() {
  NoteRead();
  {
    absl::ReaderMutexLock shared(&mu_);
    if (!unloaded_) return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  return LoadTrialsBack();
}

absl::Status Study::CheckHeld() const {
  if (!unloaded_) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("study \"", spec_.name, "\" was unloaded while being read; try again"));
}

absl::Status Study::MaybeFinish() {
  if (!Active()) return absl::OkStatus();
  std::optional<std::pair<StudyState, std::string>> end = EndUnder(budget_);
  if (!end) return absl::OkStatus();
  StudyTrials::Change change;
  change.study_state = std::move(end);
  return Commit(std::move(change));
}

std::optional<std::pair<StudyState, std::string>> Study::EndUnder(const BudgetSpec& budget) const {
  const int64_t failed = trials_.Count(TrialState::kFailed);
  const int64_t finished = trials_.BudgetedTrials() - trials_.Count(TrialState::kWaiting) -
                           trials_.Count(TrialState::kRunning);
  if (failed > budget.max_failures) {
    return std::make_pair(
        StudyState::kStopped,
        absl::StrCat(failed, " trials failed (budget.max_failures is ", budget.max_failures, ")"));
  }
  if (finished >= TrialBudget(spec_, budget, *sampler_)) {
    return std::make_pair(StudyState::kCompleted, std::string());
  }
  // A scan of the trials: only for studies that ask for it.
  if (!HasStopConditions(budget)) return std::nullopt;
  std::optional<std::string> reason = StopConditionReached(
      budget, spec_.objectives, trials_.trials(), trials_.record().create_time, clock_->Now());
  if (!reason) return std::nullopt;
  return std::make_pair(StudyState::kCompleted, *std::move(reason));
}

absl::Status Study::MaybeFinishOnTime() {
  if (!Active() || !budget_.max_seconds) return absl::OkStatus();
  return MaybeFinish();
}

bool Study::Active() const { return trials_.record().state == StudyState::kActive; }

bool Study::BudgetSpent() const { return trials_.BudgetedTrials() >= trial_budget_; }

absl::Status Study::CheckNotDeleted() const {
  if (!deleted_) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("study \"", spec_.name, "\" was deleted"));
}

bool Study::WorkerMayLease() const {
  return Active() && !deleted_ && !spec_.trainer.external &&
         trials_.Count(TrialState::kRunning) < budget_.parallel;
}

StudyView Study::ViewLocked() const {
  if (unloaded_) return StudyView{trials_.record(), resting_summary_->trial_counts, ""};
  return StudyView{trials_.record(), trials_.counts(), ""};
}

StudyView Study::View() const {
  absl::ReaderMutexLock lock(&mu_);
  return ViewLocked();
}

TrialView Study::TrialViewOf(int64_t number) const {
  return TrialView{trials_.trials()[number], spec_.objectives};
}

absl::StatusOr<StudyView> Study::Stop() {
  absl::MutexLock lock(&mu_);
  if (Active()) {
    StudyTrials::Change change;
    change.study_state.emplace(StudyState::kStopped, "stopped by a user");
    RETURN_IF_ERROR(Commit(std::move(change)));
  }
  return ViewLocked();
}

absl::StatusOr<DeletedStudy> Study::Delete(bool force) {
  // create_mu_ too: no trial is being created while the study goes.
  absl::MutexLock create_lock(&create_mu_);
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckNotDeleted());
  std::vector<int64_t> running;
  for (const TrialRecord& trial : trials_.trials()) {
    if (trial.state == TrialState::kRunning) running.push_back(trial.number);
  }
  if (!running.empty() && !force) {
    return absl::FailedPreconditionError(absl::StrCat(
        "study \"", spec_.name, "\" has ", running.size(), " running trial",
        running.size() == 1 ? "" : "s", " (", absl::StrJoin(running, ", "),
        "): stop the study and let them end, or delete it with --force (force: true)"));
  }
  absl::StatusOr<int64_t> trials = store_->DeleteStudy(spec_.name);
  // A delete that reported an error may have reached the disk all the same.
  if (!trials.ok() && absl::IsNotFound(store_->LoadStudy(spec_.name).status())) {
    trials = static_cast<int64_t>(trials_.trials().size());
  }
  RETURN_IF_ERROR(trials.status());
  deleted_ = true;
  trials_.ReleaseLeases();
  events_.Close();
  return DeletedStudy{*trials, static_cast<int64_t>(running.size())};
}

bool Study::deleted() const {
  absl::ReaderMutexLock lock(&mu_);
  return deleted_;
}

std::optional<ShareCandidate> Study::ShareNow() const {
  absl::ReaderMutexLock lock(&mu_);
  if (deleted_ || spec_.trainer.external) return std::nullopt;
  if (!Active() && !RefitWaiting()) return std::nullopt;
  return ShareCandidate{trials_.Count(TrialState::kRunning), budget_.priority, last_served_.load()};
}

std::string Study::WaitReasonNow(absl::Span<const SeenSlot> slots) const {
  absl::ReaderMutexLock lock(&mu_);
  if (!Active() || deleted_ || spec_.trainer.external) return "";
  if (!trials_.FirstWaiting() && BudgetSpent()) return "";
  return WaitReason(spec_, trials_.Count(TrialState::kRunning), budget_.parallel, slots);
}

absl::StatusOr<TrialView> Study::Exclude(int64_t number, const std::string& reason, bool include) {
  absl::MutexLock lock(&mu_);
  if (reason.size() > kMaxExclusionReasonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("reason: ", reason.size(), " bytes, at most ", kMaxExclusionReasonBytes));
  }
  RETURN_IF_ERROR(CheckNotDeleted());
  RETURN_IF_ERROR(EnsureLoaded());
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(number));
  if (!IsFinished(trial->state)) {
    return absl::FailedPreconditionError(absl::StrCat("trial ", number, " of study \"", spec_.name,
                                                      "\" is ", TrialStateName(trial->state),
                                                      ": only a finished trial can be excluded"));
  }
  const bool excluded = !include;
  const std::string& new_reason = include ? std::string() : reason;
  if (trial->excluded == excluded && trial->exclusion_reason == new_reason) {
    return TrialViewOf(number);
  }
  TrialRecord changed = *trial;
  changed.excluded = excluded;
  changed.exclusion_reason = new_reason;
  StudyTrials::Change change;
  change.trials.push_back(std::move(changed));
  RETURN_IF_ERROR(Commit(std::move(change)));
  // A trial counted again may meet a stop condition (target, say).
  RETURN_IF_ERROR(MaybeFinish());
  return TrialViewOf(number);
}

absl::StatusOr<StudyView> Study::Update(const BudgetUpdate& update) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureLoaded());
  if (update.resume && Active()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", spec_.name, "\" is ACTIVE: there is nothing to resume"));
  }
  if (!update.resume && !Active()) {
    return NotActive(trials_.record(),
                     ": `vernier study resume` restarts it, with a larger budget where needed");
  }
  StudySpec spec = trials_.record().spec;
  if (update.max_trials) spec.budget.max_trials = *update.max_trials;
  if (update.parallel) spec.budget.parallel = *update.parallel;
  if (update.max_failures) spec.budget.max_failures = *update.max_failures;
  if (update.target) spec.budget.target = update.target;
  if (update.max_seconds) spec.budget.max_seconds = update.max_seconds;
  if (update.patience_trials) spec.budget.patience_trials = update.patience_trials;
  if (update.priority) spec.budget.priority = *update.priority;
  RETURN_IF_ERROR(NormalizeStudySpec(spec));
  const int64_t created = trials_.BudgetedTrials();
  if (spec.budget.max_trials < created) {
    return absl::FailedPreconditionError(
        absl::StrCat("budget.max_trials: study \"", spec_.name, "\" already has ", created,
                     " trials of its budget; it cannot be lowered to ", spec.budget.max_trials));
  }
  StudyTrials::Change change;
  if (update.resume) {
    // Resuming into a budget that ends the study at once would do nothing.
    if (std::optional<std::pair<StudyState, std::string>> end = EndUnder(spec.budget)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "study \"", spec_.name, "\" would end again at once under this budget (",
          end->second.empty() ? absl::StrCat("its ", created, " trials spend budget.max_trials")
                              : end->second,
          "): change that part of it"));
    }
    change.study_state.emplace(StudyState::kActive, "");
  }
  change.spec = spec;
  RETURN_IF_ERROR(Commit(std::move(change)));
  budget_ = spec.budget;
  trial_budget_ = TrialBudget(spec_, budget_, *sampler_);
  // A smaller budget may end an ACTIVE study now.
  RETURN_IF_ERROR(MaybeFinish());
  return ViewLocked();
}

absl::StatusOr<TrialsView> Study::Trials() {
  RETURN_IF_ERROR(HoldTrials());
  absl::ReaderMutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckHeld());
  TrialsView view{trials_.trials(), spec_.objectives};
  if (at_rest_) {
    ASSIGN_OR_RETURN(auto values,
                     store_->LoadValues(spec_.name, 0, std::numeric_limits<int64_t>::max()));
    for (TrialRecord& trial : view.trials) trial.intermediate = std::move(values[trial.number]);
  }
  return view;
}

absl::StatusOr<TrialPage> Study::ListTrials(const TrialQuery& query) {
  RETURN_IF_ERROR(HoldTrials());
  absl::ReaderMutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckHeld());
  ASSIGN_OR_RETURN(TrialPage page, SelectTrialPage(name(), trials_.trials(), trials_.counts(),
                                                   spec_.objectives, query));
  RETURN_IF_ERROR(RestoreValues(query, page.trials));
  return page;
}

absl::StatusOr<TrialView> Study::GetTrial(int64_t number) {
  RETURN_IF_ERROR(HoldTrials());
  absl::ReaderMutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckHeld());
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(number));
  std::vector<TrialRecord> one = {*trial};
  RETURN_IF_ERROR(RestoreWholeCurves(one));
  return TrialView{std::move(one.front()), spec_.objectives};
}

absl::Status Study::RestoreWholeCurves(std::vector<TrialRecord>& trials) const {
  if (!at_rest_) return absl::OkStatus();
  for (TrialRecord& trial : trials) {
    ASSIGN_OR_RETURN(auto values, store_->LoadValues(spec_.name, trial.number, trial.number));
    trial.intermediate = std::move(values[trial.number]);
  }
  return absl::OkStatus();
}

absl::Status Study::RestoreValues(const TrialQuery& query, std::vector<ListedTrial>& listed) const {
  if (!at_rest_ || query.omit_intermediate || listed.empty()) return absl::OkStatus();
  // A page by number reads one range of the store; a page by objective, or
  // of a sample (spread over the whole study), reads its trials one by one
  // (at most kMaxTrialPageSize of them).
  const bool by_number = query.order == TrialOrder::kNumber && query.sample_size == 0;
  std::map<int64_t, std::vector<Measurement>> values;
  if (by_number) {
    ASSIGN_OR_RETURN(values, store_->LoadValues(spec_.name, listed.front().trial.number,
                                                listed.back().trial.number));
  }
  for (ListedTrial& entry : listed) {
    const int64_t number = entry.trial.number;
    if (!by_number) {
      ASSIGN_OR_RETURN(auto one, store_->LoadValues(spec_.name, number, number));
      values[number] = std::move(one[number]);
    }
    entry.trial.intermediate =
        ThinnedCurve(values[number], query.max_points_per_curve, query.curve_metrics);
  }
  return absl::OkStatus();
}

bool Study::IsOver(StudyState state, int64_t unfinished_trials) {
  return state != StudyState::kActive && unfinished_trials == 0;
}

bool Study::IsOver(const StoredStudy& stored) {
  const auto unfinished =
      std::count_if(stored.trials.begin(), stored.trials.end(),
                    [](const TrialRecord& trial) { return !IsFinished(trial.state); });
  return IsOver(stored.study.state, unfinished);
}

bool Study::RefitWaiting() const {
  return !trials_.trials().empty() && IsRefit(trials_.trials().back()) &&
         trials_.trials().back().state == TrialState::kWaiting;
}

void Study::Rest() {
  {
    // Called every second for every study: most answer here, shared.
    absl::ReaderMutexLock shared(&mu_);
    if (at_rest_ || Active()) return;
  }
  absl::MutexLock lock(&mu_);
  const int64_t unfinished =
      trials_.Count(TrialState::kRunning) + trials_.Count(TrialState::kWaiting);
  if (at_rest_ || stale_ || deleted_ || !IsOver(trials_.record().state, unfinished)) return;
  trials_.KeepLastValues();
  at_rest_ = true;
  NoteRead();  // Unload() counts its idle time from here.
}

bool Study::at_rest() const {
  absl::ReaderMutexLock lock(&mu_);
  return at_rest_;
}

absl::Status Study::Unload(absl::Duration idle) {
  {
    absl::ReaderMutexLock shared(&mu_);
    if (!at_rest_ || unloaded_) return absl::OkStatus();
  }
  if (clock_->Now() - absl::FromUnixMicros(last_read_micros_.load()) < idle) {
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  if (!at_rest_ || unloaded_ || stale_ || deleted_) return absl::OkStatus();
  if (!resting_summary_) {
    // Kept before the write: a write that reports an error may still have
    // reached the disk, and a change must then clear it (EnsureLoaded).
    resting_summary_ = SummarizeStudy(trials_.record(), trials_.trials(), trials_.counts(),
                                      trial_budget_, clock_->Now());
    RETURN_IF_ERROR(store_->SetRestingSummary(spec_.name, RestingSummaryText(*resting_summary_)));
  }
  trials_ = StudyTrials(trials_.record(), sampler_->NewHistoryIndex(), leases_);
  unloaded_ = true;
  return absl::OkStatus();
}

bool Study::unloaded() const {
  absl::ReaderMutexLock lock(&mu_);
  return unloaded_;
}

absl::Status Study::CheckLease(const std::string& worker_id, const LeaseKey& lease) {
  RETURN_IF_ERROR(HoldTrials());
  absl::ReaderMutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckHeld());
  return LeasedTrial(worker_id, lease).status();
}

StudySummary Study::Summary() const {
  absl::ReaderMutexLock lock(&mu_);
  if (unloaded_) {
    StudySummary summary = *resting_summary_;
    summary.state = trials_.record().state;
    summary.time = clock_->Now();
    return summary;
  }
  return SummarizeStudy(trials_.record(), trials_.trials(), trials_.counts(), trial_budget_,
                        clock_->Now());
}

absl::StatusOr<TrialsView> Study::Best(int count) {
  RETURN_IF_ERROR(HoldTrials());
  absl::ReaderMutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckHeld());
  TrialsView best{{}, spec_.objectives};
  for (const TrialRecord* trial : RankBestTrials(trials_.trials(), spec_.objectives, count)) {
    best.trials.push_back(*trial);
  }
  RETURN_IF_ERROR(RestoreWholeCurves(best.trials));
  return best;
}

// ---- Creating trials ----

TrialRecord Study::Started(TrialRecord trial, const std::string& worker_id) const {
  trial.state = TrialState::kRunning;
  trial.worker_id = worker_id;
  trial.attempt++;
  trial.start_time = clock_->Now();
  return trial;
}

absl::StatusOr<TrialRecord> Study::StartWaiting(int64_t number, const std::string& worker_id) {
  StudyTrials::Change change;
  change.trials.push_back(Started(trials_.trials()[number], worker_id));
  RETURN_IF_ERROR(Commit(std::move(change)));
  return trials_.trials()[number];
}

std::pair<int64_t, ParamMap> Study::SuggestNext() {
  // Timed on the steady clock, not clock_: this is how long the computer
  // took, which a fake clock in tests would not see.
  const auto start = std::chrono::steady_clock::now();
  Sampler::PreparedSuggestion suggestion;
  int64_t number = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    // create_mu_ is held: no other trial is created until this one is.
    number = static_cast<int64_t>(trials_.trials().size());
    suggestion =
        sampler_->PrepareSuggestion(spec_.space, trials_.trials(), trials_.history_index(), number);
  }
  ParamMap params = suggestion();
  observer_->SuggestionMade(spec_.sampler.type(),
                            absl::FromChrono(std::chrono::steady_clock::now() - start));
  return {number, std::move(params)};
}

Study::LeaseAnswer Study::LeaseRefit(const std::string& worker_id) {
  // A refit is created last, once the study has ended, and only one at a time.
  if (spec_.trainer.external || trials_.Count(TrialState::kRunning) >= budget_.parallel) {
    return std::optional<Assignment>();
  }
  if (!RefitWaiting()) return std::optional<Assignment>();
  ASSIGN_OR_RETURN(TrialRecord trial, StartWaiting(trials_.trials().back().number, worker_id));
  return std::optional<Assignment>(AssignmentOf(trial));
}

std::optional<Study::LeaseAnswer> Study::LeaseWithoutSuggesting(const std::string& worker_id) {
  if (absl::Status finished = MaybeFinishOnTime(); !finished.ok()) return finished;
  if (!Active()) return LeaseRefit(worker_id);
  if (!WorkerMayLease()) return std::optional<Assignment>();
  if (std::optional<int64_t> waiting = trials_.FirstWaiting()) {
    absl::StatusOr<TrialRecord> trial = StartWaiting(*waiting, worker_id);
    if (!trial.ok()) return trial.status();
    return std::optional<Assignment>(AssignmentOf(*trial));
  }
  if (BudgetSpent()) return std::optional<Assignment>();
  return std::nullopt;
}

Study::LeaseAnswer Study::Lease(const std::string& worker_id) {
  {
    absl::MutexLock lock(&mu_);
    if (auto decided = LeaseWithoutSuggesting(worker_id)) return *std::move(decided);
  }
  absl::MutexLock create(&create_mu_);
  auto [number, params] = SuggestNext();
  absl::MutexLock lock(&mu_);
  // The study went on while the suggestion was computed.
  if (auto decided = LeaseWithoutSuggesting(worker_id)) return *std::move(decided);
  RETURN_IF_ERROR(StartNew(number, std::move(params), worker_id));
  return AssignmentOf(trials_.trials()[number]);
}

std::optional<absl::StatusOr<TrialView>> Study::AskWithoutSuggesting() {
  if (absl::Status finished = MaybeFinishOnTime(); !finished.ok()) return finished;
  if (!Active()) return NotActive(trials_.record(), ", not ACTIVE: it hands out no more trials");
  if (std::optional<int64_t> waiting = trials_.FirstWaiting()) {
    absl::StatusOr<TrialRecord> trial = StartWaiting(*waiting, kAskedWorkerId);
    if (!trial.ok()) return trial.status();
    return TrialViewOf(trial->number);
  }
  if (BudgetSpent()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", spec_.name, "\" has created all its trials (budget.max_trials is ",
                     budget_.max_trials, ", ", trials_.BudgetedTrials(),
                     " created); tell the running ones to finish it"));
  }
  return std::nullopt;
}

absl::StatusOr<TrialView> Study::Ask() {
  {
    absl::MutexLock lock(&mu_);
    if (auto decided = AskWithoutSuggesting()) return *std::move(decided);
  }
  absl::MutexLock create(&create_mu_);
  auto [number, params] = SuggestNext();
  absl::MutexLock lock(&mu_);
  // The study went on while the suggestion was computed.
  if (auto decided = AskWithoutSuggesting()) return *std::move(decided);
  RETURN_IF_ERROR(StartNew(number, std::move(params), kAskedWorkerId));
  return TrialViewOf(number);
}

absl::Status Study::StartNew(int64_t number, ParamMap params, const std::string& worker_id) {
  TrialRecord trial;
  trial.study = spec_.name;
  trial.number = number;
  trial.params = std::move(params);
  StudyTrials::Change change;
  change.trials.push_back(Started(std::move(trial), worker_id));
  return Commit(std::move(change));
}

absl::StatusOr<TrialView> Study::Enqueue(const ParamMap& given) {
  const auto checks = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) -> absl::Status {
    if (!Active()) return NotActive(trials_.record(), "; only an ACTIVE study takes new trials");
    if (BudgetSpent()) {
      return absl::FailedPreconditionError(
          absl::StrCat("study \"", spec_.name, "\" already has all ", trial_budget_,
                       " trials of its budget (budget.max_trials is ", budget_.max_trials, ")"));
    }
    return absl::OkStatus();
  };
  {
    absl::ReaderMutexLock lock(&mu_);
    RETURN_IF_ERROR(checks());
  }
  absl::MutexLock create(&create_mu_);
  auto [number, suggested] = SuggestNext();
  // Children that a given parent switches on, and the sampler left out, are
  // drawn like RandomSampler's: from (seed, trial number).
  std::mt19937_64 gen = MakeGenerator(StreamSeed(spec_.sampler.seed)
                                          .Word(static_cast<uint32_t>(number))
                                          .Word(stream_tag::kEnqueue));
  ASSIGN_OR_RETURN(ParamMap params, FillGivenParams(spec_.space, given, suggested, gen));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(checks());
  TrialRecord trial;
  trial.study = spec_.name;
  trial.number = number;
  trial.state = TrialState::kWaiting;
  trial.origin = std::string(kOriginEnqueued);
  trial.params = std::move(params);
  StudyTrials::Change change;
  change.trials.push_back(std::move(trial));
  RETURN_IF_ERROR(Commit(std::move(change)));
  return TrialViewOf(number);
}

// ---- Refit ----

absl::StatusOr<const TrialRecord*> Study::RefitSourceTrial(std::optional<int64_t> source) const {
  if (spec_.trainer.external) {
    return absl::FailedPreconditionError(absl::StrCat(
        "study \"", spec_.name, "\" runs its trials in your own loop (trainer external); ",
        "refit the best parameters there"));
  }
  if (Active()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", spec_.name,
                     "\" is still ACTIVE: a refit runs once it has ended; stop it "
                     "(vernier study stop ",
                     spec_.name, ") or let it finish"));
  }
  const TrialRecord* last = trials_.trials().empty() ? nullptr : &trials_.trials().back();
  if (last != nullptr && IsRefit(*last) && !IsFinished(last->state)) {
    return absl::FailedPreconditionError(absl::StrCat("refit trial ", last->number, " of study \"",
                                                      spec_.name, "\" is already ",
                                                      TrialStateName(last->state)));
  }
  if (source) {
    ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(*source));
    if (trial->state != TrialState::kComplete || IsRefit(*trial)) {
      return absl::FailedPreconditionError(
          absl::StrCat("trial ", *source, " of study \"", spec_.name, "\" is ",
                       IsRefit(*trial) ? "a refit itself" : TrialStateName(trial->state),
                       "; a refit runs the parameters of a COMPLETE trial of the search"));
    }
    return trial;
  }
  if (spec_.multi_objective()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", spec_.name,
                     "\" is multi-objective and has no single best trial; pick one "
                     "of its Pareto front (vernier best ",
                     spec_.name, ") with --trial N"));
  }
  const std::vector<const TrialRecord*> best =
      RankBestTrials(trials_.trials(), spec_.objectives, /*count=*/1);
  if (best.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study \"", spec_.name, "\" has no COMPLETE trial to refit"));
  }
  return best.front();
}

absl::StatusOr<TrialView> Study::Refit(std::optional<int64_t> source) {
  absl::MutexLock create(&create_mu_);
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureLoaded());  // RefitEpochsOf reads the source's values.
  ASSIGN_OR_RETURN(const TrialRecord* from, RefitSourceTrial(source));
  TrialRecord trial;
  trial.study = spec_.name;
  trial.number = static_cast<int64_t>(trials_.trials().size());
  trial.state = TrialState::kWaiting;
  trial.origin = absl::StrCat(kOriginRefitPrefix, from->number);
  trial.params = from->params;
  // The trial's record says what it trains, also when epochs was searched.
  const std::optional<int64_t> epochs = RefitEpochsOf(from->number);
  if (epochs && trial.params.count("epochs") > 0) trial.params["epochs"] = *epochs;
  const int64_t number = trial.number;
  StudyTrials::Change change;
  change.trials.push_back(std::move(trial));
  RETURN_IF_ERROR(Commit(std::move(change)));
  return TrialViewOf(number);
}

// ---- Assignments ----

nlohmann::json Study::SettingsOf(const TrialRecord& trial) const {
  nlohmann::json settings = spec_.trainer.fixed;
  if (spec_.trainer.builtin()) {
    std::optional<int64_t> checkpoint_every;
    if (const int64_t every = CheckpointEvery(spec_); every > 0) checkpoint_every = every;
    settings = BuiltinTrialSettings(spec_.trainer.fixed, spec_.sampler.seed, trial.number,
                                    checkpoint_every);
  }
  const std::optional<int64_t> source = RefitSource(trial);
  if (!source) return settings;
  settings["refit"] = true;
  if (const std::optional<int64_t> epochs = RefitEpochsOf(*source)) settings["epochs"] = *epochs;
  return settings;
}

std::optional<int64_t> Study::RefitEpochsOf(int64_t source) const {
  if (!spec_.trainer.builtin()) return std::nullopt;
  absl::StatusOr<const TrialRecord*> found = trials_.Find(source);
  if (!found.ok()) return std::nullopt;
  return RefitEpochs(**found, SettingsOf(**found));
}

Assignment Study::AssignmentOf(const TrialRecord& trial) const {
  Assignment assignment;
  assignment.lease = LeaseKey{spec_.name, trial.number, trial.attempt};
  assignment.trial = trial;
  assignment.objectives = spec_.objectives;
  assignment.settings = SettingsOf(trial);
  assignment.command = spec_.trainer.command;
  assignment.time_limit = spec_.trainer.time_limit;
  assignment.stop_grace = spec_.trainer.stop_grace;
  assignment.upload_checkpoints = CheckpointEvery(spec_) > 0;
  assignment.tensorboard_dir = spec_.tracking.tensorboard_dir;
  assignment.resume_step = checkpoints_.ResumeStep(trial);
  if (artifacts_ != nullptr) {
    assignment.max_artifact_bytes = ArtifactUploadLimit(spec_.artifacts, trial);
  }
  return assignment;
}

// ---- Progress and results ----

absl::StatusOr<const TrialRecord*> Study::LeasedTrial(const std::string& worker_id,
                                                      const LeaseKey& lease) const {
  RETURN_IF_ERROR(CheckNotDeleted());
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(lease.trial_number));
  if (trial->state == TrialState::kRunning && trial->attempt == lease.attempt &&
      trial->worker_id == worker_id && worker_id != kAskedWorkerId) {
    return trial;
  }
  return absl::AbortedError(absl::StrCat("lease of trial ", lease.trial_number, " of study \"",
                                         lease.study, "\" (attempt ", lease.attempt,
                                         ") is no longer held by this worker"));
}

absl::StatusOr<const TrialRecord*> Study::AskedTrial(int64_t number, absl::string_view call) const {
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(number));
  if (trial->state == TrialState::kRunning && trial->worker_id == kAskedWorkerId) return trial;
  return absl::FailedPreconditionError(absl::StrCat(
      "trial ", trial->number, " of study \"", spec_.name, "\" is ", TrialStateName(trial->state),
      trial->state == TrialState::kRunning ? " on a worker" : "",
      ": only a RUNNING trial handed out by Ask can be ", call));
}

absl::StatusOr<TrialAction> Study::RecordAndJudge(const TrialRecord& trial,
                                                  const Measurement& measurement,
                                                  ExploitAnswer* exploit) {
  // The pruner and pbt judge the trial with this measurement among its
  // values; the others see the study as stored (they skip the trial itself).
  const TrialRecord judged = WithMeasurement(trial, measurement);
  const std::vector<const TrialRecord*> all = LearnedFrom(trials_.trials());
  StudyTrials::Change change;
  change.measurements.emplace_back(trial.number, measurement);
  // A study stopped meanwhile stops its running trials at their next report.
  // A refit runs to its end: it was asked for after the study ended, and its
  // curve is not comparable with the others'.
  const bool refit = IsRefit(trial);
  const bool stop =
      !refit && (!Active() || pruner_->ShouldPrune(spec_.objective, judged, measurement.step, all));
  if (stop) {
    TrialRecord pruned = trial;
    pruned.state = TrialState::kPruned;
    pruned.end_time = clock_->Now();
    change.trials.push_back(std::move(pruned));
    RETURN_IF_ERROR(Commit(std::move(change)));
    RETURN_IF_ERROR(MaybeFinish());
    return TrialAction::kStop;
  }
  std::optional<ExploitDecision> decision;
  if (exploit != nullptr && !refit) {
    decision = checkpoints_.DecideExploit(judged, measurement.step, all);
  }
  if (!decision) {
    RETURN_IF_ERROR(Commit(std::move(change)));
    return TrialAction::kContinue;
  }
  TrialRecord exploited = trial;
  exploited.exploits.push_back(ExploitRecord{measurement.step, decision->donor,
                                             decision->donor_step, std::move(exploited.params)});
  exploited.params = decision->params;
  change.trials.push_back(std::move(exploited));
  RETURN_IF_ERROR(Commit(std::move(change)));
  checkpoints_.ForgetAfter(trial.number, decision->donor_step);
  exploit->donor = decision->donor;
  exploit->donor_step = decision->donor_step;
  exploit->params = std::move(decision->params);
  return TrialAction::kExploit;
}

absl::StatusOr<TrialAction> Study::ReportProgress(const std::string& worker_id,
                                                  const LeaseKey& lease,
                                                  const Measurement& measurement,
                                                  ExploitAnswer* exploit) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LoadTrialsBack());
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(lease.trial_number));
  if (trial->state == TrialState::kPruned && trial->attempt == lease.attempt &&
      trial->worker_id == worker_id) {
    return TrialAction::kStop;  // Already decided; the worker did not hear it.
  }
  RETURN_IF_ERROR(LeasedTrial(worker_id, lease).status());
  if (measurement.step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("step must be >= 0, got ", measurement.step));
  }
  RETURN_IF_ERROR(CheckMetrics(measurement.metrics, "measurement.metrics"));
  // The commit renews the lease (StudyTrials::Commit).
  return RecordAndJudge(*trial, measurement, exploit);
}

absl::Status Study::CompleteTrial(const std::string& worker_id, const LeaseKey& lease,
                                  TrialState state, const MetricMap& final_metrics,
                                  const std::string& failure_reason) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LoadTrialsBack());
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(lease.trial_number));
  if (IsFinished(trial->state) && trial->attempt == lease.attempt &&
      trial->worker_id == worker_id) {
    return absl::OkStatus();  // A retry of a call that already took effect.
  }
  RETURN_IF_ERROR(LeasedTrial(worker_id, lease).status());
  ASSIGN_OR_RETURN(TrialRecord judged, JudgeFinalResult(spec_, *trial, state, final_metrics,
                                                        failure_reason, ResultSource::kWorker));
  judged.end_time = clock_->Now();
  StudyTrials::Change change;
  change.trials.push_back(std::move(judged));
  RETURN_IF_ERROR(Commit(std::move(change)));
  checkpoints_.DropFinished(lease.trial_number);
  return MaybeFinish();
}

absl::Status Study::ReleaseTrial(const std::string& worker_id, const LeaseKey& lease) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LoadTrialsBack());
  ASSIGN_OR_RETURN(const TrialRecord* trial, LeasedTrial(worker_id, lease));
  TrialRecord released = *trial;
  released.state = TrialState::kWaiting;  // `retries` counts lost leases only.
  StudyTrials::Change change;
  change.trials.push_back(std::move(released));
  return Commit(std::move(change));
}

absl::StatusOr<TrialView> Study::Tell(int64_t trial_number, TrialState state,
                                      std::optional<double> value, const MetricMap& metrics,
                                      const std::string& failure_reason) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LoadTrialsBack());
  ASSIGN_OR_RETURN(const TrialRecord* trial, trials_.Find(trial_number));
  if (state == TrialState::kPruned && trial->state == TrialState::kPruned &&
      trial->worker_id == kAskedWorkerId) {
    return TrialViewOf(trial_number);  // Report pruned it already.
  }
  ASSIGN_OR_RETURN(trial, AskedTrial(trial_number, "told"));
  if (state != TrialState::kComplete && state != TrialState::kPruned &&
      state != TrialState::kFailed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial ends COMPLETE, PRUNED or FAILED, not ", TrialStateName(state)));
  }
  ASSIGN_OR_RETURN(MetricMap final_metrics,
                   WithObjectiveValue(spec_.objective.metric, value, metrics));
  ASSIGN_OR_RETURN(TrialRecord judged,
                   JudgeFinalResult(spec_, *trial, state, std::move(final_metrics), failure_reason,
                                    ResultSource::kTell));
  judged.end_time = clock_->Now();
  StudyTrials::Change change;
  change.trials.push_back(std::move(judged));
  RETURN_IF_ERROR(Commit(std::move(change)));
  RETURN_IF_ERROR(MaybeFinish());
  return TrialViewOf(trial_number);
}

absl::StatusOr<AskedReport> Study::Report(int64_t trial_number, std::optional<double> value,
                                          Measurement measurement) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LoadTrialsBack());
  ASSIGN_OR_RETURN(const TrialRecord* trial, AskedTrial(trial_number, "reported"));
  if (measurement.step < 0) {
    return absl::InvalidArgumentError(absl::StrCat("step: must be >= 0, got ", measurement.step));
  }
  ASSIGN_OR_RETURN(measurement.metrics, WithObjectiveValue(spec_.objective.metric, value,
                                                           std::move(measurement.metrics)));
  if (measurement.metrics.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("value: a report needs the objective \"",
                                                   spec_.objective.metric, "\" or other metrics"));
  }
  RETURN_IF_ERROR(CheckMetrics(measurement.metrics, "metrics"));
  // A pbt study never exploits an asked trial: there is no checkpoint of it.
  ASSIGN_OR_RETURN(TrialAction action, RecordAndJudge(*trial, measurement, nullptr));
  return AskedReport{action == TrialAction::kStop, TrialViewOf(trial_number)};
}

absl::Status Study::ExpireLeases(const std::vector<LeaseKey>& expired) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  StudyTrials::Change change;
  for (const LeaseKey& lease : expired) {
    absl::StatusOr<const TrialRecord*> found = trials_.Find(lease.trial_number);
    if (!found.ok()) continue;
    const TrialRecord& trial = **found;
    // Renewed, ended or leased again since the table listed it.
    if (trial.state != TrialState::kRunning || trial.attempt != lease.attempt ||
        trial.worker_id == kAskedWorkerId) {
      continue;
    }
    TrialRecord updated = trial;
    if (updated.retries < budget_.max_retries) {
      updated.state = TrialState::kWaiting;
      updated.retries++;
    } else {
      updated.state = TrialState::kFailed;
      updated.end_time = now;
      updated.failure_reason =
          absl::StrCat("lease lost ", updated.retries + 1, " times (worker gone or unreachable)");
    }
    change.trials.push_back(std::move(updated));
  }
  if (change.trials.empty()) return absl::OkStatus();
  std::vector<int64_t> failed;
  for (const TrialRecord& trial : change.trials) {
    if (trial.state == TrialState::kFailed) failed.push_back(trial.number);
  }
  const size_t retried = change.trials.size() - failed.size();
  RETURN_IF_ERROR(Commit(std::move(change)));
  for (size_t i = 0; i < retried; ++i) observer_->LeaseExpired(spec_.name, /*retried=*/true);
  for (size_t i = 0; i < failed.size(); ++i) observer_->LeaseExpired(spec_.name, /*retried=*/false);
  for (int64_t number : failed) checkpoints_.DropFinished(number);
  return MaybeFinish();
}

// ---- Checkpoints ----

absl::StatusOr<std::unique_ptr<Study::CheckpointUpload>> Study::StartCheckpointUpload(
    const std::string& worker_id, const LeaseKey& lease, int64_t step) {
  RETURN_IF_ERROR(HoldTrials());
  CheckpointStore* store = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckHeld());
    store = checkpoints_.store();
    if (store == nullptr) {
      return absl::FailedPreconditionError("this server keeps no checkpoints");
    }
    if (step < 0) return absl::InvalidArgumentError(absl::StrCat("step: must be >= 0, got ", step));
    RETURN_IF_ERROR(LeasedTrial(worker_id, lease).status());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStore::Writer> writer,
                   store->StartWrite(spec_.name, lease.trial_number, step));
  return std::unique_ptr<CheckpointUpload>(
      new CheckpointUpload(shared_from_this(), worker_id, lease, step, std::move(writer)));
}

absl::Status Study::CommitCheckpoint(const CheckpointUpload& upload) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(LoadTrialsBack());
  RETURN_IF_ERROR(LeasedTrial(upload.worker_id_, upload.lease_).status());
  RETURN_IF_ERROR(upload.writer_->Commit());
  checkpoints_.Add(upload.lease_.trial_number, upload.step_);
  return absl::OkStatus();
}

absl::Status Study::DownloadCheckpoint(
    const std::string& worker_id, const LeaseKey& lease, int64_t donor, int64_t step,
    const std::function<bool(absl::string_view file, absl::string_view data)>& sink) {
  RETURN_IF_ERROR(HoldTrials());
  CheckpointStore* store = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckHeld());
    store = checkpoints_.store();
    if (store == nullptr) {
      return absl::FailedPreconditionError("this server keeps no checkpoints");
    }
    ASSIGN_OR_RETURN(const TrialRecord* trial, LeasedTrial(worker_id, lease));
    RETURN_IF_ERROR(checkpoints_.CheckDownload(*trial, donor, step));
  }
  // The files are read without the study's lock: the store renames a
  // checkpoint into place whole, and a donor's later one may delete this one
  // meanwhile, which the reader sees as NOT_FOUND.
  return store->Read(spec_.name, donor, step, sink);
}

}  // namespace vernier
