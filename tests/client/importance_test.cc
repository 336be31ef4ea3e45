// `vernier importance`: what it asks the server for (gRPC's generated mock
// stub), which trials and values it hands to fANOVA, and what it prints.
#include "client/importance.h"

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/schema/study_schema.h"
#include "tests/testing/service_mocks.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::vernier::testing::StatusIs;

constexpr char kImportanceStudy[] = R"(
name: imp
objectives: [{metric: loss, goal: minimize}, {metric: latency, goal: minimize}]
params:
  x:   {type: float, low: 0.0, high: 1.0}
  z:   {type: float, low: 0.0, high: 1.0}
  opt: {type: categorical, values: [sgd, adam]}
sampler: {type: nsga2}
trainer: {command: [/bin/true]}
)";

v1::Study Study() {
  v1::Study study;
  study.set_name("imp");
  *study.mutable_spec() = StudySpecToProto(VALUE_OR_FAIL(ParseStudySpec(kImportanceStudy)));
  for (const char* metric : {"loss", "latency"}) study.add_objectives()->set_metric(metric);
  *study.mutable_objective() = study.objectives(0);
  return study;
}

// A COMPLETE trial with objective values {loss, latency}.
v1::Trial Trial(int64_t number, double x, double z, const std::string& opt, double loss,
                double latency) {
  v1::Trial trial;
  trial.set_number(number);
  trial.set_state(v1::TRIAL_STATE_COMPLETE);
  (*trial.mutable_params())["x"].set_double_value(x);
  (*trial.mutable_params())["z"].set_double_value(z);
  (*trial.mutable_params())["opt"].set_string_value(opt);
  trial.set_objective_value(loss);
  trial.add_objective_values(loss);
  trial.add_objective_values(latency);
  return trial;
}

// 40 trials on a grid: loss is mostly x, latency is mostly opt.
std::vector<v1::Trial> Trials() {
  std::vector<v1::Trial> trials;
  for (int i = 0; i < 40; ++i) {
    const double x = (i % 8) / 7.0;
    const double z = (i % 5) / 4.0;
    const std::string opt = i % 2 == 0 ? "sgd" : "adam";
    trials.push_back(Trial(i, x, z, opt, 10 * x + 0.1 * z, opt == "adam" ? 5 + 0.1 * x : 1));
  }
  return trials;
}

TEST(ObjectiveIndexTest, FirstObjectiveUnlessAnotherIsNamed) {
  EXPECT_EQ(VALUE_OR_FAIL(ObjectiveIndex(Study(), "")), 0);
  EXPECT_EQ(VALUE_OR_FAIL(ObjectiveIndex(Study(), "latency")), 1);
  EXPECT_THAT(ObjectiveIndex(Study(), "accuracy"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("--objective"), HasSubstr("\"accuracy\""),
                                        HasSubstr("loss, latency"))));
}

TEST(ImportanceTrialsTest, CompleteTrialsWithTheChosenObjectiveExceptRefits) {
  std::vector<v1::Trial> trials = {Trial(0, 0.5, 0.5, "sgd", 1.0, 20.0),
                                   Trial(1, 0.5, 0.5, "sgd", 2.0, 30.0),
                                   Trial(2, 0.5, 0.5, "sgd", 3.0, 40.0)};
  trials[1].set_origin("refit:0");
  trials[2].set_state(v1::TRIAL_STATE_PRUNED);
  v1::Trial single = Trial(3, 0.1, 0.2, "adam", 4.0, 0);
  single.clear_objective_values();  // A single-objective trial: objective_value only.
  trials.push_back(single);

  std::vector<ImportanceTrial> latency = ImportanceTrials(trials, 1);
  ASSERT_EQ(latency.size(), 2u);
  EXPECT_EQ(latency[0].value, 20.0);
  EXPECT_TRUE(std::isnan(latency[1].value));
  EXPECT_EQ(std::get<std::string>(latency[0].params.at("opt")), "sgd");
  EXPECT_EQ(std::get<double>(latency[0].params.at("x")), 0.5);

  std::vector<ImportanceTrial> loss = ImportanceTrials(trials, 0);
  ASSERT_EQ(loss.size(), 2u);
  EXPECT_EQ(loss[1].value, 4.0);
}

class ImportanceCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EXPECT_CALL(stub_, GetStudy(_, _, _))
        .WillRepeatedly(
            Invoke([](grpc::ClientContext*, const v1::GetStudyRequest& request, v1::Study* study) {
              EXPECT_EQ(request.name(), "imp");
              *study = Study();
              return grpc::Status::OK;
            }));
    EXPECT_CALL(stub_, ListTrials(_, _, _))
        .WillRepeatedly(Invoke([this](grpc::ClientContext*, const v1::ListTrialsRequest& request,
                                      v1::ListTrialsResponse* response) {
          requests_.push_back(request);
          for (const v1::Trial& trial : Trials()) *response->add_trials() = trial;
          return grpc::Status::OK;
        }));
  }

  // The command's JSON output.
  nlohmann::json RunJson(const ImportanceArgs& args) {
    ctx_.format = OutputFormat::kJson;
    EXPECT_OK(ImportanceCommand(ctx_, args));
    return nlohmann::json::parse(out_.str());
  }

  static std::vector<std::string> Params(const nlohmann::json& out) {
    std::vector<std::string> names;
    for (const auto& row : out["importances"]) names.push_back(row["param"]);
    return names;
  }

  v1::MockStudyServiceStub stub_;
  std::ostringstream out_;
  CommandContext ctx_{&stub_, &out_, OutputFormat::kTable, "test-server"};
  std::vector<v1::ListTrialsRequest> requests_;
};

