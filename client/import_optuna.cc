#include "client/import_optuna.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/spec/study_yaml.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"

namespace vernier {
namespace {

using json = nlohmann::ordered_json;

// ---- Reading the Optuna storage ---------------------------------------------

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Reads one Optuna storage file; every error names the file.
class OptunaReader {
 public:
  OptunaReader(std::string path, Db db) : path_(std::move(path)), db_(std::move(db)) {}

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", what));
  }

  absl::StatusOr<Statement> Prepare(const std::string& sql, absl::string_view table) const {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      return Error(absl::StrCat("not an Optuna 3.x storage: table ", table, ": ",
                                sqlite3_errmsg(db_.get())));
    }
    return Statement(raw);
  }

  // SQLITE_ROW, SQLITE_DONE, or an error naming `table`.
  absl::StatusOr<bool> Step(sqlite3_stmt* statement, absl::string_view table) const {
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(absl::StrCat("table ", table, ": ", sqlite3_errmsg(db_.get())));
  }

  // The file is a SQLite database with Optuna's tables.
  absl::Status CheckSchema() const {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), "SELECT name FROM sqlite_master WHERE type = 'table'", -1,
                           &raw, nullptr) != SQLITE_OK) {
      return Error(
          absl::StrCat("cannot read it as a SQLite database (", sqlite3_errmsg(db_.get()), ")"));
    }
    Statement tables(raw);
    std::set<std::string> names;
    while (true) {
      const int rc = sqlite3_step(tables.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        return Error(
            absl::StrCat("cannot read it as a SQLite database (", sqlite3_errmsg(db_.get()), ")"));
      }
      names.insert(reinterpret_cast<const char*>(sqlite3_column_text(tables.get(), 0)));
    }
    for (const char* table : {"studies", "study_directions", "trials", "trial_params",
                              "trial_values", "trial_intermediate_values"}) {
      if (names.count(table) == 0) {
        return Error(absl::StrCat("not an Optuna storage: no table \"", table, "\""));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> Studies() const {
    ASSIGN_OR_RETURN(
        Statement statement,
        Prepare("SELECT study_id, study_name FROM studies ORDER BY study_id", "studies"));
    std::vector<std::pair<int64_t, std::string>> studies;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(statement.get(), "studies"));
      if (!row) break;
      const unsigned char* name = sqlite3_column_text(statement.get(), 1);
      studies.emplace_back(sqlite3_column_int64(statement.get(), 0),
                           name == nullptr ? "" : reinterpret_cast<const char*>(name));
    }
    return studies;
  }

  absl::StatusOr<OptunaStudy> ReadStudy(int64_t id, const std::string& name) const {
    OptunaStudy study;
    study.name = name;
    const std::string where = absl::StrCat("study \"", name, "\"");
    ASSIGN_OR_RETURN(Statement directions,
                     Prepare("SELECT direction, objective FROM study_directions "
                             "WHERE study_id = ? ORDER BY objective",
                             "study_directions"));
    sqlite3_bind_int64(directions.get(), 1, id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(directions.get(), "study_directions"));
      if (!row) break;
      const std::string direction = Text(directions.get(), 0);
      if (sqlite3_column_int64(directions.get(), 1) !=
          static_cast<int64_t>(study.directions.size())) {
        return Error(absl::StrCat(where, ": table study_directions: objectives are not 0, 1, ..."));
      }
      if (direction == "MINIMIZE") {
        study.directions.push_back(v1::GOAL_MINIMIZE);
      } else if (direction == "MAXIMIZE") {
        study.directions.push_back(v1::GOAL_MAXIMIZE);
      } else {
        return Error(absl::StrCat(where, ": table study_directions: direction \"", direction,
                                  "\" is not MINIMIZE or MAXIMIZE"));
      }
    }
    if (study.directions.empty()) {
      return Error(absl::StrCat(where, ": table study_directions: no direction"));
    }

    ASSIGN_OR_RETURN(Statement trials, Prepare("SELECT trial_id, number, state FROM trials "
                                               "WHERE study_id = ? ORDER BY number, trial_id",
                                               "trials"));
    ASSIGN_OR_RETURN(Statement params,
                     Prepare("SELECT param_name, param_value, distribution_json FROM trial_params "
                             "WHERE trial_id = ? ORDER BY param_id",
                             "trial_params"));
    ASSIGN_OR_RETURN(Statement values,
                     Prepare("SELECT objective, value, value_type FROM trial_values "
                             "WHERE trial_id = ? ORDER BY objective",
                             "trial_values"));
    ASSIGN_OR_RETURN(Statement intermediate,
                     Prepare("SELECT step, intermediate_value, intermediate_value_type "
                             "FROM trial_intermediate_values WHERE trial_id = ? ORDER BY step",
                             "trial_intermediate_values"));
    sqlite3_bind_int64(trials.get(), 1, id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(trials.get(), "trials"));
      if (!row) break;
      const int64_t trial_id = sqlite3_column_int64(trials.get(), 0);
      OptunaTrial trial;
      trial.number = sqlite3_column_int64(trials.get(), 1);
      trial.state = Text(trials.get(), 2);
      const std::string at = absl::StrCat(where, ", trial ", trial.number);

      sqlite3_reset(params.get());
      sqlite3_bind_int64(params.get(), 1, trial_id);
      while (true) {
        ASSIGN_OR_RETURN(bool param_row, Step(params.get(), "trial_params"));
        if (!param_row) break;
        const std::string param = Text(params.get(), 0);
        const std::string param_at =
            absl::StrCat(at, ": table trial_params: param \"", param, "\"");
        if (sqlite3_column_type(params.get(), 1) == SQLITE_NULL) {
          return Error(absl::StrCat(param_at, ": param_value is NULL"));
        }
        absl::StatusOr<OptunaDistribution> distribution =
            ParseOptunaDistribution(Text(params.get(), 2), "distribution_json");
        if (!distribution.ok())
          return Error(absl::StrCat(param_at, ": ", distribution.status().message()));
        trial.params[param] = {sqlite3_column_double(params.get(), 1), *std::move(distribution)};
      }

      sqlite3_reset(values.get());
      sqlite3_bind_int64(values.get(), 1, trial_id);
      while (true) {
        ASSIGN_OR_RETURN(bool value_row, Step(values.get(), "trial_values"));
        if (!value_row) break;
        const int64_t objective = sqlite3_column_int64(values.get(), 0);
        if (objective != static_cast<int64_t>(trial.values.size())) {
          return Error(absl::StrCat(at, ": table trial_values: objectives are not 0, 1, ..."));
        }
        ASSIGN_OR_RETURN(double value,
                         Value(values.get(), absl::StrCat(at, ": table trial_values")));
        trial.values.push_back(value);
      }

      sqlite3_reset(intermediate.get());
      sqlite3_bind_int64(intermediate.get(), 1, trial_id);
      while (true) {
        ASSIGN_OR_RETURN(bool step_row, Step(intermediate.get(), "trial_intermediate_values"));
        if (!step_row) break;
        const int64_t step = sqlite3_column_int64(intermediate.get(), 0);
        ASSIGN_OR_RETURN(double value,
                         Value(intermediate.get(),
                               absl::StrCat(at, ": table trial_intermediate_values, step ", step)));
        trial.intermediate.emplace_back(step, value);
      }
      study.trials.push_back(std::move(trial));
    }
    return study;
  }

 private:
  static std::string Text(sqlite3_stmt* statement, int column) {
    const unsigned char* text = sqlite3_column_text(statement, column);
    return text == nullptr ? "" : reinterpret_cast<const char*>(text);
  }

  // Columns 1 and 2 of `statement`: a value and its value_type.
  absl::StatusOr<double> Value(sqlite3_stmt* statement, absl::string_view where) const {
    const std::string type = Text(statement, 2);
    if (type == "INF_POS") return std::numeric_limits<double>::infinity();
    if (type == "INF_NEG") return -std::numeric_limits<double>::infinity();
    if (type == "NAN") return std::numeric_limits<double>::quiet_NaN();
    if (type != "FINITE") {
      return Error(absl::StrCat(where, ": unknown value_type \"", type, "\""));
    }
    if (sqlite3_column_type(statement, 1) == SQLITE_NULL) {
      return Error(absl::StrCat(where, ": a FINITE value is NULL"));
    }
    return sqlite3_column_double(statement, 1);
  }

  const std::string path_;
  const Db db_;
};

