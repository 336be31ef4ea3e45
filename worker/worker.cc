#include "worker/worker.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/artifact_upload.h"
#include "worker/checkpoint_transfer.h"
#include "worker/log_shipper.h"
#include "worker/trial_command.h"
#include "worker/trial_params.h"

namespace vernier::worker {
namespace {

// Used when the coordinator gives no heartbeat period.
constexpr absl::Duration kDefaultHeartbeat = absl::Seconds(10);

// Exponential backoff: initial, doubling, capped.
class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max) : initial_(initial), max_(max) {}
  absl::Duration Next() {
    const absl::Duration now = next_;
    next_ = std::min(next_ * 2, max_);
    return now;
  }
  void Reset() { next_ = initial_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  absl::Duration next_ = initial_;
};

// The coordinator could not answer; asking again later may work.
bool IsTransient(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// Registration errors that retrying cannot fix.
bool IsPermanentRegistrationError(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return true;
    default:
      return false;
  }
}

absl::Status ToAbsl(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(ToAbsl(status).code()), ": ",
                      status.error_message());
}

std::string Describe(const v1::TrialLease& lease) {
  return absl::StrCat(lease.study(), "#", lease.trial_number(), " (attempt ", lease.attempt(), ")");
}

bool SameLease(const v1::TrialLease& a, const v1::TrialLease& b) {
  return a.study() == b.study() && a.trial_number() == b.trial_number() &&
         a.attempt() == b.attempt();
}

// Seconds from the coordinator: positive and finite, else `fallback`.
absl::Duration PositiveSeconds(double seconds, absl::Duration fallback) {
  return std::isfinite(seconds) && seconds > 0 ? absl::Seconds(seconds) : fallback;
}

v1::TrialState ToProto(OutcomeState state) {
  switch (state) {
    case OutcomeState::kComplete:
      return v1::TRIAL_STATE_COMPLETE;
    case OutcomeState::kPruned:
      return v1::TRIAL_STATE_PRUNED;
    case OutcomeState::kFailed:
      return v1::TRIAL_STATE_FAILED;
  }
  return v1::TRIAL_STATE_FAILED;
}

// How a trial's output is shipped: on this worker's deadlines; the rest,
// once the trial ended, retried as long as a result would be after Shutdown().
LogShipperOptions LogShipperOptionsFor(const WorkerOptions& options,
                                       std::function<void(absl::string_view)> log) {
  LogShipperOptions shipper;
  shipper.rpc_timeout = options.rpc_timeout;
  shipper.finish_patience = options.shutdown_complete_timeout;
  shipper.log = std::move(log);
  return shipper;
}

TrialOutcome WorkerFailure(absl::string_view what, const absl::Status& status) {
  return {OutcomeState::kFailed, {}, ToValidUtf8(absl::StrCat(what, ": ", status.message()))};
}

// How a trial that ended with end action `action` (and, for the kComplete*
// ones, outcome `state`) left its slot.
TrialEnding EndingOf(TrialAction action, OutcomeState state) {
  switch (action) {
    case TrialAction::kCompleteWithExit:
    case TrialAction::kCompletePruned:
    case TrialAction::kCompleteFailed:
      return state == OutcomeState::kComplete ? TrialEnding::kComplete
             : state == OutcomeState::kPruned ? TrialEnding::kPruned
                                              : TrialEnding::kFailed;
    case TrialAction::kRelease:
      return TrialEnding::kReleased;
    default:  // kDrop; only end actions come out of FollowTrial.
      return TrialEnding::kDropped;
  }
}

// What `capacity` says, as AcquireTrial sends it.
v1::SlotResources ResourcesOf(const SlotCapacity& capacity) {
  v1::SlotResources resources;
  resources.set_gpus(capacity.gpus);
  resources.set_gpu_model(capacity.gpu_model);
  resources.set_gpu_memory_gb(capacity.gpu_memory_gb);
  resources.set_cpus(capacity.cpus);
  resources.set_memory_gb(capacity.memory_gb);
  resources.mutable_labels()->insert(capacity.labels.begin(), capacity.labels.end());
  return resources;
}

}  // namespace

