#include "bench/load/ledger.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace vernier::load {
namespace {

constexpr char kMetric[] = "loss";

// The (trial, attempt, step) a value was sent for; nullopt when no worker
// could have sent it.
struct Origin {
  int64_t trial = 0;
  int32_t attempt = 0;
  int32_t step = 0;
};

std::optional<Origin> Decode(double value) {
  if (!std::isfinite(value) || value < 0 || value != std::floor(value) || value >= 0x1p53) {
    return std::nullopt;
  }
  int64_t v = static_cast<int64_t>(value);
  Origin origin;
  origin.step = static_cast<int32_t>(v % kEncodingLimit) - 1;
  v /= kEncodingLimit;
  origin.attempt = static_cast<int32_t>(v % kEncodingLimit);
  origin.trial = v / kEncodingLimit;
  return origin;
}

std::optional<double> Loss(const MetricMap& metrics) {
  auto it = metrics.find(kMetric);
  if (it == metrics.end()) return std::nullopt;
  return it->second;
}

// What the workers sent for one (trial, step).
struct StepSent {
  int32_t newest_acknowledged = 0;  // 0: none acknowledged (attempts start at 1).
  std::vector<int32_t> attempts;    // Every attempt that sent it.

  bool SentBy(int32_t attempt) const {
    return std::find(attempts.begin(), attempts.end(), attempt) != attempts.end();
  }
};
using StepKey = std::pair<int64_t, int32_t>;  // (trial, step)

absl::flat_hash_map<StepKey, StepSent> BySteps(const std::vector<Write>& writes) {
  absl::flat_hash_map<StepKey, StepSent> sent;
  for (const Write& write : writes) {
    StepSent& step = sent[{write.trial, write.step}];
    if (!step.SentBy(write.attempt)) step.attempts.push_back(write.attempt);
    if (write.acknowledged) {
      step.newest_acknowledged = std::max(step.newest_acknowledged, write.attempt);
    }
  }
  return sent;
}

const TrialRecord* FindTrial(const StoredStudy& study, int64_t number) {
  if (number < 0 || number >= static_cast<int64_t>(study.trials.size())) return nullptr;
  const TrialRecord& trial = study.trials[number];
  return trial.number == number ? &trial : nullptr;
}

const Measurement* FindStep(const TrialRecord& trial, int32_t step) {
  for (const Measurement& m : trial.intermediate) {
    if (m.step == step) return &m;
  }
  return nullptr;
}

// Counts one finding; keeps the first of its kind for the report.
void Note(int64_t& count, std::string& first, const std::string& what) {
  ++count;
  if (first.empty()) first = what;
}

void CountStates(const StoredStudy& study, LedgerCheck& check) {
  check.trials = static_cast<int64_t>(study.trials.size());
  for (const TrialRecord& trial : study.trials) {
    check.measurements += static_cast<int64_t>(trial.intermediate.size());
    check.requeued += trial.retries;
    switch (trial.state) {
      case TrialState::kComplete:
        ++check.complete;
        break;
      case TrialState::kRunning:
        ++check.running;
        break;
      case TrialState::kWaiting:
        ++check.waiting;
        break;
      case TrialState::kFailed:
        ++check.failed;
        break;
      default:
        ++check.other;
        break;
    }
  }
}

// Every stored value (measurement or final result) must be one a worker
// sent for that trial and step.
void CheckStoredValues(const StoredStudy& study, const absl::flat_hash_map<StepKey, StepSent>& sent,
                       LedgerCheck& check) {
  auto verify = [&](const TrialRecord& trial, int32_t step, const MetricMap& metrics) {
    const std::optional<double> loss = Loss(metrics);
    const std::optional<Origin> origin = loss ? Decode(*loss) : std::nullopt;
    auto found = sent.find(StepKey{trial.number, step});
    if (!origin || origin->trial != trial.number || origin->step != step || found == sent.end() ||
        !found->second.SentBy(origin->attempt)) {
      Note(check.corrupt, check.first_corrupt,
           absl::StrCat("trial ", trial.number, " step ", step, ": stored value ",
                        loss ? absl::StrFormat("%.0f", *loss) : "(none)", " was never sent there"));
    }
  };
  for (const TrialRecord& trial : study.trials) {
    for (const Measurement& m : trial.intermediate) verify(trial, m.step, m.metrics);
    if (trial.state == TrialState::kComplete) verify(trial, kFinalStep, trial.final_metrics);
  }
}

// Every acknowledged step is stored, by its newest acknowledged attempt or a
// newer one.
void CheckSteps(const StoredStudy& study, const absl::flat_hash_map<StepKey, StepSent>& sent,
                LedgerCheck& check) {
  for (const auto& [key, step] : sent) {
    const auto& [number, step_number] = key;
    if (step_number == kFinalStep || step.newest_acknowledged == 0) continue;
    const std::string where = absl::StrCat("trial ", number, " step ", step_number, " (attempt ",
                                           step.newest_acknowledged, " acknowledged): ");
    const TrialRecord* trial = FindTrial(study, number);
    const Measurement* stored = trial == nullptr ? nullptr : FindStep(*trial, step_number);
    if (stored == nullptr) {
      Note(check.lost_steps, check.first_lost, where + "not stored");
      continue;
    }
    const std::optional<double> loss = Loss(stored->metrics);
    const std::optional<Origin> origin = loss ? Decode(*loss) : std::nullopt;
    if (origin && origin->attempt < step.newest_acknowledged) {
      Note(check.lost_steps, check.first_lost,
           absl::StrCat(where, "stored is an older attempt's (", origin->attempt, ")"));
    }
  }
}

// Every acknowledged CompleteTrial is the trial's stored result, and no trial
// had two.
void CheckResults(const StoredStudy& study, const std::vector<Write>& writes, LedgerCheck& check) {
  absl::flat_hash_map<int64_t, std::vector<int32_t>> acknowledged;  // trial -> attempts
  for (const Write& write : writes) {
    if (write.step == kFinalStep && write.acknowledged) {
      acknowledged[write.trial].push_back(write.attempt);
    }
  }
  for (const auto& [number, attempts] : acknowledged) {
    if (attempts.size() > 1) {
      Note(check.duplicated_results, check.first_duplicated,
           absl::StrCat("trial ", number, ": CompleteTrial acknowledged ", attempts.size(),
                        " times (attempts ", absl::StrJoin(attempts, ", "), ")"));
    }
    // Each acknowledged result on its own: of two, at most one is stored.
    const TrialRecord* trial = FindTrial(study, number);
    for (const int32_t attempt : attempts) {
      const std::string where =
          absl::StrCat("trial ", number, " result (attempt ", attempt, " acknowledged): ");
      if (trial == nullptr || trial->state != TrialState::kComplete) {
        Note(check.lost_results, check.first_lost,
             where + (trial == nullptr ? "trial missing" : "stored not COMPLETE"));
      } else if (Loss(trial->final_metrics) != ValueFor(number, attempt, kFinalStep) ||
                 trial->attempt != attempt) {
        Note(check.lost_results, check.first_lost,
             absl::StrCat(where, "stored is attempt ", trial->attempt, "'s"));
      }
    }
  }
  for (const TrialRecord& trial : study.trials) {
    if (trial.state == TrialState::kComplete && !acknowledged.contains(trial.number)) {
      ++check.complete_unacknowledged;
    }
  }
}

void CheckGrants(const std::vector<Grant>& grants, LedgerCheck& check) {
  absl::flat_hash_map<std::pair<int64_t, int32_t>, int> times;
  for (const Grant& grant : grants) {
    if (++times[{grant.trial, grant.attempt}] == 2) {
      Note(check.duplicated_leases, check.first_duplicated,
           absl::StrCat("trial ", grant.trial, " attempt ", grant.attempt,
                        ": leased to two workers"));
    }
  }
}

}  // namespace

double ValueFor(int64_t trial, int32_t attempt, int32_t step) {
  return static_cast<double>((trial * kEncodingLimit + attempt) * kEncodingLimit + step + 1);
}

LedgerCheck CheckLedger(const std::vector<Write>& writes, const std::vector<Grant>& grants,
                        const StoredStudy& study) {
  LedgerCheck check;
  CountStates(study, check);
  const absl::flat_hash_map<StepKey, StepSent> sent = BySteps(writes);
  CheckStoredValues(study, sent, check);
  CheckSteps(study, sent, check);
  CheckResults(study, writes, check);
  CheckGrants(grants, check);
  return check;
}

}  // namespace vernier::load