// ---- Planning: the Vernier study and its trials -------------------------------

json ValueToJson(const v1::ParameterValue& value) {
  switch (value.kind_case()) {
    case v1::ParameterValue::kDoubleValue:
      return value.double_value();
    case v1::ParameterValue::kIntValue:
      return value.int_value();
    default:
      return value.string_value();
  }
}

bool SameValue(const v1::ParameterValue& a, const v1::ParameterValue& b) {
  if (a.kind_case() != b.kind_case()) return false;
  switch (a.kind_case()) {
    case v1::ParameterValue::kDoubleValue:
      return a.double_value() == b.double_value();
    case v1::ParameterValue::kIntValue:
      return a.int_value() == b.int_value();
    default:
      return a.string_value() == b.string_value();
  }
}

std::string ValueText(const v1::ParameterValue& value) { return ValueToJson(value).dump(); }

// One parameter of the study being planned.
struct PlannedParam {
  std::string name;
  std::vector<OptunaDistribution> distributions;  // Distinct, in the order seen.
  OptunaDistribution merged;
  std::vector<v1::ParameterValue> choices;  // kCategorical: the union, in the order seen.
};

absl::StatusOr<v1::ParameterValue> ChoiceValue(const nlohmann::ordered_json& choice,
                                               absl::string_view where) {
  if (choice.is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": the choice None is not supported (Vernier's categorical values "
                     "are numbers and strings)"));
  }
  return ParameterValueFromJson(choice, where);
}

