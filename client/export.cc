#include "client/export.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/format.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

std::string CsvNumber(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // nlohmann writes the shortest text that parses back to the same double.
  return nlohmann::json(value).dump();
}

std::string CsvParam(const v1::ParameterValue& value) {
  switch (value.kind_case()) {
    case v1::ParameterValue::kDoubleValue:
      return CsvNumber(value.double_value());
    case v1::ParameterValue::kIntValue:
      return absl::StrCat(value.int_value());
    case v1::ParameterValue::kStringValue:
      return value.string_value();
    default:
      return "";
  }
}

std::string CsvRow(const std::vector<std::string>& fields) {
  std::vector<std::string> quoted;
  quoted.reserve(fields.size());
  for (const std::string& field : fields) quoted.push_back(CsvField(field));
  return absl::StrCat(absl::StrJoin(quoted, ","), "\n");
}

// Writes `text` to `path`, or to the context's stream when `path` is empty.
absl::Status WriteOutput(const CommandContext& ctx, const std::string& path,
                         const std::string& text) {
  if (path.empty()) {
    *ctx.out << text;
    return absl::OkStatus();
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (file) file << text;
  if (!file.flush()) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot write (", std::strerror(errno), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExportFormat> ParseExportFormat(absl::string_view text) {
  if (text == "json") return ExportFormat::kJson;
  if (text == "csv") return ExportFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--format: unknown export format \"", text, "\" (expected json or csv)"));
}

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string ExportJson(const v1::Study& study, const std::vector<v1::Trial>& trials) {
  nlohmann::json study_json = StudyToJson(study);
  study_json["spec_yaml"] = study.spec_yaml();
  nlohmann::json trials_json = nlohmann::json::array();
  for (const v1::Trial& trial : trials) trials_json.push_back(TrialToJson(trial));
  return nlohmann::json{{"study", study_json}, {"trials", trials_json}}.dump(2) + "\n";
}

std::string ExportTrialsCsv(const std::vector<v1::Trial>& trials, int64_t now_ms) {
  std::set<std::string> params, finals;
  for (const v1::Trial& trial : trials) {
    for (const auto& [name, value] : trial.params()) params.insert(name);
    for (const auto& [name, value] : trial.final_metrics()) finals.insert(name);
  }
  std::vector<std::string> header = {"number", "state", "objective_value", "duration_seconds"};
  for (const std::string& name : params) header.push_back("params_" + name);
  for (const std::string& name : finals) header.push_back("final_" + name);
  std::string out = CsvRow(header);
  for (const v1::Trial& trial : trials) {
    std::vector<std::string> row = {
        absl::StrCat(trial.number()), StateName(trial.state()),
        trial.has_objective_value() ? CsvNumber(trial.objective_value()) : "",
        trial.start_time_unix_ms() != 0 ? CsvNumber(TrialSeconds(trial, now_ms)) : ""};
    for (const std::string& name : params) {
      auto it = trial.params().find(name);
      row.push_back(it == trial.params().end() ? "" : CsvParam(it->second));
    }
    for (const std::string& name : finals) {
      auto it = trial.final_metrics().find(name);
      row.push_back(it == trial.final_metrics().end() ? "" : CsvNumber(it->second));
    }
    out += CsvRow(row);
  }
  return out;
}

std::string ExportIntermediateCsv(const std::vector<v1::Trial>& trials) {
  std::string out = CsvRow({"number", "step", "metric", "value"});
  for (const v1::Trial& trial : trials) {
    for (const v1::Measurement& measurement : trial.intermediate()) {
      // Proto maps have no order; sort for a stable file.
      std::set<std::string> names;
      for (const auto& [name, value] : measurement.metrics()) names.insert(name);
      for (const std::string& name : names) {
        out += CsvRow({absl::StrCat(trial.number()), absl::StrCat(measurement.step()), name,
                       CsvNumber(measurement.metrics().at(name))});
      }
    }
  }
  return out;
}

absl::Status ExportStudyCommand(const CommandContext& ctx, const std::string& name,
                                const ExportOptions& options) {
  if (options.format == ExportFormat::kJson && !options.intermediate_path.empty()) {
    return absl::InvalidArgumentError(
        "--intermediate: only with --format csv (the JSON export holds the intermediate values)");
  }
  ASSIGN_OR_RETURN(v1::Study study, GetStudy(ctx, name));
  ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, GetTrials(ctx, name));
  if (options.format == ExportFormat::kJson) {
    return WriteOutput(ctx, options.output_path, ExportJson(study, trials));
  }
  RETURN_IF_ERROR(WriteOutput(ctx, options.output_path,
                              ExportTrialsCsv(trials, absl::ToUnixMillis(absl::Now()))));
  if (options.intermediate_path.empty()) return absl::OkStatus();
  return WriteOutput(ctx, options.intermediate_path, ExportIntermediateCsv(trials));
}

}  // namespace vernier
