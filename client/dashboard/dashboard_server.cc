#include "client/dashboard/dashboard_server.h"

#include <httplib.h>
#include <malloc.h>
#include <zlib.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/dashboard/dashboard_json.h"
#include "client/importance.h"
#include "common/status_macros.h"
#include "grpcpp/grpcpp.h"

namespace vernier {

// The web app's files, compiled in (cmake/EmbedFiles.cmake): URL path ->
// bytes.
const std::map<std::string, std::string_view>& EmbeddedFiles();

namespace {

using nlohmann::json;

constexpr char kTokenCookie[] = "vernier_token";
// Learning curves: how many trials and how many points per curve a plot gets
// by default, and at most.
constexpr int64_t kDefaultCurves = 2000;
constexpr int64_t kMaxCurves = 10000;
constexpr int64_t kDefaultCurvePoints = 200;
constexpr int64_t kMaxCurvePoints = 10000;
// fANOVA for the importance plot over at most this many COMPLETE trials
// (evenly spaced by number): ~1 s instead of ~47 s for 100,000 trials.
constexpr int64_t kMaxImportanceTrials = 2000;
// /api/trials reads pages of columns this large (vernier-server's most).
constexpr int32_t kColumnarPageSize = 1000;
// A comment on an idle event stream this often keeps proxies from closing it.
constexpr absl::Duration kKeepAlive = absl::Seconds(15);
// Events held for a browser that reads slowly; past this it is told to
// poll instead (a `busy` event).
constexpr size_t kMaxQueuedEvents = 10000;

std::string ContentTypeOf(const std::string& path) {
  if (absl::EndsWith(path, ".js")) return "application/javascript";
  if (absl::EndsWith(path, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(path, ".txt")) return "text/plain; charset=utf-8";
  return "text/html; charset=utf-8";
}

// Equal strings, in time that does not depend on where they differ.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The token the request presents: its bearer header, else its cookie.
std::string PresentedToken(const httplib::Request& request) {
  const std::string authorization = request.get_header_value("Authorization");
  if (absl::StartsWith(authorization, "Bearer ")) return authorization.substr(7);
  const std::string cookies = request.get_header_value("Cookie");
  const std::string key = absl::StrCat(kTokenCookie, "=");
  for (absl::string_view cookie : absl::StrSplit(cookies, ';')) {
    cookie = absl::StripAsciiWhitespace(cookie);
    if (absl::StartsWith(cookie, key)) return std::string(cookie.substr(key.size()));
  }
  return "";
}

void SetJson(httplib::Response& response, int status, const json& body) {
  response.status = status;
  response.set_header("Cache-Control", "no-store");
  response.set_content(body.dump(), "application/json");
}

void SetError(httplib::Response& response, const absl::Status& status) {
  SetJson(response, HttpStatusOf(status.code()), ErrorJson(status));
}

// ---- The API's endpoints: query parameters in, JSON out ----

absl::StatusOr<json> Studies(const CommandContext& ctx, const QueryParams&) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::ListStudiesResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->ListStudies(&rpc, v1::ListStudiesRequest(), &response),
                           ctx.server_address));
  json studies = json::array();
  for (const v1::Study& study : response.studies()) {
    absl::StatusOr<v1::StudySummary> summary = GetSummary(ctx, study.name());
    // A study deleted between the two calls is listed without its best.
    studies.push_back(StudyJson(study, summary.ok() ? &*summary : nullptr));
  }
  return json{{"studies", std::move(studies)}};
}

absl::StatusOr<json> Study(const CommandContext& ctx, const QueryParams& params) {
  ASSIGN_OR_RETURN(const std::string name, RequiredParam(params, "study"));
  ASSIGN_OR_RETURN(const v1::Study study, GetStudy(ctx, name));
  ASSIGN_OR_RETURN(const v1::StudySummary summary, GetSummary(ctx, name));
  return StudyPageJson(study, summary);
}