// The union of a parameter's distributions; `note` says what changed.
absl::Status Merge(PlannedParam& param, absl::string_view where, std::vector<std::string>& notes) {
  const std::vector<OptunaDistribution>& all = param.distributions;
  param.merged = all.front();
  if (all.size() == 1) return absl::OkStatus();
  const bool categorical = all.front().kind == OptunaDistribution::Kind::kCategorical;
  for (const OptunaDistribution& d : all) {
    if ((d.kind == OptunaDistribution::Kind::kCategorical) != categorical) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": categorical in some trials and numeric in others; cannot be imported"));
    }
  }
  if (categorical) {
    notes.push_back(absl::StrCat("param \"", param.name,
                                 "\": choices differ across trials; using all ",
                                 param.choices.size(), " of them"));
    return absl::OkStatus();
  }
  OptunaDistribution& m = param.merged;
  bool same_step = true;
  for (const OptunaDistribution& d : all) {
    if (d.kind == OptunaDistribution::Kind::kFloat) m.kind = OptunaDistribution::Kind::kFloat;
    m.low = std::min(m.low, d.low);
    m.high = std::max(m.high, d.high);
    m.log = m.log && d.log;
    same_step = same_step && d.step == all.front().step && d.low == all.front().low;
  }
  if (!same_step) m.step.reset();
  if (m.kind == OptunaDistribution::Kind::kInt && !m.step) m.step = 1;
  notes.push_back(absl::StrCat(
      "param \"", param.name, "\": distribution differs across trials; using the union ",
      m.kind == OptunaDistribution::Kind::kFloat ? "float" : "int", " [", m.low, ", ", m.high, "]",
      m.log ? " log" : "", m.step ? absl::StrCat(" step ", *m.step) : ""));
  return absl::OkStatus();
}

