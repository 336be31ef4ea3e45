#include "common/trial_protocol.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view what, absl::string_view line) {
  constexpr size_t kMaxEcho = 120;
  std::string shown(line.substr(0, kMaxEcho));
  if (line.size() > kMaxEcho) shown += "...";
  return absl::InvalidArgumentError(absl::StrCat("bad report line (", what, "): ", shown));
}

json MetricsToJson(const MetricMap& metrics) {
  json out = json::object();
  for (const auto& [name, value] : metrics) {
    // JSON has no NaN/inf; null keeps the line parseable and the parser
    // turns it back into NaN.
    out[name] = std::isfinite(value) ? json(value) : json(nullptr);
  }
  return out;
}

}  // namespace

absl::StatusOr<TrialReport> ParseReportLine(absl::string_view line) {
  json doc = json::parse(line.begin(), line.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Invalid("not JSON", line);
  if (!doc.is_object()) return Invalid("not a JSON object", line);
  TrialReport report;
  auto final_it = doc.find("final");
  if (final_it != doc.end()) {
    if (!final_it->is_boolean()) return Invalid("\"final\" must be true or false", line);
    report.is_final = final_it->get<bool>();
  }
  if (!report.is_final) {
    auto step_it = doc.find("step");
    if (step_it == doc.end()) return Invalid("missing \"step\"", line);
    if (!step_it->is_number_integer()) return Invalid("\"step\" must be an integer", line);
    report.step = step_it->get<int64_t>();
    if (report.step < 0) return Invalid("\"step\" must be >= 0", line);
  }
  auto metrics_it = doc.find("metrics");
  if (metrics_it == doc.end() || !metrics_it->is_object()) {
    return Invalid("missing \"metrics\" object", line);
  }
  for (const auto& [name, value] : metrics_it->items()) {
    if (value.is_number()) {
      report.metrics[name] = value.get<double>();
    } else if (value.is_null()) {
      report.metrics[name] = std::nan("");
    } else {
      return Invalid(absl::StrCat("metric \"", name, "\" is not a number"), line);
    }
  }
  return report;
}

std::string FormatIntermediateReport(int64_t step, const MetricMap& metrics) {
  json doc = {{"step", step}, {"metrics", MetricsToJson(metrics)}};
  return doc.dump();
}

std::string FormatFinalReport(const MetricMap& metrics) {
  json doc = {{"final", true}, {"metrics", MetricsToJson(metrics)}};
  return doc.dump();
}

}  // namespace vernier
