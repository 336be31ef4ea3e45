#include "server/service/proto_convert.h"

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/schema/study_schema.h"

namespace vernier {
namespace {

v1::StudyState ToProto(StudyState state) {
  switch (state) {
    case StudyState::kActive:
      return v1::STUDY_STATE_ACTIVE;
    case StudyState::kStopped:
      return v1::STUDY_STATE_STOPPED;
    case StudyState::kCompleted:
      return v1::STUDY_STATE_COMPLETED;
  }
  return v1::STUDY_STATE_UNSPECIFIED;
}

int64_t UnixMillis(absl::Time time) {
  return time == absl::UnixEpoch() ? 0 : absl::ToUnixMillis(time);
}

}  // namespace

v1::TrialState ToProto(TrialState state) {
  switch (state) {
    case TrialState::kWaiting:
      return v1::TRIAL_STATE_WAITING;
    case TrialState::kRunning:
      return v1::TRIAL_STATE_RUNNING;
    case TrialState::kComplete:
      return v1::TRIAL_STATE_COMPLETE;
    case TrialState::kPruned:
      return v1::TRIAL_STATE_PRUNED;
    case TrialState::kFailed:
      return v1::TRIAL_STATE_FAILED;
    case TrialState::kInfeasible:
      return v1::TRIAL_STATE_INFEASIBLE;
  }
  return v1::TRIAL_STATE_UNSPECIFIED;
}

namespace {

// The domain state whose ToProto is `state`, if any: the one inverse of
// ToProto, so the two directions cannot drift apart.
std::optional<TrialState> TrialStateOf(int state) {
  for (TrialState candidate : {TrialState::kWaiting, TrialState::kRunning, TrialState::kComplete,
                               TrialState::kPruned, TrialState::kFailed, TrialState::kInfeasible}) {
    if (ToProto(candidate) == state) return candidate;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<TrialState> FromProto(v1::TrialState state) {
  std::optional<TrialState> converted = TrialStateOf(state);
  if (converted == TrialState::kComplete || converted == TrialState::kPruned ||
      converted == TrialState::kFailed) {
    return *converted;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("state: a worker reports COMPLETE, PRUNED or FAILED, got ",
                   v1::TrialState_Name(state).empty() ? absl::StrCat(static_cast<int>(state))
                                                      : v1::TrialState_Name(state)));
}

v1::Study ToProto(const StudyView& view) {
  const StudySpec& spec = view.record.spec;
  v1::Study study;
  study.set_name(view.record.name);
  study.set_spec_yaml(view.record.source_text);
  study.set_state(ToProto(view.record.state));
  study.set_state_reason(view.record.state_reason);
  *study.mutable_spec() = StudySpecToProto(spec);
  *study.mutable_objective() = study.spec().objectives(0);
  *study.mutable_objectives() = study.spec().objectives();
  *study.mutable_constraints() = study.spec().constraints();
  study.set_max_trials(spec.budget.max_trials);
  for (const auto& [state, count] : view.trial_counts) {
    if (count > 0) (*study.mutable_trial_counts())[std::string(TrialStateName(state))] = count;
  }
  study.set_create_time_unix_ms(UnixMillis(view.record.create_time));
  study.set_note(view.note);
  return study;
}

void ToProto(const ParamMap& params, google::protobuf::Map<std::string, v1::ParameterValue>* out) {
  for (const auto& [name, value] : params) (*out)[name] = ParamValueToProto(value);
}

namespace {

// A trial's exploits (pbt) as Trial.exploits holds them.
void ExploitsToProto(const std::vector<ExploitRecord>& exploits,
                     google::protobuf::RepeatedPtrField<v1::TrialExploit>* out) {
  for (const ExploitRecord& exploit : exploits) {
    v1::TrialExploit* proto = out->Add();
    proto->set_step(exploit.step);
    proto->set_donor_trial(exploit.donor);
    proto->set_donor_step(exploit.donor_step);
    vernier::ToProto(exploit.params_before, proto->mutable_params_before());
  }
}

// A trial with the values of the study's objectives, in their order (nullopt:
// not reported).
v1::Trial TrialToProto(const TrialRecord& trial,
                       const std::vector<std::optional<double>>& objective_values) {
  v1::Trial out;
  out.set_study(trial.study);
  out.set_number(trial.number);
  vernier::ToProto(trial.params, out.mutable_params());
  out.set_state(vernier::ToProto(trial.state));
  for (const Measurement& m : trial.intermediate) {
    v1::Measurement* proto = out.add_intermediate();
    proto->set_step(m.step);
    proto->mutable_metrics()->insert(m.metrics.begin(), m.metrics.end());
  }
  out.mutable_final_metrics()->insert(trial.final_metrics.begin(), trial.final_metrics.end());
  out.set_failure_reason(trial.failure_reason);
  out.set_worker_id(trial.worker_id);
  out.set_retries(trial.retries);
  out.set_start_time_unix_ms(UnixMillis(trial.start_time));
  out.set_end_time_unix_ms(UnixMillis(trial.end_time));
  if (!objective_values.empty() && objective_values.front()) {
    out.set_objective_value(*objective_values.front());
  }
  for (const std::optional<double>& value : objective_values) {
    out.add_objective_values(value.value_or(std::numeric_limits<double>::quiet_NaN()));
  }
  out.set_origin(trial.origin);
  out.set_excluded(trial.excluded);
  out.set_exclusion_reason(trial.exclusion_reason);
  ExploitsToProto(trial.exploits, out.mutable_exploits());
  return out;
}

absl::StatusOr<TrialState> AnyTrialStateFromProto(int state) {
  std::optional<TrialState> converted = TrialStateOf(state);
  if (converted.has_value()) return *converted;
  return absl::InvalidArgumentError(absl::StrCat(
      "states: ", state, " is not a trial state (WAITING, RUNNING, COMPLETE, PRUNED, FAILED, ",
      "INFEASIBLE)"));
}

}  // namespace

v1::Trial ToProto(const TrialRecord& trial, const std::vector<ObjectiveSpec>& objectives) {
  std::vector<std::optional<double>> values;
  for (const ObjectiveSpec& objective : objectives)
    values.push_back(ObjectiveValue(trial, objective));
  return TrialToProto(trial, values);
}

v1::Trial ToProto(const ListedTrial& listed) {
  return TrialToProto(listed.trial, listed.objective_values);
}

absl::StatusOr<TrialQuery> FromProto(const v1::ListTrialsRequest& request) {
  TrialQuery query;
  query.page_size = request.page_size();
  query.page_token = request.page_token();
  for (int state : request.states()) {
    ASSIGN_OR_RETURN(TrialState converted, AnyTrialStateFromProto(state));
    query.states.insert(converted);
  }
  switch (request.order_by()) {
    case v1::TRIAL_ORDER_UNSPECIFIED:
    case v1::TRIAL_ORDER_NUMBER:
      query.order = TrialOrder::kNumber;
      break;
    case v1::TRIAL_ORDER_OBJECTIVE:
      query.order = TrialOrder::kObjective;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("order_by: ", static_cast<int>(request.order_by()),
                       " is not an order (TRIAL_ORDER_NUMBER, TRIAL_ORDER_OBJECTIVE)"));
  }
  query.omit_intermediate = request.omit_intermediate();
  query.max_points_per_curve = request.max_points_per_curve();
  query.curve_metrics.insert(request.intermediate_metrics().begin(),
                             request.intermediate_metrics().end());
  query.sample_size = request.sample_size();
  query.min_number = request.min_number();
  if (request.curve_only() &&
      (request.intermediate_metrics_size() != 1 || request.omit_intermediate())) {
    return absl::InvalidArgumentError(
        absl::StrCat("curve_only: needs exactly one metric in intermediate_metrics (got ",
                     request.intermediate_metrics_size(), ") and omit_intermediate unset"));
  }
  if (request.columnar()) {
    if (request.curve_only()) {
      return absl::InvalidArgumentError(
          "columnar: columns hold no curves; ask for curve_only without columnar");
    }
    query.omit_intermediate = true;
  }
  return query;
}

v1::Curve CurveToProto(const std::string& metric, const std::vector<Measurement>& measurements) {
  v1::Curve curve;
  curve.set_metric(metric);
  curve.mutable_steps()->Reserve(static_cast<int>(measurements.size()));
  curve.mutable_values()->Reserve(static_cast<int>(measurements.size()));
  for (const Measurement& measurement : measurements) {
    auto value = measurement.metrics.find(metric);
    if (value == measurement.metrics.end()) continue;
    curve.add_steps(measurement.step);
    curve.add_values(value->second);
  }
  return curve;
}

namespace {

// Builds a StringColumn, each distinct string sent once.
class StringColumnBuilder {
 public:
  explicit StringColumnBuilder(v1::StringColumn* out) : out_(out) {}

  void Add(const std::string& value) {
    auto [it, added] = codes_.try_emplace(value, out_->dict_size());
    if (added) out_->add_dict(value);
    out_->add_codes(it->second);
  }

 private:
  v1::StringColumn* out_;
  absl::flat_hash_map<std::string, int32_t> codes_;
};

// One ParamColumn per parameter name any of `trials` has, in name order.
void AddParamColumns(const std::vector<ListedTrial>& trials, v1::TrialColumns* out) {
  std::map<std::string, bool> all_float;  // By name: every value is a double.
  for (const ListedTrial& listed : trials) {
    for (const auto& [name, value] : listed.trial.params) {
      auto [it, added] = all_float.try_emplace(name, true);
      it->second = it->second && std::holds_alternative<double>(value);
    }
  }
  const int size = static_cast<int>(trials.size());
  for (const auto& [name, floats] : all_float) {
    v1::ParamColumn* column = out->add_params();
    column->set_name(name);
    if (floats) {
      column->mutable_numbers()->Reserve(size);
      for (const ListedTrial& listed : trials) {
        auto it = listed.trial.params.find(name);
        column->add_numbers(it == listed.trial.params.end()
                                ? std::numeric_limits<double>::quiet_NaN()
                                : std::get<double>(it->second));
      }
      continue;
    }
    std::map<ParamValue, int32_t> codes;
    column->mutable_codes()->Reserve(size);
    for (const ListedTrial& listed : trials) {
      auto it = listed.trial.params.find(name);
      if (it == listed.trial.params.end()) {
        column->add_codes(-1);
        continue;
      }
      auto [code, added] = codes.try_emplace(it->second, column->dict_size());
      if (added) *column->add_dict() = ParamValueToProto(it->second);
      column->add_codes(code->second);
    }
  }
}

}  // namespace

v1::TrialColumns ColumnsToProto(const std::vector<ListedTrial>& trials) {
  v1::TrialColumns out;
  const int size = static_cast<int>(trials.size());
  const size_t objectives = trials.empty() ? 0 : trials.front().objective_values.size();
  for (size_t k = 0; k < objectives; ++k)
    out.add_objective_values()->mutable_values()->Reserve(size);
  out.mutable_numbers()->Reserve(size);
  out.mutable_states()->Reserve(size);
  out.mutable_start_time_unix_ms()->Reserve(size);
  out.mutable_end_time_unix_ms()->Reserve(size);
  out.mutable_retries()->Reserve(size);
  out.mutable_excluded()->Reserve(size);
  StringColumnBuilder workers(out.mutable_worker_ids());
  StringColumnBuilder origins(out.mutable_origins());
  StringColumnBuilder failure_reasons(out.mutable_failure_reasons());
  for (const ListedTrial& listed : trials) {
    const TrialRecord& trial = listed.trial;
    out.add_numbers(trial.number);
    out.add_states(ToProto(trial.state));
    for (size_t k = 0; k < objectives; ++k) {
      const std::optional<double> value =
          k < listed.objective_values.size() ? listed.objective_values[k] : std::nullopt;
      out.mutable_objective_values(static_cast<int>(k))
          ->add_values(value.value_or(std::numeric_limits<double>::quiet_NaN()));
    }
    out.add_start_time_unix_ms(UnixMillis(trial.start_time));
    out.add_end_time_unix_ms(UnixMillis(trial.end_time));
    workers.Add(trial.worker_id);
    origins.Add(trial.origin);
    out.add_retries(trial.retries);
    failure_reasons.Add(trial.failure_reason);
    out.add_excluded(trial.excluded);
    if (!trial.exploits.empty()) {
      v1::TrialExploits* exploits = out.add_exploits();
      exploits->set_number(trial.number);
      ExploitsToProto(trial.exploits, exploits->mutable_exploits());
    }
  }
  AddParamColumns(trials, &out);
  return out;
}

v1::TrialLease ToProto(const LeaseKey& lease) {
  v1::TrialLease out;
  out.set_study(lease.study);
  out.set_trial_number(lease.trial_number);
  out.set_attempt(lease.attempt);
  return out;
}

LeaseKey FromProto(const v1::TrialLease& lease) {
  return LeaseKey{lease.study(), lease.trial_number(), lease.attempt()};
}

Measurement FromProto(const v1::Measurement& measurement) {
  Measurement out;
  out.step = measurement.step();
  out.metrics.insert(measurement.metrics().begin(), measurement.metrics().end());
  return out;
}

absl::StatusOr<ParamMap> FromProto(
    const google::protobuf::Map<std::string, v1::ParameterValue>& params) {
  ParamMap out;
  for (const auto& [name, value] : params) {
    if (value.kind_case() == v1::ParameterValue::KIND_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat("params.", name, ": no value"));
    }
    ASSIGN_OR_RETURN(out[name], ParamValueFromProto(value, absl::StrCat("params.", name)));
  }
  return out;
}

namespace {

v1::ResyncReason ToProto(ResyncReason reason) {
  switch (reason) {
    case ResyncReason::kStart:
      return v1::RESYNC_REASON_START;
    case ResyncReason::kNewIncarnation:
      return v1::RESYNC_REASON_NEW_INCARNATION;
    case ResyncReason::kEventsDropped:
      return v1::RESYNC_REASON_EVENTS_DROPPED;
    case ResyncReason::kStudyReloaded:
      return v1::RESYNC_REASON_STUDY_RELOADED;
  }
  return v1::RESYNC_REASON_UNSPECIFIED;
}

void AddObjectiveValues(const std::vector<std::optional<double>>& values,
                        google::protobuf::RepeatedField<double>* out) {
  for (const std::optional<double>& value : values) {
    out->Add(value.value_or(std::numeric_limits<double>::quiet_NaN()));
  }
}

}  // namespace

v1::StudyEvent ToProto(const StudyEvent& event) {
  v1::StudyEvent out;
  out.set_sequence(event.sequence);
  out.set_time_unix_ms(UnixMillis(event.time));
  switch (event.kind) {
    case StudyEventKind::kResync:
      out.mutable_resync()->set_reason(ToProto(event.resync_reason));
      break;
    case StudyEventKind::kTrialCreated:
      *out.mutable_trial_created() = ToProto(event.trial);
      break;
    case StudyEventKind::kTrialChanged:
      *out.mutable_trial_changed()->mutable_trial() = ToProto(event.trial);
      out.mutable_trial_changed()->set_previous_state(ToProto(event.previous_state));
      break;
    case StudyEventKind::kMeasurement: {
      v1::StudyEvent::TrialMeasured* measured = out.mutable_measurement();
      measured->set_trial(event.trial_number);
      measured->mutable_measurement()->set_step(event.measurement.step);
      measured->mutable_measurement()->mutable_metrics()->insert(event.measurement.metrics.begin(),
                                                                 event.measurement.metrics.end());
      break;
    }
    case StudyEventKind::kStudyStateChanged:
      out.mutable_study_state_changed()->set_state(ToProto(event.study_state));
      out.mutable_study_state_changed()->set_reason(event.study_state_reason);
      break;
  }
  return out;
}

v1::StudySummary ToProto(const std::string& study, const StudySummary& summary) {
  v1::StudySummary out;
  out.set_study(study);
  out.set_state(ToProto(summary.state));
  for (const auto& [state, count] : summary.trial_counts) {
    if (count > 0) (*out.mutable_trial_counts())[std::string(TrialStateName(state))] = count;
  }
  out.set_max_trials(summary.trial_budget);
  out.set_finished_trials(summary.finished);
  if (summary.best_trial) out.set_best_trial(*summary.best_trial);
  for (double value : summary.best_objective_values) out.add_best_objective_values(value);
  out.set_pareto_front_size(summary.pareto_front_size);
  out.set_finished_per_minute_recent(summary.finished_per_minute_recent);
  out.set_finished_per_minute_overall(summary.finished_per_minute_overall);
  if (summary.eta) out.set_eta_seconds(absl::ToDoubleSeconds(*summary.eta));
  for (const RunningTrialSummary& running : summary.running) {
    v1::RunningTrialSummary* trial = out.add_running();
    trial->set_number(running.number);
    if (running.latest_step) trial->set_latest_step(*running.latest_step);
    if (!running.objective_values.empty() && running.objective_values.front()) {
      trial->set_objective_value(*running.objective_values.front());
    }
    AddObjectiveValues(running.objective_values, trial->mutable_objective_values());
    trial->set_worker_id(running.worker_id);
    trial->set_start_time_unix_ms(UnixMillis(running.start_time));
  }
  out.set_time_unix_ms(UnixMillis(summary.time));
  out.set_wait_reason(summary.wait_reason);
  return out;
}

absl::StatusOr<SlotOffer> FromProto(const v1::AcquireTrialRequest& request) {
  SlotOffer offer;
  offer.name = request.slot();
  if (request.slot_index() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("slot_index: must be >= 0, got ", request.slot_index()));
  }
  offer.index = request.slot_index();
  if (!request.has_resources()) return offer;
  const v1::SlotResources& resources = request.resources();
  if (resources.labels_size() > kMaxSlotLabels) {
    return absl::InvalidArgumentError(absl::StrCat("resources.labels: at most ", kMaxSlotLabels,
                                                   ", got ", resources.labels_size()));
  }
  SlotDescription& slot = offer.description;
  slot.described = true;
  slot.gpus = resources.gpus();
  slot.gpu_model = resources.gpu_model();
  slot.gpu_memory_gb = resources.gpu_memory_gb();
  slot.cpus = resources.cpus();
  slot.memory_gb = resources.memory_gb();
  slot.labels.insert(resources.labels().begin(), resources.labels().end());
  return offer;
}

}  // namespace vernier