json ParamToStudyFile(const PlannedParam& param) {
  const OptunaDistribution& m = param.merged;
  switch (m.kind) {
    case OptunaDistribution::Kind::kFloat: {
      json out = {{"type", "float"}, {"low", m.low}, {"high", m.high}};
      if (m.log) out["log"] = true;
      if (m.step) out["step"] = *m.step;
      return out;
    }
    case OptunaDistribution::Kind::kInt: {
      json out = {{"type", "int"},
                  {"low", static_cast<int64_t>(std::llround(m.low))},
                  {"high", static_cast<int64_t>(std::llround(m.high))}};
      if (m.log) out["log"] = true;
      if (m.step && *m.step != 1) out["step"] = static_cast<int64_t>(std::llround(*m.step));
      return out;
    }
    default: {
      json values = json::array();
      for (const v1::ParameterValue& choice : param.choices) values.push_back(ValueToJson(choice));
      return {{"type", "categorical"}, {"values", values}};
    }
  }
}

// A trial's parameter in Vernier's form; `kind` is the merged kind.
absl::StatusOr<v1::ParameterValue> MapValue(double internal, const OptunaDistribution& own,
                                            OptunaDistribution::Kind kind,
                                            absl::string_view where) {
  v1::ParameterValue value;
  if (own.kind == OptunaDistribution::Kind::kCategorical) {
    if (internal != std::floor(internal) || internal < 0 ||
        internal >= static_cast<double>(own.choices.size())) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": param_value ", internal,
                                                     " is not an index into its ",
                                                     own.choices.size(), " choices"));
    }
    return ChoiceValue(own.choices[static_cast<size_t>(internal)], where);
  }
  if (!std::isfinite(internal)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": param_value ", internal, " is not finite"));
  }
  if (kind == OptunaDistribution::Kind::kInt) {
    value.set_int_value(std::llround(internal));
  } else {
    value.set_double_value(internal);
  }
  return value;
}

// For a parameter absent from some trials: a categorical parameter whose
// values decide exactly when it is present, and those values. `rows` are the
// trials' mapped parameters.
std::optional<std::pair<std::string, std::vector<v1::ParameterValue>>> FindCondition(
    const std::string& name, const std::vector<PlannedParam>& params,
    const std::vector<ParamSet>& rows) {
  for (const PlannedParam& parent : params) {
    if (parent.name == name || parent.merged.kind != OptunaDistribution::Kind::kCategorical) {
      continue;
    }
    std::vector<v1::ParameterValue> with;  // Parent values seen with the parameter.
    bool ok = true;
    for (const ParamSet& row : rows) {
      if (row.count(name) == 0) continue;
      auto it = row.find(parent.name);
      if (it == row.end()) {
        ok = false;
        break;
      }
      if (std::none_of(with.begin(), with.end(),
                       [&](const v1::ParameterValue& v) { return SameValue(v, it->second); })) {
        with.push_back(it->second);
      }
    }
    if (!ok) continue;
    // The parent is present without the parameter somewhere (so parents are
    // strictly more present than children: no cycles), and each time it
    // takes one of `with`, the parameter is there.
    bool parent_without = false;
    for (const ParamSet& row : rows) {
      auto it = row.find(parent.name);
      if (it == row.end()) continue;
      const bool in_with = std::any_of(with.begin(), with.end(), [&](const v1::ParameterValue& v) {
        return SameValue(v, it->second);
      });
      const bool present = row.count(name) > 0;
      if (in_with != present) {
        ok = false;
        break;
      }
      if (!present) parent_without = true;
    }
    if (ok && parent_without) return std::make_pair(parent.name, with);
  }
  return std::nullopt;
}

std::string Quoted(absl::string_view name) { return absl::StrCat("\"", name, "\""); }

// ---- Replaying through the StudyService ---------------------------------------

std::string MetricName(size_t objectives, size_t i) {
  return objectives == 1 ? "value" : absl::StrCat("value_", i);
}

