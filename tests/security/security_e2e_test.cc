// Security end to end: the real vernier-server, vernier-worker and vernier
// binaries as separate processes on loopback, with token files and tokens in
// the environment, as an operator would run them.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/process_util.h"
#include "tests/security/test_certs.h"

namespace vernier::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kWorker[] = "e2e-worker-token-0123456789";
constexpr char kUser[] = "e2e-user-token-0123456789";

// A trial program that reports one final result on the report channel.
constexpr char kStudy[] = R"(name: secured
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 2, parallel: 1}
trainer: {command: [/bin/sh, -c, 'echo "{\"final\": true, \"metrics\": {\"loss\": 0.5}}" >&3']}
)";

class SecurityE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    dir_ = temp_.path();
    address_ = absl::StrCat("127.0.0.1:", FreePort());
    WriteFile(dir_ / "worker.token", absl::StrCat("# workers\n", kWorker, "\n"));
    WriteFile(dir_ / "user.token", absl::StrCat(kUser, "\n"));
  }
  void TearDown() override {
    worker_.reset();
    server_.reset();
  }

  std::vector<std::string> ServerArgv() {
    return {VERNIER_SERVER_BIN, "--db", (dir_ / "vernier.db").string(), "--listen", address_};
  }

  bool StartServer(std::vector<std::string> extra) {
    std::vector<std::string> argv = ServerArgv();
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<Process>(argv, dir_ / "server.log");
    return WaitUntil(
               [&] {
                 return server_->Log().find("serving on port") != std::string::npos ||
                        !server_->Alive();
               },
               absl::Seconds(30)) &&
           server_->Alive();
  }

  // Runs the CLI with `env` ("NAME=value ..." or "") in front.
  CliResult Cli(const std::string& env, const std::vector<std::string>& args) {
    const fs::path out = dir_ / absl::StrCat("cli-", calls_, ".out");
    const fs::path err = dir_ / absl::StrCat("cli-", calls_++, ".err");
    std::string command =
        absl::StrCat("env -u VERNIER_TOKEN ", env, " '", VERNIER_CLI_BIN, "' --server ", address_);
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " >'", out.string(), "' 2>'", err.string(), "'");
    return {RunShell(command), ReadFile(out), ReadFile(err)};
  }

  // A failed test's directory stays, with the logs of the processes it
  // started. Declared before the processes, so removed after they stop.
  ::vernier::testing::TempDir temp_{::vernier::testing::TempDir::OnFailure::kKeep};
  fs::path dir_;  // temp_.path().
  std::string address_;
  std::unique_ptr<Process> server_;
  std::unique_ptr<Process> worker_;
  int calls_ = 0;
};

TEST_F(SecurityE2eTest, ServerWithoutTokensOrInsecureRefusesToStart) {
  Process server(ServerArgv(), dir_ / "server.log");
  ASSERT_TRUE(WaitUntil([&] { return !server.Alive(); }, absl::Seconds(30)));
  const std::string log = server.Log();
  EXPECT_THAT(log, HasSubstr("--worker-token-file"));
  EXPECT_THAT(log, HasSubstr("--user-token-file"));
  EXPECT_THAT(log, HasSubstr("--insecure"));
  EXPECT_FALSE(fs::exists(dir_ / "vernier.db"));
}

