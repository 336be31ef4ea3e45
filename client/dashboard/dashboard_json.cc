#include "client/dashboard/dashboard_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// "start" (a new watch), "new_incarnation" (the server restarted),
// "events_dropped" (the watcher fell behind), "study_reloaded".
std::string ResyncReasonName(v1::ResyncReason reason) {
  switch (reason) {
    case v1::RESYNC_REASON_START:
      return "start";
    case v1::RESYNC_REASON_NEW_INCARNATION:
      return "new_incarnation";
    case v1::RESYNC_REASON_EVENTS_DROPPED:
      return "events_dropped";
    case v1::RESYNC_REASON_STUDY_RELOADED:
      return "study_reloaded";
    default:
      return "unspecified";
  }
}

json ExploitsJson(const google::protobuf::RepeatedPtrField<v1::TrialExploit>& exploits) {
  json out = json::array();
  for (const v1::TrialExploit& exploit : exploits) {
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

void TextPieces::Add(absl::string_view piece) {
  pieces_.push_back(piece);
  size_ += piece.size();
}

void TextPieces::AddOwned(std::string piece) {
  owned_.push_back(std::make_unique<std::string>(std::move(piece)));
  Add(*owned_.back());
}

std::string TextPieces::Join() const {
  std::string text;
  text.reserve(size_);
  for (absl::string_view piece : pieces_) text.append(piece.data(), piece.size());
  return text;
}

void JsonColumn::Separate() {
  if (!empty_) text_.push_back(',');
  empty_ = false;
}

void JsonColumn::AppendNull() {
  Separate();
  text_.append("null");
}

void JsonColumn::AppendInt(int64_t value) {
  Separate();
  absl::StrAppend(&text_, value);
}

void JsonColumn::AppendDouble(double value) {
  if (!std::isfinite(value)) return AppendNull();
  Separate();
  char buffer[32];
  const std::to_chars_result result = digits_ > 0
                                          ? std::to_chars(buffer, buffer + sizeof(buffer), value,
                                                          std::chars_format::general, digits_)
                                          : std::to_chars(buffer, buffer + sizeof(buffer), value);
  text_.append(buffer, result.ptr);
}

void JsonColumn::AppendJson(absl::string_view json) {
  Separate();
  text_.append(json.data(), json.size());
}

std::string JsonColumn::Array() const { return absl::StrCat("[", text_, "]"); }

void JsonColumn::AddArrayTo(TextPieces& out) const {
  out.Add("[");
  out.Add(text_);
  out.Add("]");
}

void JsonColumn::ReserveFor(int64_t written, int64_t expected) {
  if (written <= 0 || expected <= written) return;
  const double per_entry = static_cast<double>(text_.size()) / static_cast<double>(written);
  // A little over, so that slightly longer entries later need no regrowth.
  text_.reserve(static_cast<size_t>(per_entry * static_cast<double>(expected) * 1.1) + 16);
}

void DictColumn::AppendNull() { codes_.AppendNull(); }

void DictColumn::AppendJson(const std::string& json) { AppendCode(CodeOfJson(json)); }

void DictColumn::AppendString(const std::string& value) { AppendCode(CodeOfString(value)); }

int64_t DictColumn::CodeOfJson(const std::string& json) {
  auto [it, added] = code_of_.try_emplace(json, static_cast<int64_t>(code_of_.size()));
  if (added) dict_.AppendJson(json);
  return it->second;
}

int64_t DictColumn::CodeOfString(const std::string& value) {
  auto seen = string_code_of_.find(value);
  if (seen != string_code_of_.end()) return seen->second;
  const int64_t code = CodeOfJson(nlohmann::json(value).dump());
  string_code_of_.emplace(value, code);
  return code;
}

void DictColumn::AppendCode(int64_t code) { codes_.AppendInt(code); }

std::string DictColumn::Object() const {
  TextPieces out;
  AddObjectTo(out);
  return out.Join();
}

void DictColumn::AddObjectTo(TextPieces& out) const {
  out.Add("{\"dict\":");
  dict_.AddArrayTo(out);
  out.Add(",\"codes\":");
  codes_.AddArrayTo(out);
  out.Add("}");
}

void DictColumn::ReserveFor(int64_t written, int64_t expected) {
  codes_.ReserveFor(written, expected);
}

TrialColumnsWriter::TrialColumnsWriter(const v1::Study& study, int digits)
    : study_(study),
      digits_(digits),
      objectives_(static_cast<int>(Objectives(study).size())),
      time_base_ms_(study.create_time_unix_ms()),
      values_(objectives_, JsonColumn(digits)) {
  for (const v1::ParameterSpec& param : study.spec().params()) {
    auto [it, added] = params_.try_emplace(param.name());
    if (!added) continue;
    it->second.values = JsonColumn(digits);
    it->second.categorical = param.type_case() == v1::ParameterSpec::kCategorical;
    spec_order_.push_back(param.name());
  }
}

TrialColumnsWriter::ParamColumn& TrialColumnsWriter::ParamColumnFor(const std::string& name) {
  auto [it, added] = params_.try_emplace(name);
  // A parameter no earlier trial had: null for each of them.
  if (added) {
    it->second.values = JsonColumn(digits_);
    for (int64_t i = 0; i < added_; ++i) it->second.values.AppendNull();
  }
  return it->second;
}

void TrialColumnsWriter::AppendTime(JsonColumn& column, int64_t unix_ms) const {
  if (unix_ms > 0) {
    column.AppendInt(unix_ms - time_base_ms_);
  } else {
    column.AppendNull();
  }
}

void TrialColumnsWriter::AppendParam(ParamColumn& column, const v1::ParameterValue* value) {
  if (value == nullptr) {
    column.categorical ? column.choices.AppendNull() : column.values.AppendNull();
  } else if (column.categorical && value->kind_case() == v1::ParameterValue::kStringValue) {
    column.choices.AppendString(value->string_value());
  } else if (column.categorical) {
    column.choices.AppendJson(ParamToJson(*value).dump());
  } else if (value->kind_case() == v1::ParameterValue::kDoubleValue) {
    column.values.AppendDouble(value->double_value());
  } else if (value->kind_case() == v1::ParameterValue::kIntValue) {
    column.values.AppendInt(value->int_value());
  } else {
    column.values.AppendJson(ParamToJson(*value).dump());
  }
}

void TrialColumnsWriter::Add(const v1::Trial& trial) {
  for (const auto& [name, value] : trial.params()) ParamColumnFor(name);
  numbers_.AppendInt(trial.number());
  states_.AppendString(StateName(trial.state()));
  for (int k = 0; k < objectives_; ++k) values_[k].AppendDouble(ObjectiveValueOf(trial, k));
  for (auto& [name, column] : params_) {
    auto it = trial.params().find(name);
    AppendParam(column, it == trial.params().end() ? nullptr : &it->second);
  }
  AppendTime(start_, trial.start_time_unix_ms());
  AppendTime(end_, trial.end_time_unix_ms());
  workers_.AppendString(trial.worker_id());
  origins_.AppendString(trial.origin());
  retries_.AppendInt(trial.retries());
  failure_reasons_.AppendString(trial.failure_reason());
  if (!trial.exploits().empty()) {
    exploits_[absl::StrCat(trial.number())] = ExploitsJson(trial.exploits());
  }
  ++added_;
}

namespace {

// Whether every column of `columns` has `rows` entries.
bool SameLengths(const v1::TrialColumns& columns, int rows) {
  auto coded = [rows](const v1::StringColumn& column) {
    return column.codes_size() == rows &&
           std::all_of(column.codes().begin(), column.codes().end(),
                       [&](int32_t code) { return code >= 0 && code < column.dict_size(); });
  };
  bool same = columns.states_size() == rows && columns.start_time_unix_ms_size() == rows &&
              columns.end_time_unix_ms_size() == rows && columns.retries_size() == rows &&
              coded(columns.worker_ids()) && coded(columns.origins()) &&
              coded(columns.failure_reasons());
  for (const v1::NumberColumn& values : columns.objective_values()) {
    same = same && values.values_size() == rows;
  }
  for (const v1::ParamColumn& param : columns.params()) {
    const bool numbers = param.numbers_size() == rows && param.codes_size() == 0;
    const bool coded_values =
        param.numbers_size() == 0 && param.codes_size() == rows &&
        std::all_of(param.codes().begin(), param.codes().end(),
                    [&](int32_t code) { return code >= -1 && code < param.dict_size(); });
    same = same && (numbers || coded_values || rows == 0);
  }
  return same;
}

// Appends the strings of `column` to `out`, each distinct one looked up once.
void AppendStrings(const v1::StringColumn& column, DictColumn& out) {
  std::vector<int64_t> codes;
  codes.reserve(column.dict_size());
  for (const std::string& value : column.dict()) codes.push_back(out.CodeOfString(value));
  for (int32_t code : column.codes()) out.AppendCode(codes[code]);
}

}  // namespace

void TrialColumnsWriter::AppendParamColumn(ParamColumn& column, const v1::ParamColumn* param,
                                           int rows) {
  if (param == nullptr) {
    for (int i = 0; i < rows; ++i) AppendParam(column, nullptr);
    return;
  }
  if (param->codes_size() == 0) {  // Floats; NaN where a trial has none.
    v1::ParameterValue value;
    for (double number : param->numbers()) {
      if (std::isnan(number)) {
        AppendParam(column, nullptr);
      } else if (column.categorical) {
        value.set_double_value(number);
        AppendParam(column, &value);
      } else {
        column.values.AppendDouble(number);
      }
    }
    return;
  }
  for (int32_t code : param->codes()) AppendParam(column, code < 0 ? nullptr : &param->dict(code));
}

absl::Status TrialColumnsWriter::AddColumns(const v1::TrialColumns& columns) {
  const int rows = columns.numbers_size();
  if (!SameLengths(columns, rows)) {
    return absl::InternalError(
        "vernier-server answered ListTrials with columns of different lengths or codes outside "
        "their dict");
  }
  absl::flat_hash_map<std::string, const v1::ParamColumn*> by_name;
  for (const v1::ParamColumn& param : columns.params()) {
    ParamColumnFor(param.name());
    by_name[param.name()] = &param;
  }
  for (int64_t number : columns.numbers()) numbers_.AppendInt(number);
  for (int state : columns.states()) {
    states_.AppendString(StateName(static_cast<v1::TrialState>(state)));
  }
  for (int k = 0; k < objectives_; ++k) {
    if (k >= columns.objective_values_size()) {
      for (int i = 0; i < rows; ++i) values_[k].AppendNull();
      continue;
    }
    for (double value : columns.objective_values(k).values()) values_[k].AppendDouble(value);
  }
  for (auto& [name, column] : params_) {
    auto it = by_name.find(name);
    AppendParamColumn(column, it == by_name.end() ? nullptr : it->second, rows);
  }
  for (int64_t start : columns.start_time_unix_ms()) AppendTime(start_, start);
  for (int64_t end : columns.end_time_unix_ms()) AppendTime(end_, end);
  AppendStrings(columns.worker_ids(), workers_);
  AppendStrings(columns.origins(), origins_);
  for (int32_t retries : columns.retries()) retries_.AppendInt(retries);
  AppendStrings(columns.failure_reasons(), failure_reasons_);
  for (const v1::TrialExploits& trial : columns.exploits()) {
    if (!trial.exploits().empty()) {
      exploits_[absl::StrCat(trial.number())] = ExploitsJson(trial.exploits());
    }
  }
  added_ += rows;
  return absl::OkStatus();
}

void TrialColumnsWriter::ExpectTrials(int64_t total) {
  for (JsonColumn* column : {&numbers_, &start_, &end_, &retries_}) {
    column->ReserveFor(added_, total);
  }
  for (DictColumn* column : {&states_, &workers_, &origins_, &failure_reasons_}) {
    column->ReserveFor(added_, total);
  }
  for (JsonColumn& column : values_) column.ReserveFor(added_, total);
  for (auto& [name, column] : params_) {
    column.categorical ? column.choices.ReserveFor(added_, total)
                       : column.values.ReserveFor(added_, total);
  }
}

std::string TrialColumnsWriter::Finish() const {
  std::vector<std::string> order = spec_order_;
  for (const auto& [name, column] : params_) {
    if (std::find(spec_order_.begin(), spec_order_.end(), name) == spec_order_.end()) {
      order.push_back(name);
    }
  }
  TextPieces out;
  out.AddOwned(absl::StrCat("{\"study\":", json(study_.name()).dump(),
                            ",\"objectives\":", ObjectivesJson(study_).dump(),
                            ",\"time_base_ms\":", time_base_ms_, ",\"numbers\":"));
  numbers_.AddArrayTo(out);
  out.Add(",\"states\":");
  states_.AddObjectTo(out);
  out.Add(",\"values\":[");
  for (size_t k = 0; k < values_.size(); ++k) {
    if (k > 0) out.Add(",");
    values_[k].AddArrayTo(out);
  }
  out.Add("],\"params\":{");
  for (size_t i = 0; i < order.size(); ++i) {
    const ParamColumn& column = params_.at(order[i]);
    out.AddOwned(absl::StrCat(i > 0 ? "," : "", json(order[i]).dump(), ":"));
    column.categorical ? column.choices.AddObjectTo(out) : column.values.AddArrayTo(out);
  }
  out.Add("},\"start_ms\":");
  start_.AddArrayTo(out);
  out.Add(",\"end_ms\":");
  end_.AddArrayTo(out);
  out.Add(",\"workers\":");
  workers_.AddObjectTo(out);
  out.Add(",\"origins\":");
  origins_.AddObjectTo(out);
  out.Add(",\"retries\":");
  retries_.AddArrayTo(out);
  out.Add(",\"failure_reasons\":");
  failure_reasons_.AddObjectTo(out);
  out.AddOwned(absl::StrCat(",\"exploits\":", exploits_.dump(), "}"));
  return out.Join();
}

std::string CurvesJson(const std::string& metric, int64_t total_trials,
                       const std::vector<v1::Trial>& trials, int digits) {
  // Written as text, not built as a tree: 2,000 curves of 200 points are
  // 400,000 numbers.
  std::string curves;
  for (const v1::Trial& trial : trials) {
    JsonColumn steps;
    JsonColumn values(digits);
    bool any = false;
    // Packed when the server sends it so (curve_only), else measurements.
    const int packed = std::min(trial.curve().steps_size(), trial.curve().values_size());
    for (int i = 0; i < packed; ++i) {
      steps.AppendInt(trial.curve().steps(i));
      values.AppendDouble(trial.curve().values(i));
      any = true;
    }
    for (const v1::Measurement& measurement : trial.intermediate()) {
      auto it = measurement.metrics().find(metric);
      if (it == measurement.metrics().end()) continue;
      steps.AppendInt(measurement.step());
      values.AppendDouble(it->second);
      any = true;
    }
    if (!any) continue;
    absl::StrAppend(&curves, curves.empty() ? "" : ",", "{\"number\":", trial.number(),
                    ",\"state\":\"", StateName(trial.state()), "\",\"steps\":", steps.Array(),
                    ",\"values\":", values.Array(), "}");
  }
  return absl::StrCat("{\"metric\":", json(metric).dump(), ",\"total_trials\":", total_trials,
                      ",\"curves\":[", curves, "]}");
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
          {"excluded", trial.excluded()},
          {"exclusion_reason", trial.exclusion_reason()},
          {"exploits", ExploitsJson(trial.exploits())}};
}

json EventJson(const v1::StudyEvent& event) {
  json out = {{"seq", event.sequence()}, {"time_ms", event.time_unix_ms()}};
  switch (event.event_case()) {
    case v1::StudyEvent::kResync:
      out["kind"] = "resync";
      out["reason"] = ResyncReasonName(event.resync().reason());
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