// Replays one trial: EnqueueTrial, Ask (checked to hand back that trial with
// its parameters), Report per intermediate value, Tell.
absl::Status Replay(const CommandContext& ctx, const std::string& study, size_t objectives,
                    const ImportedTrial& trial) {
  v1::Trial enqueued;
  {
    grpc::ClientContext rpc;
    SetDeadline(ctx, rpc);
    v1::EnqueueTrialRequest request;
    request.set_study(study);
    request.mutable_params()->insert(trial.params.begin(), trial.params.end());
    RETURN_IF_ERROR(FromGrpc(ctx.stub->EnqueueTrial(&rpc, request, &enqueued), ctx.server_address));
  }
  v1::AskResponse asked;
  {
    grpc::ClientContext rpc;
    SetDeadline(ctx, rpc);
    v1::AskRequest request;
    request.set_study(study);
    RETURN_IF_ERROR(FromGrpc(ctx.stub->Ask(&rpc, request, &asked), ctx.server_address));
  }
  const v1::Trial& running = asked.trial();
  if (running.number() != enqueued.number()) {
    return absl::InternalError(absl::StrCat("Ask returned trial ", running.number(),
                                            ", not the enqueued trial ", enqueued.number()));
  }
  for (const auto& [name, value] : trial.params) {
    auto it = running.params().find(name);
    if (it == running.params().end() || !SameValue(it->second, value)) {
      return absl::InternalError(
          absl::StrCat("Ask returned param ", Quoted(name), " = ",
                       it == running.params().end() ? "nothing" : ValueText(it->second), ", not ",
                       ValueText(value)));
    }
  }
  for (const auto& [step, value] : trial.intermediate) {
    grpc::ClientContext rpc;
    SetDeadline(ctx, rpc);
    v1::ReportRequest request;
    request.set_study(study);
    request.set_trial_number(running.number());
    request.set_step(step);
    request.set_value(value);
    v1::ReportResponse response;
    RETURN_IF_ERROR(FromGrpc(ctx.stub->Report(&rpc, request, &response), ctx.server_address));
  }
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::TellRequest request;
  request.set_study(study);
  request.set_trial_number(running.number());
  request.set_state(trial.state);
  if (trial.state == v1::TRIAL_STATE_COMPLETE) {
    if (objectives == 1) {
      request.set_value(trial.values.at(0));
    } else {
      for (size_t i = 0; i < objectives; ++i) {
        (*request.mutable_metrics())[MetricName(objectives, i)] = trial.values.at(i);
      }
    }
  } else if (trial.state == v1::TRIAL_STATE_FAILED) {
    request.set_failure_reason("imported from Optuna: FAIL");
  }
  v1::TellResponse response;
  return FromGrpc(ctx.stub->Tell(&rpc, request, &response), ctx.server_address);
}

}  // namespace

bool OptunaDistribution::operator==(const OptunaDistribution& other) const {
  return kind == other.kind && low == other.low && high == other.high && log == other.log &&
         step == other.step && choices == other.choices;
}

