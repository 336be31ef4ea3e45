// libFuzzer target: the trial-protocol line parser (common/trial_protocol.h),
// which reads whatever a trial program writes on its report channel.
// Contract checked: it never crashes or trips a sanitizer; an accepted
// intermediate report has a step >= 0; formatting an accepted report and
// parsing it again gives the same report (NaN stays NaN; +-inf becomes NaN,
// as JSON has no infinities). Error messages echo the raw line, so they need
// not be UTF-8: the worker makes failure reasons valid UTF-8
// (worker/trial_outcome.h ToValidUtf8).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/trial_protocol.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

bool SameValue(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b)) return !std::isfinite(a) && std::isnan(b);
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<vernier::TrialReport> report = vernier::ParseReportLine(line);
  if (!report.ok()) {
    VERNIER_FUZZ_CHECK(report.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  VERNIER_FUZZ_CHECK(report->is_final || report->step >= 0);
  const std::string again =
      report->is_checkpoint() ? vernier::FormatCheckpointReport(report->step, report->checkpoint)
      : report->is_final      ? vernier::FormatFinalReport(report->metrics)
                              : vernier::FormatIntermediateReport(report->step, report->metrics);
  absl::StatusOr<vernier::TrialReport> reparsed = vernier::ParseReportLine(again);
  VERNIER_FUZZ_CHECK(reparsed.ok());
  VERNIER_FUZZ_CHECK(reparsed->is_final == report->is_final);
  VERNIER_FUZZ_CHECK(reparsed->checkpoint == report->checkpoint);
  VERNIER_FUZZ_CHECK(report->is_final || reparsed->step == report->step);
  VERNIER_FUZZ_CHECK(reparsed->metrics.size() == report->metrics.size());
  for (const auto& [name, value] : report->metrics) {
    auto it = reparsed->metrics.find(name);
    VERNIER_FUZZ_CHECK(it != reparsed->metrics.end() && SameValue(value, it->second));
  }
  return 0;
}
