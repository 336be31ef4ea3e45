// The dashboard's JSON API over HTTP (cpp-httplib's client), served by a real
// Dashboard in front of a real in-process vernier-server with an ask/tell
// study: the answers' contents, live events, tokens and bad parameters. The
// page's plots are checked in a real browser by tests/dashboard.
#include <httplib.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/dashboard/dashboard_json.h"
#include "client/dashboard/dashboard_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/service/in_process_server.h"

namespace vernier {
namespace {

using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDashboardStudy[] = R"(
name: dash
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2, high: 2}
  opt: {type: categorical, values: [adam, sgd]}
sampler: {type: random}
budget: {max_trials: 50, parallel: 4}
trainer: {external: true}
)";

TEST(DashboardJsonTest, IntParamNamesTheParameterTheValueAndTheRange) {
  const QueryParams params = {{"points", "-3"}, {"n", "abc"}, {"ok", "7"}};
  EXPECT_EQ(*IntParam(params, "ok", 1, 0, 10), 7);
  EXPECT_EQ(*IntParam(params, "absent", 5, 0, 10), 5);
  absl::StatusOr<int64_t> negative = IntParam(params, "points", 200, 2, 10000);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.status().message(), HasSubstr("\"points\": \"-3\""));
  EXPECT_THAT(negative.status().message(), HasSubstr("[2, 10000]"));
  EXPECT_THAT(IntParam(params, "n", 0, 0, 1).status().message(), HasSubstr("\"abc\""));
  EXPECT_THAT(RequiredParam(params, "study").status().message(), HasSubstr("\"study\" is missing"));
}

// The entries of a {dict, codes} column, as the page expands them.
json Expanded(const json& column) {
  json out = json::array();
  for (const json& code : column["codes"]) {
    out.push_back(code.is_null() ? json(nullptr) : column["dict"][code.get<size_t>()]);
  }
  return out;
}

TEST(DashboardJsonTest, JsonColumnWritesShortestNumbersAndNullForNonFinite) {
  JsonColumn column;
  column.AppendDouble(0.1);
  column.AppendDouble(std::nan(""));
  column.AppendDouble(std::numeric_limits<double>::infinity());
  column.AppendInt(-7);
  column.AppendNull();
  column.AppendJson("\"a\"");
  EXPECT_EQ(column.Array(), "[0.1,null,null,-7,null,\"a\"]");
  EXPECT_EQ(JsonColumn().Array(), "[]");
  EXPECT_EQ(json::parse([] {
              JsonColumn one;
              one.AppendDouble(0.30000000000000004);
              return one.Array();
            }())[0]
                .get<double>(),
            0.30000000000000004);
}

TEST(DashboardJsonTest, JsonColumnWritesItsSignificantDigits) {
  JsonColumn column(3);
  column.AppendDouble(0.000123456);
  column.AppendDouble(123456.0);
  column.AppendDouble(2.0);
  column.AppendDouble(-1.0 / 3.0);
  column.AppendDouble(std::nan(""));
  column.AppendInt(123456789);  // Whole numbers are exact.
  EXPECT_EQ(column.Array(), "[0.000123,1.23e+05,2,-0.333,null,123456789]");
  EXPECT_EQ(json::parse(column.Array())[1].get<double>(), 123000.0);
}

TEST(DashboardJsonTest, DictColumnSendsEachValueOnce) {
  DictColumn column;
  column.AppendString("COMPLETE");
  column.AppendString("say \"hi\"\n");
  column.AppendNull();
  column.AppendString("COMPLETE");
  column.AppendJson("\"say \\\"hi\\\"\\n\"");  // The same value, given as JSON text.
  column.AppendString("say \"hi\"\n");
  const json object = json::parse(column.Object());
  EXPECT_EQ(object["dict"], json({"COMPLETE", "say \"hi\"\n"}));
  EXPECT_EQ(object["codes"], json::parse("[0, 1, null, 0, 1, 1]"));
}

