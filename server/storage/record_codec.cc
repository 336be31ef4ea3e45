#include "server/storage/record_codec.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

using nlohmann::json;

constexpr char kNonFiniteKey[] = "float";

// Length of the UTF-8 sequence that starts with `lead`, or 0 when `lead`
// cannot start one.
int Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // Continuation byte, overlong 2-byte lead (C0, C1), or > U+10FFFF.
}

// The range the byte after `lead` must fall in; it excludes overlong forms,
// UTF-16 surrogates and code points above U+10FFFF.
std::pair<unsigned char, unsigned char> SecondByteRange(unsigned char lead) {
  switch (lead) {
    case 0xE0:
      return {0xA0, 0xBF};
    case 0xED:
      return {0x80, 0x9F};
    case 0xF0:
      return {0x90, 0xBF};
    case 0xF4:
      return {0x80, 0x8F};
    default:
      return {0x80, 0xBF};
  }
}

// "nan", "inf" or "-inf" for a non-finite value.
const char* NonFiniteName(double value) {
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

// The value named by NonFiniteName, or nullopt.
std::optional<double> NonFiniteFromName(const std::string& name) {
  if (name == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (name == "inf") return std::numeric_limits<double>::infinity();
  if (name == "-inf") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

json ParamToJson(const ParamValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return json(*i);
  if (const auto* s = std::get_if<std::string>(&value)) return json(*s);
  const double d = std::get<double>(value);
  if (std::isfinite(d)) return json(d);
  return json{{kNonFiniteKey, NonFiniteName(d)}};
}

std::optional<ParamValue> ParamFromJson(const json& value) {
  if (value.is_number_float()) return ParamValue(value.get<double>());
  if (value.is_number_unsigned()) {
    // The parser reads every non-negative integer as unsigned.
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return ParamValue(static_cast<int64_t>(u));
  }
  if (value.is_number_integer()) return ParamValue(value.get<int64_t>());
  if (value.is_string()) return ParamValue(value.get<std::string>());
  if (value.is_object() && value.size() == 1) {
    const auto it = value.find(kNonFiniteKey);
    if (it == value.end() || !it->is_string()) return std::nullopt;
    const std::optional<double> d = NonFiniteFromName(it->get<std::string>());
    if (d.has_value()) return ParamValue(*d);
  }
  return std::nullopt;
}

std::string Dump(const json& doc) {
  // The records were validated, so `replace` never fires; it only keeps dump()
  // from throwing should that ever be untrue.
  return doc.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                  json::error_handler_t::replace);
}

// Parses `json_text` as a JSON object without throwing.
absl::StatusOr<json> ParseObject(absl::string_view json_text, absl::string_view what) {
  json doc = json::parse(json_text.begin(), json_text.end(), /*cb=*/nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::DataLossError(absl::StrCat("stored ", what, " are not a JSON object"));
  }
  return doc;
}

// The end of the JSON number that starts at `p`, or nullptr when none does:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
const char* ScanJsonNumber(const char* p, const char* end) {
  auto digits = [end](const char* q) {
    while (q != end && *q >= '0' && *q <= '9') ++q;
    return q;
  };
  if (p != end && *p == '-') ++p;
  if (p == end || *p < '0' || *p > '9') return nullptr;
  p = *p == '0' ? p + 1 : digits(p);
  if (p != end && *p == '.') {
    const char* fraction = digits(p + 1);
    if (fraction == p + 1) return nullptr;
    p = fraction;
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '+' || *p == '-')) ++p;
    const char* exponent = digits(p);
    if (exponent == p) return nullptr;
    p = exponent;
  }
  return p;
}

