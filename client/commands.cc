#include "client/commands.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/study_paths.h"
#include "common/spec/limits.h"
#include "common/spec/study_yaml.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"

namespace vernier {
namespace {

int64_t NowMillis() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

void SetDeadline(const CommandContext& ctx, grpc::ClientContext& rpc) {
  rpc.set_deadline(absl::ToChronoTime(absl::Now() + ctx.deadline));
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& server_address) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat("cannot reach the server at ", server_address,
                                               " (is vernier-server running? set --server or "
                                               "VERNIER_SERVER)"));
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(
        absl::StrCat("the server at ", server_address, " did not answer in time"));
  }
  return absl::Status(code, status.error_message());
}

absl::StatusOr<std::string> ReadStudyFile(const std::string& path) {
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  if (!size_error && size > kMaxStudyFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", size, " bytes, more than the limit of ", kMaxStudyFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    std::string reason = error != 0 ? std::strerror(error) : "cannot open";
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", reason));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  return buffer.str();
}

absl::StatusOr<v1::Study> GetStudy(const CommandContext& ctx, const std::string& name) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::GetStudyRequest request;
  request.set_name(name);
  v1::Study study;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->GetStudy(&rpc, request, &study), ctx.server_address));
  return study;
}

absl::StatusOr<v1::StudySummary> GetSummary(const CommandContext& ctx, const std::string& study) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::GetStudySummaryRequest request;
  request.set_study(study);
  v1::StudySummary summary;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->GetStudySummary(&rpc, request, &summary), ctx.server_address));
  return summary;
}

absl::StatusOr<std::vector<v1::Trial>> GetTrials(const CommandContext& ctx,
                                                 const std::string& study) {
  v1::ListTrialsRequest request;
  request.set_study(study);
  return GetTrials(ctx, std::move(request));
}

namespace {

// One page of ListTrials, and the page size it was read with.
struct TrialPage {
  grpc::Status status;
  v1::ListTrialsResponse response;
  int32_t page_size = 0;
};

// ListTrials for `request`; a page the server or the channel refuses as too
// large (RESOURCE_EXHAUSTED) is asked again with half as many trials.
TrialPage ReadTrialPage(const CommandContext& ctx, v1::ListTrialsRequest request) {
  while (true) {
    grpc::ClientContext rpc;
    SetDeadline(ctx, rpc);
    TrialPage page;
    page.status = ctx.stub->ListTrials(&rpc, request, &page.response);
    if (page.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        request.page_size() > 1) {
      request.set_page_size(request.page_size() / 2);
      continue;
    }
    page.page_size = request.page_size();
    return page;
  }
}

}  // namespace

absl::Status ForEachTrialPage(const CommandContext& ctx, v1::ListTrialsRequest request,
                              const std::function<void(v1::ListTrialsResponse& page)>& on_page,
                              std::optional<int64_t> limit) {
  int64_t page_size = request.page_size() > 0 ? request.page_size() : kTrialPageSize;
  int64_t received = 0;
  // Asks for the page after `received` trials (read on another thread).
  auto ask = [&]() {
    request.set_page_size(
        static_cast<int32_t>(limit ? std::min(page_size, *limit - received) : page_size));
    return std::async(std::launch::async, ReadTrialPage, std::cref(ctx), request);
  };
  if (limit && *limit <= 0) return absl::OkStatus();
  request.clear_page_token();
  std::future<TrialPage> next = ask();
  while (true) {
    TrialPage page = next.get();
    RETURN_IF_ERROR(FromGrpc(page.status, ctx.server_address));
    page_size = page.page_size;  // A halved page stays halved.
    received += page.response.trials_size();
    // A server from before paging answers everything at once, with no token.
    const bool more = !page.response.next_page_token().empty() && (!limit || received < *limit);
    // The server reads the next page while this one is handed on: its work
    // and the caller's overlap instead of taking turns.
    if (more) {
      request.set_page_token(page.response.next_page_token());
      next = ask();
    }
    on_page(page.response);
    if (!more) return absl::OkStatus();
  }
}

absl::StatusOr<std::vector<v1::Trial>> GetTrials(const CommandContext& ctx,
                                                 v1::ListTrialsRequest request) {
  std::vector<v1::Trial> trials;
  RETURN_IF_ERROR(
      ForEachTrialPage(ctx, std::move(request), [&trials](v1::ListTrialsResponse& page) {
        trials.insert(trials.end(), std::make_move_iterator(page.mutable_trials()->begin()),
                      std::make_move_iterator(page.mutable_trials()->end()));
      }));
  return trials;
}