// Study "s", created at 1000 ms, minimizing loss over float x and
// categorical opt (adam).
v1::Study StudyOfXAndOpt() {
  v1::Study study;
  study.set_name("s");
  study.set_create_time_unix_ms(1000);
  study.mutable_objective()->set_metric("loss");
  study.mutable_spec()->add_params()->set_name("x");
  v1::ParameterSpec* opt = study.mutable_spec()->add_params();
  opt->set_name("opt");
  opt->mutable_categorical()->add_values()->set_string_value("adam");
  return study;
}

TEST(DashboardJsonTest, TrialColumnsHoldOneEntryPerTrialAndNullWhereNone) {
  v1::Study study = StudyOfXAndOpt();
  std::vector<v1::Trial> trials(3);
  trials[0].set_number(0);
  trials[0].set_state(v1::TRIAL_STATE_COMPLETE);
  trials[0].set_objective_value(0.5);
  trials[0].set_start_time_unix_ms(1500);
  trials[0].set_end_time_unix_ms(2500);
  trials[0].set_worker_id("w0");
  (*trials[0].mutable_params())["x"].set_double_value(1.5);
  (*trials[0].mutable_params())["opt"].set_string_value("adam");
  trials[1].set_number(1);
  trials[1].set_state(v1::TRIAL_STATE_FAILED);
  trials[1].set_failure_reason("boom");
  trials[1].set_objective_value(std::nan(""));
  (*trials[1].mutable_params())["extra"].set_int_value(3);
  trials[2].set_number(2);
  trials[2].set_state(v1::TRIAL_STATE_COMPLETE);
  trials[2].set_worker_id("w0");
  (*trials[2].mutable_params())["opt"].set_string_value("adam");
  TrialColumnsWriter writer(study);
  for (const v1::Trial& trial : trials) writer.Add(trial);
  const std::string text = writer.Finish();
  const json columns = json::parse(text);

  EXPECT_EQ(columns["study"], "s");
  EXPECT_EQ(columns["numbers"], json({0, 1, 2}));
  EXPECT_EQ(Expanded(columns["states"]), json({"COMPLETE", "FAILED", "COMPLETE"}));
  EXPECT_EQ(columns["states"]["dict"].size(), 2u);
  EXPECT_EQ(columns["values"], json::parse("[[0.5, null, null]]"));
  EXPECT_EQ(columns["params"]["x"], json::parse("[1.5, null, null]"));
  EXPECT_EQ(Expanded(columns["params"]["opt"]), json::parse(R"(["adam", null, "adam"])"));
  // A parameter the spec does not name, first seen on trial 1: null before,
  // and after the spec's parameters (which keep the spec's order).
  EXPECT_EQ(columns["params"]["extra"], json::parse("[null, 3, null]"));
  EXPECT_LT(text.find("\"x\":"), text.find("\"opt\":"));
  EXPECT_LT(text.find("\"opt\":"), text.find("\"extra\":"));
  EXPECT_EQ(columns["time_base_ms"], 1000);
  EXPECT_EQ(columns["start_ms"], json::parse("[500, null, null]"));
  EXPECT_EQ(columns["end_ms"], json::parse("[1500, null, null]"));
  EXPECT_EQ(Expanded(columns["workers"]), json({"w0", "", "w0"}));
  EXPECT_EQ(Expanded(columns["failure_reasons"]), json({"", "boom", ""}));
  EXPECT_EQ(columns["retries"], json({0, 0, 0}));
  EXPECT_EQ(columns["exploits"], json::object());
}

