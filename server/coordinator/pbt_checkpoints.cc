#include "server/coordinator/pbt_checkpoints.h"

#include "absl/strings/str_cat.h"

namespace vernier {
namespace {

std::unique_ptr<PbtPolicy> MakePolicy(const StudySpec& spec) {
  const auto* pbt = spec.pruner.get<PbtSpec>();
  if (pbt == nullptr) return nullptr;
  return std::make_unique<PbtPolicy>(*pbt, spec.space, spec.sampler.seed);
}

// Keeps the latest kPbtCheckpointsKept steps.
void Trim(std::set<int64_t>& steps) {
  while (steps.size() > static_cast<size_t>(kPbtCheckpointsKept)) steps.erase(steps.begin());
}

}  // namespace

PbtCheckpoints::PbtCheckpoints(const StudySpec& spec, CheckpointStore* store)
    : study_(spec.name), store_(store), policy_(MakePolicy(spec)), objective_(spec.objective) {}

std::optional<ExploitDecision> PbtCheckpoints::DecideExploit(
    const TrialRecord& trial, int64_t step, absl::Span<const TrialRecord* const> trials) const {
  if (policy_ == nullptr) return std::nullopt;
  return policy_->Decide(objective_, trial, step, trials, index_);
}

void PbtCheckpoints::ForgetAfter(int64_t trial, int64_t donor_step) {
  auto own = index_.find(trial);
  if (own != index_.end())
    own->second.erase(own->second.upper_bound(donor_step), own->second.end());
}

void PbtCheckpoints::Add(int64_t trial, int64_t step) {
  std::set<int64_t>& steps = index_[trial];
  steps.erase(steps.upper_bound(step), steps.end());
  steps.insert(step);
  Trim(steps);
}

std::optional<int64_t> PbtCheckpoints::ResumeStep(const TrialRecord& trial) const {
  if (store_ == nullptr) return std::nullopt;
  auto own = index_.find(trial.number);
  if (own == index_.end() || own->second.empty()) return std::nullopt;
  const int64_t latest = *own->second.rbegin();
  if (!trial.exploits.empty() && latest <= trial.exploits.back().donor_step) return std::nullopt;
  return latest;
}

void PbtCheckpoints::DropFinished(int64_t trial) {
  if (policy_ != nullptr || index_.erase(trial) == 0 || store_ == nullptr) return;
  store_->DeleteTrial(study_, trial).IgnoreError();  // Only disk space is at stake.
}

void PbtCheckpoints::Restore(const CheckpointIndex& stored) {
  for (const auto& [trial, steps] : stored) {
    std::set<int64_t>& kept = index_[trial];
    kept.insert(steps.begin(), steps.end());
    Trim(kept);
  }
}

absl::Status PbtCheckpoints::CheckDownload(const TrialRecord& trial, int64_t donor,
                                           int64_t step) const {
  const bool promised = !trial.exploits.empty() && trial.exploits.back().donor == donor &&
                        trial.exploits.back().donor_step == step;
  auto held = index_.find(donor);
  if (promised || (held != index_.end() && held->second.count(step) > 0)) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat("study \"", study_, "\" has no checkpoint of trial ", donor, " at step ", step));
}

}  // namespace vernier