absl::StatusOr<std::vector<v1::Trial>> GetBestTrials(const CommandContext& ctx,
                                                     const std::string& study, int count) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::GetBestTrialsRequest request;
  request.set_study(study);
  request.set_count(count);
  v1::GetBestTrialsResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->GetBestTrials(&rpc, request, &response), ctx.server_address));
  return std::vector<v1::Trial>(response.trials().begin(), response.trials().end());
}

absl::StatusOr<v1::CreateStudyRequest> ReadStudyRequest(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadStudyFile(path));
  absl::StatusOr<v1::StudySpec> spec = StudySpecFromYaml(text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat(path, ": ", spec.status().message()));
  }
  v1::CreateStudyRequest request;
  *request.mutable_spec() = *std::move(spec);
  request.set_spec_yaml(std::move(text));
  return request;
}

absl::StatusOr<v1::Study> CreateStudy(const CommandContext& ctx,
                                      const v1::CreateStudyRequest& request,
                                      const std::string& path) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::Study study;
  absl::Status status = FromGrpc(ctx.stub->CreateStudy(&rpc, request, &study), ctx.server_address);
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
  }
  RETURN_IF_ERROR(status);
  return study;
}

std::string StudyFileDirectory(const std::string& path) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) return std::filesystem::path(path).parent_path().string();
  return absolute.lexically_normal().parent_path().string();
}

absl::Status CreateStudyCommand(const CommandContext& ctx, const std::string& path,
                                std::ostream* err) {
  ASSIGN_OR_RETURN(v1::CreateStudyRequest request, ReadStudyRequest(path));
  if (err != nullptr) {
    for (const std::string& warning : StudyPathWarnings(request.spec(), StudyFileDirectory(path))) {
      *err << "vernier: warning: " << path << ": " << warning << "\n";
    }
  }
  ASSIGN_OR_RETURN(v1::Study study, CreateStudy(ctx, request, path));
  if (ctx.format == OutputFormat::kJson) {
    nlohmann::json out = StudyToJson(study);
    if (!study.note().empty()) out["note"] = study.note();
    *ctx.out << out.dump(2) << "\n";
  } else {
    *ctx.out << study.name() << "\n";
    if (!study.note().empty()) *ctx.out << study.note() << "\n";
  }
  return absl::OkStatus();
}

absl::Status ListStudiesCommand(const CommandContext& ctx) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::ListStudiesResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->ListStudies(&rpc, v1::ListStudiesRequest(), &response),
                           ctx.server_address));
  *ctx.out << FormatStudies({response.studies().begin(), response.studies().end()}, ctx.format);
  return absl::OkStatus();
}