// Written page by page as the pages come: the dashboard never holds a large
// study's trials whole (100,000 trials: ~0.3 s and a few MiB instead of
// ~1.2 s and ~500 MiB through whole messages and a JSON tree).
// `min_number`: only the trials numbered from it (a live page's refresh).
absl::StatusOr<std::string> Trials(const CommandContext& ctx, const QueryParams& params) {
  ASSIGN_OR_RETURN(const std::string name, RequiredParam(params, "study"));
  ASSIGN_OR_RETURN(const int64_t min_number,
                   IntParam(params, "min_number", 0, 0, std::numeric_limits<int64_t>::max()));
  ASSIGN_OR_RETURN(const int64_t digits, IntParam(params, "digits", 0, 1, kMaxDigits));
  ASSIGN_OR_RETURN(const v1::Study study, GetStudy(ctx, name));
  v1::ListTrialsRequest request;
  request.set_study(name);
  request.set_min_number(min_number);
  // As columns, not a message per trial (with the page read ahead: 0.79 ->
  // 0.36 s for 100,000 trials, bench/dashboard/api_cpu.sh).
  request.set_columnar(true);
  request.set_page_size(kColumnarPageSize);
  TrialColumnsWriter columns(study, static_cast<int>(digits));
  bool first_page = true;
  absl::Status added = absl::OkStatus();
  RETURN_IF_ERROR(ForEachTrialPage(ctx, std::move(request), [&](v1::ListTrialsResponse& page) {
    // A server from before columns answers with trials.
    for (const v1::Trial& trial : page.trials()) columns.Add(trial);
    if (added.ok()) added = columns.AddColumns(page.columns());
    if (first_page) columns.ExpectTrials(page.total_size());
    first_page = false;
  }));
  RETURN_IF_ERROR(added);
  return columns.Finish();
}

// The first objective's metric of `study`.
std::string FirstMetric(const v1::Study& study) {
  return study.objectives().empty() ? study.objective().metric() : study.objectives(0).metric();
}

absl::StatusOr<std::string> Curves(const CommandContext& ctx, const QueryParams& params) {
  ASSIGN_OR_RETURN(const std::string name, RequiredParam(params, "study"));
  ASSIGN_OR_RETURN(const int64_t max_curves,
                   IntParam(params, "max_curves", kDefaultCurves, 1, kMaxCurves));
  ASSIGN_OR_RETURN(const int64_t points,
                   IntParam(params, "points", kDefaultCurvePoints, 2, kMaxCurvePoints));
  ASSIGN_OR_RETURN(const int64_t digits, IntParam(params, "digits", 0, 1, kMaxDigits));
  ASSIGN_OR_RETURN(const v1::Study study, GetStudy(ctx, name));
  auto metric_param = params.find("metric");
  const std::string metric = metric_param != params.end() && !metric_param->second.empty()
                                 ? metric_param->second
                                 : FirstMetric(study);
  // Best first, so that a study with more trials than max_curves shows its
  // best ones; thinned on the server, one metric only.
  v1::ListTrialsRequest request;
  request.set_study(name);
  request.set_order_by(v1::TRIAL_ORDER_OBJECTIVE);
  request.set_max_points_per_curve(static_cast<int32_t>(points));
  request.add_intermediate_metrics(metric);
  request.set_curve_only(true);
  std::vector<v1::Trial> trials;
  int64_t total = 0;
  RETURN_IF_ERROR(ForEachTrialPage(
      ctx, std::move(request),
      [&](v1::ListTrialsResponse& page) {
        total = page.total_size();
        for (v1::Trial& trial : *page.mutable_trials()) trials.push_back(std::move(trial));
      },
      max_curves));
  std::sort(trials.begin(), trials.end(),
            [](const v1::Trial& a, const v1::Trial& b) { return a.number() < b.number(); });
  return CurvesJson(metric, total, trials, static_cast<int>(digits));
}

absl::StatusOr<json> Trial(const CommandContext& ctx, const QueryParams& params) {
  ASSIGN_OR_RETURN(const std::string name, RequiredParam(params, "study"));
  ASSIGN_OR_RETURN(const int64_t number,
                   IntParam(params, "number", -1, 0, std::numeric_limits<int64_t>::max()));
  if (number < 0) return RequiredParam(params, "number").status();
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::GetTrialRequest request;
  request.set_study(name);
  request.set_number(number);
  v1::Trial trial;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->GetTrial(&rpc, request, &trial), ctx.server_address));
  return TrialPageJson(trial);
}

