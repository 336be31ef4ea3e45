#include "client/importance.h"

#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/logic/types.h"
#include "server/schema/study_schema.h"

namespace vernier {
namespace {

// Characters of the bar of an importance of 1.
constexpr int kBarWidth = 40;

// The metrics of the study's objectives, in order (a study from before
// multi-objective studies lists only `objective`).
std::vector<std::string> ObjectiveMetrics(const v1::Study& study) {
  std::vector<std::string> metrics;
  for (const v1::Objective& objective : study.objectives()) metrics.push_back(objective.metric());
  if (metrics.empty()) metrics.push_back(study.objective().metric());
  return metrics;
}

// The trial's value of objective `index`, NaN when it has none.
double ObjectiveValue(const v1::Trial& trial, int index) {
  if (index < trial.objective_values_size()) return trial.objective_values(index);
  if (index == 0 && trial.has_objective_value()) return trial.objective_value();
  return std::numeric_limits<double>::quiet_NaN();
}

// At most `max_trials` (0: all) COMPLETE trials of `study`, evenly spaced,
// without their curves: the server picks them (sample_size), so only those
// are sent; spaced here again for a server that sends every one.
absl::StatusOr<std::vector<v1::Trial>> CompleteTrials(const CommandContext& ctx,
                                                      const std::string& study,
                                                      int64_t max_trials) {
  v1::ListTrialsRequest request;
  request.set_study(study);
  request.add_states(v1::TRIAL_STATE_COMPLETE);
  request.set_omit_intermediate(true);
  if (max_trials > 0 && max_trials <= kMaxTrialSampleSize) {
    request.set_sample_size(static_cast<int32_t>(max_trials));
  }
  std::vector<v1::Trial> kept;
  RETURN_IF_ERROR(ForEachTrialPage(ctx, std::move(request), [&](v1::ListTrialsResponse& page) {
    for (v1::Trial& trial : *page.mutable_trials()) kept.push_back(std::move(trial));
  }));
  return EvenlySpaced(std::move(kept), max_trials);
}

}  // namespace

absl::StatusOr<int> ObjectiveIndex(const v1::Study& study, const std::string& metric) {
  if (metric.empty()) return 0;
  const std::vector<std::string> metrics = ObjectiveMetrics(study);
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (metrics[i] == metric) return static_cast<int>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--objective: \"", metric, "\" is not an objective of study ", study.name(),
                   " (its objectives: ", absl::StrJoin(metrics, ", "), ")"));
}

std::vector<v1::Trial> EvenlySpaced(std::vector<v1::Trial> trials, int64_t max_trials) {
  EvenSpacing spacing(static_cast<int64_t>(trials.size()), max_trials);
  std::vector<v1::Trial> kept;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (spacing.Picks(static_cast<int64_t>(i))) kept.push_back(std::move(trials[i]));
  }
  return kept;
}

std::vector<ImportanceTrial> ImportanceTrials(const std::vector<v1::Trial>& trials, int objective) {
  std::vector<ImportanceTrial> out;
  for (const v1::Trial& trial : trials) {
    if (trial.state() != v1::TRIAL_STATE_COMPLETE || trial.excluded() ||
        absl::StartsWith(trial.origin(), kOriginRefitPrefix)) {
      continue;
    }
    ImportanceTrial point;
    for (const auto& [name, value] : trial.params()) {
      absl::StatusOr<ParamValue> param = ParamValueFromProto(value, name);
      if (param.ok()) point.params[name] = *std::move(param);  // A value without a kind: absent.
    }
    point.value = ObjectiveValue(trial, objective);
    out.push_back(std::move(point));
  }
  return out;
}

std::string FormatImportances(const std::string& study, const std::string& metric, uint64_t seed,
                              const FanovaResult& result, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    nlohmann::json importances = nlohmann::json::array();
    for (const ParamImportance& p : result.importances) {
      importances.push_back({{"param", p.name}, {"importance", p.importance}});
    }
    return nlohmann::json{{"study", study},
                          {"objective", metric},
                          {"seed", seed},
                          {"trials_used", result.trials_used},
                          {"importances", std::move(importances)}}
               .dump(2) +
           "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const ParamImportance& p : result.importances) {
    const int bar = static_cast<int>(std::lround(p.importance * kBarWidth));
    rows.push_back({p.name, absl::StrFormat("%.4f", p.importance), std::string(bar, '#')});
  }
  return absl::StrCat(RenderTable({"PARAM", "IMPORTANCE", ""}, rows), "fANOVA of ", metric,
                      " over ", result.trials_used, " COMPLETE trials (seed ", seed, ")\n");
}

absl::StatusOr<StudyImportances> ComputeImportances(const CommandContext& ctx,
                                                    const ImportanceArgs& args) {
  ASSIGN_OR_RETURN(v1::Study info, GetStudy(ctx, args.study));
  ASSIGN_OR_RETURN(const int objective, ObjectiveIndex(info, args.objective));
  ASSIGN_OR_RETURN(StudySpec spec, StudySpecFromProto(info.spec()));
  ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, CompleteTrials(ctx, args.study, args.max_trials));

  FanovaOptions options;
  options.seed = args.seed;
  absl::StatusOr<FanovaResult> result =
      FanovaImportances(spec.space, ImportanceTrials(trials, objective), args.params, options);
  if (!result.ok()) {
    // "params: ..." is about --params; the rest is about the study's trials.
    const absl::string_view message = result.status().message();
    return absl::Status(result.status().code(),
                        absl::StartsWith(message, "params: ")
                            ? absl::StrCat("--", message)
                            : absl::StrCat("study ", args.study, ": ", message));
  }
  return StudyImportances{ObjectiveMetrics(info)[objective], *std::move(result)};
}

absl::Status ImportanceCommand(const CommandContext& ctx, const ImportanceArgs& args) {
  ASSIGN_OR_RETURN(StudyImportances importances, ComputeImportances(ctx, args));
  *ctx.out << FormatImportances(args.study, importances.metric, args.seed, importances.result,
                                ctx.format);
  return absl::OkStatus();
}

}  // namespace vernier
