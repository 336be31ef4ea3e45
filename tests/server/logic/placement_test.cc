// Placement and fair share (server/logic/placement.h): which slots fit a
// study, the order a free slot is offered to studies in, a simulated fleet on
// a fake clock where a small study is not starved by a big one and
// priorities weigh the slots, and the reasons people read for waiting trials.
#include "server/logic/placement.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/study_spec.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

SlotDescription CpuSlot() {
  SlotDescription slot;
  slot.described = true;
  slot.cpus = 4;
  slot.memory_gb = 16;
  return slot;
}

SlotDescription GpuSlot(const std::string& gpu_label, double gpu_memory_gb) {
  SlotDescription slot = CpuSlot();
  slot.gpus = 1;
  slot.gpu_model = "NVIDIA " + gpu_label;
  slot.gpu_memory_gb = gpu_memory_gb;
  slot.labels["gpu"] = gpu_label;
  return slot;
}

StudySpec WantsGpu(const std::string& label = "") {
  StudySpec spec;
  spec.resources.gpus = 1;
  if (!label.empty()) spec.placement["gpu"] = label;
  return spec;
}

TEST(SlotMismatchTest, AStudyThatAsksNothingFitsEverySlotEvenAnUndescribedOne) {
  const StudySpec anything;
  EXPECT_EQ(SlotMismatch(anything, CpuSlot()), std::nullopt);
  EXPECT_EQ(SlotMismatch(anything, GpuSlot("h100", 80)), std::nullopt);
  EXPECT_EQ(SlotMismatch(anything, SlotDescription{}), std::nullopt);
}

TEST(SlotMismatchTest, NamesTheFirstUnmetNeed) {
  EXPECT_THAT(SlotMismatch(WantsGpu(), CpuSlot()), Optional(std::string("needs a GPU slot")));
  StudySpec cpu_only;
  cpu_only.resources.gpus = 0;
  EXPECT_THAT(SlotMismatch(cpu_only, GpuSlot("h100", 80)),
              Optional(std::string("needs a CPU slot")));
  StudySpec big = WantsGpu();
  big.resources.gpu_memory_gb = 40;
  EXPECT_THAT(SlotMismatch(big, GpuSlot("a10", 24)),
              Optional(std::string("needs 40 GB of GPU memory, the slot has 24")));
  EXPECT_EQ(SlotMismatch(big, GpuSlot("h100", 80)), std::nullopt);
  StudySpec hungry;
  hungry.resources.memory_gb = 64;
  EXPECT_THAT(SlotMismatch(hungry, CpuSlot()),
              Optional(std::string("needs 64 GB of memory, the slot has 16")));
  EXPECT_THAT(SlotMismatch(WantsGpu("h100"), GpuSlot("a100", 80)),
              Optional(std::string("needs label gpu=h100")));
  EXPECT_EQ(SlotMismatch(WantsGpu("h100"), GpuSlot("h100", 80)), std::nullopt);
  EXPECT_THAT(SlotMismatch(WantsGpu(), SlotDescription{}),
              Optional(::testing::HasSubstr("a slot that describes itself")));
}

TEST(FairShareOrderTest, FewestRunningPerPriorityFirstThenLeastRecentlyServed) {
  // running/priority: 2/1, 2/2 (served at 2), 0/1, 1/1 (served at 5), 1/1 (served at 3).
  const std::vector<ShareCandidate> candidates = {
      {2, 1, 1}, {2, 2, 2}, {0, 1, 9}, {1, 1, 5}, {1, 1, 3}};
  EXPECT_THAT(FairShareOrder(candidates), ElementsAre(2, 1, 4, 3, 0));
}

TEST(FairShareOrderTest, EqualCandidatesKeepTheirOrder) {
  const std::vector<ShareCandidate> candidates = {{1, 1, 0}, {1, 1, 0}, {1, 1, 0}};
  EXPECT_THAT(FairShareOrder(candidates), ElementsAre(0, 1, 2));
}

// A fleet of identical slots serving studies by FairShareOrder, on a fake
// clock: every trial takes `trial_seconds`; a slot that frees takes the next
// trial of the first study in fair-share order that still has trials to
// start and is under its parallel cap.
struct SimStudy {
  std::string name;
  int64_t trials = 0;  // To run in all.
  int64_t priority = 1;
  int64_t parallel = 1000;
  int64_t started = 0;
  int64_t running = 0;
  uint64_t last_served = 0;
  int64_t finished_at = -1;  // Seconds; -1 while trials remain.
};

class FleetSimulation {
 public:
  FleetSimulation(int slots, int64_t trial_seconds) : trial_seconds_(trial_seconds) {
    ends_.assign(static_cast<size_t>(slots), -1);
  }

  void Add(SimStudy study) { studies_.push_back(std::move(study)); }

  // Runs until `until` seconds: at each second, trials that end free their
  // slot, then each free slot is filled.
  void Run(int64_t until) {
    for (; now_ <= until; ++now_) {
      for (size_t slot = 0; slot < ends_.size(); ++slot) {
        if (ends_[slot] == now_) Finish(slot);
      }
      for (size_t slot = 0; slot < ends_.size(); ++slot) {
        if (ends_[slot] < 0) Fill(slot);
      }
    }
  }