Worker::Worker(WorkerOptions options, v1::WorkerService::StubInterface* stub,
               TrialLauncher* launcher)
    : options_(std::move(options)),
      stub_(stub),
      launcher_(launcher),
      clock_(options_.clock != nullptr ? options_.clock : &real_clock_) {}

Worker::~Worker() = default;

std::string Worker::worker_id() const {
  absl::MutexLock lock(&mu_);
  return worker_id_;
}

void Worker::Log(absl::string_view line) const {
  if (options_.log) {
    options_.log(line);
    return;
  }
  const std::string text =
      absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%E3S", clock_->Now(), absl::LocalTimeZone()),
                   " vernier-worker: ", line, "\n");
  std::fwrite(text.data(), 1, text.size(), stderr);
}

bool Worker::Stopping() const {
  absl::MutexLock lock(&mu_);
  return shutdown_ || draining_;
}

bool Worker::SleepUnlessShutdown(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  clock_->AwaitWithTimeout(&mu_, absl::Condition(&shutdown_), d);
  return shutdown_;
}

bool Worker::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  clock_->AwaitWithTimeout(
      &mu_,
      absl::Condition(
          +[](Worker* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->shutdown_ || w->draining_; },
          this),
      d);
  return shutdown_ || draining_;
}

bool Worker::ShutdownGraceOver() const {
  absl::MutexLock lock(&mu_);
  return shutdown_ && clock_->Now() - shutdown_time_ > options_.shutdown_complete_timeout;
}

void Worker::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  shutdown_ = true;
  shutdown_time_ = clock_->Now();
  for (auto& [slot, trial] : active_) ApplyLocked(trial, TrialEvent::kShutdown);
}

void Worker::Drain() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  for (auto& [slot, trial] : active_) ApplyLocked(trial, TrialEvent::kDrainBegun);
}

void Worker::DrainLoop() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](Worker* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->draining_ || w->shutdown_; },
      this));
  if (shutdown_) return;
  Log(absl::StrCat("draining: no new trials; waiting up to ",
                   absl::FormatDuration(options_.drain_timeout), " for ", active_.size(),
                   " running trial(s)"));
  clock_->AwaitWithTimeout(&mu_,
                           absl::Condition(
                               +[](Worker* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                 return w->active_.empty() || w->shutdown_;
                               },
                               this),
                           options_.drain_timeout);
  if (shutdown_) return;
  for (auto& [slot, trial] : active_) {
    const StopReason before = trial.lifecycle.reason;
    ApplyLocked(trial, TrialEvent::kDrainTimeUp);
    if (before != StopReason::kHandBack && trial.lifecycle.reason == StopReason::kHandBack) {
      Log(absl::StrCat("trial ", Describe(trial.lease), ": drain time is up; stopping it"));
    }
  }
}

TrialAction Worker::Apply(size_t slot_index, TrialEvent event) {
  absl::MutexLock lock(&mu_);
  return ApplyLocked(active_[slot_index], event);
}

TrialAction Worker::ApplyLocked(ActiveTrial& trial, TrialEvent event) {
  const TrialTransition transition = NextTrialState(trial.lifecycle, event);
  trial.lifecycle = transition.next;
  if (transition.action != TrialAction::kStopProcess) return transition.action;
  if (trial.process != nullptr) trial.process->Stop();
  return TrialAction::kNone;
}

bool Worker::Relaying(size_t slot_index) const {
  absl::MutexLock lock(&mu_);
  const auto it = active_.find(slot_index);
  return it != active_.end() && RelaysReports(it->second.lifecycle);
}

absl::Duration Worker::HeartbeatInterval() const {
  if (options_.heartbeat_interval > absl::ZeroDuration()) return options_.heartbeat_interval;
  absl::MutexLock lock(&mu_);
  return server_heartbeat_ > absl::ZeroDuration() ? server_heartbeat_ : kDefaultHeartbeat;
}

