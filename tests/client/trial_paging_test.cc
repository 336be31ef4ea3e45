// The CLI reads trials page by page (GetTrials): against gRPC's generated mock
// stub for the requests it sends, and against a real in-process server with a
// study larger than one page for the output of `vernier trials` and `vernier
// study export`, which must not change.
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/commands.h"
#include "client/export.h"
#include "client/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/service/in_process_server.h"
#include "tests/testing/service_mocks.h"

namespace vernier {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Invoke;

// A page answer: trials `numbers`, and `next` as the token.
v1::ListTrialsResponse Page(const std::vector<int64_t>& numbers, const std::string& next) {
  v1::ListTrialsResponse page;
  for (int64_t number : numbers) page.add_trials()->set_number(number);
  page.set_next_page_token(next);
  return page;
}

std::vector<int64_t> Numbers(const std::vector<v1::Trial>& trials) {
  std::vector<int64_t> numbers;
  for (const v1::Trial& trial : trials) numbers.push_back(trial.number());
  return numbers;
}

class GetTrialsTest : public ::testing::Test {
 protected:
  // Answers ListTrials with `pages` in turn, recording each request.
  void AnswerWith(std::vector<std::pair<grpc::Status, v1::ListTrialsResponse>> pages) {
    pages_ = std::move(pages);
    EXPECT_CALL(stub_, ListTrials(_, _, _))
        .Times(static_cast<int>(pages_.size()))
        .WillRepeatedly(Invoke([this](grpc::ClientContext*, const v1::ListTrialsRequest& request,
                                      v1::ListTrialsResponse* response) {
          requests_.push_back(request);
          const auto& [status, page] = pages_.at(requests_.size() - 1);
          *response = page;
          return status;
        }));
  }

  v1::MockStudyServiceStub stub_;
  std::ostringstream out_;
  CommandContext ctx_{&stub_, &out_, OutputFormat::kTable, "test-server"};
  std::vector<std::pair<grpc::Status, v1::ListTrialsResponse>> pages_;
  std::vector<v1::ListTrialsRequest> requests_;
};

TEST_F(GetTrialsTest, ReadsPagesOf500AndFollowsTheTokens) {
  AnswerWith({{grpc::Status::OK, Page({0, 1}, "t1")},
              {grpc::Status::OK, Page({2, 3}, "t2")},
              {grpc::Status::OK, Page({4}, "")}});
  absl::StatusOr<std::vector<v1::Trial>> trials = GetTrials(ctx_, "s");
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_THAT(Numbers(*trials), ElementsAre(0, 1, 2, 3, 4));
  ASSERT_EQ(requests_.size(), 3u);
  for (const v1::ListTrialsRequest& request : requests_) {
    EXPECT_EQ(request.study(), "s");
    EXPECT_EQ(request.page_size(), kTrialPageSize);
    EXPECT_EQ(kTrialPageSize, 500);
    // Whole trials in number order: what the commands print.
    EXPECT_FALSE(request.omit_intermediate());
    EXPECT_EQ(request.order_by(), v1::TRIAL_ORDER_UNSPECIFIED);
    EXPECT_EQ(request.states_size(), 0);
  }
  EXPECT_EQ(requests_[0].page_token(), "");
  EXPECT_EQ(requests_[1].page_token(), "t1");
  EXPECT_EQ(requests_[2].page_token(), "t2");
}

TEST_F(GetTrialsTest, AServerWithoutPagingAnswersInOnePage) {
  AnswerWith({{grpc::Status::OK, Page({0, 1, 2}, "")}});
  absl::StatusOr<std::vector<v1::Trial>> trials = GetTrials(ctx_, "s");
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_THAT(Numbers(*trials), ElementsAre(0, 1, 2));
}

TEST_F(GetTrialsTest, APageTooLargeIsAskedAgainWithHalfAsManyTrials) {
  const grpc::Status too_large(grpc::StatusCode::RESOURCE_EXHAUSTED, "message too large");
  AnswerWith({{grpc::Status::OK, Page({0}, "t1")},
              {too_large, v1::ListTrialsResponse()},
              {too_large, v1::ListTrialsResponse()},
              {grpc::Status::OK, Page({1}, "")}});
  absl::StatusOr<std::vector<v1::Trial>> trials = GetTrials(ctx_, "s");
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_THAT(Numbers(*trials), ElementsAre(0, 1));
  ASSERT_EQ(requests_.size(), 4u);
  EXPECT_EQ(requests_[1].page_size(), 500);
  EXPECT_EQ(requests_[2].page_size(), 250);
  EXPECT_EQ(requests_[3].page_size(), 125);
  EXPECT_EQ(requests_[3].page_token(), "t1");
}

TEST_F(GetTrialsTest, AnErrorOnALaterPageIsTheAnswer) {
  AnswerWith({{grpc::Status::OK, Page({0}, "t1")},
              {grpc::Status(grpc::StatusCode::NOT_FOUND, "study \"s\" not found"),
               v1::ListTrialsResponse()}});
  absl::StatusOr<std::vector<v1::Trial>> trials = GetTrials(ctx_, "s");
  EXPECT_EQ(trials.status().code(), absl::StatusCode::kNotFound);
}

// The next page is asked for before the page in hand is handed on, so that
// the server's work and the caller's overlap: the first on_page waits for the
// second request (it would wait forever, up to the test's limit, if the pages
// were read in turn).
TEST_F(GetTrialsTest, TheNextPageIsReadWhileThisOneIsHandedOn) {
  absl::Mutex mu;
  int asked = 0;
  EXPECT_CALL(stub_, ListTrials(_, _, _))
      .Times(2)
      .WillRepeatedly(Invoke([&](grpc::ClientContext*, const v1::ListTrialsRequest& request,
                                 v1::ListTrialsResponse* response) {
        absl::MutexLock lock(&mu);
        *response = request.page_token().empty() ? Page({0}, "t1") : Page({1}, "");
        ++asked;
        return grpc::Status::OK;
      }));
  std::vector<int64_t> seen;
  bool second_asked_before_first_handled = false;
  const absl::Status status =
      ForEachTrialPage(ctx_, v1::ListTrialsRequest(), [&](v1::ListTrialsResponse& page) {
        if (seen.empty()) {
          absl::MutexLock lock(&mu);
          second_asked_before_first_handled =
              mu.AwaitWithTimeout(absl::Condition(
                                      +[](int* n) { return *n >= 2; }, &asked),
                                  absl::Seconds(30));
        }
        for (const v1::Trial& trial : page.trials()) seen.push_back(trial.number());
      });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(second_asked_before_first_handled);
  EXPECT_THAT(seen, ElementsAre(0, 1));
}

// A study of more trials than three pages hold, written straight into the
// server's database (a few thousand RPCs would be slow).
class TrialPagingCliTest : public InProcessServerTest {
 protected:
  static constexpr int kTrials = 3 * kTrialPageSize + 7;

