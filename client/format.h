// Output formats of the vernier CLI: aligned tables for people, JSON for
// tools. Pure functions over protos; thread-safe.
#ifndef VERNIER_CLIENT_FORMAT_H_
#define VERNIER_CLIENT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/study.pb.h"

namespace vernier {

enum class OutputFormat { kTable, kJson };

// INVALID_ARGUMENT naming --format for anything but "table" or "json".
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);

// "COMPLETE", "RUNNING", ... without the enum prefix.
std::string StateName(v1::TrialState state);
std::string StateName(v1::StudyState state);

// "lr=0.0031 batch_size=64 optimizer=adam" in name order.
std::string ParamsSummary(const v1::Trial& trial);

// Seconds the trial ran (to its end, or to `now_ms` while it runs); 0 if it
// never started.
double TrialSeconds(const v1::Trial& trial, int64_t now_ms);

// A parameter's value as JSON: a number or a string; null for a value
// without a kind.
nlohmann::json ParamToJson(const v1::ParameterValue& value);
// Metric name -> value; a non-finite value is null.
nlohmann::json MetricsToJson(const google::protobuf::Map<std::string, double>& metrics);

nlohmann::json StudyToJson(const v1::Study& study);
// StudyToJson plus the study file (`spec_yaml`): one study shown whole.
nlohmann::json StudyDetailToJson(const v1::Study& study);
nlohmann::json TrialToJson(const v1::Trial& trial);

// Renders rows as a table with a header and columns padded to fit.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

std::string FormatStudies(const std::vector<v1::Study>& studies, OutputFormat format);
std::string FormatStudy(const v1::Study& study, OutputFormat format);
// `metric` is the study's objective metric, shown as its own column.
std::string FormatTrials(const std::vector<v1::Trial>& trials, const std::string& metric,
                         OutputFormat format, int64_t now_ms);

// ---- Multi-objective studies and constraints ----

// True when the study has more than one objective.
bool IsMultiObjective(const v1::Study& study);

// "val_accuracy (max), latency_ms (min)".
std::string ObjectivesSummary(const v1::Study& study);

// "memory_gb <= 4, 0.5 <= params_m <= 20"; empty without constraints.
std::string ConstraintsSummary(const v1::Study& study);

// FormatTrials with one column per objective of `study` (from each trial's
// objective_values), for multi-objective studies; the JSON form is the same
// as FormatTrials'.
std::string FormatObjectiveTrials(const std::vector<v1::Trial>& trials, const v1::Study& study,
                                  OutputFormat format, int64_t now_ms);

// One line for a trial that just finished, as `vernier run` prints them.
std::string TrialFinishedLine(const v1::Trial& trial, const std::string& metric);

}  // namespace vernier

#endif  // VERNIER_CLIENT_FORMAT_H_
