#include "server/logic/stop_conditions.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/logic/multi_objective.h"

namespace vernier {
namespace {

struct Finished {
  absl::Time end;
  int64_t number;
  double loss;  // The objective, negated when maximised: lower is better.
};

// COMPLETE trials with a value, in the order they ended.
std::vector<Finished> FinishedInOrder(absl::Span<const ObjectiveSpec> objectives,
                                      absl::Span<const TrialRecord> trials) {
  std::vector<Finished> finished;
  for (const TrialRecord& trial : trials) {
    if (trial.state != TrialState::kComplete || !LearnsFrom(trial)) continue;
    std::optional<Point> losses = ObjectiveLosses(trial, objectives);
    if (!losses || losses->empty()) continue;
    finished.push_back({trial.end_time, trial.number, (*losses)[0]});
  }
  std::sort(finished.begin(), finished.end(), [](const Finished& a, const Finished& b) {
    return a.end != b.end ? a.end < b.end : a.number < b.number;
  });
  return finished;
}

double UserValue(const ObjectiveSpec& objective, double loss) {
  return objective.goal == Goal::kMaximize ? -loss : loss;
}

std::optional<std::string> TargetReached(double target, const ObjectiveSpec& objective,
                                         const std::vector<Finished>& finished) {
  const double target_loss = objective.goal == Goal::kMaximize ? -target : target;
  for (const Finished& trial : finished) {
    if (trial.loss <= target_loss) {
      return absl::StrCat("budget.target ", target, " reached by trial ", trial.number, " (",
                          objective.metric, " = ", UserValue(objective, trial.loss), ")");
    }
  }
  return std::nullopt;
}

std::optional<std::string> PatienceSpent(int64_t patience, const ObjectiveSpec& objective,
                                         const std::vector<Finished>& finished) {
  const Finished* best = nullptr;
  int64_t since_best = 0;
  for (const Finished& trial : finished) {
    if (best == nullptr || trial.loss < best->loss) {
      best = &trial;
      since_best = 0;
    } else {
      ++since_best;
    }
  }
  if (best == nullptr || since_best < patience) return std::nullopt;
  return absl::StrCat("budget.patience_trials ", patience, ": no better trial in the last ",
                      since_best, " COMPLETE trials (best ", objective.metric, " = ",
                      UserValue(objective, best->loss), ", trial ", best->number, ")");
}

}  // namespace

bool HasStopConditions(const BudgetSpec& budget) {
  return budget.target || budget.max_seconds || budget.patience_trials;
}

std::optional<std::string> StopConditionReached(const BudgetSpec& budget,
                                                absl::Span<const ObjectiveSpec> objectives,
                                                absl::Span<const TrialRecord> trials,
                                                absl::Time created, absl::Time now) {
  if (budget.max_seconds && now - created >= absl::Seconds(*budget.max_seconds)) {
    return absl::StrCat("budget.max_seconds ", *budget.max_seconds, " spent");
  }
  // target and patience_trials need one objective (CheckStopConditions).
  if ((!budget.target && !budget.patience_trials) || objectives.size() != 1) return std::nullopt;
  const std::vector<Finished> finished = FinishedInOrder(objectives, trials);
  if (budget.target) {
    if (std::optional<std::string> reason =
            TargetReached(*budget.target, objectives[0], finished)) {
      return reason;
    }
  }
  if (budget.patience_trials)
    return PatienceSpent(*budget.patience_trials, objectives[0], finished);
  return std::nullopt;
}

}  // namespace vernier