// `trials` as ListTrials' columns (study.proto's TrialColumns contract):
// float parameters as numbers, the others coded against their values.
v1::TrialColumns ColumnsOf(const std::vector<v1::Trial>& trials) {
  v1::TrialColumns out;
  v1::NumberColumn* values = out.add_objective_values();
  std::map<std::string, bool> floats;
  for (const v1::Trial& trial : trials) {
    for (const auto& [name, value] : trial.params()) {
      auto [it, added] = floats.try_emplace(name, true);
      it->second = it->second && value.kind_case() == v1::ParameterValue::kDoubleValue;
    }
  }
  auto code = [](v1::StringColumn* column, const std::string& value) {
    for (int i = 0; i < column->dict_size(); ++i) {
      if (column->dict(i) == value) return column->add_codes(i);
    }
    column->add_dict(value);
    column->add_codes(column->dict_size() - 1);
  };
  for (const v1::Trial& trial : trials) {
    out.add_numbers(trial.number());
    out.add_states(trial.state());
    values->add_values(trial.objective_value());
    out.add_start_time_unix_ms(trial.start_time_unix_ms());
    out.add_end_time_unix_ms(trial.end_time_unix_ms());
    code(out.mutable_worker_ids(), trial.worker_id());
    code(out.mutable_origins(), trial.origin());
    out.add_retries(trial.retries());
    code(out.mutable_failure_reasons(), trial.failure_reason());
    out.add_excluded(trial.excluded());
    if (!trial.exploits().empty()) {
      v1::TrialExploits* exploits = out.add_exploits();
      exploits->set_number(trial.number());
      *exploits->mutable_exploits() = trial.exploits();
    }
  }
  for (const auto& [name, all_float] : floats) {
    v1::ParamColumn* column = out.add_params();
    column->set_name(name);
    for (const v1::Trial& trial : trials) {
      auto it = trial.params().find(name);
      if (all_float) {
        column->add_numbers(it == trial.params().end() ? std::nan("") : it->second.double_value());
        continue;
      }
      if (it == trial.params().end()) {
        column->add_codes(-1);
        continue;
      }
      int found = -1;
      for (int i = 0; i < column->dict_size(); ++i) {
        if (column->dict(i).SerializeAsString() == it->second.SerializeAsString()) found = i;
      }
      if (found < 0) {
        *column->add_dict() = it->second;
        found = column->dict_size() - 1;
      }
      column->add_codes(found);
    }
  }
  return out;
}

// /api/trials read as columns (what the dashboard asks vernier-server for)
// is, byte for byte, what it was when read as Trial messages: every kind of
// parameter (float, int, string and number choices, one the spec does not
// name, one first seen on the second page), times, workers, exploits.
TEST(DashboardJsonTest, TrialColumnsReadAsColumnsWriteWhatTrialsWrite) {
  v1::Study study = StudyOfXAndOpt();
  v1::ParameterSpec* width = study.mutable_spec()->add_params();
  width->set_name("width");
  width->mutable_categorical()->add_values()->set_double_value(0.5);
  std::vector<v1::Trial> trials(6);
  for (int i = 0; i < 6; ++i) {
    v1::Trial& trial = trials[i];
    trial.set_number(i);
    trial.set_state(i % 3 == 1 ? v1::TRIAL_STATE_FAILED : v1::TRIAL_STATE_COMPLETE);
    trial.set_objective_value(i % 3 == 1 ? std::nan("") : 0.25 * i);
    if (i % 2 == 0) trial.set_start_time_unix_ms(1500 + i);
    if (i % 2 == 0) trial.set_end_time_unix_ms(2500 + i);
    trial.set_worker_id(i % 2 == 0 ? "w0" : "w1");
    if (i == 4) trial.set_origin("enqueued");
    if (i % 3 == 1) trial.set_failure_reason("boom");
    trial.set_retries(i == 5 ? 2 : 0);
    if (i != 2) (*trial.mutable_params())["x"].set_double_value(0.1 * i);
    (*trial.mutable_params())["opt"].set_string_value(i % 2 == 0 ? "adam" : "sgd");
    (*trial.mutable_params())["width"].set_double_value(i % 2 == 0 ? 0.5 : 1.0);
    if (i == 1 || i == 4) (*trial.mutable_params())["extra"].set_int_value(3 + i);
    if (i >= 3) (*trial.mutable_params())["late"].set_string_value("yes");
    if (i == 5) {
      v1::TrialExploit* exploit = trial.add_exploits();
      exploit->set_step(4);
      exploit->set_donor_trial(0);
      exploit->set_donor_step(4);
    }
  }
  TrialColumnsWriter by_trial(study);
  for (const v1::Trial& trial : trials) by_trial.Add(trial);
  TrialColumnsWriter by_columns(study);
  ASSERT_TRUE(by_columns.AddColumns(ColumnsOf({trials.begin(), trials.begin() + 3})).ok());
  by_columns.ExpectTrials(6);
  ASSERT_TRUE(by_columns.AddColumns(ColumnsOf({trials.begin() + 3, trials.end()})).ok());
  const std::string text = by_trial.Finish();
  EXPECT_EQ(by_columns.Finish(), text);
  const json columns = json::parse(text);
  EXPECT_EQ(columns["params"]["late"], json::parse(R"([null, null, null, "yes", "yes", "yes"])"));
  EXPECT_EQ(columns["params"]["extra"], json::parse("[null, 4, null, null, 7, null]"));
  EXPECT_EQ(columns["exploits"]["5"][0]["donor"], 0);
}

