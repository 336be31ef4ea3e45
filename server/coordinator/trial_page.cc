#include "server/coordinator/trial_page.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/coordinator/judge.h"

namespace vernier {
namespace {

// Where a trial stands in a listing's order. For kNumber only `number` counts.
struct SortKey {
  std::optional<double> value;  // The first objective's; never NaN.
  int64_t number = 0;
};

// True when `a` comes before `b` in objective order.
bool Before(const SortKey& a, const SortKey& b, Goal goal) {
  if (a.value.has_value() != b.value.has_value()) return a.value.has_value();
  if (a.value && *a.value != *b.value) {
    return goal == Goal::kMinimize ? *a.value < *b.value : *a.value > *b.value;
  }
  return a.number < b.number;
}

SortKey KeyOf(const TrialRecord& trial, const ObjectiveSpec& objective) {
  std::optional<double> value = ObjectiveValue(trial, objective);
  if (value && std::isnan(*value)) value.reset();
  return SortKey{value, trial.number};
}

// The states filter as a bit set (bit i: state i), for the token.
uint32_t StateMask(const std::set<TrialState>& states) {
  uint32_t mask = 0;
  for (TrialState state : states) mask |= 1u << static_cast<int>(state);
  return mask;
}

uint64_t BitsOf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

double FromBits(uint64_t bits) {
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// A token: "v1;ORDER;STATES;CURSOR;STUDY", base64url. CURSOR is the last
// trial's number, and in objective order ",BITS" of its value (hex) or ",-".
// The study goes last: its name holds no ';'.
std::string MakeToken(absl::string_view study, const TrialQuery& query, const SortKey& last) {
  std::string cursor = absl::StrCat(last.number);
  if (query.order == TrialOrder::kObjective) {
    absl::StrAppend(&cursor, ",", last.value ? absl::StrCat(absl::Hex(BitsOf(*last.value))) : "-");
  }
  return absl::WebSafeBase64Escape(absl::StrCat("v1;", static_cast<int>(query.order), ";",
                                                StateMask(query.states), ";", cursor, ";", study));
}

absl::Status BadToken(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("page_token: ", why));
}

// The cursor of `query.page_token`; nullopt for the first page.
absl::StatusOr<std::optional<SortKey>> ParseToken(absl::string_view study,
                                                  const TrialQuery& query) {
  if (query.page_token.empty()) return std::nullopt;
  constexpr absl::string_view kMalformed =
      "malformed; pass the next_page_token of the previous answer unchanged";
  std::string text;
  if (!absl::WebSafeBase64Unescape(query.page_token, &text)) return BadToken(kMalformed);
  const std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(';', 4));
  if (parts.size() != 5 || parts[0] != "v1") return BadToken(kMalformed);
  if (parts[1] != absl::StrCat(static_cast<int>(query.order)) ||
      parts[2] != absl::StrCat(StateMask(query.states)) || parts[4] != study) {
    return BadToken(
        "from a listing of another study, order_by or states; a token only resumes the listing "
        "it came from");
  }
  const std::vector<absl::string_view> cursor = absl::StrSplit(parts[3], ',');
  SortKey key;
  if (!absl::SimpleAtoi(cursor[0], &key.number) || key.number < 0) return BadToken(kMalformed);
  if (query.order == TrialOrder::kNumber) {
    if (cursor.size() != 1) return BadToken(kMalformed);
    return key;
  }
  if (cursor.size() != 2) return BadToken(kMalformed);
  if (cursor[1] != "-") {
    uint64_t bits = 0;
    if (!absl::SimpleHexAtoi(cursor[1], &bits) || std::isnan(FromBits(bits))) {
      return BadToken(kMalformed);
    }
    key.value = FromBits(bits);
  }
  return key;
}

// `trial` without its intermediate values, copied field by field so that the
// largest part is never copied (this runs under the study's lock).
TrialRecord WithoutIntermediate(const TrialRecord& trial) {
  TrialRecord out;
  out.study = trial.study;
  out.number = trial.number;
  out.params = trial.params;
  out.state = trial.state;
  out.final_metrics = trial.final_metrics;
  out.failure_reason = trial.failure_reason;
  out.worker_id = trial.worker_id;
  out.attempt = trial.attempt;
  out.retries = trial.retries;
  out.start_time = trial.start_time;
  out.end_time = trial.end_time;
  out.origin = trial.origin;
  out.exploits = trial.exploits;
  return out;
}

// How many of `trials` (counted by state in `counts`) match `query`'s states.
// The index of the first trial numbered query.min_number or above.
size_t FirstInRange(const std::vector<TrialRecord>& trials, const TrialQuery& query) {
  return static_cast<size_t>(std::min<int64_t>(query.min_number, trials.size()));
}

int64_t MatchingCount(const std::vector<TrialRecord>& trials,
                      const std::map<TrialState, int64_t>& counts, const TrialQuery& query) {
  if (query.min_number > 0) {
    int64_t total = 0;
    for (size_t i = FirstInRange(trials, query); i < trials.size(); ++i) {
      total += query.states.empty() || query.states.count(trials[i].state) > 0;
    }
    return total;
  }
  if (query.states.empty()) return static_cast<int64_t>(trials.size());
  int64_t total = 0;
  for (TrialState state : query.states) {
    auto it = counts.find(state);
    if (it != counts.end()) total += it->second;
  }
  return total;
}

}  // namespace

