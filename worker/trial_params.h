// The file behind VERNIER_PARAMS_FILE, built on the worker from what the
// coordinator sends once: the study's trainer settings (settings_json) and the
// trial's typed parameters (the trial's params, or an exploit's new ones).
//
// Thread-safety: pure functions; thread-safe.
#ifndef VERNIER_WORKER_TRIAL_PARAMS_H_
#define VERNIER_WORKER_TRIAL_PARAMS_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "vernier/v1/study_spec.pb.h"

namespace vernier::worker {

using ProtoParams = google::protobuf::Map<std::string, v1::ParameterValue>;

// The JSON object text of the params file: `settings_json` (a JSON object;
// empty means none) with `params` put over it (OverlayTrialParams): ints stay
// ints, floats floats, categorical values strings. INVALID_ARGUMENT when
// `settings_json` is not a JSON object or a parameter has no value.
absl::StatusOr<std::string> TrialParamsFile(const std::string& settings_json,
                                            const ProtoParams& params);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_TRIAL_PARAMS_H_