TEST(DashboardJsonTest, TrialColumnsWithDigitsRoundValuesAndFloatParametersOnly) {
  v1::Study study = StudyOfXAndOpt();
  v1::ParameterSpec* width = study.mutable_spec()->add_params();
  width->set_name("width");
  width->mutable_categorical()->add_values()->set_double_value(0.123456789);
  std::vector<v1::Trial> trials(2);
  for (int i = 0; i < 2; ++i) {
    trials[i].set_number(i);
    trials[i].set_state(v1::TRIAL_STATE_COMPLETE);
    trials[i].set_objective_value(0.123456789 * (i + 1));
    (*trials[i].mutable_params())["x"].set_double_value(-98765.4321);
    (*trials[i].mutable_params())["opt"].set_string_value("adam");
    (*trials[i].mutable_params())["width"].set_double_value(0.123456789);
    (*trials[i].mutable_params())["layers"].set_int_value(123456789);
  }
  TrialColumnsWriter by_trial(study, /*digits=*/4);
  for (const v1::Trial& trial : trials) by_trial.Add(trial);
  TrialColumnsWriter by_columns(study, /*digits=*/4);
  ASSERT_TRUE(by_columns.AddColumns(ColumnsOf(trials)).ok());
  const std::string text = by_trial.Finish();
  EXPECT_EQ(by_columns.Finish(), text);
  const json columns = json::parse(text);
  EXPECT_EQ(columns["values"], json::parse("[[0.1235, 0.2469]]"));
  EXPECT_EQ(columns["params"]["x"], json::parse("[-9.877e+04, -9.877e+04]"));
  // A categorical choice is named exactly, and whole numbers are exact.
  EXPECT_EQ(Expanded(columns["params"]["width"]), json::parse("[0.123456789, 0.123456789]"));
  EXPECT_EQ(columns["params"]["layers"], json::parse("[123456789, 123456789]"));
  // Exact by default.
  TrialColumnsWriter exact(study);
  exact.Add(trials[0]);
  EXPECT_EQ(json::parse(exact.Finish())["values"][0][0].get<double>(), 0.123456789);
}

TEST(DashboardJsonTest, CurvesWithDigitsRoundTheirValues) {
  std::vector<v1::Trial> trials(1);
  trials[0].set_number(0);
  trials[0].mutable_curve()->add_steps(1);
  trials[0].mutable_curve()->add_values(2.0 / 3.0);
  const json rounded = json::parse(CurvesJson("loss", 1, trials, /*digits=*/2));
  EXPECT_EQ(rounded["curves"][0]["values"], json::parse("[0.67]"));
  const json exact = json::parse(CurvesJson("loss", 1, trials));
  EXPECT_EQ(exact["curves"][0]["values"][0].get<double>(), 2.0 / 3.0);
}

TEST(DashboardJsonTest, ColumnsOfDifferentLengthsAreAnInternalError) {
  v1::Study study;
  study.set_name("s");
  v1::Trial trial;
  trial.set_number(0);
  v1::TrialColumns columns = ColumnsOf({trial});
  columns.add_retries(1);
  TrialColumnsWriter writer(study);
  const absl::Status status = writer.AddColumns(columns);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("columns of different lengths"));
  columns = ColumnsOf({trial});
  columns.mutable_worker_ids()->set_codes(0, 5);
  EXPECT_EQ(writer.AddColumns(columns).code(), absl::StatusCode::kInternal);
}

