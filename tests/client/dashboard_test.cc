// The dashboard's JSON API over HTTP (cpp-httplib's client), served by a real
// Dashboard in front of a real in-process vernier-server with an ask/tell
// study: the answers' contents, live events, tokens and bad parameters. The
// page's plots are checked in a real browser by tests/dashboard.
#include <httplib.h>

#include <cmath>
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

TEST(DashboardJsonTest, TrialColumnsHoldOneEntryPerTrialAndNullWhereNone) {
  v1::Study study;
  study.set_name("s");
  study.mutable_objective()->set_metric("loss");
  study.mutable_spec()->add_params()->set_name("x");
  std::vector<v1::Trial> trials(2);
  trials[0].set_number(0);
  trials[0].set_state(v1::TRIAL_STATE_COMPLETE);
  trials[0].set_objective_value(0.5);
  (*trials[0].mutable_params())["x"].set_double_value(1.5);
  trials[1].set_number(1);
  trials[1].set_state(v1::TRIAL_STATE_FAILED);
  trials[1].set_failure_reason("boom");
  trials[1].set_objective_value(std::nan(""));
  const json columns = TrialColumnsJson(study, trials);
  EXPECT_EQ(columns["numbers"], json({0, 1}));
  EXPECT_EQ(columns["states"], json({"COMPLETE", "FAILED"}));
  EXPECT_EQ(columns["values"], json::parse("[[0.5, null]]"));
  EXPECT_EQ(columns["params"]["x"], json::parse("[1.5, null]"));
  EXPECT_EQ(columns["failure_reasons"], json({"", "boom"}));
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

  void StartDashboard(const std::string& token = "") {
    ctx_ = CommandContext{studies_.get(), &out_, OutputFormat::kTable, "in-process"};
    DashboardOptions options;
    options.listen = "127.0.0.1:0";
    options.token = token;
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
  EXPECT_EQ(trials["states"][3], "RUNNING");
  EXPECT_EQ(trials["params"]["opt"].size(), 4u);

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
    auto started = [&] { return received.find("resync") != std::string::npos; };
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

}  // namespace
}  // namespace vernier