absl::StatusOr<OptunaDistribution> ParseOptunaDistribution(absl::string_view text,
                                                           absl::string_view where) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("name") || !doc["name"].is_string() ||
      !doc.contains("attributes") || !doc["attributes"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": not an Optuna distribution: ", text.substr(0, 200)));
  }
  const std::string name = doc["name"].get<std::string>();
  const json& attributes = doc["attributes"];
  const auto number = [&](const char* key, bool required,
                          std::optional<double>& out) -> absl::Status {
    if (!attributes.contains(key) || attributes[key].is_null()) {
      if (!required) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", name, " has no ", key));
    }
    if (!attributes[key].is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", name, ".", key, " is not a number: ", attributes[key].dump()));
    }
    out = attributes[key].get<double>();
    return absl::OkStatus();
  };
  OptunaDistribution d;
  if (name == "CategoricalDistribution") {
    if (!attributes.contains("choices") || !attributes["choices"].is_array() ||
        attributes["choices"].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": CategoricalDistribution has no choices"));
    }
    d.kind = OptunaDistribution::Kind::kCategorical;
    d.choices.assign(attributes["choices"].begin(), attributes["choices"].end());
    return d;
  }
  std::optional<double> low, high, step;
  RETURN_IF_ERROR(number("low", true, low));
  RETURN_IF_ERROR(number("high", true, high));
  d.low = *low;
  d.high = *high;
  if (name == "FloatDistribution" || name == "IntDistribution") {
    if (attributes.contains("log") && attributes["log"].is_boolean()) {
      d.log = attributes["log"].get<bool>();
    }
    RETURN_IF_ERROR(number("step", false, step));
    d.kind = name == "IntDistribution" ? OptunaDistribution::Kind::kInt
                                       : OptunaDistribution::Kind::kFloat;
  } else if (name == "UniformDistribution" || name == "LogUniformDistribution") {
    d.log = name == "LogUniformDistribution";
  } else if (name == "DiscreteUniformDistribution") {
    RETURN_IF_ERROR(number("q", true, step));
  } else if (name == "IntUniformDistribution" || name == "IntLogUniformDistribution") {
    d.kind = OptunaDistribution::Kind::kInt;
    d.log = name == "IntLogUniformDistribution";
    RETURN_IF_ERROR(number("step", false, step));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unknown Optuna distribution \"", name, "\""));
  }
  d.step = step;
  if (d.kind == OptunaDistribution::Kind::kInt && !d.step) d.step = 1;
  return d;
}

absl::StatusOr<std::string> OptunaStoragePath(absl::string_view url) {
  constexpr absl::string_view kSqlite = "sqlite:///";
  if (absl::StartsWith(url, kSqlite)) return std::string(url.substr(kSqlite.size()));
  if (url.find("://") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage: \"", url, "\": only SQLite storages (sqlite:///path or a path) can be read"));
  }
  return std::string(url);
}

