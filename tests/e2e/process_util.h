// Helpers for tests that drive the real binaries as separate processes:
// spawning and signalling children, waiting for conditions, free loopback
// ports, and a fixture that runs vernier-server, vernier-worker and the
// vernier CLI in a private temporary directory.
//
// Header-only so that any test folder can use it; the binaries' paths come
// from the including target's compile definitions VERNIER_SERVER_BIN,
// VERNIER_WORKER_BIN and VERNIER_CLI_BIN (VernierProcessTest only).
//
// Thread-safety: none; each test drives its processes from one thread.
#ifndef VERNIER_TESTS_E2E_PROCESS_UTIL_H_
#define VERNIER_TESTS_E2E_PROCESS_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace vernier::testing {

inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Polls `done` every 100 ms until it holds or `timeout` passes; returns
// whether it held. The timeout only keeps a broken run from hanging.
inline bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return done();
}

// A loopback port nothing listens on right now.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Runs `command` through the shell; returns its exit code (-1 for a signal).
inline int RunShell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether `binary --help` lists `flag`: lets the tests follow a flag that
// lands later (e.g. --insecure once authentication is on by default).
inline bool HelpMentions(const std::string& binary, const std::string& flag) {
  static std::map<std::string, bool>* cache = new std::map<std::string, bool>();
  const std::string key = binary + " " + flag;
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / absl::StrCat("vernier_help_", getpid(), ".txt");
  RunShell(absl::StrCat("'", binary, "' --help >'", out.string(), "' 2>&1"));
  const bool found = ReadFile(out).find(flag) != std::string::npos;
  std::filesystem::remove(out);
  (*cache)[key] = found;
  return found;
}

// A child process with stdout and stderr appended to a log file. The
// destructor kills it (SIGKILL) and reaps it.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::filesystem::path& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ), 0) << argv[0];
    posix_spawn_file_actions_destroy(&actions);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    Signal(SIGCONT);  // A stopped process must be able to die.
    Kill(SIGKILL);
  }

  pid_t pid() const { return pid_; }
  bool Alive() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  // Sends `signal` without waiting (SIGSTOP, SIGCONT, ...).
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }
  // Sends `signal` and reaps the process.
  void Kill(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string Log() const { return ReadFile(log_); }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A private directory per test, a vernier-server on a fixed loopback port
// that can be killed and restarted on the same database, workers, and the
// CLI pointed at the server.
class VernierProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    dir_ = temp_.path();
    port_ = FreePort();
    address_ = absl::StrCat("127.0.0.1:", port_);
  }
  void TearDown() override {
    workers_.clear();
    server_.reset();
  }

  // Starts (or restarts) vernier-server on dir_/vernier.db and port_, and
  // waits until it serves. Returns false (with a test failure) otherwise.
  bool StartServer(double lease_seconds, double heartbeat_seconds = 0.5) {
    std::vector<std::string> argv = {VERNIER_SERVER_BIN,
                                     "--db",
                                     (dir_ / "vernier.db").string(),
                                     "--listen",
                                     address_,
                                     "--lease-seconds",
                                     absl::StrCat(lease_seconds),
                                     "--heartbeat-seconds",
                                     absl::StrCat(heartbeat_seconds)};
    if (HelpMentions(VERNIER_SERVER_BIN, "--insecure")) argv.push_back("--insecure");
    const size_t log_start = std::filesystem::exists(dir_ / "server.log")
                                 ? std::filesystem::file_size(dir_ / "server.log")
                                 : 0;
    server_ = std::make_unique<Process>(argv, dir_ / "server.log");
    const bool up = WaitUntil(
        [&] {
          return server_->Log().find("serving on port", log_start) != std::string::npos ||
                 !server_->Alive();
        },
        absl::Seconds(30));
    const bool serving = up && server_->Alive();
    EXPECT_TRUE(serving) << server_->Log();
    return serving;
  }

  // Starts a worker with `slots` CPU slots; extra flags are appended.
  Process& StartWorker(const std::string& name, int slots = 1,
                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {VERNIER_WORKER_BIN,
                                     "--server",
                                     address_,
                                     "--name",
                                     name,
                                     "--cpu-slots",
                                     absl::StrCat(slots),
                                     "--threads-per-slot",
                                     "1",
                                     "--work-dir",
                                     (dir_ / ("work-" + name)).string()};
    if (HelpMentions(VERNIER_WORKER_BIN, "--insecure")) argv.push_back("--insecure");
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_.push_back(std::make_unique<Process>(argv, dir_ / (name + ".log")));
    return *workers_.back();
  }

  CliResult Cli(const std::vector<std::string>& args) {
    const std::filesystem::path out = dir_ / absl::StrCat("cli-", cli_calls_, ".out");
    const std::filesystem::path err = dir_ / absl::StrCat("cli-", cli_calls_++, ".err");
    std::string command = absl::StrCat("'", VERNIER_CLI_BIN, "' --server ", address_);
    if (HelpMentions(VERNIER_CLI_BIN, "--insecure")) absl::StrAppend(&command, " --insecure");
    for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
    absl::StrAppend(&command, " >'", out.string(), "' 2>'", err.string(), "'");
    CliResult result{RunShell(command), ReadFile(out), ReadFile(err)};
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return result;
  }

  // The CLI's JSON answer, or a discarded value when the call failed.
  nlohmann::json CliJson(std::vector<std::string> args) {
    args.insert(args.begin(), {"--format", "json"});
    CliResult result = Cli(args);
    if (result.exit_code != 0) return nlohmann::json(nlohmann::json::value_t::discarded);
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  // Creates the study in `spec`; returns whether the CLI accepted it.
  bool CreateStudy(const std::string& spec) {
    const std::filesystem::path file = dir_ / "study.yaml";
    WriteFile(file, spec);
    CliResult result = Cli({"study", "create", "-f", file.string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0;
  }

  bool WaitForStudyEnd(const std::string& name, absl::Duration timeout) {
    return WaitUntil(
        [&] {
          nlohmann::json study = CliJson({"study", "show", name});
          return study.is_object() && study["state"] != "ACTIVE";
        },
        timeout);
  }

  // Every log in dir_, for failure messages.
  std::string Logs() {
    std::string logs;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().extension() == ".log") {
        absl::StrAppend(&logs, "\n==> ", entry.path().string(), "\n", ReadFile(entry.path()));
      }
    }
    return logs;
  }

  // A failed test's directory stays, with the logs of the processes it
  // started. Declared before the processes, so removed after they stop.
  ::vernier::testing::TempDir temp_{::vernier::testing::TempDir::OnFailure::kKeep};
  std::filesystem::path dir_;  // temp_.path().
  int port_ = 0;
  std::string address_;
  std::unique_ptr<Process> server_;
  std::vector<std::unique_ptr<Process>> workers_;
  int cli_calls_ = 0;
};

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_E2E_PROCESS_UTIL_H_
