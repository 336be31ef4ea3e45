// Bad input at the service tier: what a worker (or anything speaking the
// WorkerService API) gets for NaN and infinite metrics, unknown enum values,
// out-of-order and repeated steps, and oversized messages, through the real
// server (ServerRunner on a loopback port over a temporary SQLite file). Each
// answer is also checked after a restart, so it is what the database holds.
#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// `pruner` goes in as the study's pruner line.
std::string Spec(const std::string& pruner, int max_trials = 4) {
  return "name: bad\n"
         "objective: {metric: loss, goal: minimize}\n"
         "params:\n"
         "  x: {type: float, low: -2, high: 2}\n"
         "pruner: " +
         pruner + "\nbudget: {max_trials: " + std::to_string(max_trials) +
         ", parallel: 4, max_failures: 10}\n"
         "trainer: {command: [\"true\"]}\n";
}

class BadInputTest : public InProcessServerTest {
 protected:
  void CreateStudy(const std::string& spec) {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(spec);
    v1::Study study;
    ASSERT_TRUE(studies_->CreateStudy(&context, request, &study).ok());
  }

  v1::TrialLease Acquire() {
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id("w");
    request.set_slot("cpu");
    v1::AcquireTrialResponse response;
    EXPECT_TRUE(workers_->AcquireTrial(&context, request, &response).ok());
    EXPECT_TRUE(response.has_lease());
    return response.lease();
  }

  grpc::Status Report(const v1::TrialLease& lease, int64_t step, const MetricMap& metrics,
                      v1::TrialAction* action = nullptr) {
    grpc::ClientContext context;
    v1::ReportProgressRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = lease;
    request.mutable_measurement()->set_step(step);
    for (const auto& [name, value] : metrics) {
      (*request.mutable_measurement()->mutable_metrics())[name] = value;
    }
    v1::ReportProgressResponse response;
    grpc::Status status = workers_->ReportProgress(&context, request, &response);
    if (action != nullptr) *action = response.action();
    return status;
  }

  grpc::Status Complete(const v1::TrialLease& lease, v1::TrialState state, const MetricMap& metrics,
                        const std::string& reason = "") {
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = lease;
    request.set_state(state);
    for (const auto& [name, value] : metrics) (*request.mutable_final_metrics())[name] = value;
    request.set_failure_reason(reason);
    v1::CompleteTrialResponse response;
    return workers_->CompleteTrial(&context, request, &response);
  }

  v1::Trial GetTrial(int64_t number) {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study("bad");
    v1::ListTrialsResponse response;
    EXPECT_TRUE(studies_->ListTrials(&context, request, &response).ok());
    if (number >= response.trials_size()) return v1::Trial();
    return response.trials(number);
  }

  std::vector<int64_t> BestNumbers() {
    grpc::ClientContext context;
    v1::GetBestTrialsRequest request;
    request.set_study("bad");
    request.set_count(10);
    v1::GetBestTrialsResponse response;
    EXPECT_TRUE(studies_->GetBestTrials(&context, request, &response).ok());
    std::vector<int64_t> numbers;
    for (const v1::Trial& trial : response.trials()) numbers.push_back(trial.number());
    return numbers;
  }

  void Restart() {
    runner_.reset();
    StartServer();
  }
};

// Intermediate NaN and +-inf are stored as sent (and survive a restart);
// without a pruner the trial goes on.
TEST_F(BadInputTest, NonFiniteIntermediateValuesAreStoredAsSent) {
  CreateStudy(Spec("{type: none}"));
  const v1::TrialLease lease = Acquire();
  v1::TrialAction action;
  ASSERT_TRUE(Report(lease, 1, {{"loss", kNaN}, {"acc", kInf}}, &action).ok());
  EXPECT_EQ(action, v1::TRIAL_ACTION_CONTINUE);
  ASSERT_TRUE(Report(lease, 2, {{"loss", -kInf}}, &action).ok());
  EXPECT_EQ(action, v1::TRIAL_ACTION_CONTINUE);
  Restart();
  const v1::Trial trial = GetTrial(0);
  ASSERT_EQ(trial.intermediate_size(), 2);
  EXPECT_TRUE(std::isnan(trial.intermediate(0).metrics().at("loss")));
  EXPECT_EQ(trial.intermediate(0).metrics().at("acc"), kInf);
  EXPECT_EQ(trial.intermediate(1).metrics().at("loss"), -kInf);
  EXPECT_EQ(trial.state(), v1::TRIAL_STATE_RUNNING);
}