// Decodes exactly the text MetricsToJson writes for finite values: no
// whitespace, no escapes, numbers only. Returns false on anything else, which
// the general parser then handles. LoadAll decodes one metrics object per
// measurement, and this is about ten times faster than the general parser.
bool ParseCompactMetrics(absl::string_view text, MetricMap& metrics) {
  const char* p = text.data();
  const char* const end = p + text.size();
  if (p == end || *p++ != '{') return false;
  if (p != end && *p == '}') return p + 1 == end;
  while (true) {
    if (p == end || *p++ != '"') return false;
    const char* const name = p;
    while (p != end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) ++p;
    if (p == end || *p != '"') return false;
    const absl::string_view key(name, static_cast<size_t>(p - name));
    if (!IsValidUtf8(key)) return false;
    if (++p == end || *p++ != ':') return false;
    const char* const number_end = ScanJsonNumber(p, end);
    if (number_end == nullptr) return false;
    double value = 0;
    const std::from_chars_result parsed = std::from_chars(p, number_end, value);
    if (parsed.ec != std::errc() || parsed.ptr != number_end) return false;
    metrics.insert_or_assign(metrics.end(), std::string(key), value);
    p = number_end;
    if (p == end) return false;
    if (*p == '}') return p + 1 == end;
    if (*p++ != ',') return false;
  }
}

