// ServerProcess: one vernier-server child process of the load generator, on
// one SQLite file and one loopback port, that can be crashed (SIGKILL) and
// started again on the same file and port, as a supervisor would after a
// crash.
//
// Every incarnation appends its stderr to one log file; readiness is the port
// file the server writes once it serves (--port-file).
//
// Thread-safety: not thread-safe; one thread at a time (the restarter during
// the run, the main thread before and after it).
#ifndef VERNIER_BENCH_LOAD_SERVER_PROCESS_H_
#define VERNIER_BENCH_LOAD_SERVER_PROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace vernier::load {

struct ServerLaunch {
  std::string binary;         // vernier-server
  std::filesystem::path db;   // the SQLite file, kept across restarts
  std::filesystem::path log;  // appended to by every incarnation
  std::filesystem::path port_file;
  double lease_seconds = 600;  // --lease-seconds
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerLaunch launch) : launch_(std::move(launch)) {}
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Kills a server still running (SIGKILL).
  ~ServerProcess();

  // Starts the server on 127.0.0.1:`port` (0: a free port, then port() says
  // which) and waits until it serves. Returns false when it exits or does not
  // serve within `patience`. REQUIRES: no server of this object is running.
  bool Start(int port, absl::Duration patience = absl::Minutes(1));
  // SIGKILL (no graceful stop, no checkpoint), wait for the process, then
  // Start() on the same database and port. Returns false when it does not
  // come back; `down` gets the time from the kill to serving again.
  bool Crash(absl::Duration* down);
  // SIGTERM and wait: the server checkpoints the database before it exits.
  // Returns its exit status, -1 when it was not running or did not exit
  // normally.
  int Stop();

  int port() const { return port_; }
  std::string Log() const;

 private:
  // The server's argv for `port`.
  std::vector<std::string> Argv(int port);
  void Kill();

  const ServerLaunch launch_;
  // Whether the binary takes --insecure (older ones serve without it);
  // asked once.
  std::optional<bool> takes_insecure_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace vernier::load

#endif  // VERNIER_BENCH_LOAD_SERVER_PROCESS_H_
