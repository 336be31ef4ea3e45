// The JSON of the dashboard's HTTP API (docs/dashboard-api.md), made from the
// gRPC API's messages, and the parsing of its query parameters. Pure
// functions, no I/O: client/dashboard/dashboard_server.cc calls the server
// and answers with these.
//
// Numbers that are not finite (a NaN objective value: none reported) are
// JSON null, so that a browser's JSON.parse reads every answer.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_CLIENT_DASHBOARD_DASHBOARD_JSON_H_
#define VERNIER_CLIENT_DASHBOARD_DASHBOARD_JSON_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/study.pb.h"
#include "vernier/v1/study_service.pb.h"

namespace vernier {

// An HTTP request's query parameters (httplib::Params is this type).
using QueryParams = std::multimap<std::string, std::string>;

// The value of query parameter `name`. INVALID_ARGUMENT naming it when it is
// missing or empty.
absl::StatusOr<std::string> RequiredParam(const QueryParams& params, const std::string& name);

// Query parameter `name` as a whole number in [min, max]; `fallback` when it
// is absent. INVALID_ARGUMENT naming it, the value and the range otherwise.
absl::StatusOr<int64_t> IntParam(const QueryParams& params, const std::string& name,
                                 int64_t fallback, int64_t min, int64_t max);

// The HTTP status for an error of the dashboard or of vernier-server: 400
// INVALID_ARGUMENT / OUT_OF_RANGE, 401 UNAUTHENTICATED / PERMISSION_DENIED,
// 404 NOT_FOUND, 409 FAILED_PRECONDITION, 503 UNAVAILABLE /
// DEADLINE_EXCEEDED, 502 anything else.
int HttpStatusOf(absl::StatusCode code);

// {"error": message}.
nlohmann::json ErrorJson(const absl::Status& status);

// The sampler's and the pruner's names as in the study file ("tpe",
// "median"); "random" / "none" when unset.
std::string SamplerName(const v1::StudySpec& spec);
std::string PrunerName(const v1::StudySpec& spec);

// STUDY of the API: name, state, state_reason, objectives, max_trials,
// counts, best (the summary's best values; null when none or when `summary`
// is null), sampler, pruner, create_time_ms.
nlohmann::json StudyJson(const v1::Study& study, const v1::StudySummary* summary);

// The summary object of /api/study.
nlohmann::json SummaryJson(const v1::StudySummary& summary);

// /api/study: {"study": StudyJson + spec_yaml + params, "summary": ...}.
nlohmann::json StudyPageJson(const v1::Study& study, const v1::StudySummary& summary);

// Pieces of text joined into one string by a single allocation and copy
// (StrCat of a 100,000-trial answer's columns zero-filled and copied ~10 MB
// twice). A piece added as a view must outlive Join().
class TextPieces {
 public:
  void Add(absl::string_view piece);
  // A piece made here (kept until the TextPieces goes).
  void AddOwned(std::string piece);
  std::string Join() const;

 private:
  std::vector<absl::string_view> pieces_;
  std::vector<std::unique_ptr<std::string>> owned_;
  size_t size_ = 0;
};

// Significant digits a reader of /api/trials or /api/curves may ask floats
// to be rounded to (`digits`); 0 means exact.
inline constexpr int kMaxDigits = 17;

// One column of /api/trials: a JSON array written entry by entry.
class JsonColumn {
 public:
  // `digits`: AppendDouble's significant digits, in [1, kMaxDigits]; 0 (the
  // default) writes the shortest text that reads back as the value.
  explicit JsonColumn(int digits = 0) : digits_(digits) {}

  void AppendNull();
  void AppendInt(int64_t value);
  // `value` to the column's digits; null when it is not finite.
  void AppendDouble(double value);
  // `json`: one JSON value's text, written as it is.
  void AppendJson(absl::string_view json);
  // "[e0,e1,...]".
  std::string Array() const;
  // The same, added to `out` (which then refers to this column).
  void AddArrayTo(TextPieces& out) const;
  // Room for the text of `expected` entries, at the length per entry of
  // those written so far (a hint: more or fewer may come).
  void ReserveFor(int64_t written, int64_t expected);

 private:
  void Separate();

