#include "server/service/metrics.h"

#include <chrono>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"
#include "server/logic/types.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {
namespace {

// Bucket bounds, in seconds. Unary calls take a millisecond or less; a
// streaming call (WatchStudy, logs, uploads) counts its whole life and lands
// in the last buckets.
const prometheus::Histogram::BucketBoundaries kRpcBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10};
// From a random sampler's microseconds to a GP fit's seconds.
const prometheus::Histogram::BucketBoundaries kSuggestBuckets = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
// A WAL append is tens of microseconds; an fsync a fraction of a millisecond
// on an SSD, tens of milliseconds on a disk or a network volume.
const prometheus::Histogram::BucketBoundaries kStoreBuckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5};

constexpr char kHealthService[] = "grpc.health.v1.Health";
constexpr char kUnknown[] = "unknown";

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND: gRPC's and Abseil's codes are
// the same numbers, and Abseil spells them as gRPC's documentation does.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

prometheus::ClientMetric Gauge(std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                    prometheus::MetricType type) {
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {}};
}

}  // namespace

// ---- Read from the coordinator at each scrape ----

class ServerMetrics::CoordinatorCollector : public prometheus::Collectable {
 public:
  explicit CoordinatorCollector(Coordinator* coordinator) : coordinator_(coordinator) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families = StudyFamilies();
    families.push_back(Single(
        "vernier_active_leases", "Trials leased to workers now (asked trials have no lease).",
        prometheus::MetricType::Gauge, static_cast<double>(coordinator_->ActiveLeases())));
    families.push_back(Single(
        "vernier_workers_connected", "Workers that called the server within the last lease length.",
        prometheus::MetricType::Gauge, static_cast<double>(coordinator_->ConnectedWorkers())));
    families.push_back(Single(
        "vernier_worker_registrations_total", "RegisterWorker calls since the server started.",
        prometheus::MetricType::Counter, static_cast<double>(coordinator_->WorkerRegistrations())));
    return families;
  }

 private:
  // vernier_trials (every state of every study, zeros included, so that a
  // query for a state that has no trial yet answers 0, not nothing) and
  // vernier_studies.
  std::vector<prometheus::MetricFamily> StudyFamilies() const {
    prometheus::MetricFamily trials = MakeFamily(
        "vernier_trials", "Trials of each study, by state.", prometheus::MetricType::Gauge);
    prometheus::MetricFamily studies =
        MakeFamily("vernier_studies", "Studies, by state.", prometheus::MetricType::Gauge);
    std::map<StudyState, int64_t> studies_by_state = {
        {StudyState::kActive, 0}, {StudyState::kStopped, 0}, {StudyState::kCompleted, 0}};
    for (const StudyView& view : coordinator_->ListStudies()) {
      studies_by_state[view.record.state]++;
      for (TrialState state : {TrialState::kWaiting, TrialState::kRunning, TrialState::kComplete,
                               TrialState::kPruned, TrialState::kFailed, TrialState::kInfeasible}) {
        const auto count = view.trial_counts.find(state);
        trials.metric.push_back(
            Gauge({{"study", view.record.spec.name}, {"state", std::string(TrialStateName(state))}},
                  count == view.trial_counts.end() ? 0 : static_cast<double>(count->second)));
      }
    }
    for (const auto& [state, count] : studies_by_state) {
      studies.metric.push_back(
          Gauge({{"state", std::string(StudyStateName(state))}}, static_cast<double>(count)));
    }
    return {std::move(trials), std::move(studies)};
  }

  static prometheus::MetricFamily Single(std::string name, std::string help,
                                         prometheus::MetricType type, double value) {
    prometheus::MetricFamily family = MakeFamily(std::move(name), std::move(help), type);
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
    return family;
  }

  Coordinator* const coordinator_;
};

// ---- Every call, through a server interceptor ----

namespace {

// Created by gRPC for each call; records it once its status is sent.
class RpcInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(ServerMetrics* metrics, const char* method_path)
      : metrics_(metrics), method_path_(method_path), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordRpc(method_path_, methods->GetSendStatus().error_code(),
                          absl::FromChrono(std::chrono::steady_clock::now() - start_));
    }
    methods->Proceed();
  }

 private:
  ServerMetrics* const metrics_;
  // gRPC's; lives as long as the call, so as long as this interceptor.
  const char* const method_path_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

class ServerMetrics::RpcInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(ServerMetrics* metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(metrics_, info->method() != nullptr ? info->method() : "");
  }

 private:
  ServerMetrics* const metrics_;
};

