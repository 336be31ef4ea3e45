// Trial listings one page at a time: which of a study's trials a ListTrials
// call answers, in which order, and the opaque token that resumes the listing
// on the next call. Pure functions over a study's trials; the Study calls
// them under its lock, so a page is a consistent snapshot.
//
// A page token resumes *after the last trial returned*, by its place in the
// order (its number, or its objective value and number), not at an offset: a
// trial added or changed between two pages never shifts the others. So in
// number order a listing sees every trial that matches the filter exactly
// once while trials are being created, and in objective order only a trial
// whose own value changes between pages can be seen twice or not at all.
//
// Thread-safety: the functions are pure and thread-safe.
#ifndef VERNIER_SERVER_COORDINATOR_TRIAL_PAGE_H_
#define VERNIER_SERVER_COORDINATOR_TRIAL_PAGE_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/logic/even_spacing.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"

namespace vernier {

// The most trials on one page; a larger page_size is cut to this.
inline constexpr int32_t kMaxTrialPageSize = 1000;

// The order of a listing. Numeric values go into page tokens: keep them.
enum class TrialOrder {
  kNumber = 1,  // Ascending number.
  // Best first by the first objective (ascending when minimized, descending
  // when maximized), ties by number; trials without an objective value (or
  // with NaN) last, by number.
  kObjective = 2,
};

// What a listing asks for.
struct TrialQuery {
  // 0: every matching trial after the token; > 0: at most
  // min(page_size, kMaxTrialPageSize); < 0: INVALID_ARGUMENT.
  int32_t page_size = 0;
  // Empty: from the start; else a TrialPage::next_page_token of a listing of
  // the same study, order and states.
  std::string page_token;
  std::set<TrialState> states;  // Empty: every state.
  TrialOrder order = TrialOrder::kNumber;
  // Leave `intermediate` out of the page's trials (ListedTrial still carries
  // their objective values).
  bool omit_intermediate = false;
  // Thin each listed trial's `intermediate` (ThinnedCurve): at most this many
  // measurements (0: all; < 0: INVALID_ARGUMENT) of only these metrics
  // (empty: all).
  int32_t max_points_per_curve = 0;
  std::set<std::string> curve_metrics;
  // > 0: list only this many of the matching trials, evenly spaced over the
  // whole order (EvenSpacing, positions counted when each page is read),
  // paged as any listing; 0: all; < 0 or above kMaxTrialSampleSize:
  // INVALID_ARGUMENT.
  int32_t sample_size = 0;
  // Only trials numbered min_number or above (>= 0, else INVALID_ARGUMENT);
  // total_size counts only those. A client holding a study's trials reads
  // only the new ones and those that had not ended.
  int64_t min_number = 0;
};

// `curve` as a plot needs it: the measurements holding at least one of
// `metrics` (empty: every one), each with only those metrics; then, when more
// than `max_points` (> 0) remain, `max_points` of them: the first, the last
// and evenly spaced ones between (one point: the last). Order is kept.
std::vector<Measurement> ThinnedCurve(const std::vector<Measurement>& curve, int32_t max_points,
                                      const std::set<std::string>& metrics);

// A trial on a page, with its objective values found (ObjectiveValue) before
// any `intermediate` was left out.
struct ListedTrial {
  TrialRecord trial;  // `intermediate` empty when the query omits it.
  // One per objective of the study, in its order; nullopt where the trial
  // reported none.
  std::vector<std::optional<double>> objective_values;
};

// `trial` as a page lists it: with its objective values (one per
// objective, in order), without its intermediate values when
// `omit_intermediate` (then copied field by field, so that the largest part
// is never copied).
ListedTrial ListedOf(const TrialRecord& trial, const std::vector<ObjectiveSpec>& objectives,
                     bool omit_intermediate);

struct TrialPage {
  std::vector<ListedTrial> trials;
  // Trials matching the query's states, on every page.
  int64_t total_size = 0;
  // Resumes after this page's last trial; empty when no matching trial
  // follows it.
  std::string next_page_token;
};

// The page of `trials` (the trials of study `study`, ascending by number, as
// StudyTrials keeps them) that `query` asks for; `objectives` are the study's
// (objectives[0] orders kObjective). INVALID_ARGUMENT naming page_size when it
// is negative, or page_token when the token is malformed or belongs to a
// listing of another study, order or states filter.
// REQUIRES: trials[i].number == i; `objectives` not empty.
absl::StatusOr<TrialPage> SelectTrialPage(absl::string_view study,
                                          const std::vector<TrialRecord>& trials,
                                          const std::vector<ObjectiveSpec>& objectives,
                                          const TrialQuery& query);
// The same, given `counts`, the trials' counts by state (as StudyTrials keeps
// them): a page by number then reads only the trials from the token's on
// until it is full, not every trial of the study.
absl::StatusOr<TrialPage> SelectTrialPage(absl::string_view study,
                                          const std::vector<TrialRecord>& trials,
                                          const std::map<TrialState, int64_t>& counts,
                                          const std::vector<ObjectiveSpec>& objectives,
                                          const TrialQuery& query);

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_TRIAL_PAGE_H_
