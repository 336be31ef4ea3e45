#include "client/dashboard/dashboard_json.h"

#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/format.h"
#include "google/protobuf/descriptor.h"

namespace vernier {
namespace {

using nlohmann::json;

json Number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

std::string GoalName(v1::Goal goal) { return goal == v1::GOAL_MAXIMIZE ? "maximize" : "minimize"; }

// The study's objectives, in order (a study from before multi-objective
// studies lists only `objective`).
std::vector<v1::Objective> Objectives(const v1::Study& study) {
  std::vector<v1::Objective> objectives(study.objectives().begin(), study.objectives().end());
  if (objectives.empty()) objectives.push_back(study.objective());
  return objectives;
}

json ObjectivesJson(const v1::Study& study) {
  json out = json::array();
  for (const v1::Objective& objective : Objectives(study)) {
    out.push_back({{"metric", objective.metric()}, {"goal", GoalName(objective.goal())}});
  }
  return out;
}

// The field name of the oneof case `number` of `message` ("tpe"), or
// `unset` when no field of it is set.
std::string OneofName(const google::protobuf::Message& message, const std::string& oneof,
                      int number, const std::string& unset) {
  const google::protobuf::OneofDescriptor* descriptor =
      message.GetDescriptor()->FindOneofByName(oneof);
  if (descriptor == nullptr || number == 0) return unset;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    if (descriptor->field(i)->number() == number) return descriptor->field(i)->name();
  }
  return unset;
}

json ParamSpecJson(const v1::ParameterSpec& param) {
  json out = {{"name", param.name()}};
  switch (param.type_case()) {
    case v1::ParameterSpec::kFloatRange:
      out["type"] = "float";
      out["low"] = param.float_range().low();
      out["high"] = param.float_range().high();
      out["log"] = param.float_range().log();
      break;
    case v1::ParameterSpec::kIntRange:
      out["type"] = "int";
      out["low"] = param.int_range().low();
      out["high"] = param.int_range().high();
      out["log"] = param.int_range().log();
      break;
    case v1::ParameterSpec::kCategorical: {
      out["type"] = "categorical";
      json choices = json::array();
      for (const v1::ParameterValue& value : param.categorical().values()) {
        choices.push_back(ParamToJson(value));
      }
      out["choices"] = choices;
      break;
    }
    default:
      out["type"] = "unknown";
  }
  return out;
}

// The trial's value of objective `index`; NaN when it has none.
double ObjectiveValueOf(const v1::Trial& trial, int index) {
  if (index < trial.objective_values_size()) return trial.objective_values(index);
  if (index == 0 && trial.has_objective_value()) return trial.objective_value();
  return std::numeric_limits<double>::quiet_NaN();
}

// Every parameter name: the study's, in its order, then any other a trial
// has (a study whose spec the server did not send), by name.
std::vector<std::string> ParamNames(const v1::Study& study, const std::vector<v1::Trial>& trials) {
  std::vector<std::string> names;
  std::set<std::string> known;
  for (const v1::ParameterSpec& param : study.spec().params()) {
    if (known.insert(param.name()).second) names.push_back(param.name());
  }
  std::set<std::string> others;
  for (const v1::Trial& trial : trials) {
    for (const auto& [name, value] : trial.params()) {
      if (known.count(name) == 0) others.insert(name);
    }
  }
  names.insert(names.end(), others.begin(), others.end());
  return names;
}

json ExploitsJson(const v1::Trial& trial) {
  json out = json::array();
  for (const v1::TrialExploit& exploit : trial.exploits()) {
    out.push_back({{"step", exploit.step()},
                   {"donor", exploit.donor_trial()},
                   {"donor_step", exploit.donor_step()}});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RequiredParam(const QueryParams& params, const std::string& name) {
  auto it = params.find(name);
  if (it == params.end() || it->second.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("query parameter \"", name, "\" is missing"));
  }
  return it->second;
}

absl::StatusOr<int64_t> IntParam(const QueryParams& params, const std::string& name,
                                 int64_t fallback, int64_t min, int64_t max) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("query parameter \"", name, "\": \"", it->second,
                                                   "\" is not a whole number in [", min, ", ", max,
                                                   "]"));
  }
  return value;
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return 401;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 502;
  }
}

