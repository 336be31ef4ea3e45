// SelectTrialPage: pages, filters, orders and tokens of a trial listing, on
// plain trial vectors.
#include "server/coordinator/trial_page.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using ::vernier::testing::StatusIs;

constexpr char kPagedStudy[] = "paged";

// A finished trial `number` with final loss `loss` (none when nullopt).
TrialRecord Trial(int64_t number, TrialState state, std::optional<double> loss = std::nullopt) {
  TrialRecord trial;
  trial.study = kPagedStudy;
  trial.number = number;
  trial.state = state;
  if (loss) trial.final_metrics["loss"] = *loss;
  return trial;
}

std::vector<TrialRecord> CompleteTrials(int count) {
  std::vector<TrialRecord> trials;
  for (int i = 0; i < count; ++i) trials.push_back(Trial(i, TrialState::kComplete, i * 0.5));
  return trials;
}

std::vector<ObjectiveSpec> Minimize() { return {ObjectiveSpec{"loss", Goal::kMinimize}}; }
std::vector<ObjectiveSpec> Maximize() { return {ObjectiveSpec{"loss", Goal::kMaximize}}; }

std::vector<int64_t> Numbers(const TrialPage& page) {
  std::vector<int64_t> numbers;
  for (const ListedTrial& listed : page.trials) numbers.push_back(listed.trial.number);
  return numbers;
}

