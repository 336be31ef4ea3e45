#include "bench/load/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

extern char** environ;

namespace vernier::load {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string HelpText(const std::string& binary) {
  const fs::path out = fs::temp_directory_path() / absl::StrCat("vernier_load_help_", getpid());
  std::system(absl::StrCat("'", binary, "' --help >'", out.string(), "' 2>&1").c_str());
  std::string text = ReadFile(out);
  fs::remove(out);
  return text;
}

}  // namespace

ServerProcess::~ServerProcess() { Kill(); }

std::vector<std::string> ServerProcess::Argv(int port) {
  if (!takes_insecure_) {
    takes_insecure_ = HelpText(launch_.binary).find("--insecure") != std::string::npos;
  }
  std::vector<std::string> argv = {launch_.binary,
                                   "--db",
                                   launch_.db.string(),
                                   "--listen",
                                   absl::StrCat("127.0.0.1:", port),
                                   "--port-file",
                                   launch_.port_file.string(),
                                   "--lease-seconds",
                                   absl::StrFormat("%g", launch_.lease_seconds),
                                   "--heartbeat-seconds",
                                   absl::StrFormat("%g", launch_.lease_seconds / 3)};
  if (*takes_insecure_) argv.push_back("--insecure");
  return argv;
}

bool ServerProcess::Start(int port, absl::Duration patience) {
  std::error_code ignored;
  fs::remove(launch_.port_file, ignored);
  std::vector<std::string> argv = Argv(port);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, launch_.log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  const absl::Time deadline = absl::Now() + patience;
  while (absl::Now() < deadline) {
    // The server writes the file whole (renamed into place) once it serves.
    int bound = 0;
    if (absl::SimpleAtoi(ReadFile(launch_.port_file), &bound) && bound > 0) {
      port_ = bound;
      return true;
    }
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

bool ServerProcess::Crash(absl::Duration* down) {
  const absl::Time killed = absl::Now();
  Kill();
  const bool up = Start(port_);
  *down = absl::Now() - killed;
  return up;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string ServerProcess::Log() const { return ReadFile(launch_.log); }

}  // namespace vernier::load
