// Placement and fair share: which of the workers' slots may run a study's
// trials (its `resources` and `placement`), which study a free slot serves
// next when several could use it, and, for people, why a study's trials wait.
//
// Fair share (after Ray's and Kubernetes' fair queueing, reduced to one
// resource, slots): a study's share is the trials it has RUNNING on workers
// over its budget.priority; a free slot goes to the study with the smallest
// share that fits it, ties to the study served longest ago, then to the
// oldest. So studies of equal priority split the slots evenly whatever their
// sizes (a 10,000-trial study cannot starve a 20-trial one), a study of
// priority 2 holds twice the slots of one of priority 1 while both have work,
// and equal studies take turns. budget.parallel caps each study on top.
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_SERVER_LOGIC_PLACEMENT_H_
#define VERNIER_SERVER_LOGIC_PLACEMENT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "server/logic/study_spec.h"

namespace vernier {

// What one slot of a worker offers (vernier-worker's flags and its GPUs).
struct SlotDescription {
  // False for a worker that describes none of its slots (an older one): its
  // slots run only the studies that ask for no resources and no placement.
  bool described = false;
  int64_t gpus = 0;          // 0: a CPU slot; 1: a GPU slot.
  std::string gpu_model;     // As nvidia-smi names it; may be empty.
  double gpu_memory_gb = 0;  // Of the GPU, for one trial; 0: unknown.
  double cpus = 0;           // Threads a trial may use; 0: unknown.
  double memory_gb = 0;      // Host memory for one trial; 0: unknown.
  std::map<std::string, std::string> labels;
};

// Whether `spec` asks anything of the slot that runs its trials.
bool AsksForSlot(const StudySpec& spec);

// Why `slot` cannot run a trial of `spec`, for people: "needs a GPU slot",
// "needs label gpu=h100", "needs 40 GB of GPU memory, the slot has 24"; the
// first unmet need only. nullopt when it can. An amount the slot does not
// know (0) does not meet a need for it.
std::optional<std::string> SlotMismatch(const StudySpec& spec, const SlotDescription& slot);

// One study that could take a free slot now.
struct ShareCandidate {
  int64_t running = 0;   // Its trials RUNNING on workers.
  int64_t priority = 1;  // budget.priority, >= 1.
  // When it was last handed a trial, as an increasing serial (0: never).
  uint64_t last_served = 0;
};

// The order in which a free slot is offered to `candidates` (indexes into
// it), by the fair share above; equal candidates keep their order (pass
// them oldest study first).
std::vector<size_t> FairShareOrder(absl::Span<const ShareCandidate> candidates);

// A slot as the coordinator last saw it.
struct SeenSlot {
  SlotDescription slot;
  bool busy = false;  // Running a trial.
};

// Why an ACTIVE study that has trials to start gets none, for people:
// "budget.parallel 4 reached (4 running)", "no worker is connected", "no
// connected slot fits: needs label gpu=h100 (3 slots connected: 3 CPU)",
// "no free GPU slot with label gpu=h100; 3 GPU slots busy", or, when a free
// slot fits, that its trials start as soon as one asks for work. `running`:
// its trials RUNNING on workers; `slots`: every connected slot.
std::string WaitReason(const StudySpec& spec, int64_t running, int64_t parallel,
                       absl::Span<const SeenSlot> slots);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_PLACEMENT_H_
