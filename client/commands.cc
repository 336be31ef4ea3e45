#include "client/commands.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/study_paths.h"
#include "common/spec/limits.h"
#include "common/spec/study_yaml.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"

namespace vernier {
namespace {

void SetDeadline(const CommandContext& ctx, grpc::ClientContext& rpc) {
  rpc.set_deadline(absl::ToChronoTime(absl::Now() + ctx.deadline));
}

int64_t NowMillis() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

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

absl::StatusOr<std::vector<v1::Trial>> GetTrials(const CommandContext& ctx,
                                                 const std::string& study) {
  std::vector<v1::Trial> trials;
  v1::ListTrialsRequest request;
  request.set_study(study);
  request.set_page_size(kTrialPageSize);
  for (;;) {
    grpc::ClientContext rpc;
    SetDeadline(ctx, rpc);
    v1::ListTrialsResponse response;
    const grpc::Status status = ctx.stub->ListTrials(&rpc, request, &response);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && request.page_size() > 1) {
      // Trials with long curves made the page larger than a message may be.
      request.set_page_size(request.page_size() / 2);
      continue;
    }
    RETURN_IF_ERROR(FromGrpc(status, ctx.server_address));
    trials.insert(trials.end(), std::make_move_iterator(response.mutable_trials()->begin()),
                  std::make_move_iterator(response.mutable_trials()->end()));
    // A server from before paging answers everything at once, with no token.
    if (response.next_page_token().empty()) return trials;
    request.set_page_token(response.next_page_token());
  }
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

absl::Status ShowStudyCommand(const CommandContext& ctx, const std::string& name) {
  ASSIGN_OR_RETURN(v1::Study study, GetStudy(ctx, name));
  *ctx.out << FormatStudy(study, ctx.format);
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
