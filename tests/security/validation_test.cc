// Bad input from users and the network: study names that would escape a
// directory, trial commands that would need a shell, and oversized messages.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/channel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/study_spec.h"
#include "server/schema/study_schema.h"
#include "server/service/server_runner.h"
#include "tests/security/security_test_util.h"
#include "tests/testing/status_matchers.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "worker/posix_trial_launcher.h"
#include "worker/trial_launcher.h"

namespace vernier {
namespace {

using ::vernier::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::vernier::testing::TempDir;

std::string SpecNamed(const std::string& name) {
  return "name: '" + name + R"('
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 1}
trainer: {command: [python3, trial.py]}
)";
}

TEST(StudyNameTest, NamesThatCouldBecomePathsAreRejectedNamingFieldAndValue) {
  for (const std::string& name :
       std::vector<std::string>{"..", ".", "../../etc", "a/b", "/abs", "a\\\\b", ".hidden", "",
                                "name with space", "semi;colon", "$(id)", std::string(65, 'a')}) {
    absl::StatusOr<StudySpec> spec = ParseStudySpec(SpecNamed(name));
    ASSERT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument))
        << "accepted \"" << name << "\"";
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr("name")) << name;
    if (!name.empty()) {
      EXPECT_THAT(std::string(spec.status().message()), HasSubstr(name.substr(0, 10))) << name;
    }
  }
  EXPECT_OK(ParseStudySpec(SpecNamed("fashion-cnn_v2.1")));
  EXPECT_OK(ParseStudySpec(SpecNamed(std::string(64, 'a'))));
}

// Found by tests/fuzz (regressions/study_spec): a spec with bytes that are not
// UTF-8 made the parser throw (nlohmann's dump) instead of answering.
TEST(StudySpecBytesTest, InvalidUtf8IsInvalidArgumentNotACrash) {
  for (const std::string& bad : {std::string("\xff"), std::string("\xed\xa0\x80"),
                                 std::string("\xc3"), std::string("\xc0\xaf")}) {
    const std::string spec = SpecNamed("u") + "# " + bad + "\n";
    absl::StatusOr<StudySpec> parsed = ParseStudySpec(spec);
    ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("UTF-8"));
  }
  // A parameter whose mapping is replaced by a string holding such bytes.
  std::string spec = SpecNamed("u");
  spec.replace(spec.find("{type: float"), 0, "'\xff' #");
  EXPECT_THAT(ParseStudySpec(spec), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ParseStudySpec(SpecNamed("u") + "# caf\xc3\xa9 \xe2\x82\xac\n"));
}

// The worker builds trial directories from the study name it is sent; even a
// name that bypassed the server's check must stay under the work directory.
TEST(TrialDirTest, HostileStudyNamesStayInsideTheWorkDirectory) {
  TempDir dir;
  const fs::path work = dir.File("work");
  fs::create_directories(work);
  for (const std::string study : {"..", "../../escape", "/tmp/escape", "a/../../b", "."}) {
    absl::StatusOr<std::string> trial = worker::MakeTrialDir(work.string(), study, 0, 0);
    ASSERT_OK(trial) << study;
    const fs::path canonical = fs::weakly_canonical(*trial);
    const std::string prefix = fs::weakly_canonical(work).string() + "/";
    EXPECT_EQ(canonical.string().rfind(prefix, 0), 0u) << study << " -> " << canonical;
  }
  EXPECT_FALSE(fs::exists(dir.File("escape")));
}

// Trial commands are an argv run with execve: shell syntax in an argument is
// passed through as text, never interpreted.
TEST(TrialCommandTest, ArgumentsAreNotInterpretedByAShell) {
  TempDir dir;
  const fs::path trial_dir = dir.File("trial");
  fs::create_directories(trial_dir);
  const std::string marker = dir.File("pwned");
  worker::TrialSpec spec;
  spec.argv = {"/bin/echo", "$(touch " + marker + ")", "; touch " + marker,
               "`touch " + marker + "`", "&& touch " + marker};
  spec.study = "s";
  spec.trial_dir = trial_dir.string();
  spec.time_limit = absl::Seconds(30);
  worker::PosixTrialLauncher launcher;
  absl::StatusOr<std::unique_ptr<worker::TrialProcess>> process = launcher.Start(spec);
  ASSERT_OK(process);
  while ((*process)->NextReport().has_value()) {
  }
  worker::TrialExit exit = (*process)->Wait();
  EXPECT_TRUE(exit.exited);
  EXPECT_FALSE(fs::exists(marker));
  std::ifstream log(trial_dir / "trial.log");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_THAT(text, HasSubstr("$(touch " + marker + ")"));
  EXPECT_THAT(text, HasSubstr("; touch " + marker));
}

class MessageSizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options = testing::TokenServerOptions(dir_);
    auto runner = ServerRunner::Start(options);
    ASSERT_OK(runner);
    runner_ = std::move(*runner);
    address_ = "127.0.0.1:" + std::to_string(runner_->port());
  }

  grpc::Status Create(const std::shared_ptr<grpc::Channel>& channel, const std::string& spec) {
    auto stub = v1::StudyService::NewStub(channel);
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + testing::kUserToken);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::CreateStudyRequest request;
    request.set_spec_yaml(spec);
    v1::Study study;
    return stub->CreateStudy(&context, request, &study);
  }

  TempDir dir_;
  std::unique_ptr<ServerRunner> runner_;
  std::string address_;
};

TEST_F(MessageSizeTest, OversizedSpecIsResourceExhaustedAndTheServerGoesOn) {
  // 17 MiB of comment after a valid spec: over the 16 MiB bound.
  const std::string huge = SpecNamed("big") + "# " + std::string(17 << 20, 'x') + "\n";
  // A raw channel without a send bound: the server refuses it.
  grpc::ChannelArguments unbounded;
  unbounded.SetMaxSendMessageSize(-1);
  auto raw = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), unbounded);
  grpc::Status server_side = Create(raw, huge);
  EXPECT_EQ(server_side.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << server_side.error_message();
  // The CLI's channel refuses to send it at all.
  ChannelOptions options;
  options.address = address_;
  auto bounded = MakeChannel(options);
  ASSERT_OK(bounded);
  EXPECT_EQ(Create(*bounded, huge).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The server is still there, and a normal spec works.
  grpc::Status normal = Create(raw, SpecNamed("small"));
  EXPECT_TRUE(normal.ok()) << normal.error_message();
}

}  // namespace
}  // namespace vernier
