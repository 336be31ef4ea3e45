#include "client/format.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace vernier {
namespace {

using nlohmann::json;

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "nan";
  return absl::StrFormat("%.6g", value);
}

std::string ParamToString(const v1::ParameterValue& value) {
  switch (value.kind_case()) {
    case v1::ParameterValue::kDoubleValue:
      return FormatNumber(value.double_value());
    case v1::ParameterValue::kIntValue:
      return absl::StrCat(value.int_value());
    case v1::ParameterValue::kStringValue:
      return value.string_value();
    default:
      return "?";
  }
}

std::string ObjectiveCell(const v1::Trial& trial) {
  return trial.has_objective_value() ? FormatNumber(trial.objective_value()) : "-";
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--format: unknown format \"", text, "\" (expected table or json)"));
}

std::string StateName(v1::TrialState state) {
  return std::string(absl::StripPrefix(v1::TrialState_Name(state), "TRIAL_STATE_"));
}

std::string StateName(v1::StudyState state) {
  return std::string(absl::StripPrefix(v1::StudyState_Name(state), "STUDY_STATE_"));
}

std::string ParamsSummary(const v1::Trial& trial) {
  std::map<std::string, std::string> ordered;
  for (const auto& [name, value] : trial.params()) ordered[name] = ParamToString(value);
  return absl::StrJoin(ordered, " ", absl::PairFormatter("="));
}

double TrialSeconds(const v1::Trial& trial, int64_t now_ms) {
  if (trial.start_time_unix_ms() == 0) return 0;
  int64_t end = trial.end_time_unix_ms() != 0 ? trial.end_time_unix_ms() : now_ms;
  return std::max<int64_t>(0, end - trial.start_time_unix_ms()) / 1000.0;
}

json StudyToJson(const v1::Study& study) {
  json counts = json::object();
  for (const auto& [state, count] : study.trial_counts()) counts[state] = count;
  json out{{"name", study.name()},
           {"state", StateName(study.state())},
           {"state_reason", study.state_reason()},
           {"objective",
            {{"metric", study.objective().metric()},
             {"goal", study.objective().goal() == v1::GOAL_MAXIMIZE ? "maximize" : "minimize"}}},
           {"max_trials", study.max_trials()},
           {"trial_counts", counts},
           {"create_time_unix_ms", study.create_time_unix_ms()}};
  if (IsMultiObjective(study) || study.constraints_size() > 0) {
    json objectives = json::array();
    for (const v1::Objective& objective : study.objectives()) {
      objectives.push_back(
          {{"metric", objective.metric()},
           {"goal", objective.goal() == v1::GOAL_MAXIMIZE ? "maximize" : "minimize"}});
    }
    json constraints = json::array();
    for (const v1::Constraint& constraint : study.constraints()) {
      json c = {{"metric", constraint.metric()}};
      if (constraint.has_min()) c["min"] = constraint.min();
      if (constraint.has_max()) c["max"] = constraint.max();
      constraints.push_back(c);
    }
    out["objectives"] = objectives;
    out["constraints"] = constraints;
  }
  return out;
}

namespace {

// pbt lineage: [{"step", "donor_trial", "donor_step", "params_before"}].
json TrialExploitsJson(const v1::Trial& trial) {
  json out = json::array();
  for (const v1::TrialExploit& exploit : trial.exploits()) {
    json before = json::object();
    for (const auto& [name, value] : exploit.params_before()) before[name] = ParamToJson(value);
    out.push_back({{"step", exploit.step()},
                   {"donor_trial", exploit.donor_trial()},
                   {"donor_step", exploit.donor_step()},
                   {"params_before", before}});
  }
  return out;
}

// " [pbt: from #2@4, #0@6]": where a pbt trial took its checkpoints from.
std::string LineageSummary(const v1::Trial& trial) {
  if (trial.exploits().empty()) return "";
  std::vector<std::string> steps;
  for (const v1::TrialExploit& exploit : trial.exploits()) {
    steps.push_back(absl::StrCat("#", exploit.donor_trial(), "@", exploit.donor_step()));
  }
  return absl::StrCat(" [pbt: from ", absl::StrJoin(steps, ", "), "]");
}

}  // namespace

json ParamToJson(const v1::ParameterValue& value) {
  switch (value.kind_case()) {
    case v1::ParameterValue::kDoubleValue:
      return value.double_value();
    case v1::ParameterValue::kIntValue:
      return value.int_value();
    case v1::ParameterValue::kStringValue:
      return value.string_value();
    default:
      return nullptr;
  }
}

