// asktell-bench: ask + tell round trips through a running vernier-server.
//
// Creates one study (`trainer: {external: true}`, the given sampler, room for
// --trials trials) and runs --clients clients, each on its own gRPC channel
// (its own TCP connection, as separate worker processes have; --connections N
// shares N among them, as the threads of one process do by default), that
// loop Ask -> evaluate a cheap function -> Tell until the study has handed
// out every trial. The latency
// of one trial is the time from sending Ask to Tell's answer. Afterwards it
// reads every trial back (ListTrials) and checks that each told value is
// stored: an acknowledged tell that is missing counts as lost. The clock
// starts once every client's connection is up, as Optuna's loop in
// optuna_asktell.py starts once its storage is open.
//
// Clients are one blocking thread each, or with --threads N driven by gRPC's
// asynchronous API from N threads: the same calls on the same connections, at a fraction of the
// client's CPU (which shares the machine with the server here).
//
// Prints one JSON line: trials, clients, sampler, seconds, trials_per_s,
// p50/p99 latency in ms over all trials and over the last 1,000 (by the time
// they finished), errors, lost; with --steady-after-s S also
// steady_trials_per_s, the rate over the trials told after the first S
// seconds. Exits non-zero on any error or loss.
//
//   asktell-bench --server 127.0.0.1:50051 --study s1 --sampler tpe
//                 --trials 10000 --clients 32
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier::bench {
namespace {

struct Options {
  std::string server = "127.0.0.1:50051";
  std::string study = "asktell";
  std::string sampler = "random";
  int64_t trials = 1000;
  int clients = 1;
  int threads = 0;            // 0: a blocking thread per client.
  int connections = 0;        // 0: one per client.
  double steady_after_s = 0;  // > 0: also the rate from then on.
};

// The same function as optuna_asktell.py: a shifted sphere in 4 floats.
double Objective(const v1::Trial& trial) {
  double sum = 0;
  for (const auto& [name, value] : trial.params()) {
    const double d = value.double_value() - 0.3;
    sum += d * d;
  }
  return sum;
}

std::string StudySpec(const Options& options) {
  return absl::StrCat(
      "name: ", options.study, "\nobjective: {metric: loss, goal: minimize}\nparams:\n",
      "  x0: {type: float, low: -1, high: 1}\n", "  x1: {type: float, low: -1, high: 1}\n",
      "  x2: {type: float, low: -1, high: 1}\n", "  x3: {type: float, low: -1, high: 1}\n",
      "sampler: {type: ", options.sampler, ", seed: 1}\n", "budget: {max_trials: ", options.trials,
      ", max_failures: 0}\n", "trainer: {external: true}\n");
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& server, int index) {
  grpc::ChannelArguments args;
  args.SetInt("vernier.bench.channel", index);  // Distinct args: no shared connection.
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

struct Done {
  int64_t number;
  double value;
  absl::Time finished;
  double latency_ms;
};

struct Shared {
  absl::Mutex mu;
  std::vector<Done> done ABSL_GUARDED_BY(mu);
  std::map<std::string, int64_t> errors ABSL_GUARDED_BY(mu);
};

v1::TellRequest CompleteTell(const Options& options, const v1::AskResponse& asked) {
  v1::TellRequest tell;
  tell.set_study(options.study);
  tell.set_trial_number(asked.trial().number());
  tell.set_state(v1::TRIAL_STATE_COMPLETE);
  tell.set_value(Objective(asked.trial()));
  return tell;
}

void RecordError(Shared& shared, const char* call, const grpc::Status& status) {
  absl::MutexLock lock(&shared.mu);
  shared.errors[absl::StrCat(call, " ", status.error_code())]++;
}

// Records a trial whose Tell has been answered OK.
void RecordDone(Shared& shared, const v1::TellRequest& tell, absl::Time asked_at) {
  const absl::Time end = absl::Now();
  absl::MutexLock lock(&shared.mu);
  shared.done.push_back(
      Done{tell.trial_number(), tell.value(), end, absl::ToDoubleMilliseconds(end - asked_at)});
}

std::chrono::system_clock::time_point CallDeadline() {
  return absl::ToChronoTime(absl::Now() + absl::Seconds(60));
}

// One client: asks and tells until Ask says the budget is spent.
void RunClient(const Options& options, const std::shared_ptr<grpc::Channel>& channel,
               Shared& shared) {
  auto stub = v1::StudyService::NewStub(channel);
  while (true) {
    const absl::Time start = absl::Now();
    v1::AskRequest ask;
    ask.set_study(options.study);
    v1::AskResponse asked;
    grpc::ClientContext ask_context;
    ask_context.set_deadline(CallDeadline());
    grpc::Status status = stub->Ask(&ask_context, ask, &asked);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) return;  // All asked.
    if (!status.ok()) return RecordError(shared, "Ask", status);
    const v1::TellRequest tell = CompleteTell(options, asked);
    v1::TellResponse told;
    grpc::ClientContext tell_context;
    tell_context.set_deadline(CallDeadline());
    status = stub->Tell(&tell_context, tell, &told);
    if (!status.ok()) return RecordError(shared, "Tell", status);
    RecordDone(shared, tell, start);
  }
}

// A client of the asynchronous mode: its call in flight and where it is in
// its loop. Its address is the completion-queue tag of that call.
struct AsyncClient {
  std::unique_ptr<v1::StudyService::Stub> stub;
  absl::Time asked_at;
  bool telling = false;
  std::unique_ptr<grpc::ClientContext> context;
  v1::AskResponse asked;
  v1::TellRequest tell;
  v1::TellResponse told;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AskResponse>> ask_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::TellResponse>> tell_call;
};

void StartAsk(const Options& options, AsyncClient& client, grpc::CompletionQueue* queue) {
  client.asked_at = absl::Now();
  client.telling = false;
  client.context = std::make_unique<grpc::ClientContext>();
  client.context->set_deadline(CallDeadline());
  v1::AskRequest ask;
  ask.set_study(options.study);
  client.ask_call = client.stub->AsyncAsk(client.context.get(), ask, queue);
  client.ask_call->Finish(&client.asked, &client.status, &client);
}

void StartTell(const Options& options, AsyncClient& client, grpc::CompletionQueue* queue) {
  client.telling = true;
  client.context = std::make_unique<grpc::ClientContext>();
  client.context->set_deadline(CallDeadline());
  client.tell = CompleteTell(options, client.asked);
  client.tell_call = client.stub->AsyncTell(client.context.get(), client.tell, queue);
  client.tell_call->Finish(&client.told, &client.status, &client);
}

// Runs the loop of RunClient for every channel, all from this thread: each
// answered call starts the client's next one.
void RunAsyncClients(const Options& options,
                     const std::vector<std::shared_ptr<grpc::Channel>>& channels, Shared& shared) {
  grpc::CompletionQueue queue;
  std::vector<AsyncClient> clients(channels.size());
  for (size_t i = 0; i < channels.size(); ++i) {
    clients[i].stub = v1::StudyService::NewStub(channels[i]);
    StartAsk(options, clients[i], &queue);
  }
  size_t running = clients.size();
  void* tag = nullptr;
  bool ok = false;
  while (running > 0 && queue.Next(&tag, &ok)) {
    AsyncClient& client = *static_cast<AsyncClient*>(tag);
    if (!client.telling) {
      if (client.status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        --running;  // All asked.
      } else if (!client.status.ok()) {
        RecordError(shared, "Ask", client.status);
        --running;
      } else {
        StartTell(options, client, &queue);
      }
      continue;
    }
    if (!client.status.ok()) {
      RecordError(shared, "Tell", client.status);
      --running;
      continue;
    }
    RecordDone(shared, client.tell, client.asked_at);
    StartAsk(options, client, &queue);
  }
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p / 100 * values.size()));
  return values[index];
}