grpc::Status Worker::Register() {
  v1::RegisterWorkerRequest request;
  request.set_name(options_.name);
  for (const Slot& slot : options_.slots) request.add_slots(slot.name);
  Backoff backoff(options_.retry_backoff_initial, options_.retry_backoff_max);
  bool logged = false;
  while (true) {
    v1::RegisterWorkerResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, options_.rpc_timeout);
    const grpc::Status status = stub_->RegisterWorker(&context, request, &response);
    if (status.ok()) {
      const absl::Duration lease = PositiveSeconds(response.lease_seconds(), absl::ZeroDuration());
      {
        absl::MutexLock lock(&mu_);
        worker_id_ = response.worker_id();
        server_heartbeat_ = PositiveSeconds(response.heartbeat_seconds(), lease / 3);
      }
      Log(absl::StrCat("registered as ", response.worker_id(), " with ", options_.slots.size(),
                       " slot(s)"));
      return status;
    }
    if (IsPermanentRegistrationError(status)) return status;
    if (!logged) {
      Log(absl::StrCat("cannot register yet (", Describe(status), "); retrying"));
      logged = true;
    }
    if (SleepUnlessStopping(backoff.Next())) return status;
  }
}

bool Worker::Reregister(const std::string& stale_id) {
  absl::MutexLock register_lock(&register_mu_);
  if (worker_id() != stale_id) return true;
  Log(absl::StrCat("the coordinator does not know worker ", stale_id, "; registering again"));
  const grpc::Status status = Register();
  if (!status.ok()) Log(absl::StrCat("registering again failed: ", Describe(status)));
  return status.ok();
}

grpc::Status Worker::Call(absl::string_view what, Retry retry, const Rpc& rpc) {
  Backoff backoff(options_.retry_backoff_initial, options_.retry_backoff_max);
  bool logged = false;
  while (true) {
    grpc::ClientContext context;
    SetDeadline(&context, options_.rpc_timeout);
    const grpc::Status status = rpc(&context);
    if (!IsTransient(status) || retry == Retry::kOnce) {
      if (logged) Log(absl::StrCat(what, ": the coordinator answers again"));
      return status;
    }
    if (!logged) {
      Log(absl::StrCat(what, " failed (", Describe(status), "); retrying"));
      logged = true;
    }
    const absl::Duration pause = backoff.Next();
    if (retry == Retry::kUntilShutdown) {
      if (SleepUnlessShutdown(pause)) return status;
      continue;
    }
    if (ShutdownGraceOver()) return status;
    clock_->SleepFor(pause);
  }
}

// gRPC measures deadlines on the wall clock, whatever clock the worker waits
// on, so a fake clock never makes a call time out.
void Worker::SetDeadline(grpc::ClientContext* context, absl::Duration timeout) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::Status Worker::Run() {
  if (options_.slots.empty()) return absl::InvalidArgumentError("the worker has no slot");
  if (options_.work_dir.empty()) return absl::InvalidArgumentError("the worker has no work_dir");
  const grpc::Status registered = Register();
  if (!registered.ok()) {
    if (Stopping()) return absl::OkStatus();
    return absl::Status(ToAbsl(registered).code(),
                        absl::StrCat("the coordinator refused to register this worker: ",
                                     registered.error_message()));
  }
  std::thread heartbeat([this] { HeartbeatLoop(); });
  std::thread drain([this] { DrainLoop(); });
  std::vector<std::thread> slots;
  for (size_t i = 0; i < options_.slots.size(); ++i) {
    slots.emplace_back([this, i] { SlotLoop(i); });
  }
  for (std::thread& slot : slots) slot.join();
  // The slots end after Shutdown() or a finished drain; either way no trial
  // runs any more, so this only stops the heartbeat and the drain thread.
  Shutdown();
  heartbeat.join();
  drain.join();
  Log("stopped");
  return absl::OkStatus();
}

