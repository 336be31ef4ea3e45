#include "common/trial_protocol.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/match.h"
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

// The tokens Python's json.dumps writes for non-finite floats (NaN, Infinity,
// -Infinity), which JSON lacks, and the values they stand for.
struct NonFiniteToken {
  absl::string_view text;
  double value;
};
constexpr NonFiniteToken kNonFiniteTokens[] = {
    {"-Infinity", -std::numeric_limits<double>::infinity()},
    {"Infinity", std::numeric_limits<double>::infinity()},
    {"NaN", std::numeric_limits<double>::quiet_NaN()},
};

// Returns `line` with each non-finite token outside a string quoted (NaN ->
// "NaN"), so that the JSON parser accepts it and ParseMetric maps it back.
std::string QuoteNonFiniteTokens(absl::string_view line) {
  std::string out;
  out.reserve(line.size() + 8);
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < line.size()) {
        out += line[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    const NonFiniteToken* token = nullptr;
    for (const NonFiniteToken& candidate : kNonFiniteTokens) {
      if (absl::StartsWith(line.substr(i), candidate.text)) {
        token = &candidate;
        break;
      }
    }
    if (token == nullptr) {
      out += c;
      continue;
    }
    absl::StrAppend(&out, "\"", token->text, "\"");
    i += token->text.size() - 1;
  }
  return out;
}

// A metric value: a number, null (NaN) or a quoted non-finite token.
std::optional<double> ParseMetric(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_null()) return std::nan("");
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    for (const NonFiniteToken& token : kNonFiniteTokens) {
      if (text == token.text) return token.value;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<TrialReport> ParseReportLine(absl::string_view line) {
  const std::string quoted = QuoteNonFiniteTokens(line);
  json doc = json::parse(quoted.begin(), quoted.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
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
  auto checkpoint_it = doc.find("checkpoint");
  if (checkpoint_it != doc.end()) {
    if (report.is_final) return Invalid("a final report cannot be a checkpoint", line);
    if (!checkpoint_it->is_string() || checkpoint_it->get_ref<const std::string&>().empty()) {
      return Invalid("\"checkpoint\" must be a non-empty string", line);
    }
    report.checkpoint = checkpoint_it->get<std::string>();
    return report;
  }
  auto metrics_it = doc.find("metrics");
  if (metrics_it == doc.end() || !metrics_it->is_object()) {
    return Invalid("missing \"metrics\" object", line);
  }
  for (const auto& [name, value] : metrics_it->items()) {
    const std::optional<double> number = ParseMetric(value);
    if (!number.has_value()) {
      return Invalid(absl::StrCat("metric \"", name, "\" is not a number"), line);
    }
    report.metrics[name] = *number;
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

std::string FormatCheckpointReport(int64_t step, absl::string_view directory) {
  json doc = {{"checkpoint", std::string(directory)}, {"step", step}};
  // A path need not be UTF-8; JSON text must be, so bad bytes become U+FFFD.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

nlohmann::json OverlayTrialParams(nlohmann::json settings, const nlohmann::json& params) {
  if (!settings.is_object()) settings = nlohmann::json::object();
  for (const auto& [name, value] : params.items()) settings[name] = value;
  return settings;
}

}  // namespace vernier
