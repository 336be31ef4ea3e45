// Conversions between the coordinator's domain types and vernier.v1 protos
// (the study's spec itself converts in server/schema). Pure functions;
// thread-safe.
#ifndef VERNIER_SERVER_SERVICE_PROTO_CONVERT_H_
#define VERNIER_SERVER_SERVICE_PROTO_CONVERT_H_

#include <string>
#include <vector>

#include "server/coordinator/coordinator.h"
#include "vernier/v1/study.pb.h"
#include "vernier/v1/study_service.pb.h"
#include "vernier/v1/worker_service.pb.h"

namespace vernier {

v1::Study ToProto(const StudyView& view);
// A trial with its objective's value (objectives[0]) and every objective's
// value in order (NaN where it reported none).
v1::Trial ToProto(const TrialRecord& trial, const std::vector<ObjectiveSpec>& objectives);
// A trial of a page: its objective values are those found before any
// `intermediate` was left out.
v1::Trial ToProto(const ListedTrial& listed);
v1::TrialState ToProto(TrialState state);
// ListTrials' request as a query: INVALID_ARGUMENT naming `states` for
// TRIAL_STATE_UNSPECIFIED or an unknown state, `order_by` for an unknown
// order, `curve_only` without exactly one intermediate metric, `columnar`
// with curve_only (columnar omits the intermediate values). page_size,
// page_token and sample_size are checked by SelectTrialPage.
absl::StatusOr<TrialQuery> FromProto(const v1::ListTrialsRequest& request);
// The values of `metric` in `measurements`, packed (measurements without it
// are left out).
v1::Curve CurveToProto(const std::string& metric, const std::vector<Measurement>& measurements);
// A page's trials as columns (ListTrialsRequest.columnar).
v1::TrialColumns ColumnsToProto(const std::vector<ListedTrial>& trials);
v1::TrialLease ToProto(const LeaseKey& lease);
LeaseKey FromProto(const v1::TrialLease& lease);
Measurement FromProto(const v1::Measurement& measurement);
// INVALID_ARGUMENT for states a worker may not report.
absl::StatusOr<TrialState> FromProto(v1::TrialState state);
// A trial's parameters; INVALID_ARGUMENT naming a parameter without a value.
absl::StatusOr<ParamMap> FromProto(
    const google::protobuf::Map<std::string, v1::ParameterValue>& params);
// Parameters into a proto map.
void ToProto(const ParamMap& params, google::protobuf::Map<std::string, v1::ParameterValue>* out);
// An event of a study; its incarnation is left for the caller to set.
v1::StudyEvent ToProto(const StudyEvent& event);
// The summary of study `study`.
v1::StudySummary ToProto(const std::string& study, const StudySummary& summary);
// The most labels a slot may carry.
inline constexpr int kMaxSlotLabels = 64;
// The slot asking for a trial; one without `resources` is undescribed.
// INVALID_ARGUMENT naming slot_index when negative or resources.labels when
// there are more than kMaxSlotLabels.
absl::StatusOr<SlotOffer> FromProto(const v1::AcquireTrialRequest& request);

}  // namespace vernier

#endif  // VERNIER_SERVER_SERVICE_PROTO_CONVERT_H_
