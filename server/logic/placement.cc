#include "server/logic/placement.h"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vernier {
namespace {

// "label gpu=h100" or "labels gpu=h100, zone=eu".
std::string LabelsText(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> pairs;
  for (const auto& [key, value] : labels) pairs.push_back(absl::StrCat(key, "=", value));
  return absl::StrCat(pairs.size() == 1 ? "label " : "labels ", absl::StrJoin(pairs, ", "));
}

// "GPU slot", "CPU slot" or "slot", as the study asks.
std::string SlotKind(const StudySpec& spec) {
  if (!spec.resources.gpus) return "slot";
  return *spec.resources.gpus > 0 ? "GPU slot" : "CPU slot";
}

// "3 GPU slots", "1 CPU slot".
std::string Count(int64_t n, const std::string& kind) {
  return absl::StrCat(n, " ", kind, n == 1 ? "" : "s");
}

// "needs 40 GB of GPU memory, the slot has 24" when `have` falls short.
std::optional<std::string> Shortfall(const std::optional<double>& need, double have,
                                     const char* what) {
  if (!need || *need <= have) return std::nullopt;
  return absl::StrCat("needs ", *need, " ", what, ", the slot has ",
                      have > 0 ? absl::StrCat(have) : "none known");
}

// The slots' kinds, for people: "3 GPU, 2 CPU".
std::string KindsOf(absl::Span<const SeenSlot> slots) {
  int64_t gpu = 0;
  int64_t cpu = 0;
  for (const SeenSlot& seen : slots) (seen.slot.gpus > 0 ? gpu : cpu)++;
  std::vector<std::string> parts;
  if (gpu > 0) parts.push_back(absl::StrCat(gpu, " GPU"));
  if (cpu > 0) parts.push_back(absl::StrCat(cpu, " CPU"));
  return absl::StrJoin(parts, ", ");
}

// The reason most slots give for not fitting (the first such on a tie).
std::string CommonMismatch(const StudySpec& spec, absl::Span<const SeenSlot> slots) {
  std::map<std::string, int64_t> counts;
  std::vector<std::string> order;
  for (const SeenSlot& seen : slots) {
    std::optional<std::string> why = SlotMismatch(spec, seen.slot);
    if (!why) continue;
    if (counts[*why]++ == 0) order.push_back(*why);
  }
  std::string common;
  int64_t best = 0;
  for (const std::string& why : order) {
    if (counts[why] > best) {
      best = counts[why];
      common = why;
    }
  }
  return common;
}

}  // namespace

bool AsksForSlot(const StudySpec& spec) {
  return AsksForResources(spec.resources) || !spec.placement.empty();
}

std::optional<std::string> SlotMismatch(const StudySpec& spec, const SlotDescription& slot) {
  if (!AsksForSlot(spec)) return std::nullopt;
  if (!slot.described) {
    return "needs a slot that describes itself (the worker is older than resources and placement)";
  }
  const ResourceSpec& need = spec.resources;
  if (need.gpus && *need.gpus > 0 && slot.gpus == 0) return "needs a GPU slot";
  if (need.gpus && *need.gpus == 0 && slot.gpus > 0) return "needs a CPU slot";
  if (auto why = Shortfall(need.gpu_memory_gb, slot.gpu_memory_gb, "GB of GPU memory")) return why;
  if (auto why = Shortfall(need.cpus, slot.cpus, "CPUs")) return why;
  if (auto why = Shortfall(need.memory_gb, slot.memory_gb, "GB of memory")) return why;
  for (const auto& [key, value] : spec.placement) {
    auto label = slot.labels.find(key);
    if (label == slot.labels.end() || label->second != value) {
      return absl::StrCat("needs label ", key, "=", value);
    }
  }
  return std::nullopt;
}

std::vector<size_t> FairShareOrder(absl::Span<const ShareCandidate> candidates) {
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // a.running / a.priority < b.running / b.priority, in integers.
  std::stable_sort(order.begin(), order.end(), [&candidates](size_t i, size_t j) {
    const ShareCandidate& a = candidates[i];
    const ShareCandidate& b = candidates[j];
    const int64_t a_share = a.running * b.priority;
    const int64_t b_share = b.running * a.priority;
    return std::tie(a_share, a.last_served) < std::tie(b_share, b.last_served);
  });
  return order;
}

std::string WaitReason(const StudySpec& spec, int64_t running, int64_t parallel,
                       absl::Span<const SeenSlot> slots) {
  if (running >= parallel) {
    return absl::StrCat("budget.parallel ", parallel, " reached (", running, " running)");
  }
  if (slots.empty()) return "no worker is connected";
  int64_t fitting = 0;
  int64_t free = 0;
  for (const SeenSlot& seen : slots) {
    if (SlotMismatch(spec, seen.slot)) continue;
    ++fitting;
    if (!seen.busy) ++free;
  }
  const std::string kind = SlotKind(spec);
  const std::string labelled =
      spec.placement.empty() ? kind : absl::StrCat(kind, " with ", LabelsText(spec.placement));
  if (fitting == 0) {
    return absl::StrCat("no connected slot fits: ", CommonMismatch(spec, slots), " (",
                        Count(static_cast<int64_t>(slots.size()), "slot"),
                        " connected: ", KindsOf(slots), ")");
  }
  if (free == 0) {
    return absl::StrCat("no free ", labelled, "; ", Count(fitting, kind), " busy");
  }
  return absl::StrCat(Count(free, absl::StrCat("free ", kind)), free == 1 ? " fits" : " fit",
                      "; the next trial starts when one asks for work");
}

}  // namespace vernier