  void SetUp() override {
    InProcessServerTest::SetUp();
    {
      grpc::ClientContext context;
      v1::CreateStudyRequest request;
      request.set_spec_yaml(R"(
name: big
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 5000}
trainer: {external: true}
)");
      v1::Study study;
      ASSERT_TRUE(studies_->CreateStudy(&context, request, &study).ok());
    }
    runner_.reset();
    {
      absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store =
          SqliteStudyStore::Open((dir_ / "vernier.db").string());
      ASSERT_TRUE(store.ok()) << store.status();
      StudyWrite write;
      write.study = "big";
      for (int i = 0; i < kTrials; ++i) {
        TrialRecord trial;
        trial.study = "big";
        trial.number = i;
        trial.params["x"] = static_cast<double>(i) / kTrials;
        trial.state = i % 10 == 3 ? TrialState::kFailed : TrialState::kComplete;
        if (trial.state == TrialState::kComplete) trial.final_metrics["loss"] = 1.0 / (i + 1);
        trial.worker_id = "(ask)";
        trial.attempt = 1;
        trial.start_time = absl::FromUnixSeconds(1000 + i);
        trial.end_time = absl::FromUnixSeconds(1010 + i);
        write.trials.push_back(trial);
        write.measurements.push_back({i, Measurement{1, {{"loss", 2.0 / (i + 1)}}}});
      }
      ASSERT_TRUE((*store)->Apply(write).ok());
    }
    StartServer();  // New stubs.
    ctx_ = CommandContext{studies_.get(), &out_, OutputFormat::kTable, "test-server"};
  }

  // Every trial in one answer (page_size 0), as the CLI read them before.
  std::vector<v1::Trial> OneAnswer() {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    request.set_study("big");
    v1::ListTrialsResponse response;
    EXPECT_TRUE(studies_->ListTrials(&context, request, &response).ok());
    return {response.trials().begin(), response.trials().end()};
  }

  std::ostringstream out_;
  CommandContext ctx_;
};

TEST_F(TrialPagingCliTest, TrialsPrintsEveryTrialOnceAsFromOneAnswer) {
  const std::vector<v1::Trial> all = OneAnswer();
  ASSERT_EQ(all.size(), static_cast<size_t>(kTrials));
  ctx_.format = OutputFormat::kJson;
  ASSERT_TRUE(ListTrialsCommand(ctx_, "big").ok());
  // Finished trials only: the output does not depend on the time it is made.
  EXPECT_EQ(out_.str(), FormatTrials(all, "loss", OutputFormat::kJson, 0));
  nlohmann::json listed = nlohmann::json::parse(out_.str());
  ASSERT_EQ(listed.size(), static_cast<size_t>(kTrials));
  for (int i = 0; i < kTrials; ++i) ASSERT_EQ(listed[i]["number"], i);
}

TEST_F(TrialPagingCliTest, ExportHoldsEveryTrialAndItsCurveAsFromOneAnswer) {
  const std::vector<v1::Trial> all = OneAnswer();
  ExportOptions options;
  options.format = ExportFormat::kCsv;
  options.intermediate_path = (dir_ / "curves.csv").string();
  ASSERT_TRUE(ExportStudyCommand(ctx_, "big", options).ok());
  EXPECT_EQ(out_.str(), ExportTrialsCsv(all, 0));

  out_.str("");
  options = ExportOptions();
  ASSERT_TRUE(ExportStudyCommand(ctx_, "big", options).ok());
  nlohmann::json exported = nlohmann::json::parse(out_.str());
  ASSERT_EQ(exported["trials"].size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(exported["trials"][kTrials - 1]["number"], kTrials - 1);
  EXPECT_EQ(exported["trials"][kTrials - 1]["intermediate"].size(), 1u);
}

}  // namespace
}  // namespace vernier