absl::Status ValidateMetricNames(const MetricMap& metrics, absl::string_view field) {
  for (const auto& [name, value] : metrics) {
    if (!IsValidUtf8(name)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": a metric name is not valid UTF-8"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const int length = Utf8SequenceLength(lead);
    if (length == 0 || i + length > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      const auto [low, high] =
          k == 1 ? SecondByteRange(lead) : std::pair<unsigned char, unsigned char>{0x80, 0xBF};
      if (byte < low || byte > high) return false;
    }
    i += length;
  }
  return true;
}

bool IsKnownStudyState(int64_t value) {
  return value >= static_cast<int64_t>(StudyState::kActive) &&
         value <= static_cast<int64_t>(StudyState::kCompleted);
}

bool IsKnownTrialState(int64_t value) {
  return value >= static_cast<int64_t>(TrialState::kWaiting) &&
         value <= static_cast<int64_t>(TrialState::kInfeasible);
}

absl::Status ValidateStudyState(StudyState state) {
  if (IsKnownStudyState(static_cast<int64_t>(state))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("state: unknown study state ", static_cast<int64_t>(state)));
}

absl::Status ValidateStudy(const StudyRecord& study) {
  if (!IsValidUtf8(study.source_text)) {
    return absl::InvalidArgumentError("source_text: not valid UTF-8");
  }
  return ValidateStudyState(study.state);
}

absl::Status ValidateWrite(const StudyWrite& write) {
  if (write.create) {
    if (write.create->name != write.study) {
      return absl::InvalidArgumentError(absl::StrCat("create.name: \"", write.create->name,
                                                     "\" is not the write's study \"", write.study,
                                                     "\""));
    }
    RETURN_IF_ERROR(ValidateStudy(*write.create));
  }
  if (write.state) RETURN_IF_ERROR(ValidateStudyState(write.state->first));
  for (const TrialRecord& trial : write.trials) {
    if (trial.study != write.study) {
      return absl::InvalidArgumentError(absl::StrCat("trials: trial ", trial.number,
                                                     " belongs to study \"", trial.study,
                                                     "\", not \"", write.study, "\""));
    }
    RETURN_IF_ERROR(ValidateTrial(trial));
  }
  for (const auto& [number, measurement] : write.measurements) {
    RETURN_IF_ERROR(ValidateMeasurement(measurement));
  }
  return absl::OkStatus();
}

absl::Status ValidateTrial(const TrialRecord& trial) {
  if (!IsKnownTrialState(static_cast<int64_t>(trial.state))) {
    return absl::InvalidArgumentError(
        absl::StrCat("state: unknown trial state ", static_cast<int64_t>(trial.state)));
  }
  for (const auto& [name, value] : trial.params) {
    const auto* text = std::get_if<std::string>(&value);
    if (!IsValidUtf8(name) || (text != nullptr && !IsValidUtf8(*text))) {
      return absl::InvalidArgumentError("params: a name or value is not valid UTF-8");
    }
  }
  return ValidateMetricNames(trial.final_metrics, "final_metrics");
}

absl::Status ValidateMeasurement(const Measurement& measurement) {
  return ValidateMetricNames(measurement.metrics, "metrics");
}

int64_t TimeToMicros(absl::Time time) { return absl::ToUnixMicros(time); }

absl::Time MicrosToTime(int64_t micros) { return absl::FromUnixMicros(micros); }

absl::Time TruncateToMicros(absl::Time time) { return MicrosToTime(TimeToMicros(time)); }

std::string ParamsToJson(const ParamMap& params) {
  json doc = json::object();
  for (const auto& [name, value] : params) doc[name] = ParamToJson(value);
  return Dump(doc);
}

std::string MetricsToJson(const MetricMap& metrics) {
  json doc = json::object();
  for (const auto& [name, value] : metrics) {
    doc[name] = std::isfinite(value) ? json(value) : json(NonFiniteName(value));
  }
  return Dump(doc);
}

absl::StatusOr<ParamMap> ParamsFromJson(absl::string_view json_text) {
  absl::StatusOr<json> doc = ParseObject(json_text, "params");
  if (!doc.ok()) return doc.status();
  ParamMap params;
  for (const auto& [name, value] : doc->items()) {
    std::optional<ParamValue> param = ParamFromJson(value);
    if (!param.has_value()) {
      return absl::DataLossError(absl::StrCat("stored param \"", name, "\" has no valid value"));
    }
    params.emplace(name, *std::move(param));
  }
  return params;
}

absl::StatusOr<MetricMap> MetricsFromJson(absl::string_view json_text) {
  MetricMap metrics;
  if (ParseCompactMetrics(json_text, metrics)) return metrics;
  metrics.clear();
  absl::StatusOr<json> doc = ParseObject(json_text, "metrics");
  if (!doc.ok()) return doc.status();
  for (const auto& [name, value] : doc->items()) {
    std::optional<double> number;
    if (value.is_number()) {
      number = value.get<double>();
    } else if (value.is_string()) {
      number = NonFiniteFromName(value.get<std::string>());
    }
    if (!number.has_value()) {
      return absl::DataLossError(absl::StrCat("stored metric \"", name, "\" is not a number"));
    }
    metrics.insert_or_assign(name, *number);
  }
  return metrics;
}

std::string ExploitsToJson(const std::vector<ExploitRecord>& exploits) {
  json doc = json::array();
  for (const ExploitRecord& exploit : exploits) {
    json params = json::object();
    for (const auto& [name, value] : exploit.params_before) params[name] = ParamToJson(value);
    doc.push_back({{"step", exploit.step},
                   {"donor", exploit.donor},
                   {"donor_step", exploit.donor_step},
                   {"params_before", std::move(params)}});
  }
  return Dump(doc);
}

absl::StatusOr<std::vector<ExploitRecord>> ExploitsFromJson(absl::string_view json_text) {
  const json doc = json::parse(json_text.begin(), json_text.end(), /*cb=*/nullptr,
                               /*allow_exceptions=*/false);
  if (!doc.is_array()) return absl::DataLossError("stored exploits are not a JSON array");
  std::vector<ExploitRecord> exploits;
  for (const json& item : doc) {
    const auto step = item.find("step");
    const auto donor = item.find("donor");
    const auto donor_step = item.find("donor_step");
    const auto params = item.find("params_before");
    if (!item.is_object() || step == item.end() || !step->is_number_integer() ||
        donor == item.end() || !donor->is_number_integer() || donor_step == item.end() ||
        !donor_step->is_number_integer() || params == item.end() || !params->is_object()) {
      return absl::DataLossError("a stored exploit lacks step, donor, donor_step or params_before");
    }
    ExploitRecord exploit;
    exploit.step = step->get<int64_t>();
    exploit.donor = donor->get<int64_t>();
    exploit.donor_step = donor_step->get<int64_t>();
    for (const auto& [name, value] : params->items()) {
      std::optional<ParamValue> param = ParamFromJson(value);
      if (!param.has_value()) {
        return absl::DataLossError(
            absl::StrCat("stored exploit param \"", name, "\" has no valid value"));
      }
      exploit.params_before.emplace(name, *std::move(param));
    }
    exploits.push_back(std::move(exploit));
  }
  return exploits;
}

}  // namespace vernier