namespace {

// The study's summary; nullopt from a server older than GetStudySummary.
absl::StatusOr<std::optional<v1::StudySummary>> GetStudySummary(const CommandContext& ctx,
                                                                const std::string& name) {
  absl::StatusOr<v1::StudySummary> summary = GetSummary(ctx, name);
  if (absl::IsUnimplemented(summary.status())) return std::nullopt;
  RETURN_IF_ERROR(summary.status());
  return *std::move(summary);
}

// "2h 05m", "12m 30s", "45s".
std::string DurationText(double seconds) {
  const int64_t s = std::llround(std::max(seconds, 0.0));
  if (s >= 3600) return absl::StrFormat("%dh %02dm", s / 3600, s % 3600 / 60);
  if (s >= 60) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// "loss=0.2, latency_ms=13": the study's objectives with `values` (in their
// order), those without a value (NaN) left out.
std::string ObjectiveValuesText(const v1::Study& study,
                                const google::protobuf::RepeatedField<double>& values) {
  std::vector<std::string> parts;
  for (int i = 0; i < values.size() && i < study.objectives_size(); ++i) {
    if (!std::isnan(values[i])) {
      parts.push_back(absl::StrCat(study.objectives(i).metric(), "=", values[i]));
    }
  }
  return absl::StrJoin(parts, ", ");
}

// "trial 3 (step 2, loss=0.3), trial 4 (no report yet)", the first few.
std::string RunningText(const v1::Study& study, const v1::StudySummary& summary) {
  constexpr int kShown = 8;
  std::vector<std::string> trials;
  for (int i = 0; i < summary.running_size() && i < kShown; ++i) {
    const v1::RunningTrialSummary& running = summary.running(i);
    if (!running.has_latest_step()) {
      trials.push_back(absl::StrCat("trial ", running.number(), " (no report yet)"));
      continue;
    }
    const std::string values = ObjectiveValuesText(study, running.objective_values());
    trials.push_back(absl::StrCat("trial ", running.number(), " (step ", running.latest_step(),
                                  values.empty() ? "" : ", ", values, ")"));
  }
  std::string text = absl::StrJoin(trials, ", ");
  if (summary.running_size() > kShown) {
    absl::StrAppend(&text, " and ", summary.running_size() - kShown, " more");
  }
  return text;
}

// The lines `vernier study show` adds below the study, aligned with its own.
std::string SummaryText(const v1::Study& study, const v1::StudySummary& summary) {
  std::string out =
      absl::StrCat("finished:   ", summary.finished_trials(), " of ", summary.max_trials());
  if (summary.finished_trials() > 0) {
    absl::StrAppend(&out, absl::StrFormat(" (%.2f/min in the last 10 min, %.2f/min overall)",
                                          summary.finished_per_minute_recent(),
                                          summary.finished_per_minute_overall()));
  }
  absl::StrAppend(&out, "\n");
  if (summary.has_best_trial()) {
    absl::StrAppend(&out, "best:       trial ", summary.best_trial(), ", ",
                    ObjectiveValuesText(study, summary.best_objective_values()), "\n");
  }
  if (summary.pareto_front_size() > 0) {
    absl::StrAppend(&out, "pareto:     ", summary.pareto_front_size(),
                    " trials on the front (vernier best ", summary.study(), ")\n");
  }
  if (summary.has_eta_seconds()) {
    absl::StrAppend(&out, "eta:        ", DurationText(summary.eta_seconds()), "\n");
  } else if (summary.state() == v1::STUDY_STATE_ACTIVE) {
    absl::StrAppend(&out, "eta:        unknown (no trial finished in the last 10 min)\n");
  }
  if (summary.running_size() > 0) {
    absl::StrAppend(&out, "running:    ", RunningText(study, summary), "\n");
  }
  if (!summary.wait_reason().empty()) {
    absl::StrAppend(&out, "waiting:    ", summary.wait_reason(), "\n");
  }
  return out;
}

nlohmann::json SummaryToJson(const v1::StudySummary& summary) {
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [state, count] : summary.trial_counts()) counts[state] = count;
  nlohmann::json out{
      {"trial_counts", counts},
      {"max_trials", summary.max_trials()},
      {"finished_trials", summary.finished_trials()},
      {"pareto_front_size", summary.pareto_front_size()},
      {"finished_per_minute_recent", summary.finished_per_minute_recent()},
      {"finished_per_minute_overall", summary.finished_per_minute_overall()},
      {"eta_seconds", nullptr},
      {"time_unix_ms", summary.time_unix_ms()},
      {"wait_reason", summary.wait_reason()},
  };
  if (summary.has_eta_seconds()) out["eta_seconds"] = summary.eta_seconds();
  if (summary.has_best_trial()) {
    out["best_trial"] = summary.best_trial();
    out["best_objective_values"] = std::vector<double>(summary.best_objective_values().begin(),
                                                       summary.best_objective_values().end());
  }
  nlohmann::json running = nlohmann::json::array();
  for (const v1::RunningTrialSummary& trial : summary.running()) {
    nlohmann::json entry{{"number", trial.number()},
                         {"worker_id", trial.worker_id()},
                         {"start_time_unix_ms", trial.start_time_unix_ms()},
                         // NaN (no value) is written as null.
                         {"objective_values", std::vector<double>(trial.objective_values().begin(),
                                                                  trial.objective_values().end())}};
    if (trial.has_latest_step()) entry["latest_step"] = trial.latest_step();
    if (trial.has_objective_value()) entry["objective_value"] = trial.objective_value();
    running.push_back(std::move(entry));
  }
  out["running"] = std::move(running);
  return out;
}

}  // namespace

absl::Status ShowStudyCommand(const CommandContext& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(v1::Study study, GetStudy(ctx, name));
  ASSIGN_OR_RETURN(std::optional<v1::StudySummary> summary, GetStudySummary(ctx, name));
  if (!summary) {
    *ctx.out << FormatStudy(study, ctx.format);
    return absl::OkStatus();
  }
  if (ctx.format == OutputFormat::kTable) {
    *ctx.out << FormatStudy(study, ctx.format) << SummaryText(study, *summary);
    return absl::OkStatus();
  }
  // The object of a plain `study show`, every field as it was, plus "summary".
  nlohmann::json out = StudyDetailToJson(study);
  out["summary"] = SummaryToJson(*summary);
  *ctx.out << out.dump(2) << "\n";
  return absl::OkStatus();
}

