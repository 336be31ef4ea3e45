// The trial protocol: how a worker talks to the program that runs one trial.
//
// The worker starts the trial program as a child process with these
// environment variables (names below are the contract; README documents them):
//   VERNIER_PARAMS_FILE  path of a JSON object: the trial's parameters, the
//                        study's fixed trainer settings merged underneath.
//   VERNIER_REPORT_FD    a file descriptor (usually 3) open for writing: the
//                        dedicated report channel. When unset, a trial
//                        program writes its reports to stdout.
//   VERNIER_STUDY        the study name.
//   VERNIER_TRIAL        the trial number within the study (0, 1, 2, ...).
//   VERNIER_DEVICE       "cpu" or "cuda" (with CUDA_VISIBLE_DEVICES pinned).
//   VERNIER_NUM_THREADS  intra-op threads the trial may use.
//   VERNIER_TRIAL_DIR    a private, writable directory for the trial's files.
//   VERNIER_ARTIFACT_DIR an empty directory (<trial dir>/artifacts) for files
//                        the user should get back: a trained model, plots.
//                        When the program ends (COMPLETE, PRUNED or FAILED),
//                        the worker uploads every regular file under it
//                        (recursively; symbolic links are not followed) to
//                        the server, which keeps them as the study's
//                        `artifacts` policy says (`vernier artifacts get`).
//                        Paths are letters, digits and . _ - + = , @ per
//                        segment (common/artifact_path.h). Over the study's
//                        artifacts.max_bytes (default 1 GiB) nothing is kept
//                        and the trial ends FAILED, its reason naming the
//                        size and the limit; a bad path fails it the same way.
//
// Each report is one JSON object on one line:
//   intermediate: {"step": 3, "metrics": {"val_accuracy": 0.81, "val_loss": 0.5}}
//   final:        {"final": true, "metrics": {"val_accuracy": 0.85, ...}}
//   checkpoint:   {"checkpoint": "/trial/dir/checkpoint", "step": 4}
// A checkpoint report announces that the directory (a path, absolute or
// relative to the trial's working directory) now holds a complete checkpoint
// taken after `step`, e.g. written with temp files and renames; the worker
// copies it at once and, in a pbt study, uploads it to the server. It should
// come before the step's intermediate report. A program that can resume reads
// "resume_from" (a checkpoint directory) from its parameters: the worker sets
// it when a pbt exploit restarts the trial from another trial's checkpoint.
// Metric values are numbers; steps are non-negative integers (epochs for the
// built-in trainer). Lines that are not reports are rejected by the parser.
//
// Stopping: SIGTERM, a grace period, then SIGKILL. Exit status 0 with a final
// report is COMPLETE; anything else without a final report is FAILED.
//
// Thread-safety: all functions here are pure and thread-safe.
#ifndef VERNIER_COMMON_TRIAL_PROTOCOL_H_
#define VERNIER_COMMON_TRIAL_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace vernier {

inline constexpr char kEnvParamsFile[] = "VERNIER_PARAMS_FILE";
inline constexpr char kEnvReportFd[] = "VERNIER_REPORT_FD";
inline constexpr char kEnvStudy[] = "VERNIER_STUDY";
inline constexpr char kEnvTrial[] = "VERNIER_TRIAL";
inline constexpr char kEnvDevice[] = "VERNIER_DEVICE";
inline constexpr char kEnvNumThreads[] = "VERNIER_NUM_THREADS";
inline constexpr char kEnvTrialDir[] = "VERNIER_TRIAL_DIR";
// A directory whose files the worker uploads for the user when the trial ends
// (the built-in trainer saves its model under model/ there).
inline constexpr char kEnvArtifactDir[] = "VERNIER_ARTIFACT_DIR";

// Metric name -> value. Ordered so that formatted output is stable.
using MetricMap = std::map<std::string, double>;

// One parsed report line.
struct TrialReport {
  bool is_final = false;
  int64_t step = 0;  // Meaningful only when !is_final.
  MetricMap metrics;
  // A checkpoint report: the checkpoint directory (never empty then; metrics
  // are empty).
  std::string checkpoint;

  bool is_checkpoint() const { return !checkpoint.empty(); }
};

// The object behind VERNIER_PARAMS_FILE: the study's fixed trainer
// `settings` (a JSON object) with each of the trial's `params` (a JSON object)
// put over it, so a searched parameter wins over a fixed setting of the same
// name. A `settings` that is not an object counts as empty.
nlohmann::json OverlayTrialParams(nlohmann::json settings, const nlohmann::json& params);

// Parses one report line. Returns INVALID_ARGUMENT naming what is wrong when the
// line is not valid JSON, not an object, lacks "step" (for an intermediate
// report) or "metrics", has a negative step, or a non-numeric metric value; a
// checkpoint report needs a non-empty "checkpoint" string and "step", and may
// not be final.
// A metric may be null (NaN) or, as Python's json.dumps writes non-finite
// floats, NaN, Infinity or -Infinity (bare or quoted).
absl::StatusOr<TrialReport> ParseReportLine(absl::string_view line);

// Formats a report as one line without the trailing newline.
std::string FormatIntermediateReport(int64_t step, const MetricMap& metrics);
std::string FormatFinalReport(const MetricMap& metrics);
std::string FormatCheckpointReport(int64_t step, absl::string_view directory);

}  // namespace vernier

#endif  // VERNIER_COMMON_TRIAL_PROTOCOL_H_