json ErrorJson(const absl::Status& status) { return {{"error", std::string(status.message())}}; }

std::string SamplerName(const v1::StudySpec& spec) {
  return OneofName(spec.sampler(), "algorithm", spec.sampler().algorithm_case(), "random");
}

std::string PrunerName(const v1::StudySpec& spec) {
  return OneofName(spec.pruner(), "rule", spec.pruner().rule_case(), "none");
}

json StudyJson(const v1::Study& study, const v1::StudySummary* summary) {
  json counts = json::object();
  for (const auto& [state, count] : study.trial_counts()) counts[state] = count;
  json best = nullptr;
  if (summary != nullptr && summary->has_best_trial()) {
    best = json::array();
    for (double value : summary->best_objective_values()) best.push_back(Number(value));
  }
  return {{"name", study.name()},
          {"state", StateName(study.state())},
          {"state_reason", study.state_reason()},
          {"objectives", ObjectivesJson(study)},
          {"max_trials", study.max_trials()},
          {"counts", counts},
          {"best", best},
          {"sampler", SamplerName(study.spec())},
          {"pruner", PrunerName(study.spec())},
          {"create_time_ms", study.create_time_unix_ms()}};
}

json SummaryJson(const v1::StudySummary& summary) {
  json counts = json::object();
  for (const auto& [state, count] : summary.trial_counts()) counts[state] = count;
  json best = nullptr;
  if (summary.has_best_trial()) {
    best = json::array();
    for (double value : summary.best_objective_values()) best.push_back(Number(value));
  }
  json running = json::array();
  for (const v1::RunningTrialSummary& trial : summary.running()) {
    running.push_back(
        {{"number", trial.number()},
         {"step", trial.has_latest_step() ? json(trial.latest_step()) : json(nullptr)},
         {"value", trial.has_objective_value() ? Number(trial.objective_value()) : json(nullptr)},
         {"worker", trial.worker_id()},
         {"start_ms", trial.start_time_unix_ms()}});
  }
  return {
      {"state", StateName(summary.state())},
      {"counts", counts},
      {"finished", summary.finished_trials()},
      {"max_trials", summary.max_trials()},
      {"best_trial", summary.has_best_trial() ? json(summary.best_trial()) : json(nullptr)},
      {"best", best},
      {"pareto_size", summary.pareto_front_size()},
      {"rate_recent_per_min", Number(summary.finished_per_minute_recent())},
      {"rate_overall_per_min", Number(summary.finished_per_minute_overall())},
      {"eta_seconds", summary.has_eta_seconds() ? Number(summary.eta_seconds()) : json(nullptr)},
      {"running", running},
      {"time_ms", summary.time_unix_ms()}};
}

json StudyPageJson(const v1::Study& study, const v1::StudySummary& summary) {
  json page = StudyJson(study, &summary);
  page["spec_yaml"] = study.spec_yaml();
  json params = json::array();
  for (const v1::ParameterSpec& param : study.spec().params())
    params.push_back(ParamSpecJson(param));
  page["params"] = params;
  return {{"study", page}, {"summary", SummaryJson(summary)}};
}