absl::StatusOr<json> Importance(const CommandContext& ctx, const QueryParams& params) {
  ImportanceArgs args;
  ASSIGN_OR_RETURN(args.study, RequiredParam(params, "study"));
  auto objective = params.find("objective");
  if (objective != params.end()) args.objective = objective->second;
  args.max_trials = kMaxImportanceTrials;
  ASSIGN_OR_RETURN(const StudyImportances importances, ComputeImportances(ctx, args));
  json list = json::array();
  for (const ParamImportance& p : importances.result.importances) {
    list.push_back({{"param", p.name}, {"importance", p.importance}});
  }
  return json{{"objective", importances.metric},
              {"trials_used", importances.result.trials_used},
              {"importances", std::move(list)}};
}

// ---- Live events: a WatchStudy stream feeding one browser's event stream ----

// Follows a study's WatchStudy stream on its own thread, reconnecting after a
// broken stream from the last event seen (the server sends `resync` when it
// cannot resume), and queues each event's JSON for the HTTP thread. A study
// changing more than `max_per_second` times a second, or a page that does not
// read its events, ends the stream with a `busy` event: the page polls.
class EventPump {
 public:
  EventPump(CommandContext ctx, std::string study, int max_per_second)
      : ctx_(ctx),
        study_(std::move(study)),
        max_per_second_(max_per_second),
        thread_([this] { Run(); }) {}
  ~EventPump() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (rpc_ != nullptr) rpc_->TryCancel();
    }
    thread_.join();
  }

  // The events queued, waiting up to `timeout` for one. An empty answer with
  // *error set: the stream cannot go on (the study is gone). *finished: these
  // are the last events (the last one says `busy`).
  std::vector<std::string> Take(absl::Duration timeout, absl::Status* error, bool* finished) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !queue_.empty() || !error_.ok() || busy_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    std::vector<std::string> events(queue_.begin(), queue_.end());
    queue_.clear();
    if (events.empty()) *error = error_;
    *finished = busy_;
    return events;
  }

 private:
  void Run() {
    int64_t after = 0;
    std::string incarnation;
    while (true) {
      auto rpc = std::make_unique<grpc::ClientContext>();
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        rpc_ = rpc.get();
      }
      v1::WatchStudyRequest request;
      request.set_study(study_);
      request.set_after_sequence(after);
      request.set_incarnation(incarnation);
      std::unique_ptr<grpc::ClientReaderInterface<v1::StudyEvent>> reader =
          ctx_.stub->WatchStudy(rpc.get(), request);
      v1::StudyEvent event;
      while (reader->Read(&event)) {
        after = event.sequence();
        incarnation = event.incarnation();
        Push(EventJson(event).dump());
      }
      const grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mu_);
      rpc_ = nullptr;
      if (stopping_ || busy_) return;
      if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
          status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
          status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
          status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
        error_ = FromGrpc(status, ctx_.server_address);
        return;
      }
      // A broken stream (server restart, network): try again shortly.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
    }
  }

  void Push(std::string event) {
    absl::MutexLock lock(&mu_);
    if (busy_) return;
    const absl::Time now = absl::Now();
    if (now - window_start_ >= absl::Seconds(1)) {
      window_start_ = now;
      window_events_ = 0;
    }
    if (++window_events_ > max_per_second_) {
      return Busy(absl::StrCat("over ", max_per_second_, " changes a second"));
    }
    if (queue_.size() >= kMaxQueuedEvents) return Busy("the page fell behind its events");
    queue_.push_back(std::move(event));
  }

  // Ends the stream with a `busy` event (what was queued is dropped: the
  // page reads the study again when it polls) and stops watching.
  void Busy(const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queue_.clear();
    queue_.push_back(json{{"kind", "busy"}, {"reason", reason}}.dump());
    busy_ = true;
    if (rpc_ != nullptr) rpc_->TryCancel();
  }

  const CommandContext ctx_;
  const std::string study_;
  const int max_per_second_;
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int window_events_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ClientContext* rpc_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;  // Last: starts once the members above exist.
};