json MetricsToJson(const google::protobuf::Map<std::string, double>& metrics) {
  json out = json::object();
  for (const auto& [name, value] : metrics)
    out[name] = std::isfinite(value) ? json(value) : json(nullptr);
  return out;
}

json TrialToJson(const v1::Trial& trial) {
  json params = json::object();
  for (const auto& [name, value] : trial.params()) params[name] = ParamToJson(value);
  json intermediate = json::array();
  for (const v1::Measurement& m : trial.intermediate()) {
    intermediate.push_back({{"step", m.step()}, {"metrics", MetricsToJson(m.metrics())}});
  }
  json out = {{"study", trial.study()},
              {"number", trial.number()},
              {"state", StateName(trial.state())},
              {"params", params},
              {"intermediate", intermediate},
              {"final_metrics", MetricsToJson(trial.final_metrics())},
              {"objective_value", nullptr},
              {"failure_reason", trial.failure_reason()},
              {"worker_id", trial.worker_id()},
              {"retries", trial.retries()},
              {"start_time_unix_ms", trial.start_time_unix_ms()},
              {"end_time_unix_ms", trial.end_time_unix_ms()}};
  if (trial.has_objective_value() && std::isfinite(trial.objective_value())) {
    out["objective_value"] = trial.objective_value();
  }
  // Only for enqueued and copied trials, so that sampled ones read as before.
  if (!trial.origin().empty()) out["origin"] = trial.origin();
  // Only for excluded trials, likewise.
  if (trial.excluded()) {
    out["excluded"] = true;
    out["exclusion_reason"] = trial.exclusion_reason();
  }
  if (trial.objective_values_size() > 1) {
    json values = json::array();
    for (double value : trial.objective_values()) {
      values.push_back(std::isfinite(value) ? json(value) : json(nullptr));
    }
    out["objective_values"] = values;
  }
  if (!trial.exploits().empty()) out["exploits"] = TrialExploitsJson(trial);
  return out;
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto render = [&widths](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const bool last = i + 1 == row.size();
      absl::StrAppend(&line, row[i], last ? "" : std::string(widths[i] - row[i].size() + 2, ' '));
    }
    return line + "\n";
  };
  std::string out = render(header);
  for (const auto& row : rows) out += render(row);
  return out;
}

std::string FormatStudies(const std::vector<v1::Study>& studies, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    json out = json::array();
    for (const v1::Study& study : studies) out.push_back(StudyToJson(study));
    return out.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::Study& study : studies) {
    int64_t finished = 0;
    for (const auto& [state, count] : study.trial_counts()) {
      if (state != "WAITING" && state != "RUNNING") finished += count;
    }
    rows.push_back(
        {study.name(), StateName(study.state()), absl::StrCat(finished, "/", study.max_trials()),
         IsMultiObjective(study)
             ? ObjectivesSummary(study)
             : absl::StrCat(study.objective().metric(), " (",
                            study.objective().goal() == v1::GOAL_MAXIMIZE ? "max" : "min", ")")});
  }
  return RenderTable({"NAME", "STATE", "FINISHED", "OBJECTIVE"}, rows);
}

json StudyDetailToJson(const v1::Study& study) {
  json out = StudyToJson(study);
  out["spec_yaml"] = study.spec_yaml();
  return out;
}

std::string FormatStudy(const v1::Study& study, OutputFormat format) {
  if (format == OutputFormat::kJson) return StudyDetailToJson(study).dump(2) + "\n";
  std::vector<std::string> counts;
  for (const auto& [state, count] : study.trial_counts())
    counts.push_back(absl::StrCat(state, "=", count));
  std::sort(counts.begin(), counts.end());
  std::string out = absl::StrCat(
      "name:       ", study.name(), "\nstate:      ", StateName(study.state()),
      study.state_reason().empty() ? "" : absl::StrCat(" (", study.state_reason(), ")"),
      "\nobjective:  ", study.objective().metric(), " ",
      study.objective().goal() == v1::GOAL_MAXIMIZE ? "maximize" : "minimize",
      "\nmax_trials: ", study.max_trials(), "\ntrials:     ", absl::StrJoin(counts, " "), "\n");
  if (IsMultiObjective(study)) {
    absl::StrAppend(&out, "objectives: ", ObjectivesSummary(study), "\n");
  }
  if (study.constraints_size() > 0) {
    absl::StrAppend(&out, "constraints: ", ConstraintsSummary(study), "\n");
  }
  return out;
}