absl::Status StopStudyCommand(const CommandContext& ctx, const std::string& name) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::StopStudyRequest request;
  request.set_name(name);
  v1::Study study;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->StopStudy(&rpc, request, &study), ctx.server_address));
  *ctx.out << FormatStudy(study, ctx.format);
  return absl::OkStatus();
}

absl::Status UpdateStudyCommand(const CommandContext& ctx, const v1::UpdateStudyRequest& request) {
  const bool changes_budget = request.has_max_trials() || request.has_parallel() ||
                              request.has_max_failures() || request.has_target() ||
                              request.has_max_seconds() || request.has_patience_trials() ||
                              request.has_priority();
  if (!request.resume() && !changes_budget) {
    return absl::InvalidArgumentError(
        "vernier study update: give at least one of --max-trials, --parallel, --max-failures, "
        "--target, --max-seconds, --patience-trials, --priority");
  }
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::Study study;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->UpdateStudy(&rpc, request, &study), ctx.server_address));
  *ctx.out << FormatStudy(study, ctx.format);
  return absl::OkStatus();
}

absl::Status DeleteStudyCommand(const CommandContext& ctx, const v1::DeleteStudyRequest& request) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::DeleteStudyResponse deleted;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->DeleteStudy(&rpc, request, &deleted), ctx.server_address));
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << nlohmann::json{{"deleted", request.name()},
                               {"trials", deleted.trials()},
                               {"running_trials_stopped", deleted.running_trials_stopped()}}
                    .dump(2)
             << "\n";
    return absl::OkStatus();
  }
  *ctx.out << "deleted study " << request.name() << " (" << deleted.trials() << " trials";
  if (deleted.running_trials_stopped() > 0) {
    *ctx.out << ", " << deleted.running_trials_stopped() << " of them stopped while running";
  }
  *ctx.out << ")\n";
  return absl::OkStatus();
}

absl::Status ExcludeTrialCommand(const CommandContext& ctx,
                                 const v1::ExcludeTrialRequest& request) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::Trial trial;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->ExcludeTrial(&rpc, request, &trial), ctx.server_address));
  ASSIGN_OR_RETURN(v1::Study info, GetStudy(ctx, request.study()));
  *ctx.out << FormatTrials({trial}, info.objective().metric(), ctx.format, NowMillis());
  return absl::OkStatus();
}

absl::Status RefitCommand(const CommandContext& ctx, const std::string& study,
                          std::optional<int64_t> trial, std::ostream* err) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::RefitRequest request;
  request.set_study(study);
  if (trial) request.set_trial(*trial);
  v1::Trial refit;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->Refit(&rpc, request, &refit), ctx.server_address));
  ASSIGN_OR_RETURN(v1::Study info, GetStudy(ctx, study));
  *ctx.out << FormatTrials({refit}, info.objective().metric(), ctx.format, NowMillis());
  *err << "refit queued as trial " << refit.number() << " (" << refit.origin()
       << "); a worker of the study runs it. Once it is COMPLETE, fetch its model with\n"
       << "  vernier artifacts get " << study << " --final -o DIR\n";
  return absl::OkStatus();
}

absl::Status ListTrialsCommand(const CommandContext& ctx, const std::string& study) {
  ASSIGN_OR_RETURN(v1::Study info, GetStudy(ctx, study));
  ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, GetTrials(ctx, study));
  if (IsMultiObjective(info)) {
    *ctx.out << FormatObjectiveTrials(trials, info, ctx.format, NowMillis());
    return absl::OkStatus();
  }
  *ctx.out << FormatTrials(trials, info.objective().metric(), ctx.format, NowMillis());
  return absl::OkStatus();
}

absl::Status BestTrialsCommand(const CommandContext& ctx, const std::string& study, int count) {
  ASSIGN_OR_RETURN(v1::Study info, GetStudy(ctx, study));
  ASSIGN_OR_RETURN(std::vector<v1::Trial> best, GetBestTrials(ctx, study, count));
  if (IsMultiObjective(info)) {
    *ctx.out << FormatObjectiveTrials(best, info, ctx.format, NowMillis());
    return absl::OkStatus();
  }
  *ctx.out << FormatTrials(best, info.objective().metric(), ctx.format, NowMillis());
  return absl::OkStatus();
}

absl::Status BackupCommand(const CommandContext& ctx, const std::string& path) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::BackupDatabaseRequest request;
  request.set_path(path);
  v1::BackupDatabaseResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->BackupDatabase(&rpc, request, &response), ctx.server_address));
  *ctx.out << "backed up " << response.bytes() << " bytes to " << path << "\n";
  return absl::OkStatus();
}

}  // namespace vernier
