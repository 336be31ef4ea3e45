#include "worker/slots.h"

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"

namespace vernier::worker {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

GpuDiscoverer Found(std::vector<int> gpus) {
  return [gpus] { return absl::StatusOr<std::vector<int>>(gpus); };
}

GpuDiscoverer MustNotDiscover() {
  return []() -> absl::StatusOr<std::vector<int>> {
    ADD_FAILURE() << "discovery called without --gpus=auto";
    return std::vector<int>{};
  };
}

std::vector<std::string> Names(const std::vector<Slot>& slots) {
  std::vector<std::string> names;
  for (const Slot& slot : slots) names.push_back(slot.name);
  return names;
}

TEST(SlotsTest, DefaultIsOneCpuSlot) {
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(SlotOptions{}, MustNotDiscover());
  ASSERT_TRUE(slots.ok()) << slots.status();
  EXPECT_THAT(Names(*slots), ElementsAre("cpu"));
}

TEST(SlotsTest, CpuSlotsHideGpusAndPinThreads) {
  SlotOptions options;
  options.cpu_slots = 3;
  options.threads_per_slot = 4;
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, MustNotDiscover());
  ASSERT_TRUE(slots.ok()) << slots.status();
  ASSERT_THAT(Names(*slots), ElementsAre("cpu", "cpu", "cpu"));
  const Slot& slot = slots->front();
  EXPECT_EQ(slot.device, "cpu");
  EXPECT_THAT(slot.env, Contains(Pair("VERNIER_DEVICE", "cpu")));
  EXPECT_THAT(slot.env, Contains(Pair("CUDA_VISIBLE_DEVICES", "")));
  EXPECT_THAT(slot.env, Contains(Pair("VERNIER_NUM_THREADS", "4")));
  EXPECT_THAT(slot.env, Contains(Pair("OMP_NUM_THREADS", "4")));
}

TEST(SlotsTest, GpuListGivesTrialsPerGpuSlotsPinnedToEachGpu) {
  SlotOptions options;
  options.gpus = "0,2";
  options.trials_per_gpu = 2;
  options.cpu_slots = 5;  // Ignored when GPUs are used.
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, MustNotDiscover());
  ASSERT_TRUE(slots.ok()) << slots.status();
  EXPECT_THAT(Names(*slots), ElementsAre("cuda:0", "cuda:2", "cuda:0", "cuda:2"));
  const Slot& second = (*slots)[1];
  EXPECT_EQ(second.device, "cuda");
  EXPECT_THAT(second.env, Contains(Pair("VERNIER_DEVICE", "cuda")));
  EXPECT_THAT(second.env, Contains(Pair("CUDA_VISIBLE_DEVICES", "2")));
  EXPECT_THAT(second.env, Contains(Pair("VERNIER_NUM_THREADS", "1")));
}

TEST(SlotsTest, AutoUsesDiscoveredGpus) {
  SlotOptions options;
  options.gpus = "auto";
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, Found({0, 1}));
  ASSERT_TRUE(slots.ok()) << slots.status();
  EXPECT_THAT(Names(*slots), ElementsAre("cuda:0", "cuda:1"));
}

TEST(SlotsTest, AutoFallsBackToCpuSlotsWithoutGpus) {
  SlotOptions options;
  options.gpus = "auto";
  options.cpu_slots = 2;
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, Found({}));
  ASSERT_TRUE(slots.ok()) << slots.status();
  EXPECT_THAT(Names(*slots), ElementsAre("cpu", "cpu"));
}

TEST(SlotsTest, DiscoveryErrorIsReturned) {
  SlotOptions options;
  options.gpus = "auto";
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, []() {
    return absl::StatusOr<std::vector<int>>(absl::InternalError("driver broken"));
  });
  EXPECT_EQ(slots.status().code(), absl::StatusCode::kInternal);
}

TEST(SlotsTest, BadValuesNameTheFlag) {
  const auto error_for = [](SlotOptions options) {
    return std::string(BuildSlots(options, MustNotDiscover()).status().message());
  };
  SlotOptions options;
  options.trials_per_gpu = 0;
  EXPECT_THAT(error_for(options), HasSubstr("--trials-per-gpu"));
  options = SlotOptions{};
  options.cpu_slots = -1;
  EXPECT_THAT(error_for(options), HasSubstr("--cpu-slots"));
  options = SlotOptions{};
  options.threads_per_slot = 0;
  EXPECT_THAT(error_for(options), HasSubstr("--threads-per-slot"));
  for (const char* gpus : {"zero", "0,,1", "-1", "1,1", "0;1"}) {
    options = SlotOptions{};
    options.gpus = gpus;
    absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, MustNotDiscover());
    EXPECT_EQ(slots.status().code(), absl::StatusCode::kInvalidArgument) << gpus;
    EXPECT_THAT(slots.status().message(), HasSubstr("--gpus")) << gpus;
  }
}

