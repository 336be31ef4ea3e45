// vernier-server: the coordinator. Flags live here only; everything else is
// in server/service/server_runner.h.
#include <csignal>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "server/service/server_runner.h"

namespace {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

int main(int argc, char** argv) {
  vernier::ServerOptions options;
  double lease_seconds = 30;
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
  app.add_option("--heartbeat-seconds", heartbeat_seconds, "how often workers heartbeat")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--grace-seconds", grace_seconds,
                 "on SIGTERM, how long in-flight calls may take to finish")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  options.coordinator.lease = absl::Seconds(lease_seconds);
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
  std::cerr << "vernier-server: serving on port " << (*runner)->port() << " with database "
            << options.db_path << "\n";
  int signal = 0;
  sigwait(&signals, &signal);
  std::cerr << "vernier-server: signal " << signal << ", shutting down\n";
  (*runner)->Shutdown(absl::Seconds(grace_seconds));
  return 0;
}