// Serves /api/events?study=S: the study's events as Server-Sent Events until
// the browser goes away, the dashboard stops (*stopping) or the study is gone.
void ServeEvents(const CommandContext& ctx, const std::string& study, int max_events_per_second,
                 std::shared_ptr<std::atomic<bool>> stopping, httplib::Response& response) {
  auto pump = std::make_shared<EventPump>(ctx, study, max_events_per_second);
  auto last_write = std::make_shared<absl::Time>(absl::Now());
  response.set_header("Cache-Control", "no-store");
  response.set_chunked_content_provider(
      "text/event-stream", [pump, last_write, stopping](size_t, httplib::DataSink& sink) {
        while (!stopping->load() && sink.is_writable()) {
          absl::Status error;
          bool finished = false;
          const std::vector<std::string> events = pump->Take(absl::Seconds(1), &error, &finished);
          if (!error.ok()) {
            const std::string message =
                absl::StrCat("event: error\ndata: ", ErrorJson(error).dump(), "\n\n");
            sink.write(message.data(), message.size());
            break;
          }
          std::string text;
          for (const std::string& event : events) absl::StrAppend(&text, "data: ", event, "\n\n");
          if (text.empty() && absl::Now() - *last_write >= kKeepAlive) text = ": keep-alive\n\n";
          if (!text.empty()) {
            if (!sink.write(text.data(), text.size())) return false;
            *last_write = absl::Now();
          }
          if (finished) break;
        }
        sink.done();
        return true;
      });
}

// Marks a request whose Accept-Encoding named gzip (set only by
// TakeOverCompression, which removes any a client sent itself).
constexpr char kAcceptsGzip[] = "X-Vernier-Accepts-Gzip";
// Answers smaller than this are sent as they are.
constexpr size_t kMinGzipBytes = 1024;

// Takes Accept-Encoding out of every request, noting whether it named gzip:
// the dashboard compresses its answers itself. cpp-httplib would run brotli
// at its slowest setting (49 s for a 100,000-trial /api/trials) or gzip at
// zlib's default level (0.6 s for it; level 1: 0.1 s, 15 % larger).
// The Request is const only in the handler's signature: cpp-httplib builds
// each one as a plain local object, so changing its headers here is sound.
void TakeOverCompression(const httplib::Request& request) {
  auto& headers = const_cast<httplib::Headers&>(request.headers);
  bool gzip = false;
  for (auto [it, end] = headers.equal_range("Accept-Encoding"); it != end; ++it) {
    for (absl::string_view coding : absl::StrSplit(it->second, ',')) {
      coding = absl::StripAsciiWhitespace(coding.substr(0, coding.find(';')));
      gzip = gzip || coding == "gzip";
    }
  }
  headers.erase("Accept-Encoding");
  headers.erase(kAcceptsGzip);
  if (gzip) headers.emplace(kAcceptsGzip, "1");
}

// `body` as a gzip stream compressed at `level` (zlib's 1-9); "" if zlib
// fails. Written a chunk at a time: an output buffer of deflateBound's size,
// zero-filled first, cost as much as the compression at the fastest level.
std::string Gzip(absl::string_view body, int level) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip header.
  if (deflateInit2(&stream, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return "";
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  std::string out;
  out.reserve(body.size() / 2);
  char chunk[64 * 1024];
  int result = Z_OK;
  while (result == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    result = deflate(&stream, Z_FINISH);
    out.append(chunk, sizeof(chunk) - stream.avail_out);
  }
  deflateEnd(&stream);
  return result == Z_STREAM_END ? out : "";
}

// After an API answer at least this large is written, the memory that
// writing it freed goes back to the system (ReturnFreedMemory).
constexpr size_t kTrimAfterBytes = 1 << 20;

// Hands the memory freed so far back to the system. glibc keeps what a large
// answer freed (its pages from the server, the JSON before gzip, fANOVA's
// trees) in the arena of the HTTP thread that wrote it, one arena per
// thread: the dashboard's RSS grew with each load of a 100,000-trial study
// until every thread's arena held its share: 37 -> 91 MiB over 12 loads of
// its trials, curves and importance; 33 -> 56 MiB with this after each.
void ReturnFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Sets `body` as the answer, gzip-compressed (already, in `gzipped`, or here
// at the fastest level) when the request accepts it and it is worth it.
void SetBody(const httplib::Request& request, httplib::Response& response, std::string body,
             const std::string& type, const std::string* gzipped = nullptr) {
  response.set_header("Vary", "Accept-Encoding");
  if (request.has_header(kAcceptsGzip) && body.size() >= kMinGzipBytes) {
    std::string compressed = gzipped != nullptr ? *gzipped : Gzip(body, Z_BEST_SPEED);
    if (!compressed.empty()) {
      body = std::move(compressed);
      response.set_header("Content-Encoding", "gzip");
    }
  }
  // set_content would copy a large answer: move it in.
  response.body = std::move(body);
  response.set_header("Content-Type", type);
}

// "host:port" split; INVALID_ARGUMENT naming --listen otherwise.
absl::Status ParseListen(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  int value = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &value) || value < 0 || value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen: \"", listen, "\" is not host:port (e.g. 127.0.0.1:8080; port 0: any free one)"));
  }
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);  // [::1]:8080
  }
  *port = value;
  return absl::OkStatus();
}

