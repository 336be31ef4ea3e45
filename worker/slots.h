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
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier::worker {

// One environment variable: name, value.
using EnvVar = std::pair<std::string, std::string>;

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
};

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

// Builds the slot list. Returns INVALID_ARGUMENT naming the flag when a value
// is out of range or --gpus is neither "auto" nor a list of distinct
// non-negative integers, and the discoverer's error when it fails. `discover`
// is only called for --gpus=auto.
absl::StatusOr<std::vector<Slot>> BuildSlots(const SlotOptions& options,
                                             const GpuDiscoverer& discover = DiscoverGpus);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_SLOTS_H_