TEST(DashboardJsonTest, HttpStatusFollowsTheErrorCode) {
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusOf(absl::StatusCode::kInternal), 502);
}

class DashboardTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    CreateStudy(kDashboardStudy);
  }
  void TearDown() override {
    dashboard_.reset();
    InProcessServerTest::TearDown();
  }

  void StartDashboard(const std::string& token = "", int max_events_per_second = 200) {
    ctx_ = CommandContext{studies_.get(), &out_, OutputFormat::kTable, "in-process"};
    DashboardOptions options;
    options.listen = "127.0.0.1:0";
    options.token = token;
    options.max_events_per_second = max_events_per_second;
    dashboard_ = std::make_unique<Dashboard>(ctx_, options);
    ASSERT_TRUE(dashboard_->Start().ok());
    http_ = std::make_unique<httplib::Client>("127.0.0.1", dashboard_->port());
    http_->set_read_timeout(10, 0);
  }

  // A trial asked, reporting `steps` steps of loss (1/(step+1) + x^2), then
  // told COMPLETE when `tell`.
  int64_t RunTrial(int steps, bool tell) {
    const v1::Trial trial = AskTrial("dash");
    const double x = trial.params().at("x").double_value();
    for (int step = 0; step < steps; ++step) {
      ReportValue("dash", trial.number(), step, 1.0 / (step + 1) + x * x);
    }
    if (tell) TellTrial("dash", trial.number(), x * x);
    return trial.number();
  }

  // GET `path`: its status and its body as JSON (null when not JSON).
  std::pair<int, json> Get(const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Result result = http_->Get(path, headers);
    if (!result) return {-1, nullptr};
    return {result->status, json::parse(result->body, nullptr, /*allow_exceptions=*/false)};
  }

  std::ostringstream out_;
  CommandContext ctx_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(DashboardTest, AnswersInGzipOnlyToAClientThatAcceptsIt) {
  StartDashboard();
  for (int i = 0; i < 20; ++i) RunTrial(2, /*tell=*/true);
  http_->set_decompress(false);
  httplib::Result plain = http_->Get("/api/trials?study=dash");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  httplib::Result gzipped =
      http_->Get("/api/trials?study=dash", {{"Accept-Encoding", "br;q=1, gzip;q=0.5"}});
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(gzipped->get_header_value("Content-Encoding"), "gzip");
  EXPECT_LT(gzipped->body.size(), plain->body.size());
  // A client cannot mark itself as accepting gzip with the dashboard's own
  // header.
  httplib::Result forged = http_->Get("/app.js", {{"X-Vernier-Accepts-Gzip", "1"}});
  ASSERT_TRUE(forged);
  EXPECT_FALSE(forged->has_header("Content-Encoding"));

  http_->set_decompress(true);
  httplib::Result decoded = http_->Get("/api/trials?study=dash", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(decoded);
  EXPECT_EQ(json::parse(decoded->body)["numbers"], json::parse(plain->body)["numbers"]);
}

TEST_F(DashboardTest, ApiAnswersWhatTheServerHolds) {
  StartDashboard();
  for (int i = 0; i < 3; ++i) RunTrial(5, /*tell=*/true);
  RunTrial(2, /*tell=*/false);

  auto [status, studies] = Get("/api/studies");
  ASSERT_EQ(status, 200) << studies.dump();
  ASSERT_EQ(studies["studies"].size(), 1u);
  EXPECT_EQ(studies["studies"][0]["name"], "dash");
  EXPECT_EQ(studies["studies"][0]["counts"]["COMPLETE"], 3);
  EXPECT_EQ(studies["studies"][0]["sampler"], "random");

  auto [study_status, study] = Get("/api/study?study=dash");
  ASSERT_EQ(study_status, 200) << study.dump();
  EXPECT_EQ(study["summary"]["finished"], 3);
  EXPECT_EQ(study["summary"]["running"].size(), 1u);
  EXPECT_EQ(study["summary"]["running"][0]["step"], 1);
  ASSERT_EQ(study["study"]["params"].size(), 2u);
  EXPECT_EQ(study["study"]["params"][1]["choices"], json({"adam", "sgd"}));

  auto [trials_status, trials] = Get("/api/trials?study=dash");
  ASSERT_EQ(trials_status, 200) << trials.dump();
  EXPECT_EQ(trials["numbers"], json({0, 1, 2, 3}));
  EXPECT_EQ(Expanded(trials["states"])[3], "RUNNING");
  EXPECT_EQ(trials["params"]["opt"]["codes"].size(), 4u);
  auto [rounded_status, rounded] = Get("/api/trials?study=dash&digits=3");
  ASSERT_EQ(rounded_status, 200) << rounded.dump();
  EXPECT_EQ(rounded["numbers"], trials["numbers"]);
  for (size_t i = 0; i < trials["values"][0].size(); ++i) {
    if (trials["values"][0][i].is_null()) continue;
    const double exact = trials["values"][0][i].get<double>();
    EXPECT_NEAR(rounded["values"][0][i].get<double>(), exact, 5e-3 * std::abs(exact)) << i;
  }

  auto [curves_status, curves] = Get("/api/curves?study=dash&points=3");
  ASSERT_EQ(curves_status, 200) << curves.dump();
  EXPECT_EQ(curves["metric"], "loss");
  EXPECT_EQ(curves["total_trials"], 4);
  ASSERT_EQ(curves["curves"].size(), 4u);
  EXPECT_EQ(curves["curves"][0]["steps"], json({0, 2, 4}));  // Thinned on the server.
  EXPECT_EQ(curves["curves"][3]["steps"], json({0, 1}));

  auto [curves_cut_status, cut] = Get("/api/curves?study=dash&max_curves=2");
  ASSERT_EQ(curves_cut_status, 200);
  EXPECT_EQ(cut["curves"].size(), 2u);

  auto [trial_status, trial] = Get("/api/trial?study=dash&number=1");
  ASSERT_EQ(trial_status, 200) << trial.dump();
  EXPECT_EQ(trial["number"], 1);
  EXPECT_EQ(trial["intermediate"].size(), 5u);
  EXPECT_EQ(trial["state"], "COMPLETE");
}

TEST_F(DashboardTest, BadParametersAreClearErrorsAndTheDashboardKeepsServing) {
  StartDashboard();
  RunTrial(1, /*tell=*/true);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/trials", "\"study\" is missing"},
      {"/api/curves?study=dash&points=-3", "\"points\": \"-3\""},
      {"/api/curves?study=dash&max_curves=zero", "\"max_curves\""},
      {"/api/trial?study=dash&number=abc", "\"number\": \"abc\""},
      {"/api/trial?study=dash", "\"number\" is missing"},
      {"/api/trials?study=dash&digits=0", "\"digits\": \"0\" is not a whole number in [1, 17]"},
      {"/api/curves?study=dash&digits=18", "\"digits\": \"18\""},
  };
  for (const auto& [path, message] : cases) {
    auto [status, body] = Get(path);
    EXPECT_EQ(status, 400) << path;
    EXPECT_THAT(body.value("error", ""), HasSubstr(message)) << path;
  }
  auto [missing_status, missing] = Get("/api/study?study=nope");
  EXPECT_EQ(missing_status, 404);
  EXPECT_THAT(missing.value("error", ""), HasSubstr("nope"));
  auto [no_trial_status, no_trial] = Get("/api/trial?study=dash&number=99");
  EXPECT_EQ(no_trial_status, 404);
  auto [page_status, page] = Get("/api/nothing");
  EXPECT_EQ(page_status, 404);
  auto [importance_status, importance] = Get("/api/importance?study=dash");
  EXPECT_EQ(importance_status, 409) << importance.dump();
  // Still serving.
  EXPECT_EQ(Get("/api/studies").first, 200);
}

