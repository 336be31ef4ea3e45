#include "bench/load/simulated_worker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vernier::load {
namespace {

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(std::size(kNames)) ? kNames[index] : "CODE?";
}

// The server may not have seen the call (it was down, or is restarting) or
// may have applied it without answering: sending the same request again is
// safe for every call the worker makes.
bool Retryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

template <typename T>
void Append(std::vector<T>& to, std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

void WorkerStats::Merge(WorkerStats&& other) {
  for (int r = 0; r < kRpcCount; ++r) {
    tries[r] += other.tries[r];
    Append(latency_us[r], other.latency_us[r]);
    Append(settled_us[r], other.settled_us[r]);
  }
  for (const auto& [key, count] : other.errors) errors[key] += count;
  error_examples.merge(other.error_examples);  // Keeps the first of each key.
  locked += other.locked;
  retries += other.retries;
  deaths += other.deaths;
  deaths_holding_lease += other.deaths_holding_lease;
  registrations += other.registrations;
  Append(writes, other.writes);
  Append(grants, other.grants);
}

SimulatedWorker::SimulatedWorker(int index, const std::shared_ptr<grpc::Channel>& channel,
                                 const WorkerOptions& options, absl::Time end)
    : index_(index),
      stub_(v1::WorkerService::NewStub(channel)),
      options_(options),
      end_(end),
      random_(options.seed * 1000003 + static_cast<uint64_t>(index)) {}

void SimulatedWorker::Run() {
  death_at_ = NextDeath(absl::Now());
  while (absl::Now() < end_) {
    Outcome outcome = worker_id_.empty() ? Register() : RunOneTrial();
    if (outcome == Outcome::kEnded) return;
    if (outcome == Outcome::kFailed) absl::SleepFor(options_.idle);
    // Died in a call (its lease, if any, already counted) or while idle.
    if (outcome == Outcome::kDied || absl::Now() >= death_at_) Die();
  }
}

template <typename Call>
SimulatedWorker::Outcome SimulatedWorker::Make(Rpc rpc, Call call) {
  const absl::Time first = absl::Now();
  for (int tries = 0;; ++tries) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
    context.set_wait_for_ready(options_.wait_for_ready);
    const absl::Time start = absl::Now();
    const grpc::Status status = call(&context);
    const absl::Time answered = absl::Now();
    stats_.tries[rpc]++;
    if (answered >= death_at_) return Outcome::kDied;  // It never saw the answer.
    if (status.ok()) {
      stats_.latency_us[rpc].push_back(absl::ToDoubleMicroseconds(answered - start));
      stats_.settled_us[rpc].push_back(absl::ToDoubleMicroseconds(answered - first));
      return Outcome::kOk;
    }
    CountError(rpc, status);
    if (!Retryable(status)) return Outcome::kFailed;
    const absl::Duration backoff = Backoff(tries);
    if (answered + backoff >= end_) return Outcome::kEnded;
    if (answered + backoff >= death_at_) {
      absl::SleepFor(death_at_ - answered);
      return Outcome::kDied;
    }
    stats_.retries++;
    absl::SleepFor(backoff);
  }
}

SimulatedWorker::Outcome SimulatedWorker::Register() {
  const std::string name = absl::StrCat("load-", index_, "-", generation_++);
  v1::RegisterWorkerRequest request;
  request.set_name(name);
  request.add_slots("cpu");
  v1::RegisterWorkerResponse registered;
  const Outcome outcome = Make(kRegister, [&](grpc::ClientContext* context) {
    return stub_->RegisterWorker(context, request, &registered);
  });
  if (outcome == Outcome::kOk) {
    stats_.registrations++;
    worker_id_ = registered.worker_id();
  } else if (outcome == Outcome::kFailed) {
    worker_id_ = name;
  }
  return outcome;
}

