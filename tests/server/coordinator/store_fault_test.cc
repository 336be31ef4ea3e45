// Memory equals the store after every failure: a coordinator runs a workload
// of every kind of call over a FaultyStudyStore that fails one write (each
// write in turn, refused or unconfirmed), and after each call its answers are
// compared with those of a coordinator freshly loaded from the store.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "server/storage/memory_study_store.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/server/storage/faulty_study_store.h"

namespace vernier {
namespace {

constexpr char kLoop[] = R"(
name: loop
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
  opt: {type: categorical, values: [a, b]}
sampler: {type: tpe, n_startup_trials: 2}
pruner: {type: median, min_trials: 1}
budget: {max_trials: 6}
trainer: {external: true}
)";

constexpr char kWork[] = R"(
name: work
objective: {metric: acc}
params: {x: {type: float, low: 0, high: 1}}
budget: {max_trials: 4, parallel: 2, max_failures: 1, max_retries: 1}
trainer: {command: [python3, t.py]}
)";

// Everything a client can see of the coordinator's studies, as text.
std::string Snapshot(Coordinator& coordinator) {
  std::string out;
  for (const StudyView& view : coordinator.ListStudies()) {
    absl::StrAppend(&out, view.record.name, " ", StudyStateName(view.record.state), " [",
                    view.record.state_reason, "]\n");
    for (const auto& [state, count] : view.trial_counts) {
      if (count != 0) absl::StrAppend(&out, "  ", TrialStateName(state), "=", count, "\n");
    }
    absl::StatusOr<TrialsView> trials = coordinator.ListTrials(view.record.name);
    if (!trials.ok()) {
      absl::StrAppend(&out, "  ListTrials: ", trials.status().ToString(), "\n");
      continue;
    }
    for (const TrialRecord& t : trials->trials) {
      absl::StrAppend(&out, "  #", t.number, " ", TrialStateName(t.state), " w=", t.worker_id,
                      " a=", t.attempt, " r=", t.retries, " o=", t.origin, " f=[", t.failure_reason,
                      "] p={");
      for (const auto& [name, value] : t.params) {
        absl::StrAppend(&out, name, ":", ParamValueToString(value), ",");
      }
      absl::StrAppend(&out, "} final={");
      for (const auto& [name, value] : t.final_metrics)
        absl::StrAppend(&out, name, ":", value, ",");
      absl::StrAppend(&out, "} steps={");
      for (const Measurement& m : t.intermediate) {
        for (const auto& [name, value] : m.metrics) {
          absl::StrAppend(&out, m.step, ":", name, "=", value, ",");
        }
      }
      absl::StrAppend(&out, "} start=", absl::ToUnixMicros(t.start_time),
                      " end=", absl::ToUnixMicros(t.end_time), "\n");
    }
  }
  return out;
}

