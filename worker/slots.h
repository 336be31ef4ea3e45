// The slot manager: turns the worker's device flags into the list of slots it
// offers the coordinator. A slot runs one trial at a time; it is either a CPU
// slot ("cpu") or one of K slots on a GPU ("cuda:<index>"), and carries the
// environment a trial started in it must get (device pinning, thread count).
//
// Thread-safety: every function here is thread-safe. DiscoverGpus() runs a
// child process (nvidia-smi) and reads /proc; the rest is pure.
#ifndef VERNIER_WORKER_SLOTS_H_
#define VERNIER_WORKER_SLOTS_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier::worker {

// One environment variable: name, value.
using EnvVar = std::pair<std::string, std::string>;

// What a slot offers the coordinator's placement of trials (a study's
// `resources` and `placement`), sent with each AcquireTrial.
struct SlotCapacity {
  int gpus = 0;                               // 1 for a GPU slot.
  std::string gpu_model;                      // As nvidia-smi names the GPU; "" when unknown.
  double gpu_memory_gb = 0;                   // The GPU's memory over --trials-per-gpu; 0: unknown.
  double cpus = 0;                            // --threads-per-slot.
  double memory_gb = 0;                       // --memory-gb (or the machine's) over the slots.
  std::map<std::string, std::string> labels;  // --label KEY=VALUE.
};

// One place where a trial can run.
struct Slot {
  // What the coordinator sees: "cpu" or "cuda:<index>". Several slots may have
  // the same name (two CPU slots, or K trials per GPU).
  std::string name;
  // The value of VERNIER_DEVICE for trials in this slot: "cpu" or "cuda".
  std::string device;
  // Variables set in the trial's environment: VERNIER_DEVICE,
  // CUDA_VISIBLE_DEVICES (and CUDA_DEVICE_ORDER for GPUs), VERNIER_NUM_THREADS
  // and OMP_NUM_THREADS.
  std::vector<EnvVar> env;
  SlotCapacity capacity;
};

// The device flags of vernier-worker, as given.
struct SlotOptions {
  // --gpus: empty (not given: CPU slots only), "auto" (discover; CPU slots
  // when there are none) or a comma-separated list of GPU indexes ("0,2").
  std::string gpus;
  // --trials-per-gpu: slots per GPU, >= 1.
  int trials_per_gpu = 1;
  // --cpu-slots: CPU slots when no GPU is used, >= 1.
  int cpu_slots = 1;
  // --threads-per-slot: intra-op threads each trial may use, >= 1.
  int threads_per_slot = 1;
  // --label KEY=VALUE, repeated: labels that studies' placement matches.
  std::vector<std::string> labels;
  // --memory-gb: host memory the trials share; 0: the machine's (MemTotal).
  double memory_gb = 0;
};

// One GPU as nvidia-smi describes it.
struct GpuModel {
  std::string name;
  double memory_gb = 0;
};

// GPU index -> its model; empty when nothing is known.
using GpuDescriber = std::function<std::map<int, GpuModel>()>;

// The real describer: `nvidia-smi --query-gpu=index,name,memory.total
// --format=csv,noheader,nounits`; empty when nvidia-smi is missing or fails.
std::map<int, GpuModel> DescribeGpus();

// Parses that output ("0, NVIDIA H100 80GB HBM3, 81559": memory in MiB);
// lines that do not parse are left out.
std::map<int, GpuModel> ParseGpuModels(absl::string_view text);

// --label values as a map. INVALID_ARGUMENT naming --label for a value that
// is not KEY=VALUE with both 1-63 letters, digits, '-', '_', '.', '/', or a
// key given twice.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& labels);

// The machine's memory in GB (MemTotal of /proc/meminfo); 0 when unknown.
double MachineMemoryGb();

// Returns the indexes of the GPUs on this machine (possibly none). Errors are
// for real failures only; "no GPU" is an empty list.
using GpuDiscoverer = std::function<absl::StatusOr<std::vector<int>>()>;

// The real discoverer: asks `nvidia-smi --query-gpu=index
// --format=csv,noheader`; when nvidia-smi is missing or fails, counts the
// entries of /proc/driver/nvidia/gpus/. Never fails: no driver means no GPU.
absl::StatusOr<std::vector<int>> DiscoverGpus();

// Parses nvidia-smi's output (one index per line). Returns INVALID_ARGUMENT
// when a line is not a non-negative integer.
absl::StatusOr<std::vector<int>> ParseGpuIndexList(absl::string_view text);

// Returns 0..n-1 where n is the number of entries of `dir` (the driver lists
// one directory per GPU there); an empty list when `dir` cannot be read.
std::vector<int> GpusFromProcDir(const std::string& dir);

// Builds the slot list, each slot with its capacity. Returns
// INVALID_ARGUMENT naming the flag when a value is out of range or --gpus is
// neither "auto" nor a list of distinct non-negative integers, and the
// discoverer's error when it fails. `discover` is only called for
// --gpus=auto, `describe` only when GPUs are used.
absl::StatusOr<std::vector<Slot>> BuildSlots(const SlotOptions& options,
                                             const GpuDiscoverer& discover = DiscoverGpus,
                                             const GpuDescriber& describe = DescribeGpus);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_SLOTS_H_