void Worker::SlotLoop(size_t slot_index) {
  const Slot& slot = options_.slots[slot_index];
  Backoff idle(options_.idle_backoff_initial, options_.idle_backoff_max);
  bool failing = false;
  while (!Stopping()) {
    const std::string id = worker_id();
    v1::AcquireTrialResponse response;
    const grpc::Status status =
        Call("AcquireTrial", Retry::kOnce, [&](grpc::ClientContext* context) {
          v1::AcquireTrialRequest request;
          request.set_worker_id(id);
          request.set_slot(slot.name);
          request.set_slot_index(static_cast<int32_t>(slot_index));
          *request.mutable_resources() = ResourcesOf(slot.capacity);
          return stub_->AcquireTrial(context, request, &response);
        });
    if (status.error_code() == grpc::StatusCode::NOT_FOUND && Reregister(id)) continue;
    if (!status.ok() && !failing) {
      Log(absl::StrCat("slot ", slot_index, ": AcquireTrial failed (", Describe(status), ")"));
    }
    failing = !status.ok();
    if (!status.ok() || !response.has_lease()) {
      SleepUnlessStopping(idle.Next());
      continue;
    }
    idle.Reset();
    RunTrial(slot_index, id, response);
  }
}

void Worker::RunTrial(size_t slot_index, const std::string& id,
                      const v1::AcquireTrialResponse& acquired) {
  const v1::TrialLease& lease = acquired.lease();
  if (options_.observer != nullptr) options_.observer->TrialStarted();
  {
    absl::MutexLock lock(&mu_);
    ActiveTrial& trial = active_[slot_index];
    trial = ActiveTrial{lease, id, nullptr, TrialLifecycle()};
    // What the other threads said before the trial was in active_.
    if (shutdown_) ApplyLocked(trial, TrialEvent::kShutdown);
    if (draining_) ApplyLocked(trial, TrialEvent::kDrainBegun);
  }
  const TrialEnd end = FollowTrial(slot_index, id, acquired);
  StopReason reason = StopReason::kNone;
  {
    absl::MutexLock lock(&mu_);
    reason = active_[slot_index].lifecycle.reason;
    active_.erase(slot_index);
  }
  if (options_.observer != nullptr)
    options_.observer->TrialEnded(EndingOf(end.action, end.outcome.state));
  switch (end.action) {
    case TrialAction::kCompleteWithExit:
    case TrialAction::kCompletePruned:
    case TrialAction::kCompleteFailed:
      Complete(id, lease, end.outcome);
      return;
    case TrialAction::kRelease:
      Release(id, lease);
      return;
    case TrialAction::kDrop:
    default:  // Only end actions come out of FollowTrial.
      Log(absl::StrCat("trial ", Describe(lease),
                       reason == StopReason::kShutdown ? ": left behind by the shutdown; its "
                                                         "lease will expire"
                                                       : ": dropped, its lease is gone"));
      return;
  }
}