namespace {

// A trial's state in a table; "COMPLETE*" when a user excluded it.
std::string TrialStateCell(const v1::Trial& trial) {
  return absl::StrCat(StateName(trial.state()), trial.excluded() ? "*" : "");
}

// The note under a table that marks excluded trials, or "".
std::string ExcludedNote(const std::vector<v1::Trial>& trials) {
  const bool any = std::any_of(trials.begin(), trials.end(),
                               [](const v1::Trial& trial) { return trial.excluded(); });
  return any ? "* excluded: the study does not learn from it (vernier trial exclude)\n" : "";
}

}  // namespace

std::string FormatTrials(const std::vector<v1::Trial>& trials, const std::string& metric,
                         OutputFormat format, int64_t now_ms) {
  if (format == OutputFormat::kJson) {
    json out = json::array();
    for (const v1::Trial& trial : trials) out.push_back(TrialToJson(trial));
    return out.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::Trial& trial : trials) {
    std::string last_step =
        trial.intermediate().empty() ? "-" : absl::StrCat(trial.intermediate().rbegin()->step());
    rows.push_back({absl::StrCat(trial.number()), TrialStateCell(trial), ObjectiveCell(trial),
                    last_step, absl::StrFormat("%.1fs", TrialSeconds(trial, now_ms)),
                    ParamsSummary(trial) + LineageSummary(trial)});
  }
  return RenderTable({"NUMBER", "STATE", metric, "STEP", "DURATION", "PARAMS"}, rows) +
         ExcludedNote(trials);
}

bool IsMultiObjective(const v1::Study& study) { return study.objectives_size() > 1; }

std::string ObjectivesSummary(const v1::Study& study) {
  std::vector<std::string> parts;
  for (const v1::Objective& objective : study.objectives()) {
    parts.push_back(absl::StrCat(objective.metric(), " (",
                                 objective.goal() == v1::GOAL_MAXIMIZE ? "max" : "min", ")"));
  }
  return absl::StrJoin(parts, ", ");
}

std::string ConstraintsSummary(const v1::Study& study) {
  std::vector<std::string> parts;
  for (const v1::Constraint& constraint : study.constraints()) {
    std::string part;
    if (constraint.has_min()) absl::StrAppend(&part, FormatNumber(constraint.min()), " <= ");
    absl::StrAppend(&part, constraint.metric());
    if (constraint.has_max()) absl::StrAppend(&part, " <= ", FormatNumber(constraint.max()));
    parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, ", ");
}

std::string FormatObjectiveTrials(const std::vector<v1::Trial>& trials, const v1::Study& study,
                                  OutputFormat format, int64_t now_ms) {
  if (format == OutputFormat::kJson) {
    return FormatTrials(trials, study.objective().metric(), format, now_ms);
  }
  std::vector<std::string> header = {"NUMBER", "STATE"};
  for (const v1::Objective& objective : study.objectives()) header.push_back(objective.metric());
  for (const char* column : {"DURATION", "PARAMS"}) header.push_back(column);
  std::vector<std::vector<std::string>> rows;
  for (const v1::Trial& trial : trials) {
    std::vector<std::string> row = {absl::StrCat(trial.number()), TrialStateCell(trial)};
    for (int i = 0; i < study.objectives_size(); ++i) {
      const bool known =
          i < trial.objective_values_size() && !std::isnan(trial.objective_values(i));
      row.push_back(known ? FormatNumber(trial.objective_values(i)) : "-");
    }
    row.push_back(absl::StrFormat("%.1fs", TrialSeconds(trial, now_ms)));
    row.push_back(ParamsSummary(trial));
    rows.push_back(std::move(row));
  }
  return RenderTable(header, rows) + ExcludedNote(trials);
}

std::string TrialFinishedLine(const v1::Trial& trial, const std::string& metric) {
  std::string line = absl::StrFormat("trial %3d  %-8s  %s=%s", trial.number(),
                                     StateName(trial.state()), metric, ObjectiveCell(trial));
  if (!trial.intermediate().empty()) {
    absl::StrAppend(&line, "  step=", trial.intermediate().rbegin()->step());
  }
  absl::StrAppend(&line, absl::StrFormat("  %.1fs  ", TrialSeconds(trial, 0)),
                  ParamsSummary(trial));
  if (!trial.failure_reason().empty()) {
    std::string reason = trial.failure_reason();
    if (reason.size() > 200) reason = "..." + reason.substr(reason.size() - 200);
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    absl::StrAppend(&line, "\n    reason: ", reason);
  }
  return line;
}

}  // namespace vernier