absl::StatusOr<std::vector<OptunaStudy>> ReadOptunaStorage(
    const std::string& path, const std::optional<std::string>& only_study) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": cannot open: ", raw == nullptr ? sqlite3_errstr(rc) : sqlite3_errmsg(raw)));
  }
  OptunaReader reader(path, std::move(db));
  RETURN_IF_ERROR(reader.CheckSchema());
  ASSIGN_OR_RETURN(auto ids, reader.Studies());
  std::vector<OptunaStudy> studies;
  std::vector<std::string> names;
  for (const auto& [id, name] : ids) {
    names.push_back(Quoted(name));
    if (only_study && name != *only_study) continue;
    ASSIGN_OR_RETURN(OptunaStudy study, reader.ReadStudy(id, name));
    studies.push_back(std::move(study));
  }
  if (only_study && studies.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no Optuna study ", Quoted(*only_study), " (it holds ",
                     names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  return studies;
}

absl::StatusOr<ImportPlan> PlanOptunaImport(const OptunaStudy& study, const std::string& name,
                                            int64_t extra_trials) {
  const std::string where = absl::StrCat("optuna study ", Quoted(study.name));
  const size_t objectives = study.directions.size();
  ImportPlan plan;

  // The finished trials, and each parameter's distributions.
  std::vector<const OptunaTrial*> finished;
  std::vector<PlannedParam> params;
  std::map<std::string, size_t> index;
  for (const OptunaTrial& trial : study.trials) {
    if (trial.state != "COMPLETE" && trial.state != "PRUNED" && trial.state != "FAIL") {
      ++plan.skipped[trial.state];
      continue;
    }
    const std::string at = absl::StrCat(where, ", trial ", trial.number);
    if (trial.state == "COMPLETE") {
      if (trial.values.size() != objectives) {
        return absl::InvalidArgumentError(absl::StrCat(at, ": COMPLETE with ", trial.values.size(),
                                                       " values for ", objectives, " objectives"));
      }
      for (double value : trial.values) {
        if (std::isnan(value)) {
          return absl::InvalidArgumentError(absl::StrCat(at, ": COMPLETE with a NaN value"));
        }
      }
    }
    finished.push_back(&trial);
    for (const auto& [param, entry] : trial.params) {
      auto [it, added] = index.emplace(param, params.size());
      if (added) params.push_back(PlannedParam{param, {}, {}, {}});
      PlannedParam& planned = params[it->second];
      const OptunaDistribution& d = entry.second;
      if (std::find(planned.distributions.begin(), planned.distributions.end(), d) ==
          planned.distributions.end()) {
        planned.distributions.push_back(d);
      }
      for (const json& choice : d.choices) {
        ASSIGN_OR_RETURN(v1::ParameterValue value,
                         ChoiceValue(choice, absl::StrCat(at, ": param ", Quoted(param))));
        if (std::none_of(planned.choices.begin(), planned.choices.end(),
                         [&](const v1::ParameterValue& v) { return SameValue(v, value); })) {
          planned.choices.push_back(value);
        }
      }
    }
  }
  if (params.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": no finished trial has parameters; a Vernier study needs at least one"));
  }
  for (PlannedParam& param : params) {
    RETURN_IF_ERROR(Merge(param, absl::StrCat(where, ": param ", Quoted(param.name)), plan.notes));
  }

  // The trials in Vernier's terms.
  std::vector<ParamSet> rows;
  for (const OptunaTrial* trial : finished) {
    ImportedTrial out;
    out.optuna_number = trial->number;
    out.state = trial->state == "COMPLETE" ? v1::TRIAL_STATE_COMPLETE
                : trial->state == "PRUNED" ? v1::TRIAL_STATE_PRUNED
                                           : v1::TRIAL_STATE_FAILED;
    for (const auto& [param, entry] : trial->params) {
      ASSIGN_OR_RETURN(
          out.params[param],
          MapValue(entry.first, entry.second, params[index.at(param)].merged.kind,
                   absl::StrCat(where, ", trial ", trial->number, ": param ", Quoted(param))));
    }
    if (out.state == v1::TRIAL_STATE_COMPLETE) out.values = trial->values;
    out.intermediate = trial->intermediate;
    rows.push_back(out.params);
    plan.trials.push_back(std::move(out));
  }

  // The study file.
  json file = {{"name", name}};
  if (objectives == 1) {
    file["objective"] = {
        {"metric", "value"},
        {"goal", study.directions[0] == v1::GOAL_MAXIMIZE ? "maximize" : "minimize"}};
  } else {
    json list = json::array();
    for (size_t i = 0; i < objectives; ++i) {
      list.push_back(
          {{"metric", MetricName(objectives, i)},
           {"goal", study.directions[i] == v1::GOAL_MAXIMIZE ? "maximize" : "minimize"}});
    }
    file["objectives"] = list;
  }
  json space = json::object();
  for (const PlannedParam& param : params) {
    json entry = ParamToStudyFile(param);
    const size_t present = std::count_if(
        rows.begin(), rows.end(), [&](const ParamSet& row) { return row.count(param.name) > 0; });
    if (present < rows.size()) {
      auto condition = FindCondition(param.name, params, rows);
      if (condition) {
        json values = json::array();
        for (const v1::ParameterValue& v : condition->second) values.push_back(ValueToJson(v));
        entry["when"] = {{condition->first, values}};
      } else {
        plan.notes.push_back(absl::StrCat(
            "param ", Quoted(param.name), ": absent from ", rows.size() - present,
            " trials and no categorical parameter decides when; Vernier sampled a value for it "
            "in those trials"));
      }
    }
    space[param.name] = entry;
  }
  file["params"] = space;
  file["sampler"] = {{"type", objectives == 1 ? "tpe" : "nsga2"}};
  file["pruner"] = {{"type", "none"}};
  const int64_t failed =
      std::count_if(plan.trials.begin(), plan.trials.end(),
                    [](const ImportedTrial& t) { return t.state == v1::TRIAL_STATE_FAILED; });
  // max_failures: the imported failures must not stop the study; 3 more
  // (the default) are allowed.
  file["budget"] = {{"max_trials", static_cast<int64_t>(plan.trials.size()) + extra_trials},
                    {"max_failures", failed + 3}};
  file["trainer"] = {{"external", true}};
  plan.study_file = std::move(file);
  return plan;
}