  int digits_;
  std::string text_;
  bool empty_ = true;
};

// A column of values that repeat (states, workers, categorical choices): each
// distinct value is sent once, as {"dict": [v0, v1, ...], "codes": [c0,
// ...]}, where entry i is dict[codes[i]] and a null code means no value.
class DictColumn {
 public:
  void AppendNull();
  // `json`: the value's JSON text (a string is quoted).
  void AppendJson(const std::string& json);
  void AppendString(const std::string& value);
  // The code of a value (added to the dict when new), to append later with
  // AppendCode: a column of many entries looks each distinct value up once.
  int64_t CodeOfJson(const std::string& json);
  int64_t CodeOfString(const std::string& value);
  void AppendCode(int64_t code);
  std::string Object() const;
  // The same, added to `out` (which then refers to this column).
  void AddObjectTo(TextPieces& out) const;
  void ReserveFor(int64_t written, int64_t expected);

 private:
  // By JSON text; and by the raw string for AppendString, which then needs
  // no JSON text for a value it has seen (the common case: every trial's
  // state and worker).
  absl::flat_hash_map<std::string, int64_t> code_of_;
  absl::flat_hash_map<std::string, int64_t> string_code_of_;
  JsonColumn dict_;
  JsonColumn codes_;
};

// /api/trials of docs/dashboard-api.md, written a trial at a time, so that a
// study of any size is paged through instead of held whole: one column per
// field, entry i is the i-th trial added (the caller adds them in number
// order). Repeating strings are DictColumns; times are milliseconds after
// "time_base_ms" (the study's creation), null while unset.
//
// Thread-safety: not thread-safe; one writer per answer.
class TrialColumnsWriter {
 public:
  // `digits`: the objective values' and float parameters' significant
  // digits (0: exact; see JsonColumn).
  explicit TrialColumnsWriter(const v1::Study& study, int digits = 0);

  void Add(const v1::Trial& trial);
  // The trials of a ListTrials page asked for as columns, as Add would
  // write them one by one. INTERNAL when the columns differ in length.
  absl::Status AddColumns(const v1::TrialColumns& columns);
  // A hint that `total` trials will be added in all (e.g. the first page's
  // total_size): the columns make room for them at once instead of growing
  // (and copying) as they come.
  void ExpectTrials(int64_t total);
  // The whole answer's JSON text.
  std::string Finish() const;

 private:
  // A parameter's column: categorical ones (by the study's spec) as a
  // DictColumn, others as numbers (or JSON values for a parameter the spec
  // does not name).
  struct ParamColumn {
    bool categorical = false;
    JsonColumn values;
    DictColumn choices;
  };
  ParamColumn& ParamColumnFor(const std::string& name);
  // Appends a trial's value of the parameter (null: it has none).
  static void AppendParam(ParamColumn& column, const v1::ParameterValue* value);
  // Appends `param`'s entries (`rows` of them), or nulls when it is null.
  static void AppendParamColumn(ParamColumn& column, const v1::ParamColumn* param, int rows);
  void AppendTime(JsonColumn& column, int64_t unix_ms) const;

  v1::Study study_;
  int digits_;
  int objectives_;
  int64_t time_base_ms_;
  int64_t added_ = 0;
  JsonColumn numbers_;
  DictColumn states_;
  std::vector<JsonColumn> values_;
  // By name; spec_order_ lists the study's parameters first, in its order.
  std::map<std::string, ParamColumn> params_;
  std::vector<std::string> spec_order_;
  JsonColumn start_;
  JsonColumn end_;
  DictColumn workers_;
  DictColumn origins_;
  JsonColumn retries_;
  DictColumn failure_reasons_;
  nlohmann::json exploits_ = nlohmann::json::object();
};

// /api/curves: each trial's measurements of `metric` as steps and values
// (from Trial.curve, or from its intermediate measurements); trials without
// one are left out. `total_trials`: the study's trial count.
// `digits`: the values' significant digits (0: exact; see JsonColumn).
std::string CurvesJson(const std::string& metric, int64_t total_trials,
                       const std::vector<v1::Trial>& trials, int digits = 0);

// /api/trial: one trial whole.
nlohmann::json TrialPageJson(const v1::Trial& trial);

// One Server-Sent Event's data for a WatchStudy event.
nlohmann::json EventJson(const v1::StudyEvent& event);

}  // namespace vernier

#endif  // VERNIER_CLIENT_DASHBOARD_DASHBOARD_JSON_H_
