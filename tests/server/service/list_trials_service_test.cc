// ListTrials' pages, filters and orders and GetTrial through the real server
// (ServerRunner: SQLite file, coordinator, gRPC) on a loopback port, with an
// ask/tell study whose trials the test makes.
#include <atomic>
#include <cmath>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kListedStudy[] = R"(
name: lt
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
budget: {max_trials: 1000, parallel: 1}
trainer: {external: true}
)";

class ListTrialsServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    CreateStudy(kListedStudy);
  }

  // Asks a trial of `study`; its number.
  int64_t Ask(const std::string& study = "lt") { return AskTrial(study).number(); }
  void Report(int64_t trial, int64_t step, double loss) { ReportValue("lt", trial, step, loss); }
  // Ends asked trial `trial`: COMPLETE with `loss`, else FAILED.
  void Tell(int64_t trial, std::optional<double> loss, const std::string& study = "lt") {
    TellTrial(study, trial, loss);
  }

  grpc::Status List(const v1::ListTrialsRequest& request, v1::ListTrialsResponse* response) {
    grpc::ClientContext context;
    return studies_->ListTrials(&context, request, response);
  }

  // Every page of `request`, token by token: the trials in the order listed.
  std::vector<v1::Trial> ListAll(v1::ListTrialsRequest request) {
    std::vector<v1::Trial> trials;
    for (int pages = 0; pages < 1000; ++pages) {
      v1::ListTrialsResponse response;
      grpc::Status status = List(request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      trials.insert(trials.end(), response.trials().begin(), response.trials().end());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return trials;
  }

  static std::vector<int64_t> Numbers(const std::vector<v1::Trial>& trials) {
    std::vector<int64_t> numbers;
    for (const v1::Trial& trial : trials) numbers.push_back(trial.number());
    return numbers;
  }

  // Asks a trial that reports loss 1 / (step + 1) at steps 0..499; a
  // listing of "lt" with its loss curve thinned to 200 points.
  v1::ListTrialsRequest ThinnedLossRequest() {
    const int64_t trial = Ask();
    for (int step = 0; step < 500; ++step) Report(trial, step, 1.0 / (step + 1));
    v1::ListTrialsRequest request;
    request.set_study("lt");
    request.set_max_points_per_curve(200);
    request.add_intermediate_metrics("loss");
    return request;
  }

  // Trials 0..5 of "lt": COMPLETE with losses 0.4, -, 0.1, 0.3, -, 0.2 (1 and
  // 4 FAILED), then trial 6 RUNNING with reports at steps 1 and 2 (last 0.05).
  // Each complete trial reported its loss at step 1 too.
  void MakeTrials() {
    const std::optional<double> losses[] = {0.4, std::nullopt, 0.1, 0.3, std::nullopt, 0.2};
    for (const std::optional<double>& loss : losses) {
      const int64_t trial = Ask();
      if (loss) Report(trial, 1, *loss);
      Tell(trial, loss);
    }
    const int64_t running = Ask();
    Report(running, 1, 0.9);
    Report(running, 2, 0.05);
  }
};

v1::ListTrialsRequest Request(int32_t page_size, const std::string& study = "lt") {
  v1::ListTrialsRequest request;
  request.set_study(study);
  request.set_page_size(page_size);
  return request;
}

TEST_F(ListTrialsServiceTest, PagesCoverEveryTrialOnceInNumberOrder) {
  MakeTrials();
  v1::ListTrialsResponse all;
  ASSERT_TRUE(List(Request(0), &all).ok());
  ASSERT_EQ(all.trials_size(), 7);
  EXPECT_THAT(all.next_page_token(), IsEmpty());
  EXPECT_EQ(all.total_size(), 7);

  v1::ListTrialsResponse first;
  ASSERT_TRUE(List(Request(3), &first).ok());
  EXPECT_EQ(first.trials_size(), 3);
  EXPECT_EQ(first.total_size(), 7);
  EXPECT_THAT(first.next_page_token(), Not(IsEmpty()));
  const std::vector<v1::Trial> paged = ListAll(Request(3));
  ASSERT_EQ(paged.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(paged[i].number(), i);
    // Whole trials: the same as the one-answer listing.
    EXPECT_EQ(paged[i].SerializeAsString(), all.trials(i).SerializeAsString()) << i;
  }
}

TEST_F(ListTrialsServiceTest, StatesFilterListsAndCountsOnlyThoseStates) {
  MakeTrials();
  v1::ListTrialsRequest request = Request(2);
  request.add_states(v1::TRIAL_STATE_COMPLETE);
  v1::ListTrialsResponse first;
  ASSERT_TRUE(List(request, &first).ok());
  EXPECT_EQ(first.total_size(), 4);
  EXPECT_THAT(Numbers(ListAll(request)), ElementsAre(0, 2, 3, 5));

  request.clear_states();
  request.add_states(v1::TRIAL_STATE_FAILED);
  request.add_states(v1::TRIAL_STATE_RUNNING);
  EXPECT_THAT(Numbers(ListAll(request)), ElementsAre(1, 4, 6));
}

TEST_F(ListTrialsServiceTest, ObjectiveOrderIsBestFirstForMinimizeAndMaximize) {
  MakeTrials();
  v1::ListTrialsRequest request = Request(2);
  request.set_order_by(v1::TRIAL_ORDER_OBJECTIVE);
  // The running trial ranks by its last report (0.05); FAILED ones (no
  // value) come last, by number.
  const std::vector<v1::Trial> minimized = ListAll(request);
  EXPECT_THAT(Numbers(minimized), ElementsAre(6, 2, 5, 3, 0, 1, 4));
  EXPECT_DOUBLE_EQ(minimized[0].objective_value(), 0.05);
  EXPECT_FALSE(minimized[6].has_objective_value());

  request.add_states(v1::TRIAL_STATE_COMPLETE);
  EXPECT_THAT(Numbers(ListAll(request)), ElementsAre(2, 5, 3, 0));

  // A maximized study: the largest first, still without a value last.
  CreateStudy(R"(
name: up
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: -2, high: 2}
budget: {max_trials: 10, parallel: 1}
trainer: {external: true}
)");
  for (const std::optional<double>& acc :
       {std::optional<double>(0.5), std::optional<double>(), std::optional<double>(0.9),
        std::optional<double>(0.7)}) {
    Tell(Ask("up"), acc, "up");
  }
  v1::ListTrialsRequest up = Request(3, "up");
  up.set_order_by(v1::TRIAL_ORDER_OBJECTIVE);
  EXPECT_THAT(Numbers(ListAll(up)), ElementsAre(2, 3, 0, 1));
}