  const SimStudy& study(size_t i) const { return studies_[i]; }

 private:
  void Finish(size_t slot) {
    SimStudy& study = studies_[owner_[slot]];
    --study.running;
    ends_[slot] = -1;
    if (study.started == study.trials && study.running == 0) study.finished_at = now_;
  }

  void Fill(size_t slot) {
    std::vector<ShareCandidate> candidates;
    std::vector<size_t> which;
    for (size_t i = 0; i < studies_.size(); ++i) {
      const SimStudy& s = studies_[i];
      if (s.started == s.trials || s.running >= s.parallel) continue;
      candidates.push_back({s.running, s.priority, s.last_served});
      which.push_back(i);
    }
    if (candidates.empty()) return;
    SimStudy& chosen = studies_[which[FairShareOrder(candidates).front()]];
    ++chosen.started;
    ++chosen.running;
    chosen.last_served = ++serial_;
    owner_[slot] = static_cast<size_t>(&chosen - studies_.data());
    ends_[slot] = now_ + trial_seconds_;
  }

  const int64_t trial_seconds_;
  std::vector<SimStudy> studies_;
  std::vector<int64_t> ends_;       // Per slot: when its trial ends; -1: free.
  std::map<size_t, size_t> owner_;  // Slot -> study index.
  int64_t now_ = 0;
  uint64_t serial_ = 0;
};

TEST(FleetSimulationTest, ABigOldStudyDoesNotStarveASmallNewOne) {
  FleetSimulation fleet(/*slots=*/8, /*trial_seconds=*/10);
  fleet.Add({"big", 10000});
  fleet.Add({"small", 20});
  fleet.Run(1000);
  // Half of the 8 slots from the first second: 20 trials in 5 rounds.
  EXPECT_EQ(fleet.study(1).finished_at, 50);
  EXPECT_EQ(fleet.study(0).finished_at, -1);
}

TEST(FleetSimulationTest, PriorityWeighsTheSlotsAStudyHolds) {
  FleetSimulation fleet(/*slots=*/12, /*trial_seconds=*/10);
  fleet.Add({"low", 10000, /*priority=*/1});
  fleet.Add({"high", 10000, /*priority=*/2});
  fleet.Add({"other", 10000, /*priority=*/1});
  fleet.Run(95);
  EXPECT_EQ(fleet.study(0).running, 3);
  EXPECT_EQ(fleet.study(1).running, 6);
  EXPECT_EQ(fleet.study(2).running, 3);
}

TEST(FleetSimulationTest, ManyStudiesOfEqualPriorityTakeTurnsOnFewSlots) {
  FleetSimulation fleet(/*slots=*/3, /*trial_seconds=*/1);
  for (int i = 0; i < 30; ++i) fleet.Add({"s" + std::to_string(i), 4});
  fleet.Run(40);
  // 120 trials on 3 slots, one per second each: all done by second 40, and
  // the studies finish in the order they were created, a slot-round apart.
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(fleet.study(static_cast<size_t>(i)).started, 4) << i;
    EXPECT_GE(fleet.study(static_cast<size_t>(i)).finished_at, 30) << i;
  }
}

TEST(FleetSimulationTest, TheParallelCapStillHoldsAndLeavesTheRestToOthers) {
  FleetSimulation fleet(/*slots=*/8, /*trial_seconds=*/10);
  fleet.Add({"capped", 10000, /*priority=*/10, /*parallel=*/2});
  fleet.Add({"rest", 10000});
  fleet.Run(5);
  EXPECT_EQ(fleet.study(0).running, 2);
  EXPECT_EQ(fleet.study(1).running, 6);
}

TEST(WaitReasonTest, SaysWhyTrialsWait) {
  const StudySpec h100 = WantsGpu("h100");
  EXPECT_EQ(WaitReason(h100, 4, 4, {}), "budget.parallel 4 reached (4 running)");
  EXPECT_EQ(WaitReason(h100, 0, 4, {}), "no worker is connected");
  EXPECT_EQ(WaitReason(h100, 0, 4, {{CpuSlot(), false}, {CpuSlot(), true}, {GpuSlot("a100", 80)}}),
            "no connected slot fits: needs a GPU slot (3 slots connected: 1 GPU, 2 CPU)");
  EXPECT_EQ(WaitReason(h100, 1, 4,
                       {{GpuSlot("h100", 80), true},
                        {GpuSlot("h100", 80), true},
                        {GpuSlot("h100", 80), true},
                        {CpuSlot(), false}}),
            "no free GPU slot with label gpu=h100; 3 GPU slots busy");
  EXPECT_EQ(WaitReason(h100, 1, 4, {{GpuSlot("h100", 80), false}}),
            "1 free GPU slot fits; the next trial starts when one asks for work");
  EXPECT_EQ(WaitReason(StudySpec{}, 0, 4, {{CpuSlot(), true}, {CpuSlot(), true}}),
            "no free slot; 2 slots busy");
}

}  // namespace
}  // namespace vernier
