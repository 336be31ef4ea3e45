// `vernier dashboard`: a web app over HTTP(S) that shows the studies of a
// vernier-server — plots, tables, live updates — and its JSON API
// (docs/dashboard-api.md). It is a client of the gRPC API like every other
// command (the user's token, TLS), so it never opens the database and can
// never lock a running study; the page's files are compiled into the binary
// (cmake/EmbedFiles.cmake), so nothing is fetched from elsewhere at run time.
//
// Access: when the user has a token, the browser must present the same one
// (once as /?token=T, which sets a cookie, or as a bearer header); every API
// answer is 401 otherwise. Listen on 127.0.0.1 (the default) and reach a
// remote dashboard through an ssh tunnel, or serve HTTPS (--https-cert/key).
//
// Thread-safety: Start and Stop from one thread; requests are served on a
// pool of threads, each with its own calls on the shared (thread-safe) stub.
#ifndef VERNIER_CLIENT_DASHBOARD_DASHBOARD_SERVER_H_
#define VERNIER_CLIENT_DASHBOARD_DASHBOARD_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "client/commands.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace vernier {

struct DashboardOptions {
  // host:port; port 0 picks a free one.
  std::string listen = "127.0.0.1:8080";
  // PEM certificate chain and key: serve HTTPS. Both or neither.
  std::string https_cert_file;
  std::string https_key_file;
  // The user's token (the one the stub's channel sends); non-empty: browsers
  // must present it.
  std::string token;
  // Threads serving requests; each open page holds one for its event stream.
  int threads = 64;
  // A study that changes more often than this a second (events of one
  // page's stream) is not streamed: the page is told to poll instead (a
  // `busy` event) and the stream ends, so that vernier-server does not send
  // every change to pages that redraw only a few times a second.
  int max_events_per_second = 200;
};

class Dashboard {
 public:
  // `ctx.stub` is borrowed and must outlive the dashboard.
  Dashboard(CommandContext ctx, DashboardOptions options);
  ~Dashboard();  // Stops it.
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Binds the address and serves in the background. INVALID_ARGUMENT naming
  // --listen or --https-cert/--https-key for a bad value or an unreadable
  // certificate; UNAVAILABLE naming the address when it cannot be bound.
  absl::Status Start();
  // The URL to open, with ?token=T when a token is needed. After Start.
  std::string Url() const;
  // The port bound. After Start.
  int port() const { return port_; }
  // Stops serving (open event streams end within a second) and joins.
  void Stop();
  // Blocks until serving fails (or the process ends). Call either Wait or
  // Stop, not both.
  void Wait();

 private:
  CommandContext ctx_;
  DashboardOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::string host_;
  int port_ = 0;
  // Set by Stop: open event streams end.
  std::shared_ptr<std::atomic<bool>> stopping_;
  std::thread thread_;
};

// Runs a dashboard until the process is ended (Ctrl-C): prints
// "vernier dashboard: serving URL" on ctx.out first.
absl::Status DashboardCommand(const CommandContext& ctx, const DashboardOptions& options);

}  // namespace vernier

#endif  // VERNIER_CLIENT_DASHBOARD_DASHBOARD_SERVER_H_