Worker::TrialEnd Worker::FollowTrial(size_t slot_index, const std::string& id,
                                     const v1::AcquireTrialResponse& acquired) {
  absl::StatusOr<TrialSpec> spec = MakeSpec(slot_index, acquired);
  if (!spec.ok()) {
    return StartFailed(slot_index, "the worker cannot create the trial directory", spec.status());
  }
  if (!acquired.command().empty()) {
    absl::StatusOr<std::vector<std::string>> argv =
        ResolveTrialCommand(std::move(spec->argv), options_.code_dir);
    if (!argv.ok()) return StartFailed(slot_index, "cannot start the trial", argv.status());
    spec->argv = *std::move(argv);
  }
  absl::StatusOr<std::string> params =
      TrialParamsFile(acquired.settings_json(), acquired.trial().params());
  if (!params.ok()) return StartFailed(slot_index, "the trial's parameters", params.status());
  spec->params_json = *std::move(params);
  if (acquired.has_resume_step()) PrepareResume(id, acquired, *spec);
  // The first trial directory's, for every process of the trial.
  const std::string artifact_dir = ArtifactDirOf(spec->trial_dir);
  TrialTensorBoard tensorboard(acquired, [this](absl::string_view line) { Log(line); });
  // Sends the trial's output to the coordinator as it runs; going out of
  // scope sends the rest, before the trial's end is reported.
  LogShipper output(LogShipperOptionsFor(options_, [this](absl::string_view line) { Log(line); }),
                    stub_, id, acquired.lease());
  TrialAction action = Apply(slot_index, TrialEvent::kPrepared);
  TrialExit exit;
  // One pass per process: a pbt exploit stops the process and starts the
  // trial program again, in the same lease, from another trial's checkpoint.
  while (action == TrialAction::kStart) {
    absl::StatusOr<std::unique_ptr<TrialProcess>> started = launcher_->Start(*spec);
    if (!started.ok()) return StartFailed(slot_index, "cannot start the trial", started.status());
    output.Follow(absl::StrCat(spec->trial_dir, "/trial.log"));
    Log(absl::StrCat("trial ", Describe(acquired.lease()), ": started on ",
                     options_.slots[slot_index].name, " in ", spec->trial_dir));
    std::optional<v1::Exploit> exploit;
    action = FollowProcess(slot_index, id, acquired, *spec, *std::move(started), &exit, &exploit,
                           &tensorboard);
    if (action != TrialAction::kRestart) break;
    if (!exploit.has_value()) {  // kRestart comes only with an EXPLOIT answer.
      return StartFailed(slot_index, "pbt exploit", absl::InternalError("no exploit to follow"));
    }
    const absl::Status prepared =
        PrepareExploit(id, acquired.lease(), *exploit, acquired.settings_json(), *spec);
    if (!prepared.ok()) return StartFailed(slot_index, "pbt exploit", prepared);
    action = Apply(slot_index, TrialEvent::kPrepared);
  }
  switch (action) {
    case TrialAction::kCompleteWithExit: {
      TrialOutcome outcome = DecideOutcome(exit, spec->time_limit);
      ShipArtifacts(id, acquired, artifact_dir, outcome);
      if (outcome.state == OutcomeState::kComplete) tensorboard.Final(outcome.final_metrics);
      return {action, std::move(outcome)};
    }
    case TrialAction::kCompletePruned: {
      TrialOutcome outcome{OutcomeState::kPruned, {}, ""};
      ShipArtifacts(id, acquired, artifact_dir, outcome);
      return {action, std::move(outcome)};
    }
    default:
      return {action, {}};
  }
}

absl::StatusOr<TrialSpec> Worker::MakeSpec(size_t slot_index,
                                           const v1::AcquireTrialResponse& acquired) const {
  const v1::TrialLease& lease = acquired.lease();
  absl::StatusOr<std::string> dir =
      MakeTrialDir(options_.work_dir, lease.study(), lease.trial_number(), lease.attempt());
  if (!dir.ok()) return dir.status();
  TrialSpec spec;
  spec.argv.assign(acquired.command().begin(), acquired.command().end());
  if (spec.argv.empty()) spec.argv.push_back(options_.trainer_path);
  spec.study = lease.study();
  spec.trial_number = lease.trial_number();
  spec.trial_dir = *dir;
  spec.env = options_.slots[slot_index].env;
  ASSIGN_OR_RETURN(const std::string artifact_dir, MakeArtifactDir(*dir));
  spec.env.emplace_back(kEnvArtifactDir, artifact_dir);
  spec.time_limit = PositiveSeconds(acquired.time_limit_seconds(), absl::ZeroDuration());
  spec.stop_grace = PositiveSeconds(acquired.stop_grace_seconds(), options_.default_stop_grace);
  return spec;
}

TrialAction Worker::FollowProcess(size_t slot_index, const std::string& id,
                                  const v1::AcquireTrialResponse& acquired, const TrialSpec& spec,
                                  std::unique_ptr<TrialProcess> process, TrialExit* exit,
                                  std::optional<v1::Exploit>* exploit,
                                  TrialTensorBoard* tensorboard) {
  const v1::TrialLease& lease = acquired.lease();
  {
    absl::MutexLock lock(&mu_);
    ActiveTrial& trial = active_[slot_index];
    trial.process = process.get();
    ApplyLocked(trial, TrialEvent::kStarted);  // Stops it if a stop came meanwhile.
  }
  while (std::optional<TrialReport> report = process->NextReport()) {
    if (!Relaying(slot_index)) continue;  // Drain what a stopping trial still writes.
    if (report->is_checkpoint()) {
      if (acquired.upload_checkpoints()) ShipCheckpoint(id, lease, *report, spec.trial_dir);
      continue;
    }
    v1::Exploit answer;
    tensorboard->Report(report->step, report->metrics);
    const TrialEvent verdict = Relay(id, lease, *report, &answer);
    if (verdict == TrialEvent::kReportExploit) *exploit = std::move(answer);
    Apply(slot_index, verdict);
  }
  *exit = process->Wait();
  absl::MutexLock lock(&mu_);
  ActiveTrial& trial = active_[slot_index];
  trial.process = nullptr;
  return ApplyLocked(trial,
                     exit->stop_requested ? TrialEvent::kExitedAfterStop : TrialEvent::kExited);
}