// With a pruner, a NaN objective value stops the trial (as Optuna's pruners
// do); the trial ends PRUNED, not FAILED.
TEST_F(BadInputTest, NanIntermediateObjectiveIsPruned) {
  CreateStudy(Spec("{type: threshold, upper: 100}"));
  const v1::TrialLease lease = Acquire();
  v1::TrialAction action;
  ASSERT_TRUE(Report(lease, 1, {{"loss", 1.0}}, &action).ok());
  EXPECT_EQ(action, v1::TRIAL_ACTION_CONTINUE);
  ASSERT_TRUE(Report(lease, 2, {{"loss", kNaN}}, &action).ok());
  EXPECT_EQ(action, v1::TRIAL_ACTION_STOP);
  ASSERT_TRUE(Complete(lease, v1::TRIAL_STATE_PRUNED, {}).ok());
  EXPECT_EQ(GetTrial(0).state(), v1::TRIAL_STATE_PRUNED);
}

// A NaN objective in the final result fails the trial with the reason (as
// Optuna fails a trial whose objective returns NaN); it is never "best".
// Other NaN metrics are kept as they are.
TEST_F(BadInputTest, NanFinalObjectiveFailsTheTrialWithTheReason) {
  CreateStudy(Spec("{type: none}"));
  const v1::TrialLease nan_trial = Acquire();
  const v1::TrialLease good_trial = Acquire();
  ASSERT_TRUE(Complete(nan_trial, v1::TRIAL_STATE_COMPLETE, {{"loss", kNaN}}).ok());
  ASSERT_TRUE(Complete(good_trial, v1::TRIAL_STATE_COMPLETE, {{"loss", 1.5}, {"acc", kNaN}}).ok());
  Restart();
  const v1::Trial failed = GetTrial(0);
  EXPECT_EQ(failed.state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(failed.failure_reason(), HasSubstr("\"loss\" is NaN"));
  EXPECT_TRUE(std::isnan(failed.final_metrics().at("loss")));
  const v1::Trial good = GetTrial(1);
  EXPECT_EQ(good.state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_TRUE(std::isnan(good.final_metrics().at("acc")));
  EXPECT_EQ(BestNumbers(), std::vector<int64_t>({1}));
}

// +-inf is a valid objective, as in Optuna: COMPLETE, ranked by value
// (minimize: -inf first, +inf last).
TEST_F(BadInputTest, InfiniteFinalObjectiveIsCompleteAndRankedByValue) {
  CreateStudy(Spec("{type: none}", 3));
  const v1::TrialLease plus = Acquire();
  const v1::TrialLease finite = Acquire();
  const v1::TrialLease minus = Acquire();
  ASSERT_TRUE(Complete(plus, v1::TRIAL_STATE_COMPLETE, {{"loss", kInf}}).ok());
  ASSERT_TRUE(Complete(finite, v1::TRIAL_STATE_COMPLETE, {{"loss", 0.5}}).ok());
  ASSERT_TRUE(Complete(minus, v1::TRIAL_STATE_COMPLETE, {{"loss", -kInf}}).ok());
  Restart();
  EXPECT_EQ(GetTrial(0).state(), v1::TRIAL_STATE_COMPLETE);
  EXPECT_EQ(GetTrial(0).objective_value(), kInf);
  EXPECT_EQ(GetTrial(2).objective_value(), -kInf);
  EXPECT_EQ(BestNumbers(), std::vector<int64_t>({2, 1, 0}));
}

// A trial state outside the enum (proto3 keeps unknown values), or one a
// worker may not report, is INVALID_ARGUMENT naming the field and the value;
// the trial is untouched and the worker can still finish it.
TEST_F(BadInputTest, UnknownOrNonFinalTrialStateIsInvalidArgumentAndChangesNothing) {
  CreateStudy(Spec("{type: none}"));
  const v1::TrialLease lease = Acquire();
  grpc::Status unknown = Complete(lease, static_cast<v1::TrialState>(42), {{"loss", 1}});
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown.error_message(), HasSubstr("state"));
  EXPECT_THAT(unknown.error_message(), HasSubstr("42"));
  for (v1::TrialState state :
       {v1::TRIAL_STATE_UNSPECIFIED, v1::TRIAL_STATE_WAITING, v1::TRIAL_STATE_RUNNING}) {
    grpc::Status status = Complete(lease, state, {{"loss", 1}});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << state;
    EXPECT_THAT(status.error_message(), HasSubstr(v1::TrialState_Name(state))) << state;
  }
  EXPECT_EQ(GetTrial(0).state(), v1::TRIAL_STATE_RUNNING);
  ASSERT_TRUE(Complete(lease, v1::TRIAL_STATE_COMPLETE, {{"loss", 1}}).ok());
  EXPECT_EQ(GetTrial(0).state(), v1::TRIAL_STATE_COMPLETE);
}

// Steps may arrive in any order: all are kept, in step order. A repeated
// step replaces the stored value (the newest report wins), so a re-sent or
// retried report never adds a second row. A negative step is refused.
TEST_F(BadInputTest, OutOfOrderStepsAreKeptInOrderAndARepeatedStepReplaces) {
  CreateStudy(Spec("{type: none}"));
  const v1::TrialLease lease = Acquire();
  ASSERT_TRUE(Report(lease, 3, {{"loss", 3.0}}).ok());
  ASSERT_TRUE(Report(lease, 1, {{"loss", 1.0}}).ok());
  ASSERT_TRUE(Report(lease, 2, {{"loss", 2.0}}).ok());
  ASSERT_TRUE(Report(lease, 2, {{"loss", 2.5}}).ok());
  grpc::Status negative = Report(lease, -1, {{"loss", 0.0}});
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(negative.error_message(), HasSubstr("step"));
  for (bool restarted : {false, true}) {
    if (restarted) Restart();
    const v1::Trial trial = GetTrial(0);
    ASSERT_EQ(trial.intermediate_size(), 3) << restarted;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(trial.intermediate(i).step(), i + 1) << restarted;
    EXPECT_EQ(trial.intermediate(1).metrics().at("loss"), 2.5) << restarted;
    // The objective of a trial without a final result is its latest step's.
    EXPECT_EQ(trial.objective_value(), 3.0) << restarted;
  }
}

// A message over the server's receive limit is refused by gRPC
// (RESOURCE_EXHAUSTED) before it reaches the coordinator; the server and the
// lease are unaffected.
TEST_F(BadInputTest, OversizedMessageIsResourceExhaustedAndTheServerGoesOn) {
  CreateStudy(Spec("{type: none}"));
  const v1::TrialLease lease = Acquire();
  const std::string huge(20 << 20, 'x');  // Above the 16 MiB limit (or a lower one).
  grpc::Status status = Report(lease, 1, {{huge, 1.0}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  grpc::Status reason = Complete(lease, v1::TRIAL_STATE_FAILED, {}, huge);
  EXPECT_EQ(reason.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(Report(lease, 1, {{"loss", 1.0}}).ok());
  EXPECT_EQ(GetTrial(0).intermediate_size(), 1);
}

// Within the message limit, metrics beyond the coordinator's bounds are
// refused in a report (INVALID_ARGUMENT naming the field; nothing stored) and
// fail the trial in a final result; an overlong failure reason is cut.
TEST_F(BadInputTest, MetricsBeyondTheBoundsAreRefusedOrFailTheTrial) {
  CreateStudy(Spec("{type: none}"));
  const v1::TrialLease lease = Acquire();
  MetricMap many;
  for (size_t i = 0; i <= kMaxMetricsPerReport; ++i) many["m" + std::to_string(i)] = 1.0;
  grpc::Status too_many = Report(lease, 1, many);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(too_many.error_message(), HasSubstr("measurement.metrics"));
  const std::string long_name(kMaxMetricNameBytes + 1, 'n');
  grpc::Status too_long = Report(lease, 1, {{long_name, 1.0}});
  EXPECT_EQ(too_long.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status empty_name = Report(lease, 1, {{"", 1.0}});
  EXPECT_EQ(empty_name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetTrial(0).intermediate_size(), 0);

  many["loss"] = 1.0;
  ASSERT_TRUE(Complete(lease, v1::TRIAL_STATE_COMPLETE, many).ok());
  const v1::Trial failed = GetTrial(0);
  EXPECT_EQ(failed.state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(failed.failure_reason(), HasSubstr("final_metrics"));
  EXPECT_EQ(failed.final_metrics_size(), 0);

  const v1::TrialLease second = Acquire();
  const std::string reason = "boom " + std::string(4 * kMaxFailureReasonBytes, 'r');
  ASSERT_TRUE(Complete(second, v1::TRIAL_STATE_FAILED, {}, reason).ok());
  Restart();
  const std::string stored = GetTrial(1).failure_reason();
  EXPECT_LE(stored.size(), kMaxFailureReasonBytes + 32);
  EXPECT_THAT(stored, HasSubstr("boom"));
  EXPECT_THAT(stored, HasSubstr("[truncated]"));
}

}  // namespace
}  // namespace vernier