SimulatedWorker::Outcome SimulatedWorker::RunOneTrial() {
  v1::AcquireTrialRequest request;
  request.set_worker_id(worker_id_);
  request.set_slot("cpu");
  v1::AcquireTrialResponse acquired;
  const Outcome outcome = Make(kAcquire, [&](grpc::ClientContext* context) {
    return stub_->AcquireTrial(context, request, &acquired);
  });
  // A lease in the answer was granted, whether or not the worker lived to
  // use it.
  if (acquired.has_lease()) {
    stats_.grants.push_back({acquired.lease().trial_number(), acquired.lease().attempt()});
  }
  if (outcome == Outcome::kDied && acquired.has_lease()) stats_.deaths_holding_lease++;
  if (outcome != Outcome::kOk) return outcome;
  if (!acquired.has_lease()) return Outcome::kFailed;
  for (int32_t step = 1; step <= options_.steps; ++step) {
    v1::ReportProgressResponse answer;
    const Outcome reported = Report(acquired.lease(), step, &answer);
    if (reported == Outcome::kFailed) return Outcome::kOk;  // Lease gone: next trial.
    if (reported != Outcome::kOk) return reported;
    if (answer.action() == v1::TRIAL_ACTION_STOP) return Outcome::kOk;
  }
  const Outcome completed = Complete(acquired.lease());
  return completed == Outcome::kFailed ? Outcome::kOk : completed;
}

SimulatedWorker::Outcome SimulatedWorker::Report(const v1::TrialLease& lease, int32_t step,
                                                 v1::ReportProgressResponse* answer) {
  const double value = ValueFor(lease.trial_number(), lease.attempt(), step);
  v1::ReportProgressRequest request;
  request.set_worker_id(worker_id_);
  *request.mutable_lease() = lease;
  request.mutable_measurement()->set_step(step);
  (*request.mutable_measurement()->mutable_metrics())["loss"] = value;
  const Outcome outcome = Make(kReport, [&](grpc::ClientContext* context) {
    return stub_->ReportProgress(context, request, answer);
  });
  stats_.writes.push_back({lease.trial_number(), lease.attempt(), step, outcome == Outcome::kOk});
  if (outcome == Outcome::kDied) stats_.deaths_holding_lease++;
  return outcome;
}

SimulatedWorker::Outcome SimulatedWorker::Complete(const v1::TrialLease& lease) {
  v1::CompleteTrialRequest request;
  request.set_worker_id(worker_id_);
  *request.mutable_lease() = lease;
  request.set_state(v1::TRIAL_STATE_COMPLETE);
  (*request.mutable_final_metrics())["loss"] =
      ValueFor(lease.trial_number(), lease.attempt(), kFinalStep);
  v1::CompleteTrialResponse done;
  const Outcome outcome = Make(kComplete, [&](grpc::ClientContext* context) {
    return stub_->CompleteTrial(context, request, &done);
  });
  stats_.writes.push_back(
      {lease.trial_number(), lease.attempt(), kFinalStep, outcome == Outcome::kOk});
  // Dying with the result unacknowledged leaves the lease to expire, unless
  // the server had already applied it.
  if (outcome == Outcome::kDied) stats_.deaths_holding_lease++;
  return outcome;
}

void SimulatedWorker::Die() {
  stats_.deaths++;
  worker_id_.clear();
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  const absl::Duration pause = options_.rebirth_pause * jitter(random_);
  absl::SleepFor(std::min(pause, std::max(absl::ZeroDuration(), end_ - absl::Now())));
  death_at_ = NextDeath(absl::Now());
}

absl::Time SimulatedWorker::NextDeath(absl::Time now) {
  if (options_.deaths_per_minute <= 0) return absl::InfiniteFuture();
  std::exponential_distribution<double> minutes(options_.deaths_per_minute);
  return now + absl::Minutes(minutes(random_));
}

absl::Duration SimulatedWorker::Backoff(int tries) {
  const absl::Duration cap =
      std::min(options_.max_backoff, absl::Milliseconds(50) * (1 << std::min(tries, 10)));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return cap * jitter(random_);
}

void SimulatedWorker::CountError(Rpc rpc, const grpc::Status& status) {
  const std::string key = absl::StrCat(kRpcNames[rpc], " ", CodeName(status.error_code()));
  stats_.errors[key]++;
  stats_.error_examples.emplace(key, status.error_message());
  if (status.error_message().find("locked") != std::string::npos) stats_.locked++;
}

}  // namespace vernier::load
