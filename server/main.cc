// vernier-server: the coordinator. Flags live here only; everything else is
// in server/service/server_runner.h.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "server/service/server_runner.h"

namespace {

// The tokens of one role: every token of `file` when given, else the value of
// the environment variable `env_var` when set, else none.
absl::StatusOr<std::vector<std::string>> RoleTokens(const char* flag, const std::string& file,
                                                    const char* env_var) {
  if (!file.empty()) return vernier::ReadTokenFile(flag, file);
  const char* env = std::getenv(env_var);
  const std::string token(absl::StripAsciiWhitespace(env == nullptr ? "" : env));
  if (token.empty()) return std::vector<std::string>();
  RETURN_IF_ERROR(vernier::ValidateToken(env_var, token));
  return std::vector<std::string>{token};
}

absl::Status LoadTokens(const std::string& worker_file, const std::string& user_file,
                        vernier::AuthOptions& auth) {
  ASSIGN_OR_RETURN(auth.worker_tokens,
                   RoleTokens("--worker-token-file", worker_file, "VERNIER_WORKER_TOKEN"));
  ASSIGN_OR_RETURN(auth.user_tokens,
                   RoleTokens("--user-token-file", user_file, "VERNIER_USER_TOKEN"));
  return absl::OkStatus();
}

// Writes `port` to `path` whole: into a temporary file first, renamed into
// place, so a reader never sees a partial number. `flag` names the file in
// errors.
absl::Status WritePortFile(const char* flag, const std::string& path, int port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) return absl::PermissionDeniedError(absl::StrCat(flag, " ", path, ": cannot write"));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(flag, " ", path, ": cannot write"));
  }
  return absl::OkStatus();
}

// Writes the ports bound to the files asked for (none: nothing to do).
absl::Status WritePortFiles(const vernier::ServerRunner& runner, const std::string& port_file,
                            const std::string& metrics_port_file) {
  if (!port_file.empty()) RETURN_IF_ERROR(WritePortFile("--port-file", port_file, runner.port()));
  if (!metrics_port_file.empty()) {
    RETURN_IF_ERROR(WritePortFile("--metrics-port-file", metrics_port_file, runner.metrics_port()));
  }
  return absl::OkStatus();
}

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built with its deadlock detector on: every lock taken,
  // gRPC's included, is recorded in a global lock-order graph (measured: 2-3 %
  // of the server's CPU time under load). That is a debugging aid; the server
  // turns it off as a release build of Abseil does. Tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  vernier::ServerOptions options;
  double lease_seconds = 30;
  double unload_resting_after_seconds = 60;
  double heartbeat_seconds = 5;
  double grace_seconds = 10;
  CLI::App app{"vernier-server: the Vernier coordinator (studies, trials, leases) over gRPC"};
  app.add_option("--db", options.db_path, "SQLite database file (created when missing)")
      ->required();
  app.add_option("--listen", options.listen, "address to serve on, host:port")
      ->capture_default_str();
  app.add_option("--lease-seconds", lease_seconds, "trial lease length without a heartbeat")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--keep-curves-in-memory", options.coordinator.keep_curves_in_memory,
               "keep every intermediate value of every study in memory, also of studies that "
               "are over (the behaviour before studies rested; for comparisons)");
  app.add_option("--unload-resting-after", unload_resting_after_seconds,
                 "seconds without a read after which a study that is over keeps only its "
                 "summary in memory (and in the database, for a fast restart)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--heartbeat-seconds", heartbeat_seconds, "how often workers heartbeat")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--grace-seconds", grace_seconds,
                 "on SIGTERM, how long in-flight calls may take to finish")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  std::string worker_token_file, user_token_file;
  app.add_option("--worker-token-file", worker_token_file,
                 "bearer tokens for workers, one per line (default: $VERNIER_WORKER_TOKEN)");
  app.add_option("--user-token-file", user_token_file,
                 "bearer tokens for users of the CLI, one per line (default: $VERNIER_USER_TOKEN)");
  app.add_flag("--insecure", options.auth.insecure,
               "serve without authentication (only on a trusted network)");
  app.add_option("--group-commit", options.group_commit,
                 "share one disk sync among concurrent writes (false: one sync per write; "
                 "both acknowledge only what is on disk)")
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls.cert_file, "PEM certificate chain: serve TLS");
  app.add_option("--tls-key", options.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", options.tls.client_ca_file,
                 "PEM CA bundle: require client certificates signed by it (mutual TLS)");
  app.add_option("--max-log-bytes", options.max_log_bytes,
                 "keep the last this many bytes of each trial attempt's output (beside the "
                 "database, in DB.logs; `vernier logs`)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  std::string port_file;
  app.add_option("--port-file", port_file,
                 "once serving, write the port bound (useful with --listen host:0) to this file");
  app.add_option("--metrics-listen", options.metrics_listen,
                 "serve Prometheus metrics at http://ADDR/metrics (host:port, port 0 picks "
                 "one; default: off)");
  std::string metrics_port_file;
  app.add_option("--metrics-port-file", metrics_port_file,
                 "once serving, write the metrics port bound (useful with --metrics-listen "
                 "host:0) to this file")
      ->needs("--metrics-listen");
  CLI11_PARSE(app, argc, argv);
  // With --insecure, tokens in the environment are ignored (a shared shell
  // may export them); a token file next to --insecure is a contradiction that
  // ValidateAuthOptions reports.
  if (!options.auth.insecure || !worker_token_file.empty() || !user_token_file.empty()) {
    absl::Status loaded = LoadTokens(worker_token_file, user_token_file, options.auth);
    if (!loaded.ok()) {
      std::cerr << "vernier-server: " << loaded.message() << "\n";
      return 2;
    }
  }
  options.coordinator.lease = absl::Seconds(lease_seconds);
  options.coordinator.unload_resting_after = absl::Seconds(unload_resting_after_seconds);
  options.coordinator.heartbeat = absl::Seconds(heartbeat_seconds);

  // Block the stop signals before gRPC starts its threads, so only the
  // sigwait below receives them.
  sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto runner = vernier::ServerRunner::Start(options);
  if (!runner.ok()) {
    std::cerr << "vernier-server: " << runner.status().message() << "\n";
    return 1;
  }
  absl::Status written = WritePortFiles(**runner, port_file, metrics_port_file);
  if (!written.ok()) {
    std::cerr << "vernier-server: " << written.message() << "\n";
    return 1;
  }
  if ((*runner)->metrics_port() != 0) {
    std::cerr << "vernier-server: metrics on port " << (*runner)->metrics_port() << " (/metrics)\n";
  }
  std::cerr << "vernier-server: serving on port " << (*runner)->port() << " with database "
            << options.db_path << (options.tls.cert_file.empty() ? ", plain text" : ", TLS")
            << (options.auth.insecure ? ", WITHOUT authentication (--insecure)"
                                      : ", tokens required")
            << "\n";
  int signal = 0;
  sigwait(&signals, &signal);
  std::cerr << "vernier-server: signal " << signal << ", shutting down\n";
  (*runner)->Shutdown(absl::Seconds(grace_seconds));
  return 0;
}