TEST_F(SecurityE2eTest, TokensFromFilesAndEnvironmentRunAStudy) {
  ASSERT_TRUE(StartServer({"--worker-token-file", (dir_ / "worker.token").string(),
                           "--user-token-file", (dir_ / "user.token").string()}))
      << server_->Log();
  // No token, a wrong one, and the worker's token: refused with exit code 1.
  CliResult none = Cli("", {"study", "list"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("missing or unknown token"));
  CliResult wrong = Cli("VERNIER_TOKEN=not-the-right-token-123", {"study", "list"});
  EXPECT_EQ(wrong.exit_code, 1);
  CliResult as_worker =
      Cli("", {"--token-file", (dir_ / "worker.token").string(), "study", "list"});
  EXPECT_EQ(as_worker.exit_code, 1);
  EXPECT_THAT(as_worker.err, HasSubstr("needs a user token"));

  // The user token from the environment creates the study.
  WriteFile(dir_ / "study.yaml", kStudy);
  const std::string user_env = absl::StrCat("VERNIER_TOKEN=", kUser);
  CliResult created = Cli(user_env, {"study", "create", "-f", (dir_ / "study.yaml").string()});
  ASSERT_EQ(created.exit_code, 0) << created.err;

  // A worker with its token file runs both trials.
  worker_ = std::make_unique<Process>(
      std::vector<std::string>{VERNIER_WORKER_BIN, "--server", address_, "--cpu-slots", "1",
                               "--work-dir", (dir_ / "work").string(), "--token-file",
                               (dir_ / "worker.token").string()},
      dir_ / "worker.log");
  const bool done = WaitUntil(
      [&] {
        CliResult show = Cli(user_env, {"--format", "json", "study", "show", "secured"});
        return show.exit_code == 0 && show.out.find("\"COMPLETED\"") != std::string::npos;
      },
      absl::Seconds(60));
  EXPECT_TRUE(done) << worker_->Log() << server_->Log();
}

TEST_F(SecurityE2eTest, WorkerWithAUserTokenGetsNoTrial) {
  ASSERT_TRUE(StartServer({"--worker-token-file", (dir_ / "worker.token").string(),
                           "--user-token-file", (dir_ / "user.token").string()}))
      << server_->Log();
  WriteFile(dir_ / "study.yaml", kStudy);
  ASSERT_EQ(Cli(absl::StrCat("VERNIER_TOKEN=", kUser),
                {"study", "create", "-f", (dir_ / "study.yaml").string()})
                .exit_code,
            0);
  worker_ = std::make_unique<Process>(
      std::vector<std::string>{VERNIER_WORKER_BIN, "--server", address_, "--cpu-slots", "1",
                               "--work-dir", (dir_ / "work").string(), "--token-file",
                               (dir_ / "user.token").string()},
      dir_ / "worker.log");
  EXPECT_TRUE(
      WaitUntil([&] { return worker_->Log().find("needs a worker token") != std::string::npos; },
                absl::Seconds(30)))
      << worker_->Log();
  CliResult trials = Cli(absl::StrCat("VERNIER_TOKEN=", kUser), {"trials", "secured"});
  EXPECT_EQ(trials.exit_code, 0);
  EXPECT_THAT(trials.out, ::testing::Not(HasSubstr("RUNNING")));
}

// The TLS flags of all three programs: mutual TLS, a worker and the CLI with
// client certificates and tokens run a study; the CLI without --tls-ca fails.
TEST_F(SecurityE2eTest, MutualTlsFlagsRunAStudy) {
  std::string log;
  ASSERT_TRUE(MakeTestCertificates(dir_, &log)) << log;
  const auto file = [&](const std::string& name) { return (dir_ / name).string(); };
  ASSERT_TRUE(StartServer({"--worker-token-file", file("worker.token"), "--user-token-file",
                           file("user.token"), "--tls-cert", file("server.pem"), "--tls-key",
                           file("server.key"), "--tls-client-ca", file("ca.pem")}))
      << server_->Log();
  EXPECT_THAT(server_->Log(), HasSubstr("TLS"));
  const std::string user_env = absl::StrCat("VERNIER_TOKEN=", kUser);
  const std::vector<std::string> tls = {"--tls-ca",         file("ca.pem"), "--tls-cert",
                                        file("client.pem"), "--tls-key",    file("client.key")};
  EXPECT_EQ(Cli(user_env, {"study", "list"}).exit_code, 1);  // Plain text: refused.
  WriteFile(dir_ / "study.yaml", kStudy);
  std::vector<std::string> create = tls;
  create.insert(create.end(), {"study", "create", "-f", file("study.yaml")});
  CliResult created = Cli(user_env, create);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::vector<std::string> worker_argv = {
      VERNIER_WORKER_BIN, "--server",   address_,       "--cpu-slots",       "1",
      "--work-dir",       file("work"), "--token-file", file("worker.token")};
  worker_argv.insert(worker_argv.end(), tls.begin(), tls.end());
  worker_ = std::make_unique<Process>(worker_argv, dir_ / "worker.log");
  std::vector<std::string> show = tls;
  show.insert(show.end(), {"--format", "json", "study", "show", "secured"});
  EXPECT_TRUE(WaitUntil(
      [&] {
        CliResult shown = Cli(user_env, show);
        return shown.exit_code == 0 && shown.out.find("\"COMPLETED\"") != std::string::npos;
      },
      absl::Seconds(60)))
      << worker_->Log() << server_->Log();
}

TEST_F(SecurityE2eTest, InsecureFlagServesWithoutTokens) {
  ASSERT_TRUE(StartServer({"--insecure"})) << server_->Log();
  EXPECT_THAT(server_->Log(), HasSubstr("WITHOUT authentication"));
  EXPECT_EQ(Cli("", {"study", "list"}).exit_code, 0);
}

}  // namespace
}  // namespace vernier::testing