// Every page of `query` over `trials`, followed token by token; the numbers
// in the order listed. Fails the test on an error or after too many pages.
std::vector<int64_t> ListAll(const std::vector<TrialRecord>& trials,
                             const std::vector<ObjectiveSpec>& objectives, TrialQuery query) {
  std::vector<int64_t> numbers;
  for (int pages = 0; pages < 10000; ++pages) {
    absl::StatusOr<TrialPage> page = SelectTrialPage(kPagedStudy, trials, objectives, query);
    EXPECT_OK(page);
    if (!page.ok()) break;
    for (int64_t number : Numbers(*page)) numbers.push_back(number);
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  return numbers;
}

std::vector<int64_t> Range(int64_t begin, int64_t end) {
  std::vector<int64_t> numbers;
  for (int64_t i = begin; i < end; ++i) numbers.push_back(i);
  return numbers;
}

TEST(TrialPageTest, PagesCoverEveryTrialOnceInNumberOrder) {
  const std::vector<TrialRecord> trials = CompleteTrials(10);
  TrialQuery query;
  query.page_size = 3;
  std::vector<size_t> sizes;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(TrialPage page, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
    EXPECT_EQ(page.total_size, 10);
    sizes.push_back(page.trials.size());
    if (page.next_page_token.empty()) break;
    query.page_token = page.next_page_token;
  }
  EXPECT_THAT(sizes, ElementsAre(3, 3, 3, 1));
  query.page_token.clear();
  EXPECT_EQ(ListAll(trials, Minimize(), query), Range(0, 10));
}

TEST(TrialPageTest, APageThatEndsTheListingHasNoToken) {
  const std::vector<TrialRecord> trials = CompleteTrials(4);
  TrialQuery query;
  query.page_size = 2;
  ASSERT_OK_AND_ASSIGN(TrialPage first, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(first.next_page_token, Not(IsEmpty()));
  query.page_token = first.next_page_token;
  ASSERT_OK_AND_ASSIGN(TrialPage second, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(Numbers(second), ElementsAre(2, 3));
  EXPECT_THAT(second.next_page_token, IsEmpty());
}

TEST(TrialPageTest, PageSizeZeroIsEveryTrialAndALargePageSizeIsCut) {
  const std::vector<TrialRecord> trials = CompleteTrials(kMaxTrialPageSize + 5);
  TrialQuery query;
  ASSERT_OK_AND_ASSIGN(TrialPage all, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_EQ(all.trials.size(), trials.size());
  EXPECT_THAT(all.next_page_token, IsEmpty());

  query.page_size = 5000;
  ASSERT_OK_AND_ASSIGN(TrialPage cut, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_EQ(cut.trials.size(), static_cast<size_t>(kMaxTrialPageSize));
  EXPECT_EQ(cut.total_size, kMaxTrialPageSize + 5);
  query.page_token = cut.next_page_token;
  ASSERT_OK_AND_ASSIGN(TrialPage rest, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_EQ(Numbers(rest), Range(kMaxTrialPageSize, kMaxTrialPageSize + 5));
}

TEST(TrialPageTest, ASampleListsEvenlySpacedMatchingTrialsOnEveryPage) {
  // 20 trials, every other one COMPLETE: 10 match, 4 are sampled at
  // positions 0, 2, 5 and 7 of the matches (i * 10 / 4).
  std::vector<TrialRecord> trials;
  for (int i = 0; i < 20; ++i) {
    trials.push_back(i % 2 == 0 ? Trial(i, TrialState::kComplete, 100 - i)
                                : Trial(i, TrialState::kPruned));
  }
  TrialQuery query;
  query.states = {TrialState::kComplete};
  query.sample_size = 4;
  ASSERT_OK_AND_ASSIGN(TrialPage whole, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(Numbers(whole), ElementsAre(0, 4, 10, 14));
  EXPECT_EQ(whole.total_size, 10);  // Every match, not the sample.

  query.page_size = 3;
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(0, 4, 10, 14));
  // Best first (lower loss: higher number), sampled over that order.
  query.order = TrialOrder::kObjective;
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(18, 14, 8, 4));
  // A sample as large as the matches is every match.
  query.sample_size = 10;
  EXPECT_EQ(ListAll(trials, Minimize(), query).size(), 10u);
}

TEST(TrialPageTest, MinNumberListsAndCountsOnlyTheTrialsFromIt) {
  std::vector<TrialRecord> trials = CompleteTrials(10);
  trials[7].state = TrialState::kRunning;
  TrialQuery query;
  query.min_number = 6;
  query.page_size = 2;
  ASSERT_OK_AND_ASSIGN(TrialPage first, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_EQ(first.total_size, 4);
  EXPECT_EQ(ListAll(trials, Minimize(), query), Range(6, 10));
  query.states = {TrialState::kComplete};
  ASSERT_OK_AND_ASSIGN(first, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_EQ(first.total_size, 3);
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(6, 8, 9));
  query.order = TrialOrder::kObjective;  // Loss grows with the number.
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(6, 8, 9));
  query = TrialQuery();
  query.min_number = 20;  // Past the last trial: nothing.
  EXPECT_THAT(ListAll(trials, Minimize(), query), IsEmpty());
  query.min_number = -1;
  EXPECT_THAT(SelectTrialPage(kPagedStudy, trials, Minimize(), query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_number")));
}

TEST(TrialPageTest, ASampleSizeOutOfRangeIsInvalid) {
  const std::vector<TrialRecord> trials = CompleteTrials(3);
  for (int32_t size : {-1, kMaxTrialSampleSize + 1}) {
    TrialQuery query;
    query.sample_size = size;
    EXPECT_THAT(SelectTrialPage(kPagedStudy, trials, Minimize(), query),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sample_size")));
  }
}

TEST(TrialPageTest, AnEmptyStudyHasAnEmptyLastPage) {
  TrialQuery query;
  query.page_size = 10;
  ASSERT_OK_AND_ASSIGN(TrialPage page, SelectTrialPage(kPagedStudy, {}, Minimize(), query));
  EXPECT_THAT(page.trials, IsEmpty());
  EXPECT_EQ(page.total_size, 0);
  EXPECT_THAT(page.next_page_token, IsEmpty());
}

TEST(TrialPageTest, StatesFilterListsAndCountsOnlyThoseStates) {
  const std::vector<TrialRecord> trials = {
      Trial(0, TrialState::kComplete, 1), Trial(1, TrialState::kFailed),
      Trial(2, TrialState::kRunning),     Trial(3, TrialState::kComplete, 2),
      Trial(4, TrialState::kPruned),      Trial(5, TrialState::kComplete, 3),
      Trial(6, TrialState::kWaiting)};
  TrialQuery query;
  query.states = {TrialState::kComplete};
  query.page_size = 2;
  ASSERT_OK_AND_ASSIGN(TrialPage first, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(Numbers(first), ElementsAre(0, 3));
  EXPECT_EQ(first.total_size, 3);
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(0, 3, 5));

  query.states = {TrialState::kFailed, TrialState::kPruned, TrialState::kWaiting};
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(1, 4, 6));
  query.states = {TrialState::kInfeasible};
  query.page_size = 0;
  ASSERT_OK_AND_ASSIGN(TrialPage none, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(none.trials, IsEmpty());
  EXPECT_EQ(none.total_size, 0);
}

// Trials 0..6: losses 0.3, none, 0.1, NaN, 0.3, 0.2, none.
std::vector<TrialRecord> MixedTrials() {
  return {Trial(0, TrialState::kComplete, 0.3),
          Trial(1, TrialState::kFailed),
          Trial(2, TrialState::kComplete, 0.1),
          Trial(3, TrialState::kComplete, std::numeric_limits<double>::quiet_NaN()),
          Trial(4, TrialState::kComplete, 0.3),
          Trial(5, TrialState::kComplete, 0.2),
          Trial(6, TrialState::kWaiting)};
}

TEST(TrialPageTest, ObjectiveOrderIsBestFirstWithTrialsWithoutAValueLast) {
  TrialQuery query;
  query.order = TrialOrder::kObjective;
  // Ties (0 and 4) by number; without a value (1, 6) and NaN (3) last, by number.
  ASSERT_OK_AND_ASSIGN(TrialPage minimized,
                       SelectTrialPage(kPagedStudy, MixedTrials(), Minimize(), query));
  EXPECT_THAT(Numbers(minimized), ElementsAre(2, 5, 0, 4, 1, 3, 6));
  ASSERT_OK_AND_ASSIGN(TrialPage maximized,
                       SelectTrialPage(kPagedStudy, MixedTrials(), Maximize(), query));
  EXPECT_THAT(Numbers(maximized), ElementsAre(0, 4, 5, 2, 1, 3, 6));
}

TEST(TrialPageTest, ObjectiveOrderPagesCoverEveryTrialOnce) {
  for (int32_t page_size : {1, 2, 3, 7}) {
    TrialQuery query;
    query.order = TrialOrder::kObjective;
    query.page_size = page_size;
    EXPECT_THAT(ListAll(MixedTrials(), Minimize(), query), ElementsAre(2, 5, 0, 4, 1, 3, 6))
        << page_size;
    EXPECT_THAT(ListAll(MixedTrials(), Maximize(), query), ElementsAre(0, 4, 5, 2, 1, 3, 6))
        << page_size;
  }
}

TEST(TrialPageTest, ObjectiveOrderUsesTheLastIntermediateValueOfARunningTrial) {
  std::vector<TrialRecord> trials = {Trial(0, TrialState::kComplete, 0.5),
                                     Trial(1, TrialState::kRunning)};
  trials[1].intermediate = {{1, {{"loss", 0.9}}}, {2, {{"loss", 0.4}}}, {3, {{"acc", 1}}}};
  TrialQuery query;
  query.order = TrialOrder::kObjective;
  ASSERT_OK_AND_ASSIGN(TrialPage page, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(Numbers(page), ElementsAre(1, 0));
  EXPECT_THAT(page.trials[0].objective_values, ElementsAre(Optional(0.4)));
}

TEST(TrialPageTest, ObjectiveOrderCombinesWithTheStatesFilter) {
  TrialQuery query;
  query.order = TrialOrder::kObjective;
  query.states = {TrialState::kComplete};
  query.page_size = 2;
  EXPECT_THAT(ListAll(MixedTrials(), Minimize(), query), ElementsAre(2, 5, 0, 4, 3));
}

TEST(TrialPageTest, OmitIntermediateKeepsEverythingElseAndTheObjectiveValues) {
  TrialRecord trial = Trial(0, TrialState::kPruned);
  trial.params = {{"lr", 0.01}, {"opt", std::string("adam")}};
  trial.intermediate = {{1, {{"loss", 0.9}, {"acc", 0.1}}}, {2, {{"loss", 0.7}}}};
  trial.failure_reason = "why";
  trial.worker_id = "w-1";
  trial.attempt = 2;
  trial.retries = 1;
  trial.start_time = absl::FromUnixSeconds(100);
  trial.end_time = absl::FromUnixSeconds(200);
  trial.origin = "enqueued";
  trial.exploits = {ExploitRecord{1, 3, 1, {{"lr", 0.1}}}};
  const std::vector<ObjectiveSpec> objectives = {
      {"loss", Goal::kMinimize}, {"acc", Goal::kMaximize}, {"ms", Goal::kMinimize}};
  TrialQuery query;
  query.omit_intermediate = true;
  ASSERT_OK_AND_ASSIGN(TrialPage page, SelectTrialPage(kPagedStudy, {trial}, objectives, query));
  ASSERT_EQ(page.trials.size(), 1u);
  const ListedTrial& listed = page.trials[0];
  EXPECT_THAT(listed.trial.intermediate, IsEmpty());
  EXPECT_THAT(listed.objective_values, ElementsAre(Optional(0.7), Optional(0.1), std::nullopt));
  EXPECT_EQ(listed.trial.study, kPagedStudy);
  EXPECT_EQ(listed.trial.params, trial.params);
  EXPECT_EQ(listed.trial.state, TrialState::kPruned);
  EXPECT_EQ(listed.trial.failure_reason, "why");
  EXPECT_EQ(listed.trial.worker_id, "w-1");
  EXPECT_EQ(listed.trial.attempt, 2);
  EXPECT_EQ(listed.trial.retries, 1);
  EXPECT_EQ(listed.trial.start_time, trial.start_time);
  EXPECT_EQ(listed.trial.end_time, trial.end_time);
  EXPECT_EQ(listed.trial.origin, "enqueued");
  EXPECT_EQ(listed.trial.exploits, trial.exploits);

  query.omit_intermediate = false;
  ASSERT_OK_AND_ASSIGN(TrialPage whole, SelectTrialPage(kPagedStudy, {trial}, objectives, query));
  EXPECT_EQ(whole.trials[0].trial.intermediate, trial.intermediate);
}

// A curve of `points` measurements at steps 0..points-1, "loss" = step,
// "acc" on even steps only.
std::vector<Measurement> Curve(int points) {
  std::vector<Measurement> curve;
  for (int step = 0; step < points; ++step) {
    Measurement measurement{step, {{"loss", static_cast<double>(step)}}};
    if (step % 2 == 0) measurement.metrics["acc"] = step / 100.0;
    curve.push_back(measurement);
  }
  return curve;
}

std::vector<int64_t> Steps(const std::vector<Measurement>& curve) {
  std::vector<int64_t> steps;
  for (const Measurement& measurement : curve) steps.push_back(measurement.step);
  return steps;
}

TEST(ThinnedCurveTest, KeepsTheFirstTheLastAndEvenlySpacedPointsBetween) {
  EXPECT_THAT(Steps(ThinnedCurve(Curve(101), 5, {})), ElementsAre(0, 25, 50, 75, 100));
  EXPECT_THAT(Steps(ThinnedCurve(Curve(10), 4, {})), ElementsAre(0, 3, 6, 9));
  EXPECT_THAT(Steps(ThinnedCurve(Curve(10), 2, {})), ElementsAre(0, 9));
  EXPECT_THAT(Steps(ThinnedCurve(Curve(10), 1, {})), ElementsAre(9));
  const std::vector<Measurement> thinned = ThinnedCurve(Curve(1000), 200, {});
  ASSERT_EQ(thinned.size(), 200u);
  for (size_t i = 1; i < thinned.size(); ++i) EXPECT_LT(thinned[i - 1].step, thinned[i].step);
  EXPECT_EQ(thinned.back().step, 999);
  EXPECT_EQ(thinned[7], Curve(1000)[static_cast<size_t>(thinned[7].step)]);
}

TEST(ThinnedCurveTest, AShortCurveOrNoLimitKeepsEveryPoint) {
  EXPECT_EQ(ThinnedCurve(Curve(7), 7, {}), Curve(7));
  EXPECT_EQ(ThinnedCurve(Curve(7), 0, {}), Curve(7));
  EXPECT_THAT(ThinnedCurve({}, 3, {}), IsEmpty());
}

TEST(ThinnedCurveTest, MetricsKeepOnlyThemAndTheMeasurementsThatHoldThem) {
  const std::vector<Measurement> acc = ThinnedCurve(Curve(10), 0, {"acc"});
  EXPECT_THAT(Steps(acc), ElementsAre(0, 2, 4, 6, 8));
  for (const Measurement& measurement : acc) {
    EXPECT_EQ(measurement.metrics.size(), 1u);
    EXPECT_DOUBLE_EQ(measurement.metrics.at("acc"), measurement.step / 100.0);
  }
  // Filtered first, then thinned: the last even step ends the curve.
  EXPECT_THAT(Steps(ThinnedCurve(Curve(11), 2, {"acc"})), ElementsAre(0, 10));
  EXPECT_THAT(ThinnedCurve(Curve(5), 0, {"missing"}), IsEmpty());
}

TEST(TrialPageTest, MaxPointsPerCurveThinsEveryListedTrialButNotItsObjectiveValue) {
  std::vector<TrialRecord> trials = CompleteTrials(3);
  for (TrialRecord& trial : trials) {
    trial.final_metrics.clear();
    trial.state = TrialState::kRunning;
    trial.intermediate = Curve(50);
  }
  TrialQuery query;
  query.max_points_per_curve = 3;
  query.curve_metrics = {"acc"};
  ASSERT_OK_AND_ASSIGN(TrialPage page, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  ASSERT_EQ(page.trials.size(), 3u);
  for (const ListedTrial& listed : page.trials) {
    EXPECT_THAT(Steps(listed.trial.intermediate), ElementsAre(0, 24, 48));
    // Found from the whole curve: the last loss, at step 49.
    EXPECT_THAT(listed.objective_values, ElementsAre(Optional(49.0)));
  }
  query.omit_intermediate = true;
  ASSERT_OK_AND_ASSIGN(TrialPage omitted, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(omitted.trials[0].trial.intermediate, IsEmpty());
}

TEST(TrialPageTest, ANegativeMaxPointsPerCurveIsInvalidArgumentNamingIt) {
  TrialQuery query;
  query.max_points_per_curve = -5;
  EXPECT_THAT(SelectTrialPage(kPagedStudy, CompleteTrials(3), Minimize(), query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_points_per_curve")));
}

TEST(TrialPageTest, ANegativePageSizeIsInvalidArgumentNamingIt) {
  TrialQuery query;
  query.page_size = -1;
  EXPECT_THAT(SelectTrialPage(kPagedStudy, CompleteTrials(3), Minimize(), query),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

TEST(TrialPageTest, AMalformedTokenIsInvalidArgumentNamingIt) {
  struct BadToken {
    std::string token;
    TrialOrder order;
  };
  const std::vector<BadToken> bad = {
      {"not a token!", TrialOrder::kNumber},
      {absl::WebSafeBase64Escape("v1;1;0;0"), TrialOrder::kNumber},  // No study.
      {absl::WebSafeBase64Escape("v1;1;0;x;paged"), TrialOrder::kNumber},
      {absl::WebSafeBase64Escape("v1;1;0;-4;paged"), TrialOrder::kNumber},
      {absl::WebSafeBase64Escape("v1;1;0;1,2;paged"), TrialOrder::kNumber},
      {absl::WebSafeBase64Escape("v2;1;0;1;paged"), TrialOrder::kNumber},
      {absl::WebSafeBase64Escape("v1;2;0;1;paged"), TrialOrder::kObjective},  // No value.
      {absl::WebSafeBase64Escape("v1;2;0;1,zz;paged"), TrialOrder::kObjective},
      {absl::WebSafeBase64Escape("v1;2;0;1,7ff8000000000000;paged"), TrialOrder::kObjective},
  };
  for (const BadToken& token : bad) {
    TrialQuery query;
    query.page_size = 1;
    query.page_token = token.token;
    query.order = token.order;
    EXPECT_THAT(SelectTrialPage(kPagedStudy, CompleteTrials(3), Minimize(), query),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")))
        << token.token;
  }
}

TEST(TrialPageTest, ATokenOfAnotherListingIsInvalidArgumentNamingIt) {
  const std::vector<TrialRecord> trials = MixedTrials();
  TrialQuery query;
  query.page_size = 2;
  ASSERT_OK_AND_ASSIGN(TrialPage page, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  ASSERT_THAT(page.next_page_token, Not(IsEmpty()));

  TrialQuery other_order = query;
  other_order.page_token = page.next_page_token;
  other_order.order = TrialOrder::kObjective;
  TrialQuery other_states = query;
  other_states.page_token = page.next_page_token;
  other_states.states = {TrialState::kComplete};
  for (const TrialQuery& bad : {other_order, other_states}) {
    EXPECT_THAT(SelectTrialPage(kPagedStudy, trials, Minimize(), bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  }
  TrialQuery same = query;
  same.page_token = page.next_page_token;
  EXPECT_THAT(SelectTrialPage("other-study", trials, Minimize(), same),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  // page_size and omit_intermediate may change between pages.
  same.page_size = 100;
  same.omit_intermediate = true;
  ASSERT_OK_AND_ASSIGN(TrialPage rest, SelectTrialPage(kPagedStudy, trials, Minimize(), same));
  EXPECT_THAT(Numbers(rest), ElementsAre(2, 3, 4, 5, 6));
}

TEST(TrialPageTest, TrialsAddedBetweenPagesAreNeitherSkippedNorRepeated) {
  std::vector<TrialRecord> trials = CompleteTrials(5);
  TrialQuery query;
  query.page_size = 3;
  query.states = {TrialState::kComplete, TrialState::kRunning};
  std::vector<int64_t> seen;
  ASSERT_OK_AND_ASSIGN(TrialPage first, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  for (int64_t number : Numbers(first)) seen.push_back(number);
  // New trials come between the pages, and one listed already leaves the
  // filter (an offset into the filtered trials would now skip one).
  for (int i = 5; i < 9; ++i) trials.push_back(Trial(i, TrialState::kRunning));
  trials[1].state = TrialState::kFailed;
  query.page_token = first.next_page_token;
  for (int64_t number : ListAll(trials, Minimize(), query)) seen.push_back(number);
  EXPECT_THAT(seen, ElementsAreArray(Range(0, 9)));
}

TEST(TrialPageTest, InObjectiveOrderOnlyATrialThatChangesBetweenPagesMayMove) {
  // Losses 0.0, 0.5, ..., 4.5: best first is 0, 1, ..., 9.
  std::vector<TrialRecord> trials = CompleteTrials(10);
  TrialQuery query;
  query.order = TrialOrder::kObjective;
  query.page_size = 4;
  ASSERT_OK_AND_ASSIGN(TrialPage first, SelectTrialPage(kPagedStudy, trials, Minimize(), query));
  EXPECT_THAT(Numbers(first), ElementsAre(0, 1, 2, 3));
  // Between pages: trial 8 gets better than everything listed (it is not
  // listed again), trial 2 (listed) gets worse than the rest (listed again),
  // and a new trial lands after the cursor.
  trials[8].final_metrics["loss"] = -1;
  trials[2].final_metrics["loss"] = 100;
  trials.push_back(Trial(10, TrialState::kComplete, 2.2));
  query.page_token = first.next_page_token;
  EXPECT_THAT(ListAll(trials, Minimize(), query), ElementsAre(4, 10, 5, 6, 7, 9, 2));
}

}  // namespace
}  // namespace vernier