// ---- ServerMetrics ----

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpcs_(prometheus::BuildCounter()
                .Name("vernier_rpcs_total")
                .Help("gRPC calls served, by service, method and status code.")
                .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("vernier_rpc_duration_seconds")
                        .Help("Time from a call's arrival to its status, by service and method "
                              "(a streaming call's whole life).")
                        .Register(*registry_)),
      lease_expiries_(prometheus::BuildCounter()
                          .Name("vernier_lease_expiries_total")
                          .Help("Trial leases that expired and were taken back from their "
                                "worker, by study.")
                          .Register(*registry_)),
      trial_retries_(prometheus::BuildCounter()
                         .Name("vernier_trial_retries_total")
                         .Help("Trials sent back to WAITING for another attempt after their "
                               "lease expired, by study.")
                         .Register(*registry_)),
      suggest_duration_(prometheus::BuildHistogram()
                            .Name("vernier_sampler_suggest_seconds")
                            .Help("Time a sampler took to suggest a new trial's parameters, by "
                                  "sampler type.")
                            .Register(*registry_)),
      store_commit_(prometheus::BuildHistogram()
                        .Name("vernier_store_commit_seconds")
                        .Help("Time of one SQLite write transaction, BEGIN to COMMIT (with "
                              "--group-commit=false this includes the fsync).")
                        .Register(*registry_)
                        .Add({}, kStoreBuckets)),
      store_sync_(prometheus::BuildHistogram()
                      .Name("vernier_store_sync_seconds")
                      .Help("Time of one group-commit fsync of the SQLite WAL, shared by every "
                            "write waiting for it.")
                      .Register(*registry_)
                      .Add({}, kStoreBuckets)) {
  AddKnownMethods();
  unknown_method_ =
      Method{kUnknown, kUnknown,
             &rpc_duration_.Add({{"service", kUnknown}, {"method", kUnknown}}, kRpcBuckets)};
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::AddKnownMethods() {
  auto add = [this](const std::string& service, const std::string& method) {
    prometheus::Histogram* duration =
        &rpc_duration_.Add({{"service", service}, {"method", method}}, kRpcBuckets);
    methods_[absl::StrCat("/", service, "/", method)] = Method{service, method, duration};
  };
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name :
       {v1::StudyService::service_full_name(), v1::WorkerService::service_full_name()}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) continue;  // Linked in with its stubs: never happens.
    for (int i = 0; i < service->method_count(); ++i) add(name, service->method(i)->name());
  }
  // The health-check service comes with gRPC, without a descriptor here.
  add(kHealthService, "Check");
  add(kHealthService, "Watch");
}

const ServerMetrics::Method& ServerMetrics::MethodOf(absl::string_view method_path) const {
  const auto found = methods_.find(method_path);
  return found == methods_.end() ? unknown_method_ : found->second;
}

void ServerMetrics::WatchCoordinator(Coordinator* coordinator) {
  coordinator_collector_ = std::make_shared<CoordinatorCollector>(coordinator);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::NewRpcInterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>(this);
}

std::vector<std::weak_ptr<prometheus::Collectable>> ServerMetrics::Collectables() const {
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables = {registry_};
  if (coordinator_collector_ != nullptr) collectables.push_back(coordinator_collector_);
  return collectables;
}

void ServerMetrics::RecordRpc(absl::string_view method_path, grpc::StatusCode code,
                              absl::Duration elapsed) {
  const Method& method = MethodOf(method_path);
  rpcs_.Add({{"service", method.service}, {"method", method.method}, {"code", CodeName(code)}})
      .Increment();
  method.duration->Observe(Seconds(elapsed));
}

void ServerMetrics::SuggestionMade(absl::string_view sampler, absl::Duration elapsed) {
  suggest_duration_.Add({{"sampler", std::string(sampler)}}, kSuggestBuckets)
      .Observe(Seconds(elapsed));
}

void ServerMetrics::LeaseExpired(absl::string_view study, bool retried) {
  const prometheus::Labels labels = {{"study", std::string(study)}};
  lease_expiries_.Add(labels).Increment();
  if (retried) trial_retries_.Add(labels).Increment();
}

void ServerMetrics::Committed(absl::Duration elapsed) { store_commit_.Observe(Seconds(elapsed)); }

void ServerMetrics::Synced(absl::Duration elapsed) { store_sync_.Observe(Seconds(elapsed)); }

// ---- MetricsEndpoint ----

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(const std::string& listen) {
  if (listen.empty()) return absl::InvalidArgumentError("--metrics-listen: empty address");
  std::unique_ptr<prometheus::Exposer> exposer;
  // prometheus-cpp (civetweb) throws when it cannot listen; no exception
  // leaves this module.
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/2);
  } catch (const std::exception&) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", listen, ": cannot listen (address in use or invalid)"));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("--metrics-listen ", listen, ": no port bound"));
  }
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(exposer), ports.front()));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

// Stops the HTTP threads (the Exposer's destructor joins them).
MetricsEndpoint::~MetricsEndpoint() = default;

void MetricsEndpoint::Serve(const std::weak_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

}  // namespace vernier