TEST(SlotsTest, ParsesNvidiaSmiIndexes) {
  absl::StatusOr<std::vector<int>> gpus = ParseGpuIndexList("0\n1\n 3 \n\n");
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  EXPECT_THAT(*gpus, ElementsAre(0, 1, 3));
  EXPECT_FALSE(ParseGpuIndexList("No devices were found\n").ok());
  ASSERT_TRUE(ParseGpuIndexList("").ok());
  EXPECT_TRUE(ParseGpuIndexList("")->empty());
}

TEST(SlotsTest, CountsGpusInProcDirectory) {
  ::vernier::testing::TempDir dir;
  EXPECT_TRUE(GpusFromProcDir(dir.path() + "/missing").empty());
  EXPECT_TRUE(GpusFromProcDir(dir.path()).empty());
  mkdir((dir.path() + "/0000:17:00.0").c_str(), 0755);
  mkdir((dir.path() + "/0000:65:00.0").c_str(), 0755);
  EXPECT_THAT(GpusFromProcDir(dir.path()), ElementsAre(0, 1));
}

GpuDescriber Models(std::map<int, GpuModel> models) {
  return [models] { return models; };
}

TEST(SlotCapacityTest, GpuSlotsShareTheirGpuAndEverySlotCarriesTheLabels) {
  SlotOptions options;
  options.gpus = "0,1";
  options.trials_per_gpu = 2;
  options.threads_per_slot = 3;
  options.memory_gb = 64;
  options.labels = {"gpu=h100", "zone=eu-1"};
  absl::StatusOr<std::vector<Slot>> slots =
      BuildSlots(options, MustNotDiscover(), Models({{0, {"NVIDIA H100 80GB HBM3", 80}}}));
  ASSERT_TRUE(slots.ok()) << slots.status();
  ASSERT_EQ(slots->size(), 4u);
  const SlotCapacity& on_gpu0 = (*slots)[0].capacity;
  EXPECT_EQ(on_gpu0.gpus, 1);
  EXPECT_EQ(on_gpu0.gpu_model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(on_gpu0.gpu_memory_gb, 40);  // Two trials per GPU.
  EXPECT_EQ(on_gpu0.cpus, 3);
  EXPECT_EQ(on_gpu0.memory_gb, 16);  // 64 GB over 4 slots.
  EXPECT_THAT(on_gpu0.labels, ElementsAre(Pair("gpu", "h100"), Pair("zone", "eu-1")));
  const SlotCapacity& on_gpu1 = (*slots)[1].capacity;  // nvidia-smi said nothing of GPU 1.
  EXPECT_EQ(on_gpu1.gpus, 1);
  EXPECT_EQ(on_gpu1.gpu_model, "");
  EXPECT_EQ(on_gpu1.gpu_memory_gb, 0);
}

TEST(SlotCapacityTest, CpuSlotsShareTheMachinesMemoryByDefault) {
  SlotOptions options;
  options.cpu_slots = 2;
  absl::StatusOr<std::vector<Slot>> slots = BuildSlots(options, MustNotDiscover(), [] {
    ADD_FAILURE() << "GPUs described without GPU slots";
    return std::map<int, GpuModel>();
  });
  ASSERT_TRUE(slots.ok()) << slots.status();
  EXPECT_EQ((*slots)[0].capacity.gpus, 0);
  EXPECT_GT(MachineMemoryGb(), 0);
  EXPECT_DOUBLE_EQ((*slots)[0].capacity.memory_gb, MachineMemoryGb() / 2);
}

TEST(SlotCapacityTest, BadLabelsAndMemoryNameTheFlag) {
  for (const char* bad : {"gpu", "=h100", "gpu=", "gpu=h 100", "a=b=c"}) {
    SlotOptions options;
    options.labels = {bad};
    EXPECT_THAT(BuildSlots(options, MustNotDiscover()).status().message(),
                HasSubstr("--label \"" + std::string(bad) + "\" is not KEY=VALUE"))
        << bad;
  }
  SlotOptions twice;
  twice.labels = {"gpu=h100", "gpu=a100"};
  EXPECT_THAT(BuildSlots(twice, MustNotDiscover()).status().message(),
              HasSubstr("--label \"gpu\" is given twice"));
  SlotOptions negative;
  negative.memory_gb = -1;
  EXPECT_THAT(BuildSlots(negative, MustNotDiscover()).status().message(),
              HasSubstr("--memory-gb must be >= 0"));
}

TEST(SlotCapacityTest, ParsesNvidiaSmiModels) {
  const std::map<int, GpuModel> models =
      ParseGpuModels("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA A10, 23028\nbroken line\n");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models.at(0).name, "NVIDIA H100 80GB HBM3");
  EXPECT_NEAR(models.at(0).memory_gb, 79.65, 0.01);
  EXPECT_EQ(models.at(1).name, "NVIDIA A10");
}

TEST(SlotsTest, RealDiscoveryNeverFails) {
  // Whatever this machine has (often nothing): the call must succeed.
  EXPECT_TRUE(DiscoverGpus().ok());
}

}  // namespace
}  // namespace vernier::worker