const char kRefusedPage[] =
    "<!doctype html><meta charset=utf-8><title>Vernier</title>"
    "<p>This dashboard needs your token: open the URL that <code>vernier dashboard</code> "
    "printed (it ends with <code>?token=...</code>).</p>\n";

// Whether a request may read the API: it presents `token`, or none is needed.
using Authorizer = std::function<bool(const httplib::Request&)>;

void SetUnauthorized(httplib::Response& response) {
  SetError(response,
           absl::UnauthenticatedError("no or wrong token: open the URL vernier dashboard printed"));
}

// An HTTP server, or an HTTPS one when options name a certificate and key.
absl::StatusOr<std::unique_ptr<httplib::Server>> MakeServer(const DashboardOptions& options) {
  if (options.https_cert_file.empty() != options.https_key_file.empty()) {
    return absl::InvalidArgumentError("--https-cert and --https-key: give both or neither");
  }
  if (options.https_cert_file.empty()) return std::make_unique<httplib::Server>();
  auto https = std::make_unique<httplib::SSLServer>(options.https_cert_file.c_str(),
                                                    options.https_key_file.c_str());
  if (!https->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("--https-cert ", options.https_cert_file,
                                                   " / --https-key ", options.https_key_file,
                                                   ": not a readable PEM certificate and its key"));
  }
  return https;
}

// "/" (which trades ?token=T for a cookie) and the app's embedded files. The
// page itself needs no token (it holds no data): without one it shows the
// API's 401 answer.
void AddPageRoutes(httplib::Server& server, const std::string& token, bool https) {
  server.Get("/", [token, https](const httplib::Request& request, httplib::Response& response) {
    if (request.has_param("token")) {
      if (!SameSecret(request.get_param_value("token"), token) || token.empty()) {
        response.status = 401;
        response.set_content(kRefusedPage, "text/html; charset=utf-8");
        return;
      }
      response.set_header("Set-Cookie", absl::StrCat(kTokenCookie, "=", token,
                                                     "; Path=/; HttpOnly; SameSite=Strict",
                                                     https ? "; Secure" : ""));
      response.set_redirect("/");
      return;
    }
    response.set_header("Cache-Control", "no-store");
    response.set_content(std::string(EmbeddedFiles().at("/index.html")), ContentTypeOf(".html"));
  });
  for (const auto& [path, bytes] : EmbeddedFiles()) {
    if (path == "/index.html") continue;
    const std::string content(bytes);
    const std::string type = ContentTypeOf(path);
    // Compressed once, at the best level (echarts.min.js: 1 MB -> 0.33 MB).
    const std::string gzipped = Gzip(content, Z_BEST_COMPRESSION);
    server.Get(path, [content, type, gzipped](const httplib::Request& request,
                                              httplib::Response& response) {
      response.set_header("Cache-Control", "max-age=3600");
      SetBody(request, response, content, type, &gzipped);
    });
  }
}

// An endpoint that builds a JSON tree, answering with its text.
template <absl::StatusOr<json> (*endpoint)(const CommandContext&, const QueryParams&)>
absl::StatusOr<std::string> AsText(const CommandContext& ctx, const QueryParams& params) {
  ASSIGN_OR_RETURN(const json body, endpoint(ctx, params));
  return body.dump();
}