// A coordinator over a FaultyStudyStore, and a workload that makes every
// kind of call.
struct Workload {
  Workload() {
    auto created = Coordinator::Create(&faulty_, &clock_, options_);
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) coordinator_ = *std::move(created);
  }

  // What a coordinator loaded from the store now answers.
  std::string StoreSnapshot() {
    auto fresh = Coordinator::Create(&inner_, &clock_, options_);
    EXPECT_TRUE(fresh.ok()) << fresh.status();
    return fresh.ok() ? Snapshot(**fresh) : "";
  }

  // Every call of the API, each followed by the check; results ignored (some
  // fail by design of the test).
  void RunWorkload() {
    Coordinator& c = *coordinator_;
    std::vector<std::function<void()>> steps = {
        [&] { CreateStudyFromYaml(c, kLoop).IgnoreError(); },
        [&] { CreateStudyFromYaml(c, kWork).IgnoreError(); },
        [&] { c.Ask("loop").IgnoreError(); },
        [&] { c.Ask("loop").IgnoreError(); },
        [&] {
          c.Report("loop", 0, 0.5, {1, {}}).IgnoreError();
        },
        [&] {
          c.Report("loop", 1, 0.9, {1, {}}).IgnoreError();
        },
        [&] { c.Tell("loop", 0, TrialState::kComplete, 0.4, {}, "").IgnoreError(); },
        [&] {
          c.EnqueueTrial("loop", {{"x", 0.25}}).IgnoreError();
        },
        [&] { c.Ask("loop").IgnoreError(); },
        [&] { c.Tell("loop", 1, TrialState::kFailed, std::nullopt, {}, "gone").IgnoreError(); },
        [&] { Acquire("w1"); },
        [&] { Acquire("w2"); },
        [&] { Report("w1", 0, 1, 0.5); },
        [&] { Complete("w1", 0, 0.7); },
        [&] { clock_.Advance(absl::Seconds(31)); },
        [&] { c.ExpireLeases().IgnoreError(); },  // w2's lease: back to WAITING.
        [&] { Acquire("w1"); },
        [&] { c.ReleaseTrial("w1", LeaseOf(1)).IgnoreError(); },
        [&] { c.EnqueueFromStudy("loop", "loop", 1).IgnoreError(); },
        [&] { c.StopStudy("work").IgnoreError(); },
    };
    for (size_t i = 0; i < steps.size(); ++i) {
      steps[i]();
      ASSERT_EQ(Snapshot(c), StoreSnapshot()) << "after step " << i;
    }
  }

  void Acquire(const std::string& worker) {
    auto assignment = coordinator_->AcquireTrial(worker, "cpu");
    if (assignment.ok() && assignment->has_value()) {
      leases_[(*assignment)->lease.trial_number] = (*assignment)->lease;
      workers_[(*assignment)->lease.trial_number] = worker;
    }
  }
  LeaseKey LeaseOf(int64_t trial) { return leases_[trial]; }
  void Report(const std::string& worker, int64_t trial, int64_t step, double acc) {
    coordinator_->ReportProgress(worker, LeaseOf(trial), {step, {{"acc", acc}}}).IgnoreError();
  }
  void Complete(const std::string& worker, int64_t trial, double acc) {
    coordinator_->CompleteTrial(worker, LeaseOf(trial), TrialState::kComplete, {{"acc", acc}}, "")
        .IgnoreError();
  }

  MemoryStudyStore inner_;
  FaultyStudyStore faulty_{&inner_};
  FakeClock clock_;
  CoordinatorOptions options_{absl::Seconds(30), absl::Seconds(5)};
  std::unique_ptr<Coordinator> coordinator_;
  std::map<int64_t, LeaseKey> leases_;
  std::map<int64_t, std::string> workers_;
};

TEST(StoreFaultTest, TheWorkloadWritesWhatItShould) {
  Workload run;
  run.RunWorkload();
  EXPECT_EQ(run.faulty_.failures(), 0);
  EXPECT_GT(run.faulty_.writes(), 15);
}

// One test per kind of fault, each failing every write of the workload in
// turn (a fresh coordinator and store each time).
class EveryWriteFails : public ::testing::TestWithParam<FaultyStudyStore::Fault> {};

TEST_P(EveryWriteFails, MemoryEqualsTheStoreAfterEachFailure) {
  int64_t writes = 0;
  for (int nth = 1;; ++nth) {
    SCOPED_TRACE(absl::StrCat("write ", nth, " fails"));
    Workload run;
    run.faulty_.FailWrite(nth, GetParam());
    run.RunWorkload();
    if (HasFatalFailure()) return;
    if (run.faulty_.failures() == 0) break;  // Past the workload's last write.
    writes = nth;
  }
  EXPECT_GT(writes, 15);
}

INSTANTIATE_TEST_SUITE_P(Faults, EveryWriteFails,
                         ::testing::Values(FaultyStudyStore::Fault::kRefused,
                                           FaultyStudyStore::Fault::kUnconfirmed),
                         [](const ::testing::TestParamInfo<FaultyStudyStore::Fault>& fault) {
                           return fault.param == FaultyStudyStore::Fault::kRefused ? "Refused"
                                                                                   : "Unconfirmed";
                         });

TEST(StoreFaultTest, AStoreThatIsDownForAWhileLosesNothingAndRecovers) {
  Workload run;
  std::unique_ptr<Coordinator>& coordinator_ = run.coordinator_;
  FaultyStudyStore& faulty_ = run.faulty_;
  const auto StoreSnapshot = [&run] { return run.StoreSnapshot(); };
  ASSERT_TRUE(CreateStudyFromYaml(*coordinator_, kLoop).ok());
  ASSERT_TRUE(coordinator_->Ask("loop").ok());
  faulty_.FailAll();
  EXPECT_EQ(coordinator_->Ask("loop").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(coordinator_->Tell("loop", 0, TrialState::kComplete, 0.5, {}, "").status().code(),
            absl::StatusCode::kUnavailable);
  faulty_.Heal();
  EXPECT_EQ(Snapshot(*coordinator_), StoreSnapshot());
  ASSERT_TRUE(coordinator_->Tell("loop", 0, TrialState::kComplete, 0.5, {}, "").ok());
  EXPECT_EQ(coordinator_->Ask("loop")->trial.number, 1);
  EXPECT_EQ(Snapshot(*coordinator_), StoreSnapshot());
}

}  // namespace
}  // namespace vernier