absl::Status ImportOptunaCommand(const CommandContext& ctx, const ImportOptunaOptions& options) {
  if (options.max_trials < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-trials: must be >= 0, got ", options.max_trials));
  }
  ASSIGN_OR_RETURN(std::string path, OptunaStoragePath(options.storage));
  ASSIGN_OR_RETURN(std::vector<OptunaStudy> studies, ReadOptunaStorage(path, options.study));
  if (studies.empty()) return absl::NotFoundError(absl::StrCat(path, ": holds no Optuna study"));
  if (options.new_name && studies.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--as: ", path, " holds ", studies.size(),
                                                   " studies; choose one with --study"));
  }
  for (const OptunaStudy& study : studies) {
    const std::string where = absl::StrCat("optuna study ", Quoted(study.name));
    const std::string name = options.new_name.value_or(study.name);
    ASSIGN_OR_RETURN(ImportPlan plan, PlanOptunaImport(study, name, options.max_trials));

    const std::string text = plan.study_file.dump(2);
    absl::StatusOr<v1::StudySpec> spec = StudySpecFromYaml(text);
    if (!spec.ok()) {
      return absl::Status(spec.status().code(), absl::StrCat(where, ": ", spec.status().message()));
    }
    v1::CreateStudyRequest request;
    *request.mutable_spec() = *std::move(spec);
    request.set_spec_yaml(text);
    absl::StatusOr<v1::Study> created = CreateStudy(ctx, request, where);
    if (!created.ok()) {
      if (created.status().code() == absl::StatusCode::kInvalidArgument) return created.status();
      return absl::Status(created.status().code(),
                          absl::StrCat(where, ": ", created.status().message(),
                                       created.status().code() == absl::StatusCode::kAlreadyExists
                                           ? " (import it under another name with --as NEWNAME)"
                                           : ""));
    }

    std::map<v1::TrialState, int64_t> counts;
    for (const ImportedTrial& trial : plan.trials) {
      absl::Status replayed = Replay(ctx, name, study.directions.size(), trial);
      if (!replayed.ok()) {
        return absl::Status(
            replayed.code(),
            absl::StrCat(where, ", trial ", trial.optuna_number, ": ", replayed.message(),
                         " (Vernier study ", Quoted(name), " holds the ",
                         counts[v1::TRIAL_STATE_COMPLETE] + counts[v1::TRIAL_STATE_PRUNED] +
                             counts[v1::TRIAL_STATE_FAILED],
                         " trials imported before it)"));
      }
      ++counts[trial.state];
    }
    std::string line = absl::StrCat(
        "imported optuna study ", Quoted(study.name), " as ", Quoted(name), ": ",
        plan.trials.size(), " trials (", counts[v1::TRIAL_STATE_COMPLETE], " COMPLETE, ",
        counts[v1::TRIAL_STATE_PRUNED], " PRUNED, ", counts[v1::TRIAL_STATE_FAILED], " FAILED)");
    if (!plan.skipped.empty()) {
      std::vector<std::string> skipped;
      for (const auto& [state, count] : plan.skipped)
        skipped.push_back(absl::StrCat(count, " ", state));
      absl::StrAppend(&line, ", skipped ", absl::StrJoin(skipped, ", "));
    }
    *ctx.out << line << "\n";
    for (const std::string& note : plan.notes) *ctx.out << "  note: " << note << "\n";
  }
  return absl::OkStatus();
}

}  // namespace vernier