TEST_F(ListTrialsServiceTest, OmitIntermediateLeavesCurvesOutAndKeepsTheObjectiveValue) {
  MakeTrials();
  v1::ListTrialsRequest request = Request(0);
  request.set_omit_intermediate(true);
  v1::ListTrialsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  ASSERT_EQ(response.trials_size(), 7);
  for (const v1::Trial& trial : response.trials()) EXPECT_EQ(trial.intermediate_size(), 0);
  // The running trial's value comes from its curve, which is left out.
  const v1::Trial& running = response.trials(6);
  EXPECT_EQ(running.state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_DOUBLE_EQ(running.objective_value(), 0.05);
  EXPECT_THAT(running.objective_values(), ElementsAre(0.05));
  EXPECT_EQ(running.params().count("x"), 1u);

  v1::ListTrialsResponse whole;
  ASSERT_TRUE(List(Request(0), &whole).ok());
  EXPECT_EQ(whole.trials(6).intermediate_size(), 2);
}

TEST_F(ListTrialsServiceTest, MaxPointsPerCurveThinsTheCurvesOnTheServer) {
  v1::ListTrialsRequest request = ThinnedLossRequest();
  v1::ListTrialsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  ASSERT_EQ(response.trials_size(), 1);
  const v1::Trial& thinned = response.trials(0);
  ASSERT_EQ(thinned.intermediate_size(), 200);
  EXPECT_EQ(thinned.intermediate(0).step(), 0);
  EXPECT_EQ(thinned.intermediate(199).step(), 499);
  EXPECT_DOUBLE_EQ(thinned.intermediate(199).metrics().at("loss"), 1.0 / 500);
  EXPECT_DOUBLE_EQ(thinned.objective_value(), 1.0 / 500);

  request.clear_intermediate_metrics();
  request.add_intermediate_metrics("not_reported");
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.trials(0).intermediate_size(), 0);
}