TEST_F(ImportanceCommandTest, AsksForCompleteTrialsWithoutCurves) {
  ImportanceArgs args;
  args.study = "imp";
  nlohmann::json out = RunJson(args);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].study(), "imp");
  EXPECT_THAT(requests_[0].states(), ElementsAre(v1::TRIAL_STATE_COMPLETE));
  EXPECT_TRUE(requests_[0].omit_intermediate());
  EXPECT_GT(requests_[0].page_size(), 0);
  EXPECT_EQ(requests_[0].sample_size(), 0);  // No cap: every trial.
  EXPECT_EQ(out["study"], "imp");
  EXPECT_EQ(out["trials_used"], 40);
}

TEST_F(ImportanceCommandTest, ACapAsksTheServerForAnEvenlySpacedSample) {
  ImportanceArgs args;
  args.study = "imp";
  args.max_trials = 10;
  nlohmann::json out = RunJson(args);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].sample_size(), 10);
  // This server sent all 40 anyway (as one without sampling would): the
  // client spaces them itself.
  EXPECT_EQ(out["trials_used"], 10);
}

TEST_F(ImportanceCommandTest, ExplainsTheFirstObjectiveUnlessAnotherIsNamed) {
  ImportanceArgs args;
  args.study = "imp";
  nlohmann::json loss = RunJson(args);
  EXPECT_EQ(loss["objective"], "loss");
  EXPECT_EQ(Params(loss).front(), "x");

  out_.str("");
  args.objective = "latency";
  nlohmann::json latency = RunJson(args);
  EXPECT_EQ(latency["objective"], "latency");
  EXPECT_EQ(Params(latency).front(), "opt");
  double sum = 0;
  for (const auto& row : latency["importances"]) sum += row["importance"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-9);
}

TEST_F(ImportanceCommandTest, TableListsParametersByDescendingImportance) {
  ImportanceArgs args;
  args.study = "imp";
  args.params = {"z", "x"};
  ASSERT_OK(ImportanceCommand(ctx_, args));
  const std::string text = out_.str();
  EXPECT_THAT(text, HasSubstr("PARAM"));
  EXPECT_THAT(text, HasSubstr("IMPORTANCE"));
  EXPECT_LT(text.find("\nx "), text.find("\nz ")) << text;
  EXPECT_EQ(text.find("opt"), std::string::npos) << text;
  EXPECT_THAT(text, HasSubstr("over 40 COMPLETE trials (seed 0)"));
}

TEST_F(ImportanceCommandTest, SameSeedSameOutput) {
  ImportanceArgs args;
  args.study = "imp";
  args.seed = 3;
  const nlohmann::json first = RunJson(args);
  out_.str("");
  EXPECT_EQ(RunJson(args), first);
  EXPECT_EQ(first["seed"], 3);
}

TEST_F(ImportanceCommandTest, UnknownParameterNamesTheFlag) {
  ImportanceArgs args;
  args.study = "imp";
  args.params = {"x", "lr"};
  EXPECT_THAT(ImportanceCommand(ctx_, args),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(::testing::StartsWith("--params: \"lr\""),
                                        HasSubstr("x, z, opt"))));
}

TEST(ImportanceCommandErrorTest, FewerThanTwoCompleteTrialsNamesTheStudy) {
  v1::MockStudyServiceStub stub;
  EXPECT_CALL(stub, GetStudy(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const v1::GetStudyRequest&, v1::Study* study) {
        *study = Study();
        return grpc::Status::OK;
      }));
  EXPECT_CALL(stub, ListTrials(_, _, _))
      .WillOnce(Invoke(
          [](grpc::ClientContext*, const v1::ListTrialsRequest&, v1::ListTrialsResponse* response) {
            *response->add_trials() = Trial(0, 0.5, 0.5, "sgd", 1, 1);
            return grpc::Status::OK;
          }));
  std::ostringstream out;
  CommandContext ctx{&stub, &out, OutputFormat::kTable, "test-server"};
  ImportanceArgs args;
  args.study = "imp";
  EXPECT_THAT(ImportanceCommand(ctx, args),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("study imp"), HasSubstr("got 1"))));
  EXPECT_EQ(out.str(), "");
}

TEST(EvenlySpacedTest, KeepsAtMostTheCapSpreadOverTheTrialsInOrder) {
  std::vector<v1::Trial> trials(10);
  for (int i = 0; i < 10; ++i) trials[i].set_number(i);
  std::vector<int64_t> kept;
  for (const v1::Trial& trial : EvenlySpaced(trials, 4)) kept.push_back(trial.number());
  EXPECT_EQ(kept, (std::vector<int64_t>{0, 2, 5, 7}));
  EXPECT_EQ(EvenlySpaced(trials, 0).size(), 10u);
  EXPECT_EQ(EvenlySpaced(trials, 10).size(), 10u);
  EXPECT_EQ(EvenlySpaced(trials, 1).front().number(), 0);
}

}  // namespace
}  // namespace vernier
