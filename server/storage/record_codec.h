// How records look at rest, shared by every StudyStore implementation so that
// they all accept, reject and round-trip exactly the same values:
//   - checks on records before they are stored (valid enum values, UTF-8 text
//     wherever the text ends up inside JSON);
//   - times kept at microsecond precision;
//   - the JSON text of parameters and metrics (used by the SQLite store).
//
// JSON encodings (stable: they are stored in SQLite files):
//   params:  {"lr": 0.01, "layers": 3, "opt": "adam"}. A double is always
//            written with a '.' or an exponent (3.0 is "3.0"), an int64 never
//            is, so the variant type survives. A non-finite double, which
//            JSON cannot hold, is written as {"float": "nan" | "inf" | "-inf"}.
//   metrics: {"acc": 0.81, "loss": "nan"}: numbers, or the strings "nan",
//            "inf" and "-inf" for the values JSON cannot hold.
// Doubles are written in their shortest form that parses back to the same
// bits (except NaN payloads, which are not kept).
//
// Thread-safety: all functions are pure and thread-safe.
#ifndef VERNIER_SERVER_STORAGE_RECORD_CODEC_H_
#define VERNIER_SERVER_STORAGE_RECORD_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/logic/study_record.h"
#include "server/logic/types.h"
#include "server/storage/study_store.h"

namespace vernier {

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// True when `value` is one of the enumerators of StudyState / TrialState.
bool IsKnownStudyState(int64_t value);
bool IsKnownTrialState(int64_t value);

// Checks what every store requires of a record before it stores it. Returns
// INVALID_ARGUMENT naming the field: an unknown state, or a parameter name,
// string parameter value or metric name that is not valid UTF-8.
absl::Status ValidateStudy(const StudyRecord& study);
absl::Status ValidateStudyState(StudyState state);
absl::Status ValidateTrial(const TrialRecord& trial);
absl::Status ValidateMeasurement(const Measurement& measurement);
// Every record of `write` as above, and that each belongs to write.study
// (INVALID_ARGUMENT naming the field otherwise).
absl::Status ValidateWrite(const StudyWrite& write);

// Times are stored as whole microseconds since the Unix epoch (rounded down;
// the infinite times saturate to the extreme int64 values). TruncateToMicros
// returns the time a store gives back for `time`.
int64_t TimeToMicros(absl::Time time);
absl::Time MicrosToTime(int64_t micros);
absl::Time TruncateToMicros(absl::Time time);

// Encodes parameters / metrics as described above.
// REQUIRES: the names and string values passed the Validate* checks.
std::string ParamsToJson(const ParamMap& params);
std::string MetricsToJson(const MetricMap& metrics);

// Decodes what ParamsToJson / MetricsToJson wrote. Returns DATA_LOSS when the
// text is not such an encoding (a damaged or hand-edited row).
absl::StatusOr<ParamMap> ParamsFromJson(absl::string_view json_text);
absl::StatusOr<MetricMap> MetricsFromJson(absl::string_view json_text);

// pbt exploit records (TrialRecord::exploits): a JSON array of
// {"step": 4, "donor": 2, "donor_step": 4, "params_before": {params as above}};
// "[]" when there are none. ExploitsFromJson returns DATA_LOSS for text that
// is not such an encoding.
std::string ExploitsToJson(const std::vector<ExploitRecord>& exploits);
absl::StatusOr<std::vector<ExploitRecord>> ExploitsFromJson(absl::string_view json_text);

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_RECORD_CODEC_H_