std::vector<Measurement> ThinnedCurve(const std::vector<Measurement>& curve, int32_t max_points,
                                      const std::set<std::string>& metrics) {
  std::vector<const Measurement*> kept;
  kept.reserve(curve.size());
  for (const Measurement& measurement : curve) {
    const bool holds_one =
        metrics.empty() || std::any_of(metrics.begin(), metrics.end(), [&](const std::string& m) {
          return measurement.metrics.count(m) > 0;
        });
    if (holds_one) kept.push_back(&measurement);
  }
  std::vector<size_t> chosen;
  const size_t n = kept.size();
  if (max_points <= 0 || n <= static_cast<size_t>(max_points)) {
    for (size_t i = 0; i < n; ++i) chosen.push_back(i);
  } else if (max_points == 1) {
    chosen.push_back(n - 1);
  } else {
    // Index i of max_points spread over [0, n - 1], rounded: strictly
    // increasing because n > max_points.
    const size_t points = static_cast<size_t>(max_points);
    for (size_t i = 0; i < points; ++i)
      chosen.push_back((i * (n - 1) + (points - 1) / 2) / (points - 1));
  }
  std::vector<Measurement> out;
  out.reserve(chosen.size());
  for (size_t index : chosen) {
    const Measurement& source = *kept[index];
    if (metrics.empty()) {
      out.push_back(source);
      continue;
    }
    Measurement thinned;
    thinned.step = source.step;
    for (const std::string& metric : metrics) {
      auto it = source.metrics.find(metric);
      if (it != source.metrics.end()) thinned.metrics.insert(*it);
    }
    out.push_back(std::move(thinned));
  }
  return out;
}

ListedTrial ListedOf(const TrialRecord& trial, const std::vector<ObjectiveSpec>& objectives,
                     bool omit_intermediate) {
  ListedTrial listed;
  for (const ObjectiveSpec& objective : objectives) {
    listed.objective_values.push_back(ObjectiveValue(trial, objective));
  }
  listed.trial = omit_intermediate ? WithoutIntermediate(trial) : trial;
  return listed;
}

absl::StatusOr<TrialPage> SelectTrialPage(absl::string_view study,
                                          const std::vector<TrialRecord>& trials,
                                          const std::vector<ObjectiveSpec>& objectives,
                                          const TrialQuery& query) {
  std::map<TrialState, int64_t> counts;
  for (const TrialRecord& trial : trials) ++counts[trial.state];
  return SelectTrialPage(study, trials, counts, objectives, query);
}