// The JSON endpoints of docs/dashboard-api.md and the event stream.
void AddApiRoutes(httplib::Server& server, const CommandContext& ctx, Authorizer authorized,
                  int max_events_per_second, std::shared_ptr<std::atomic<bool>> stopping) {
  using Endpoint = absl::StatusOr<std::string> (*)(const CommandContext&, const QueryParams&);
  struct Route {
    const char* path;
    Endpoint endpoint;
    bool frees_much = false;  // Whatever the size of its answer (fANOVA's trees).
  };
  const Route routes[] = {
      {"/api/studies", &AsText<&Studies>},
      {"/api/study", &AsText<&Study>},
      {"/api/trials", &Trials},
      {"/api/curves", &Curves},
      {"/api/trial", &AsText<&Trial>},
      {"/api/importance", &AsText<&Importance>, true},
  };
  for (const Route& route : routes) {
    server.Get(route.path, [ctx, authorized, route](const httplib::Request& request,
                                                    httplib::Response& response) {
      if (!authorized(request)) return SetUnauthorized(response);
      absl::StatusOr<std::string> body = route.endpoint(ctx, request.params);
      const bool frees_much = route.frees_much || (body.ok() && body->size() >= kTrimAfterBytes);
      if (body.ok()) {
        response.set_header("Cache-Control", "no-store");
        SetBody(request, response, *std::move(body), "application/json");
      } else {
        SetError(response, body.status());
      }
      if (frees_much) ReturnFreedMemory();
    });
  }
  server.Get("/api/events", [ctx, authorized, max_events_per_second, stopping](
                                const httplib::Request& request, httplib::Response& response) {
    if (!authorized(request)) return SetUnauthorized(response);
    absl::StatusOr<std::string> study = RequiredParam(request.params, "study");
    if (!study.ok()) return SetError(response, study.status());
    absl::StatusOr<v1::Study> known = GetStudy(ctx, *study);
    if (!known.ok()) return SetError(response, known.status());
    ServeEvents(ctx, *study, max_events_per_second, stopping, response);
  });
}

// Unknown paths and failed handlers answer with the API's JSON error shape.
void AddErrorHandlers(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404 && response.body.empty()) {
      SetError(response, absl::NotFoundError(absl::StrCat("no such page: ", request.path)));
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
        SetError(response, absl::InternalError("the dashboard failed to answer this request"));
      });
}

}  // namespace

Dashboard::Dashboard(CommandContext ctx, DashboardOptions options)
    : ctx_(ctx), options_(std::move(options)) {}

Dashboard::~Dashboard() { Stop(); }

absl::Status Dashboard::Start() {
  RETURN_IF_ERROR(ParseListen(options_.listen, &host_, &port_));
  ASSIGN_OR_RETURN(server_, MakeServer(options_));
  server_->set_pre_routing_handler([](const httplib::Request& request, httplib::Response&) {
    TakeOverCompression(request);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  const int threads = std::max(options_.threads, 4);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  const std::string token = options_.token;
  auto authorized = [token](const httplib::Request& request) {
    return token.empty() || SameSecret(PresentedToken(request), token);
  };
  stopping_ = std::make_shared<std::atomic<bool>>(false);
  AddPageRoutes(*server_, token, !options_.https_cert_file.empty());
  AddApiRoutes(*server_, ctx_, authorized, std::max(options_.max_events_per_second, 1), stopping_);
  AddErrorHandlers(*server_);

  if (port_ == 0) {
    port_ = server_->bind_to_any_port(host_);
  } else if (!server_->bind_to_port(host_, port_)) {
    port_ = -1;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("--listen ", options_.listen,
                                               ": cannot listen there (in use, or not an "
                                               "address of this machine)"));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return absl::OkStatus();
}

std::string Dashboard::Url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  std::string url = absl::StrCat(options_.https_cert_file.empty() ? "http" : "https", "://",
                                 v6 ? "[" : "", host_, v6 ? "]" : "", ":", port_, "/");
  if (!options_.token.empty()) absl::StrAppend(&url, "?token=", options_.token);
  return url;
}

void Dashboard::Stop() {
  if (stopping_ != nullptr) stopping_->store(true);
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void Dashboard::Wait() {
  if (thread_.joinable()) thread_.join();
}

absl::Status DashboardCommand(const CommandContext& ctx, const DashboardOptions& options) {
  Dashboard dashboard(ctx, options);
  RETURN_IF_ERROR(dashboard.Start());
  *ctx.out << "vernier dashboard: serving " << dashboard.Url() << std::endl;
  dashboard.Wait();
  return absl::OkStatus();
}

}  // namespace vernier