json TrialColumnsJson(const v1::Study& study, const std::vector<v1::Trial>& trials) {
  const int objectives = static_cast<int>(Objectives(study).size());
  json numbers = json::array();
  json states = json::array();
  json values = json::array();
  for (int k = 0; k < objectives; ++k) values.push_back(json::array());
  const std::vector<std::string> names = ParamNames(study, trials);
  std::vector<json> params(names.size(), json::array());
  json start = json::array();
  json end = json::array();
  json workers = json::array();
  json origins = json::array();
  json retries = json::array();
  json reasons = json::array();
  json exploits = json::object();
  for (const v1::Trial& trial : trials) {
    numbers.push_back(trial.number());
    states.push_back(StateName(trial.state()));
    for (int k = 0; k < objectives; ++k) values[k].push_back(Number(ObjectiveValueOf(trial, k)));
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = trial.params().find(names[i]);
      params[i].push_back(it == trial.params().end() ? json(nullptr) : ParamToJson(it->second));
    }
    start.push_back(trial.start_time_unix_ms());
    end.push_back(trial.end_time_unix_ms());
    workers.push_back(trial.worker_id());
    origins.push_back(trial.origin());
    retries.push_back(trial.retries());
    reasons.push_back(trial.failure_reason());
    if (!trial.exploits().empty()) exploits[absl::StrCat(trial.number())] = ExploitsJson(trial);
  }
  json params_json = json::object();
  for (size_t i = 0; i < names.size(); ++i) params_json[names[i]] = std::move(params[i]);
  return {{"study", study.name()},          {"objectives", ObjectivesJson(study)},
          {"numbers", std::move(numbers)},  {"states", std::move(states)},
          {"values", std::move(values)},    {"params", std::move(params_json)},
          {"start_ms", std::move(start)},   {"end_ms", std::move(end)},
          {"workers", std::move(workers)},  {"origins", std::move(origins)},
          {"retries", std::move(retries)},  {"failure_reasons", std::move(reasons)},
          {"exploits", std::move(exploits)}};
}

json CurvesJson(const std::string& metric, int64_t total_trials,
                const std::vector<v1::Trial>& trials) {
  json curves = json::array();
  for (const v1::Trial& trial : trials) {
    json steps = json::array();
    json values = json::array();
    for (const v1::Measurement& measurement : trial.intermediate()) {
      auto it = measurement.metrics().find(metric);
      if (it == measurement.metrics().end()) continue;
      steps.push_back(measurement.step());
      values.push_back(Number(it->second));
    }
    if (steps.empty()) continue;
    curves.push_back({{"number", trial.number()},
                      {"state", StateName(trial.state())},
                      {"steps", std::move(steps)},
                      {"values", std::move(values)}});
  }
  return {{"metric", metric}, {"total_trials", total_trials}, {"curves", std::move(curves)}};
}

json TrialPageJson(const v1::Trial& trial) {
  json params = json::object();
  for (const auto& [name, value] : trial.params()) params[name] = ParamToJson(value);
  json values = json::array();
  const int count = std::max(trial.objective_values_size(), trial.has_objective_value() ? 1 : 0);
  for (int k = 0; k < count; ++k) values.push_back(Number(ObjectiveValueOf(trial, k)));
  json intermediate = json::array();
  for (const v1::Measurement& measurement : trial.intermediate()) {
    intermediate.push_back(
        {{"step", measurement.step()}, {"metrics", MetricsToJson(measurement.metrics())}});
  }
  return {{"study", trial.study()},
          {"number", trial.number()},
          {"state", StateName(trial.state())},
          {"params", params},
          {"values", values},
          {"final_metrics", MetricsToJson(trial.final_metrics())},
          {"intermediate", intermediate},
          {"failure_reason", trial.failure_reason()},
          {"worker", trial.worker_id()},
          {"retries", trial.retries()},
          {"start_ms", trial.start_time_unix_ms()},
          {"end_ms", trial.end_time_unix_ms()},
          {"origin", trial.origin()},
          {"exploits", ExploitsJson(trial)}};
}

json EventJson(const v1::StudyEvent& event) {
  json out = {{"seq", event.sequence()}, {"time_ms", event.time_unix_ms()}};
  switch (event.event_case()) {
    case v1::StudyEvent::kResync:
      out["kind"] = "resync";
      break;
    case v1::StudyEvent::kTrialCreated:
      out["kind"] = "trial";
      out["number"] = event.trial_created().number();
      out["state"] = StateName(event.trial_created().state());
      break;
    case v1::StudyEvent::kTrialChanged:
      out["kind"] = "trial";
      out["number"] = event.trial_changed().trial().number();
      out["state"] = StateName(event.trial_changed().trial().state());
      break;
    case v1::StudyEvent::kMeasurement:
      out["kind"] = "measurement";
      out["number"] = event.measurement().trial();
      out["step"] = event.measurement().measurement().step();
      break;
    case v1::StudyEvent::kStudyStateChanged:
      out["kind"] = "study";
      out["state"] = StateName(event.study_state_changed().state());
      break;
    default:
      out["kind"] = "unknown";
  }
  return out;
}

}  // namespace vernier