Worker::TrialEnd Worker::StartFailed(size_t slot_index, absl::string_view what,
                                     const absl::Status& status) {
  return {Apply(slot_index, TrialEvent::kStartFailed), WorkerFailure(what, status)};
}

void Worker::ShipCheckpoint(const std::string& id, const v1::TrialLease& lease,
                            const TrialReport& report, const std::string& trial_dir) {
  const std::string snapshot = absl::StrCat(trial_dir, "/upload-step-", report.step);
  absl::Status copied = SnapshotCheckpoint(report.checkpoint, report.step, snapshot);
  grpc::Status sent = grpc::Status::OK;
  if (copied.ok()) {
    sent = UploadCheckpoint(stub_, options_.checkpoint_timeout, id, lease, report.step, snapshot);
  }
  std::error_code ignored;
  std::filesystem::remove_all(snapshot, ignored);
  if (!copied.ok()) {
    Log(absl::StrCat("trial ", Describe(lease), ": checkpoint of step ", report.step,
                     " not sent: ", copied.message()));
  } else if (!sent.ok()) {
    Log(absl::StrCat("trial ", Describe(lease), ": checkpoint of step ", report.step,
                     " not taken: ", Describe(sent)));
  }
}

absl::Status Worker::FetchCheckpoint(const std::string& id, const v1::TrialLease& lease,
                                     int64_t donor, int64_t step, const std::string& into) {
  const grpc::Status fetched =
      DownloadCheckpoint(stub_, options_.checkpoint_timeout, id, lease, donor, step, into);
  if (fetched.ok()) return absl::OkStatus();
  return absl::Status(ToAbsl(fetched).code(),
                      absl::StrCat("cannot fetch the checkpoint of trial ", donor, " at step ",
                                   step, ": ", fetched.error_message()));
}

void Worker::PrepareResume(const std::string& id, const v1::AcquireTrialResponse& acquired,
                           TrialSpec& spec) {
  const v1::TrialLease& lease = acquired.lease();
  const std::string checkpoint =
      absl::StrCat(spec.trial_dir, "/resume-step-", acquired.resume_step());
  const absl::Status fetched =
      FetchCheckpoint(id, lease, lease.trial_number(), acquired.resume_step(), checkpoint);
  if (!fetched.ok()) {
    // Losing the checkpoint costs the epochs before it, never the trial.
    Log(absl::StrCat("trial ", Describe(lease),
                     ": starting from the beginning: ", fetched.message()));
    return;
  }
  nlohmann::json params = nlohmann::json::parse(spec.params_json);
  params["resume_from"] = checkpoint;
  spec.params_json = params.dump();
  Log(absl::StrCat("trial ", Describe(lease), ": resuming from its checkpoint at step ",
                   acquired.resume_step()));
}

absl::Status Worker::PrepareExploit(const std::string& id, const v1::TrialLease& lease,
                                    const v1::Exploit& exploit, const std::string& settings_json,
                                    TrialSpec& spec) {
  absl::StatusOr<std::string> dir =
      MakeTrialDir(options_.work_dir, lease.study(), lease.trial_number(), lease.attempt());
  if (!dir.ok()) return dir.status();
  const std::string checkpoint =
      absl::StrCat(*dir, "/resume-trial-", exploit.donor_trial(), "-step-", exploit.donor_step());
  RETURN_IF_ERROR(
      FetchCheckpoint(id, lease, exploit.donor_trial(), exploit.donor_step(), checkpoint));
  ASSIGN_OR_RETURN(std::string params_text, TrialParamsFile(settings_json, exploit.params()));
  nlohmann::json params = nlohmann::json::parse(params_text);
  params["resume_from"] = checkpoint;
  spec.params_json = params.dump();
  spec.trial_dir = *dir;
  Log(absl::StrCat("trial ", Describe(lease), ": pbt exploit: resuming from trial ",
                   exploit.donor_trial(), " at step ", exploit.donor_step()));
  return absl::OkStatus();
}

