// Scheduling on the coordinator: AcquireTrial hands a slot only trials of
// the studies whose resources and placement it meets, in fair-share order
// across studies (priority, changeable while a study runs), and the summary
// says why a study's trials wait.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator/coordinator.h"
#include "tests/server/coordinator/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A study run by workers; `extra` adds top-level keys (resources, ...).
std::string WorkerStudy(const std::string& name, const std::string& budget,
                        const std::string& extra = "") {
  return absl::StrCat("name: ", name,
                      "\nobjective: {metric: loss, goal: minimize}\nparams:\n"
                      "  x: {type: float, low: 0, high: 1}\nbudget: ",
                      budget, "\ntrainer: {command: [python3, trial.py]}\n", extra);
}

SlotOffer Cpu(int32_t index = 0) {
  SlotOffer offer{"cpu", index, {}};
  offer.description.described = true;
  offer.description.cpus = 2;
  offer.description.memory_gb = 8;
  return offer;
}

SlotOffer Gpu(const std::string& label, int32_t index = 0) {
  SlotOffer offer = Cpu(index);
  offer.name = "cuda:0";
  offer.description.gpus = 1;
  offer.description.gpu_memory_gb = 80;
  offer.description.labels["gpu"] = label;
  return offer;
}

class SchedulingTest : public CoordinatorFixture {
 protected:
  // The study whose trial `worker`'s `slot` gets; "" for none.
  std::string Acquire(const std::string& worker, const SlotOffer& slot) {
    absl::StatusOr<std::optional<Assignment>> got = coordinator_->AcquireTrial(worker, slot);
    EXPECT_OK(got);
    return got.ok() && got->has_value() ? (*got)->lease.study : "";
  }

  std::string WaitReason(const std::string& study) {
    absl::StatusOr<StudySummary> summary = coordinator_->Summary(study);
    EXPECT_OK(summary);
    return summary.ok() ? summary->wait_reason : "";
  }
};

TEST_F(SchedulingTest, ASlotGetsOnlyTrialsOfStudiesItFits) {
  ASSERT_OK(Create(WorkerStudy("needs-h100", "{max_trials: 4, parallel: 4}",
                               "resources: {gpus: 1, gpu_memory_gb: 40}\n"
                               "placement: {gpu: h100}\n")));
  EXPECT_EQ(Acquire("cpu-worker", Cpu()), "");
  EXPECT_EQ(Acquire("a100-worker", Gpu("a100")), "");
  absl::StatusOr<std::optional<Assignment>> old = coordinator_->AcquireTrial("old-worker", "cpu");
  ASSERT_OK(old);
  EXPECT_FALSE(old->has_value()) << "a slot that does not describe itself cannot be checked";
  EXPECT_EQ(Acquire("h100-worker", Gpu("h100")), "needs-h100");
  Restart();  // Resources and placement are stored with the spec.
  EXPECT_EQ(Acquire("cpu-worker", Cpu()), "");
  EXPECT_EQ(Acquire("h100-worker", Gpu("h100", /*index=*/1)), "needs-h100");
}

TEST_F(SchedulingTest, AStudyThatAsksNothingRunsOnAnySlotIncludingAnOldWorkers) {
  ASSERT_OK(Create(WorkerStudy("anywhere", "{max_trials: 4, parallel: 4}")));
  EXPECT_EQ(Acquire("w1", Cpu()), "anywhere");
  EXPECT_EQ(Acquire("w2", Gpu("a100")), "anywhere");
  absl::StatusOr<std::optional<Assignment>> old = coordinator_->AcquireTrial("w3", "cpu");
  ASSERT_OK(old);
  EXPECT_TRUE(old->has_value());
}

TEST_F(SchedulingTest, TheSlotsAreSharedBetweenABigOldStudyAndASmallNewOne) {
  ASSERT_OK(Create(WorkerStudy("big", "{max_trials: 10000, parallel: 100}")));
  ASSERT_OK(Create(WorkerStudy("small", "{max_trials: 20, parallel: 100}")));
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) order.push_back(Acquire(absl::StrCat("w", i), Cpu()));
  EXPECT_THAT(order, ElementsAre("big", "small", "big", "small", "big", "small"));
}

TEST_F(SchedulingTest, APriorityRaisedWhileTheStudyRunsWeighsItsShare) {
  ASSERT_OK(Create(WorkerStudy("normal", "{max_trials: 100, parallel: 100}")));
  ASSERT_OK(Create(WorkerStudy("urgent", "{max_trials: 100, parallel: 100}")));
  BudgetUpdate update;
  update.priority = 3;
  ASSERT_OK(coordinator_->UpdateStudy("urgent", update));
  int urgent = 0;
  for (int i = 0; i < 8; ++i) urgent += Acquire(absl::StrCat("w", i), Cpu()) == "urgent";
  EXPECT_EQ(urgent, 6);  // 3 of every 4 slots.
  Restart();             // The priority is stored with the budget.
  EXPECT_EQ(coordinator_->GetStudy("urgent")->record.spec.budget.priority, 3);
}

TEST_F(SchedulingTest, TheSummarySaysWhyTrialsWait) {
  ASSERT_OK(Create(WorkerStudy("needs-h100", "{max_trials: 4, parallel: 2}",
                               "resources: {gpus: 1}\nplacement: {gpu: h100}\n")));
  EXPECT_EQ(WaitReason("needs-h100"), "no worker is connected");

  Acquire("cpu-worker", Cpu());
  EXPECT_EQ(WaitReason("needs-h100"),
            "no connected slot fits: needs a GPU slot (1 slot connected: 1 CPU)");

  EXPECT_EQ(Acquire("h100-worker", Gpu("h100")), "needs-h100");
  EXPECT_EQ(WaitReason("needs-h100"), "no free GPU slot with label gpu=h100; 1 GPU slot busy");

  EXPECT_EQ(Acquire("h100-worker", Gpu("h100", /*index=*/1)), "needs-h100");
  EXPECT_EQ(WaitReason("needs-h100"), "budget.parallel 2 reached (2 running)");

  // Silent workers are forgotten once their leases would have expired.
  clock_.Advance(absl::Minutes(5));
  ASSERT_OK(coordinator_->ExpireLeases());
  EXPECT_EQ(WaitReason("needs-h100"), "no worker is connected");
}

TEST_F(SchedulingTest, NoReasonWhenNothingWaits) {
  ASSERT_OK(Create(WorkerStudy("done", "{max_trials: 1}")));
  const std::string study = Acquire("w", Cpu());
  ASSERT_EQ(study, "done");
  EXPECT_EQ(WaitReason("done"), "");  // Every trial is created and none WAITING.
  ASSERT_OK(coordinator_->StopStudy("done"));
  EXPECT_EQ(WaitReason("done"), "");
}

TEST_F(SchedulingTest, BadPlacementAndResourcesAreRefusedNamingTheField) {
  EXPECT_THAT(Create(WorkerStudy("s", "{max_trials: 1}", "resources: {gpus: 2}\n")),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("resources.gpus: must be 0 (a CPU slot) or 1")));
  EXPECT_THAT(Create(WorkerStudy("s", "{max_trials: 1}", "placement: {gpu: \"h 100\"}\n")),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("placement.gpu")));
  EXPECT_THAT(Create(WorkerStudy("s", "{max_trials: 1, priority: 0}")),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("budget.priority: must be >= 1")));
  EXPECT_THAT(Create(WorkerStudy("s", "{max_trials: 1}", "resources: {memory_gb: -4}\n")),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("resources.memory_gb: must be > 0")));
}

}  // namespace
}  // namespace vernier