absl::StatusOr<TrialPage> SelectTrialPage(absl::string_view study,
                                          const std::vector<TrialRecord>& trials,
                                          const std::map<TrialState, int64_t>& counts,
                                          const std::vector<ObjectiveSpec>& objectives,
                                          const TrialQuery& query) {
  if (query.page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be >= 0 (0: every trial), got ", query.page_size));
  }
  if (query.max_points_per_curve < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_points_per_curve: must be >= 0 (0: every point), got ", query.max_points_per_curve));
  }
  if (query.sample_size < 0 || query.sample_size > kMaxTrialSampleSize) {
    return absl::InvalidArgumentError(absl::StrCat("sample_size: must be 0 (no sample) to ",
                                                   kMaxTrialSampleSize, ", got ",
                                                   query.sample_size));
  }
  if (query.min_number < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_number: must be >= 0, got ", query.min_number));
  }
  absl::StatusOr<std::optional<SortKey>> after = ParseToken(study, query);
  if (!after.ok()) return after.status();
  const size_t limit = query.page_size == 0
                           ? trials.size()
                           : static_cast<size_t>(std::min(query.page_size, kMaxTrialPageSize));
  auto matches = [&query](const TrialRecord& trial) {
    return (query.states.empty() || query.states.count(trial.state) > 0) &&
           trial.number >= query.min_number;
  };

  TrialPage page;
  page.total_size = MatchingCount(trials, counts, query);
  std::vector<const TrialRecord*> selected;
  bool more = false;
  // Positions in the sample count every matching trial from the first: a
  // sampled listing reads the whole order for each page.
  EvenSpacing sample(page.total_size, query.sample_size);
  int64_t position = 0;
  const bool sampled = query.sample_size > 0;
  auto in_sample = [&]() { return !sampled || sample.Picks(position++); };
  if (query.order == TrialOrder::kNumber) {
    // trials[i].number == i: the page starts right after the token's trial.
    const size_t after_number = *after ? static_cast<size_t>((*after)->number) + 1 : 0;
    const size_t first = FirstInRange(trials, query);
    for (size_t i = sampled ? first : std::max(first, after_number); i < trials.size(); ++i) {
      if (!matches(trials[i]) || !in_sample() || i < after_number) continue;
      if (selected.size() == limit) {
        more = true;
        break;
      }
      selected.push_back(&trials[i]);
    }
  } else {
    const ObjectiveSpec& objective = objectives.front();
    std::vector<std::pair<SortKey, const TrialRecord*>> ranked;
    for (const TrialRecord& trial : trials) {
      if (!matches(trial)) continue;
      SortKey key = KeyOf(trial, objective);
      if (!sampled && *after && !Before(**after, key, objective.goal)) continue;
      ranked.emplace_back(std::move(key), &trial);
    }
    auto before = [&objective](const auto& a, const auto& b) {
      return Before(a.first, b.first, objective.goal);
    };
    if (sampled) {
      // The sample is taken over the whole order, then resumed after the token.
      std::sort(ranked.begin(), ranked.end(), before);
      std::vector<std::pair<SortKey, const TrialRecord*>> picked;
      for (auto& entry : ranked) {
        if (!in_sample()) continue;
        if (*after && !Before(**after, entry.first, objective.goal)) continue;
        picked.push_back(std::move(entry));
      }
      ranked = std::move(picked);
    }
    more = ranked.size() > limit;
    const auto end = ranked.begin() + static_cast<std::ptrdiff_t>(std::min(limit, ranked.size()));
    std::partial_sort(ranked.begin(), end, ranked.end(), before);
    for (auto it = ranked.begin(); it != end; ++it) selected.push_back(it->second);
  }

  const bool thin =
      !query.omit_intermediate && (query.max_points_per_curve > 0 || !query.curve_metrics.empty());
  for (const TrialRecord* trial : selected) {
    page.trials.push_back(ListedOf(*trial, objectives, query.omit_intermediate || thin));
    if (thin) {
      page.trials.back().trial.intermediate =
          ThinnedCurve(trial->intermediate, query.max_points_per_curve, query.curve_metrics);
    }
  }
  if (more && !selected.empty()) {
    page.next_page_token = MakeToken(study, query, KeyOf(*selected.back(), objectives.front()));
  }
  return page;
}

}  // namespace vernier