TrialEvent Worker::Relay(const std::string& id, const v1::TrialLease& lease,
                         const TrialReport& report, v1::Exploit* exploit) {
  v1::ReportProgressResponse response;
  const grpc::Status status =
      Call("ReportProgress", Retry::kUntilShutdown, [&](grpc::ClientContext* context) {
        v1::ReportProgressRequest request;
        request.set_worker_id(id);
        *request.mutable_lease() = lease;
        request.mutable_measurement()->set_step(report.step);
        for (const auto& [name, value] : report.metrics) {
          (*request.mutable_measurement()->mutable_metrics())[name] = value;
        }
        return stub_->ReportProgress(context, request, &response);
      });
  if (status.ok()) {
    if (response.action() == v1::TRIAL_ACTION_EXPLOIT && response.has_exploit()) {
      *exploit = response.exploit();
      return TrialEvent::kReportExploit;
    }
    return response.action() == v1::TRIAL_ACTION_STOP ? TrialEvent::kReportStop
                                                      : TrialEvent::kReportContinue;
  }
  switch (status.error_code()) {
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::NOT_FOUND:
      return TrialEvent::kReportLeaseLost;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return TrialEvent::kReportUnreachable;  // Call() only gives these up then.
    default:
      // The coordinator refused this one report; the trial's result still
      // matters, so it goes on.
      Log(absl::StrCat("trial ", Describe(lease), ": report of step ", report.step,
                       " refused: ", Describe(status)));
      return TrialEvent::kReportContinue;
  }
}

void Worker::ShipArtifacts(const std::string& id, const v1::AcquireTrialResponse& acquired,
                           const std::string& artifact_dir, TrialOutcome& outcome) {
  if (acquired.max_artifact_bytes() <= 0) return;
  const v1::TrialLease& lease = acquired.lease();
  absl::StatusOr<ArtifactScan> scan = ScanArtifacts(artifact_dir);
  absl::Status sent = scan.status();
  if (sent.ok()) sent = CheckArtifactSize(*scan, acquired.max_artifact_bytes());
  if (sent.ok() && !scan->skipped.empty()) {
    Log(absl::StrCat("trial ", Describe(lease), ": artifacts: skipped ", scan->skipped.size(),
                     " entries that are not regular files (symbolic links are not followed), e.g. ",
                     scan->skipped.front()));
  }
  const absl::Time start = absl::Now();
  if (sent.ok()) {
    sent = ToAbsl(Call("UploadArtifact", Retry::kUntilShutdown, [&](grpc::ClientContext* context) {
      SetDeadline(context, options_.artifact_timeout);
      return UploadArtifacts(stub_, context, id, lease, artifact_dir, *scan);
    }));
  }
  if (sent.ok()) {
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    Log(absl::StrFormat("trial %s: artifacts: %d files, %d bytes uploaded in %.3f s",
                        Describe(lease), scan->files.size(), scan->bytes, seconds));
    return;
  }
  if (absl::IsAborted(sent) || absl::IsNotFound(sent)) return;  // Complete() finds it.
  const std::string reason = absl::StrCat("artifacts not kept: ", sent.message());
  if (outcome.state == OutcomeState::kFailed) {
    outcome.failure_reason = absl::StrCat(reason, "; ", outcome.failure_reason);
  } else {
    outcome = {OutcomeState::kFailed, {}, reason};
  }
}