// Every trial of the study by number, read page by page (a study of any size
// fits gRPC's default receive limit); nullopt when a page could not be read.
std::optional<std::map<int64_t, v1::Trial>> ReadBack(const Options& options) {
  auto stub = v1::StudyService::NewStub(NewChannel(options.server, -1));
  v1::ListTrialsRequest request;
  request.set_study(options.study);
  request.set_omit_intermediate(true);
  request.set_page_size(1000);
  std::map<int64_t, v1::Trial> stored;
  do {
    grpc::ClientContext context;
    v1::ListTrialsResponse response;
    if (!stub->ListTrials(&context, request, &response).ok()) return std::nullopt;
    for (v1::Trial& trial : *response.mutable_trials()) {
      const int64_t number = trial.number();
      stored[number] = std::move(trial);
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return stored;
}

// Told values that ListTrials does not show COMPLETE with the same value.
int64_t CountLost(const Options& options, const std::vector<Done>& done) {
  const std::optional<std::map<int64_t, v1::Trial>> stored = ReadBack(options);
  if (!stored) return static_cast<int64_t>(done.size());
  int64_t lost = 0;
  for (const Done& d : done) {
    auto it = stored->find(d.number);
    const bool kept = it != stored->end() && it->second.state() == v1::TRIAL_STATE_COMPLETE &&
                      it->second.final_metrics().at("loss") == d.value;
    if (!kept) ++lost;
  }
  return lost;
}

// Trials a second told from `after` (since the clock started) to the end:
// the rate once what began with the run (other programs starting to follow
// the study) has settled. 0 when the run was not longer than `after`.
double RateAfter(const std::vector<Done>& done, absl::Time start, absl::Time end,
                 absl::Duration after) {
  const absl::Time from = start + after;
  if (end <= from) return 0;
  const auto told =
      std::count_if(done.begin(), done.end(), [from](const Done& d) { return d.finished >= from; });
  return told / absl::ToDoubleSeconds(end - from);
}

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"asktell-bench: ask + tell round trips through a running vernier-server"};
  app.add_option("--server", options.server)->capture_default_str();
  app.add_option("--study", options.study, "a new study's name")->capture_default_str();
  app.add_option("--sampler", options.sampler)->capture_default_str();
  app.add_option("--trials", options.trials)->capture_default_str();
  app.add_option("--clients", options.clients)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--threads", options.threads,
                 "drive the clients asynchronously from this many threads (0: one blocking "
                 "thread per client)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--connections", options.connections,
                 "share this many connections among the clients, as the clients of one "
                 "process do by default (0: one per client, as separate processes have)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--steady-after-s", options.steady_after_s,
                 "also print steady_trials_per_s: the trials told from this many seconds after "
                 "the start on, a second")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  {
    auto stub = v1::StudyService::NewStub(NewChannel(options.server, -2));
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::CreateStudyRequest request;
    request.set_spec_yaml(StudySpec(options));
    v1::Study study;
    grpc::Status status = stub->CreateStudy(&context, request, &study);
    if (!status.ok()) {
      std::cerr << "asktell-bench: creating the study: " << status.error_message() << "\n";
      return 1;
    }
  }
  // Client c uses connection c % connections.
  const int connections = options.connections == 0 ? options.clients : options.connections;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < options.clients; ++c) {
    if (c >= connections) {
      channels.push_back(channels[c % connections]);
      continue;
    }
    channels.push_back(NewChannel(options.server, c));
    if (!channels.back()->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
      std::cerr << "asktell-bench: connection " << c << " to " << options.server << " failed\n";
      return 1;
    }
  }
  Shared shared;
  const absl::Time start = absl::Now();
  std::vector<std::thread> clients;
  if (options.threads == 0) {
    for (int c = 0; c < options.clients; ++c) {
      clients.emplace_back(
          [&options, channel = channels[c], &shared] { RunClient(options, channel, shared); });
    }
  } else {
    for (int t = 0; t < options.threads; ++t) {
      std::vector<std::shared_ptr<grpc::Channel>> mine;
      for (int c = t; c < options.clients; c += options.threads) mine.push_back(channels[c]);
      clients.emplace_back(
          [&options, mine = std::move(mine), &shared] { RunAsyncClients(options, mine, shared); });
    }
  }
  for (std::thread& client : clients) client.join();
  const absl::Time end = absl::Now();
  const double seconds = absl::ToDoubleSeconds(end - start);

  absl::MutexLock lock(&shared.mu);
  std::vector<Done>& done = shared.done;
  std::sort(done.begin(), done.end(),
            [](const Done& a, const Done& b) { return a.finished < b.finished; });
  std::vector<double> all, last;
  for (size_t i = 0; i < done.size(); ++i) {
    all.push_back(done[i].latency_ms);
    if (i + 1000 >= done.size()) last.push_back(done[i].latency_ms);
  }
  int64_t errors = 0;
  for (const auto& [what, count] : shared.errors) errors += count;
  const int64_t lost = CountLost(options, done);
  nlohmann::json out = {{"system", "vernier"},
                        {"sampler", options.sampler},
                        {"trials", static_cast<int64_t>(done.size())},
                        {"clients", options.clients},
                        {"client_threads", options.threads},
                        {"connections", connections},
                        {"seconds", seconds},
                        {"trials_per_s", done.size() / seconds},
                        {"p50_ms", Percentile(all, 50)},
                        {"p99_ms", Percentile(all, 99)},
                        {"last1k_p50_ms", Percentile(last, 50)},
                        {"last1k_p99_ms", Percentile(last, 99)},
                        {"errors", errors},
                        {"lost", lost}};
  if (options.steady_after_s > 0) {
    out["steady_after_s"] = options.steady_after_s;
    out["steady_trials_per_s"] = RateAfter(done, start, end, absl::Seconds(options.steady_after_s));
  }
  std::cout << out.dump() << std::endl;
  for (const auto& [what, count] : shared.errors) std::cerr << what << ": " << count << "\n";
  return errors == 0 && lost == 0 && static_cast<int64_t>(done.size()) == options.trials ? 0 : 1;
}

}  // namespace
}  // namespace vernier::bench

int main(int argc, char** argv) { return vernier::bench::Main(argc, argv); }