TEST_F(ListTrialsServiceTest, CurveOnlyPacksTheThinnedCurveOfOneMetric) {
  v1::ListTrialsRequest request = ThinnedLossRequest();
  v1::ListTrialsResponse thinned;
  ASSERT_TRUE(List(request, &thinned).ok());
  request.set_curve_only(true);
  v1::ListTrialsResponse packed;
  ASSERT_TRUE(List(request, &packed).ok());
  ASSERT_EQ(packed.trials_size(), 1);
  const v1::Trial& listed = packed.trials(0);
  EXPECT_EQ(listed.intermediate_size(), 0);
  EXPECT_EQ(listed.curve().metric(), "loss");
  // The same points as the measurements of the thinned listing.
  ASSERT_EQ(listed.curve().steps_size(), 200);
  ASSERT_EQ(listed.curve().values_size(), 200);
  for (int i = 0; i < 200; ++i) {
    const v1::Measurement& measurement = thinned.trials(0).intermediate(i);
    EXPECT_EQ(listed.curve().steps(i), measurement.step());
    EXPECT_EQ(listed.curve().values(i), measurement.metrics().at("loss"));
  }
  EXPECT_DOUBLE_EQ(listed.objective_value(), 1.0 / 500);

  // One metric, no more and no fewer.
  request.add_intermediate_metrics("accuracy");
  grpc::Status two = List(request, &packed);
  EXPECT_EQ(two.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(two.error_message(), HasSubstr("curve_only"));
  request.clear_intermediate_metrics();
  EXPECT_EQ(List(request, &packed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ListTrialsServiceTest, MinNumberListsFromThatTrialOn) {
  MakeTrials();
  v1::ListTrialsRequest request = Request(0);
  request.set_min_number(5);
  v1::ListTrialsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_THAT(Numbers({response.trials().begin(), response.trials().end()}), ElementsAre(5, 6));
  EXPECT_EQ(response.total_size(), 2);
  request.set_min_number(-1);
  grpc::Status negative = List(request, &response);
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(negative.error_message(), HasSubstr("min_number"));
}

TEST_F(ListTrialsServiceTest, SampleSizeListsEvenlySpacedTrials) {
  MakeTrials();
  v1::ListTrialsRequest request = Request(0);
  request.add_states(v1::TRIAL_STATE_COMPLETE);
  request.set_sample_size(2);
  v1::ListTrialsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  // COMPLETE: 0, 2, 3, 5; positions 0 and 2 (i * 4 / 2).
  EXPECT_THAT(Numbers({response.trials().begin(), response.trials().end()}), ElementsAre(0, 3));
  EXPECT_EQ(response.total_size(), 4);
}

// Columns hold, trial by trial, what the Trial messages of the same listing
// hold: float parameters as numbers (NaN where a `when` left one out), int
// and categorical ones coded against their distinct values.
TEST_F(ListTrialsServiceTest, ColumnsHoldWhatTheTrialsHold) {
  CreateStudy(R"(
name: cols
objective: {metric: loss, goal: minimize}
params:
  lr: {type: float, low: 0.001, high: 0.1, log: true}
  layers: {type: int, low: 1, high: 4}
  optimizer: {type: categorical, values: [sgd, adam]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {optimizer: sgd}}
budget: {max_trials: 100, parallel: 100}
trainer: {external: true}
)");
  for (int i = 0; i < 12; ++i) {
    const int64_t trial = Ask("cols");
    if (i % 4 == 3) continue;  // Left RUNNING.
    Tell(trial, i % 4 == 2 ? std::nullopt : std::optional<double>(1.0 / (i + 1)), "cols");
  }
  v1::ListTrialsRequest request = Request(5, "cols");
  const std::vector<v1::Trial> trials = ListAll(request);
  ASSERT_EQ(trials.size(), 12u);
  request.set_columnar(true);
  std::vector<v1::Trial> from_columns;  // The columns read back, trial by trial.
  for (int pages = 0; pages < 10; ++pages) {
    v1::ListTrialsResponse response;
    ASSERT_TRUE(List(request, &response).ok());
    EXPECT_THAT(response.trials(), IsEmpty());
    const v1::TrialColumns& c = response.columns();
    for (int i = 0; i < c.numbers_size(); ++i) {
      v1::Trial& trial = from_columns.emplace_back();
      trial.set_number(c.numbers(i));
      trial.set_state(c.states(i));
      for (const v1::NumberColumn& values : c.objective_values()) {
        trial.add_objective_values(values.values(i));
      }
      for (const v1::ParamColumn& param : c.params()) {
        if (param.codes_size() == 0) {
          if (!std::isnan(param.numbers(i))) {
            (*trial.mutable_params())[param.name()].set_double_value(param.numbers(i));
          }
        } else if (param.codes(i) >= 0) {
          (*trial.mutable_params())[param.name()] = param.dict(param.codes(i));
        }
      }
      trial.set_start_time_unix_ms(c.start_time_unix_ms(i));
      trial.set_end_time_unix_ms(c.end_time_unix_ms(i));
      trial.set_worker_id(c.worker_ids().dict(c.worker_ids().codes(i)));
      trial.set_origin(c.origins().dict(c.origins().codes(i)));
      trial.set_retries(c.retries(i));
      trial.set_failure_reason(c.failure_reasons().dict(c.failure_reasons().codes(i)));
      trial.set_excluded(c.excluded(i));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  ASSERT_EQ(from_columns.size(), trials.size());
  int without_momentum = 0;
  for (size_t i = 0; i < trials.size(); ++i) {
    const v1::Trial& want = trials[i];
    const v1::Trial& got = from_columns[i];
    EXPECT_EQ(got.number(), want.number());
    EXPECT_EQ(got.state(), want.state());
    ASSERT_EQ(got.objective_values_size(), 1);
    EXPECT_EQ(std::isnan(got.objective_values(0)), std::isnan(want.objective_values(0)));
    if (!std::isnan(want.objective_values(0))) {
      EXPECT_EQ(got.objective_values(0), want.objective_values(0));
    }
    EXPECT_EQ(got.params_size(), want.params_size()) << "trial " << want.number();
    for (const auto& [name, value] : want.params()) {
      ASSERT_TRUE(got.params().contains(name)) << name;
      EXPECT_EQ(got.params().at(name).SerializeAsString(), value.SerializeAsString()) << name;
    }
    without_momentum += want.params().contains("momentum") ? 0 : 1;
    EXPECT_EQ(got.start_time_unix_ms(), want.start_time_unix_ms());
    EXPECT_EQ(got.end_time_unix_ms(), want.end_time_unix_ms());
    EXPECT_EQ(got.worker_id(), want.worker_id());
    EXPECT_EQ(got.origin(), want.origin());
    EXPECT_EQ(got.retries(), want.retries());
    EXPECT_EQ(got.failure_reason(), want.failure_reason());
    EXPECT_EQ(got.excluded(), want.excluded());
  }
  // Both kinds of float column entry were checked.
  EXPECT_GT(without_momentum, 0);
  EXPECT_LT(without_momentum, 12);
}

TEST_F(ListTrialsServiceTest, BadArgumentsAreInvalidArgumentNamingTheField) {
  MakeTrials();
  struct Case {
    v1::ListTrialsRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Request(-1), "page_size"});
  v1::ListTrialsRequest garbage = Request(2);
  garbage.set_page_token("garbage!");
  cases.push_back({garbage, "page_token"});
  // A token of the number order, given to the objective order.
  v1::ListTrialsResponse first;
  ASSERT_TRUE(List(Request(2), &first).ok());
  v1::ListTrialsRequest other_order = Request(2);
  other_order.set_page_token(first.next_page_token());
  other_order.set_order_by(v1::TRIAL_ORDER_OBJECTIVE);
  cases.push_back({other_order, "page_token"});
  v1::ListTrialsRequest unspecified_state = Request(2);
  unspecified_state.add_states(v1::TRIAL_STATE_UNSPECIFIED);
  cases.push_back({unspecified_state, "states"});
  v1::ListTrialsRequest unknown_order = Request(2);
  unknown_order.set_order_by(static_cast<v1::TrialOrder>(7));
  cases.push_back({unknown_order, "order_by"});
  v1::ListTrialsRequest negative_points = Request(2);
  negative_points.set_max_points_per_curve(-1);
  cases.push_back({negative_points, "max_points_per_curve"});
  v1::ListTrialsRequest huge_sample = Request(2);
  huge_sample.set_sample_size(10001);
  cases.push_back({huge_sample, "sample_size"});
  v1::ListTrialsRequest columns_with_curves = Request(2);
  columns_with_curves.set_columnar(true);
  columns_with_curves.set_curve_only(true);
  columns_with_curves.add_intermediate_metrics("loss");
  cases.push_back({columns_with_curves, "columnar"});
  for (const Case& c : cases) {
    v1::ListTrialsResponse response;
    grpc::Status status = List(c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
  }
  // Another study's token.
  CreateStudy(R"(
name: lt2
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
trainer: {external: true}
)");
  v1::ListTrialsRequest other_study = Request(2, "lt2");
  other_study.set_page_token(first.next_page_token());
  v1::ListTrialsResponse response;
  grpc::Status status = List(other_study, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
}

TEST_F(ListTrialsServiceTest, GetTrialReturnsOneTrialWholeOrNotFound) {
  MakeTrials();
  v1::ListTrialsResponse all;
  ASSERT_TRUE(List(Request(0), &all).ok());
  for (int64_t number : {0, 6}) {
    grpc::ClientContext context;
    v1::GetTrialRequest request;
    request.set_study("lt");
    request.set_number(number);
    v1::Trial trial;
    ASSERT_TRUE(studies_->GetTrial(&context, request, &trial).ok());
    EXPECT_EQ(trial.SerializeAsString(), all.trials(number).SerializeAsString());
  }
  struct Missing {
    std::string study;
    int64_t number;
    std::string named;
  };
  for (const Missing& missing : {Missing{"lt", 7, "trial 7"}, Missing{"lt", -1, "trial -1"},
                                 Missing{"ghost", 0, "\"ghost\""}}) {
    grpc::ClientContext context;
    v1::GetTrialRequest request;
    request.set_study(missing.study);
    request.set_number(missing.number);
    v1::Trial trial;
    grpc::Status status = studies_->GetTrial(&context, request, &trial);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << missing.named;
    EXPECT_THAT(status.error_message(), HasSubstr(missing.named));
  }
}

TEST_F(ListTrialsServiceTest, PagingWhileTrialsAreAddedNeitherSkipsNorRepeats) {
  for (int i = 0; i < 10; ++i) Tell(Ask(), 0.5);
  // Trials come from a concurrent writer, and from the reader itself: a
  // page's worth between each of its first 20 pages, so the listing cannot
  // end before them and trials certainly arrive at page boundaries.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 300 && !done; ++i) Tell(Ask(), 0.1 * i);
  });
  std::vector<int64_t> listed;
  v1::ListTrialsRequest request = Request(3);
  request.set_omit_intermediate(true);
  for (int pages = 0; pages < 2000; ++pages) {
    v1::ListTrialsResponse response;
    ASSERT_TRUE(List(request, &response).ok());
    for (const v1::Trial& trial : response.trials()) listed.push_back(trial.number());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
    for (int i = 0; pages < 20 && i < 3; ++i) Ask();  // Left RUNNING: any state is listed.
  }
  done = true;
  writer.join();
  // Numbers are dense: every trial up to the last listed, once, in order.
  ASSERT_GE(listed.size(), 10u + 20 * 3);
  for (size_t i = 0; i < listed.size(); ++i) ASSERT_EQ(listed[i], static_cast<int64_t>(i));
}

}  // namespace
}  // namespace vernier
