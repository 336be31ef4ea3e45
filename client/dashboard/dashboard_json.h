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
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// /api/trials: `trials` (number order) as one array per field.
nlohmann::json TrialColumnsJson(const v1::Study& study, const std::vector<v1::Trial>& trials);

// /api/curves: each trial's measurements of `metric` as steps and values;
// trials without one are left out. `total_trials`: the study's trial count.
nlohmann::json CurvesJson(const std::string& metric, int64_t total_trials,
                          const std::vector<v1::Trial>& trials);

// /api/trial: one trial whole.
nlohmann::json TrialPageJson(const v1::Trial& trial);

// One Server-Sent Event's data for a WatchStudy event.
nlohmann::json EventJson(const v1::StudyEvent& event);

}  // namespace vernier

#endif  // VERNIER_CLIENT_DASHBOARD_DASHBOARD_JSON_H_