TEST_F(DashboardTest, ATokenIsRequiredWhenTheUserHasOne) {
  StartDashboard("s3cret-token");
  EXPECT_THAT(dashboard_->Url(), ::testing::EndsWith("/?token=s3cret-token"));
  auto [refused, body] = Get("/api/studies");
  EXPECT_EQ(refused, 401);
  EXPECT_THAT(body.value("error", ""), HasSubstr("token"));
  EXPECT_EQ(Get("/api/studies", {{"Authorization", "Bearer wrong-token!"}}).first, 401);
  EXPECT_EQ(Get("/api/studies", {{"Authorization", "Bearer s3cret-token"}}).first, 200);
  EXPECT_EQ(Get("/api/studies", {{"Cookie", "a=b; vernier_token=s3cret-token"}}).first, 200);

  httplib::Result wrong = http_->Get("/?token=nope");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  httplib::Result right = http_->Get("/?token=s3cret-token");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 302);
  EXPECT_THAT(right->get_header_value("Set-Cookie"), HasSubstr("vernier_token=s3cret-token"));
  EXPECT_THAT(right->get_header_value("Set-Cookie"), HasSubstr("HttpOnly"));
}

TEST_F(DashboardTest, StaticFilesAreServedFromTheBinary) {
  StartDashboard();
  for (const char* path : {"/", "/app.js", "/app.css", "/echarts.min.js"}) {
    httplib::Result result = http_->Get(path);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 200) << path;
    EXPECT_GT(result->body.size(), 100u) << path;
  }
}