void Worker::Complete(const std::string& id, const v1::TrialLease& lease,
                      const TrialOutcome& outcome) {
  const grpc::Status status =
      Call("CompleteTrial", Retry::kUntilShutdownGrace, [&](grpc::ClientContext* context) {
        v1::CompleteTrialRequest request;
        request.set_worker_id(id);
        *request.mutable_lease() = lease;
        request.set_state(ToProto(outcome.state));
        for (const auto& [name, value] : outcome.final_metrics) {
          (*request.mutable_final_metrics())[name] = value;
        }
        request.set_failure_reason(outcome.failure_reason);
        v1::CompleteTrialResponse response;
        return stub_->CompleteTrial(context, request, &response);
      });
  std::string line = absl::StrCat("trial ", Describe(lease), ": ", OutcomeStateName(outcome.state));
  if (outcome.state == OutcomeState::kFailed) {
    absl::StrAppend(&line, " (", outcome.failure_reason.substr(0, 200), ")");
  }
  if (status.error_code() == grpc::StatusCode::ABORTED ||
      status.error_code() == grpc::StatusCode::NOT_FOUND) {
    absl::StrAppend(&line, "; dropped, its lease is gone");
  } else if (!status.ok()) {
    absl::StrAppend(&line, "; the coordinator did not take it: ", Describe(status));
  }
  Log(line);
}

void Worker::Release(const std::string& id, const v1::TrialLease& lease) {
  const grpc::Status status = Call("ReleaseTrial", Retry::kOnce, [&](grpc::ClientContext* context) {
    v1::ReleaseTrialRequest request;
    request.set_worker_id(id);
    *request.mutable_lease() = lease;
    v1::ReleaseTrialResponse response;
    return stub_->ReleaseTrial(context, request, &response);
  });
  if (status.ok()) {
    Log(absl::StrCat("trial ", Describe(lease), ": handed back to the coordinator"));
  } else {
    Log(absl::StrCat("trial ", Describe(lease), ": cannot hand it back (", Describe(status),
                     "); its lease will expire"));
  }
}

void Worker::HeartbeatLoop() {
  bool answered = true;
  while (!SleepUnlessShutdown(HeartbeatInterval())) {
    const grpc::Status status = SendHeartbeat();
    if (answered && !status.ok()) {
      Log(absl::StrCat("Heartbeat failed (", Describe(status), "); beating on"));
    } else if (!answered && status.ok()) {
      Log("Heartbeat: the coordinator answers again");
    }
    answered = status.ok();
  }
}

grpc::Status Worker::SendHeartbeat() {
  // One beat per worker id: a lease is held by the id it was acquired with,
  // which is not the current one after a new registration.
  std::map<std::string, std::vector<v1::TrialLease>> leases_by_id;
  {
    absl::MutexLock lock(&mu_);
    leases_by_id[worker_id_];  // Beat even without trials: the worker is alive.
    for (const auto& [slot, trial] : active_) leases_by_id[trial.worker_id].push_back(trial.lease);
  }
  grpc::Status first_failure;
  for (const auto& entry : leases_by_id) {
    const std::string& id = entry.first;
    const std::vector<v1::TrialLease>& leases = entry.second;
    v1::HeartbeatResponse response;
    const grpc::Status status = Call("Heartbeat", Retry::kOnce, [&](grpc::ClientContext* context) {
      v1::HeartbeatRequest request;
      request.set_worker_id(id);
      for (const v1::TrialLease& lease : leases) *request.add_leases() = lease;
      return stub_->Heartbeat(context, request, &response);
    });
    if (!status.ok()) {
      if (first_failure.ok()) first_failure = status;
      continue;  // The next beat tries again.
    }
    for (const v1::TrialLease& lost : response.lost()) DropLostLease(id, lost);
  }
  return first_failure;
}

void Worker::DropLostLease(const std::string& id, const v1::TrialLease& lost) {
  absl::MutexLock lock(&mu_);
  for (auto& [slot, trial] : active_) {
    if (trial.worker_id != id || !SameLease(trial.lease, lost)) continue;
    const StopReason before = trial.lifecycle.reason;
    ApplyLocked(trial, TrialEvent::kHeartbeatLeaseLost);
    if (before != StopReason::kLeaseLost && trial.lifecycle.reason == StopReason::kLeaseLost) {
      Log(absl::StrCat("trial ", Describe(lost), ": the coordinator says the lease is lost"));
    }
  }
}

}  // namespace vernier::worker
