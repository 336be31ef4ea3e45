// `vernier study export`: a study and all its trials as JSON (everything the
// server keeps) or as CSV for spreadsheets and pandas. Built from the
// StudyService's GetStudy and ListTrials answers only (page by page: GetTrials).
//
// CSV follows RFC 4180: fields holding a comma, a quote, CR or LF are quoted,
// quotes doubled; rows end with "\n". Numbers are written in the shortest form
// that reads back to the same double; a missing value is an empty field, NaN
// is "nan", infinities "inf" / "-inf".
//
// Thread-safety: the pure functions are thread-safe; ExportStudyCommand uses
// its CommandContext like every command (commands.h).
#ifndef VERNIER_CLIENT_EXPORT_H_
#define VERNIER_CLIENT_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/commands.h"
#include "vernier/v1/study.pb.h"

namespace vernier {

enum class ExportFormat { kJson, kCsv };

// INVALID_ARGUMENT naming --format for anything but "json" or "csv".
absl::StatusOr<ExportFormat> ParseExportFormat(absl::string_view text);

struct ExportOptions {
  ExportFormat format = ExportFormat::kJson;
  // Where the export goes; empty: the command's output stream.
  std::string output_path;
  // CSV only: where the long-format intermediate values go (columns number,
  // step, metric, value); empty: not written.
  std::string intermediate_path;
};

// One CSV field, quoted when it must be.
std::string CsvField(absl::string_view text);

// {"study": {... , "spec_yaml": ...}, "trials": [...]}: the study as
// `vernier study show --format json` prints it, and every trial as
// `vernier trials --format json` does (params, state, intermediate values,
// final metrics, failure reason, start and end times), in number order.
std::string ExportJson(const v1::Study& study, const std::vector<v1::Trial>& trials);

// One row per trial in the given order: number, state, objective_value,
// duration_seconds (to the end, or to `now_ms` while it runs; empty if never
// started), then params_<name> and final_<name> columns for every parameter
// and final metric any trial has, each group in name order.
std::string ExportTrialsCsv(const std::vector<v1::Trial>& trials, int64_t now_ms);

// Long format, one row per trial, step and metric: number, step, metric, value.
std::string ExportIntermediateCsv(const std::vector<v1::Trial>& trials);

// `vernier study export NAME`: fetches the study and its trials and writes
// the export. The server's errors as FromGrpc gives them; INVALID_ARGUMENT for
// --intermediate with JSON; PERMISSION_DENIED naming a file that cannot be
// written.
absl::Status ExportStudyCommand(const CommandContext& ctx, const std::string& name,
                                const ExportOptions& options);

}  // namespace vernier

#endif  // VERNIER_CLIENT_EXPORT_H_