TEST_F(DashboardTest, EventsStreamAReportAsItHappens) {
  StartDashboard();
  const int64_t number = RunTrial(1, /*tell=*/false);
  absl::Mutex mu;
  std::string received;  // Guarded by mu.
  bool seen_step = false;
  std::thread reader([&] {
    httplib::Client client("127.0.0.1", dashboard_->port());
    client.set_read_timeout(20, 0);
    client.Get("/api/events?study=dash", [&](const char* data, size_t length) {
      absl::MutexLock lock(&mu);
      received.append(data, length);
      seen_step = received.find("\"step\":7") != std::string::npos;
      return !seen_step;  // Seen: close the stream.
    });
  });
  {
    // The stream starts with a resync; then the report below.
    absl::MutexLock lock(&mu);
    auto started = [&] {
      return received.find(R"("kind":"resync","reason":"start")") != std::string::npos;
    };
    mu.AwaitWithTimeout(absl::Condition(&started), absl::Seconds(10));
  }
  ReportValue("dash", number, 7, 0.25);
  reader.join();
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(seen_step);
  EXPECT_THAT(received, HasSubstr("\"kind\":\"measurement\""));
  EXPECT_EQ(Get("/api/events").first, 400);
  EXPECT_EQ(Get("/api/events?study=nope").first, 404);
}

// A study changing faster than the dashboard streams (here: more than 3
// events a second) gets one `busy` event, and the stream ends there (the
// client's read returns) instead of sending every change.
TEST_F(DashboardTest, AStudyChangingTooFastEndsItsStreamWithBusy) {
  StartDashboard("", /*max_events_per_second=*/3);
  absl::Mutex mu;
  std::string received;  // Guarded by mu.
  bool ended = false;    // Guarded by mu.
  std::thread reader([&] {
    httplib::Client client("127.0.0.1", dashboard_->port());
    client.set_read_timeout(30, 0);
    client.Get("/api/events?study=dash", [&](const char* data, size_t length) {
      absl::MutexLock lock(&mu);
      received.append(data, length);
      return true;  // Read until the dashboard ends the stream.
    });
    absl::MutexLock lock(&mu);
    ended = true;
  });
  {
    absl::MutexLock lock(&mu);
    auto started = [&] { return received.find(R"("reason":"start")") != std::string::npos; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&started), absl::Seconds(10)));
  }
  // 12 measurements, each an event, as fast as the server takes them.
  RunTrial(12, /*tell=*/false);
  reader.join();
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(ended);
  EXPECT_THAT(received, HasSubstr(R"("kind":"busy","reason":"over 3 changes a second")"));
  // Nothing after busy, and not every change was sent.
  EXPECT_EQ(received.find("data:", received.find("\"busy\"")), std::string::npos);
  EXPECT_EQ(received.find("\"step\":11"), std::string::npos);
}

}  // namespace
}  // namespace vernier
