#include "server/service/auth.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/secret_file.h"
#include "common/status_macros.h"

namespace vernier {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

// True when `token` equals one of `tokens`. Compares with every one of them
// (no early exit), each in constant time.
bool Matches(absl::string_view token, const std::vector<std::string>& tokens) {
  bool found = false;
  for (const std::string& known : tokens) found |= ConstantTimeEquals(token, known);
  return found;
}

absl::string_view RoleName(Role role) { return role == Role::kWorker ? "worker" : "user"; }

}  // namespace

absl::Status ValidateAuthOptions(const AuthOptions& options) {
  const bool has_tokens = !options.worker_tokens.empty() || !options.user_tokens.empty();
  if (options.insecure) {
    if (has_tokens) {
      return absl::InvalidArgumentError(
          "--insecure turns authentication off: give either --insecure or tokens, not both");
    }
    return absl::OkStatus();
  }
  if (!has_tokens) {
    return absl::FailedPreconditionError(
        "no tokens: give --worker-token-file and/or --user-token-file (or set "
        "VERNIER_WORKER_TOKEN / VERNIER_USER_TOKEN), or pass --insecure to serve without "
        "authentication");
  }
  for (const std::string& token : options.worker_tokens) {
    RETURN_IF_ERROR(ValidateToken("worker token", token));
  }
  for (const std::string& token : options.user_tokens) {
    RETURN_IF_ERROR(ValidateToken("user token", token));
    // One token for both roles would give workers every study call.
    if (Matches(token, options.worker_tokens)) {
      return absl::InvalidArgumentError(
          "the same token is both a worker token and a user token; give each role its own");
    }
  }
  return absl::OkStatus();
}

grpc::Status Authorizer::Check(const grpc::ServerContext& context, Role needed) const {
  if (options_.insecure) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto [begin, end] = metadata.equal_range("authorization");
  bool worker = false;
  bool user = false;
  for (auto it = begin; it != end; ++it) {
    const absl::string_view value(it->second.data(), it->second.size());
    if (value.size() <= kBearer.size() ||
        !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      continue;
    }
    const absl::string_view token = value.substr(kBearer.size());
    worker |= Matches(token, options_.worker_tokens);
    user |= Matches(token, options_.user_tokens);
  }
  if ((needed == Role::kWorker && worker) || (needed == Role::kUser && user)) {
    return grpc::Status::OK;
  }
  if (worker || user) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("this token is a ", worker ? "worker" : "user",
                                     " token; this call needs a ", RoleName(needed), " token"));
  }
  return grpc::Status(
      grpc::StatusCode::UNAUTHENTICATED,
      absl::StrCat("missing or unknown token: send `authorization: Bearer <", RoleName(needed),
                   " token>` (vernier: --token-file or VERNIER_TOKEN)"));
}

// Each method: check, then delegate. Kept one line each so that a reader sees
// at a glance that none is missing.
#define VERNIER_AUTH_METHOD(Class, needed, Method, Request, Response)              \
  grpc::Status Class::Method(grpc::ServerContext* context, const Request* request, \
                             Response* response) {                                 \
    grpc::Status status = authorizer_->Check(*context, needed);                    \
    return status.ok() ? inner_->Method(context, request, response) : status;      \
  }

VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, CreateStudy, v1::CreateStudyRequest, v1::Study)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, GetStudy, v1::GetStudyRequest, v1::Study)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, ListStudies, v1::ListStudiesRequest,
                    v1::ListStudiesResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, StopStudy, v1::StopStudyRequest, v1::Study)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, UpdateStudy, v1::UpdateStudyRequest, v1::Study)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, DeleteStudy, v1::DeleteStudyRequest,
                    v1::DeleteStudyResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, ExcludeTrial, v1::ExcludeTrialRequest, v1::Trial)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, ListTrials, v1::ListTrialsRequest,
                    v1::ListTrialsResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, GetTrial, v1::GetTrialRequest, v1::Trial)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, GetBestTrials, v1::GetBestTrialsRequest,
                    v1::GetBestTrialsResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, BackupDatabase, v1::BackupDatabaseRequest,
                    v1::BackupDatabaseResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, Ask, v1::AskRequest, v1::AskResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, Tell, v1::TellRequest, v1::TellResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, Report, v1::ReportRequest, v1::ReportResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, EnqueueTrial, v1::EnqueueTrialRequest, v1::Trial)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, EnqueueFromStudy, v1::EnqueueFromStudyRequest,
                    v1::EnqueueFromStudyResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, Refit, v1::RefitRequest, v1::Trial)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, GetTrialLog, v1::GetTrialLogRequest,
                    grpc::ServerWriter<v1::TrialLogChunk>)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, ListArtifacts, v1::ListArtifactsRequest,
                    v1::ListArtifactsResponse)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, DownloadArtifact, v1::DownloadArtifactRequest,
                    grpc::ServerWriter<v1::ArtifactChunk>)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, WatchStudy, v1::WatchStudyRequest,
                    grpc::ServerWriter<v1::StudyEvent>)
VERNIER_AUTH_METHOD(AuthStudyService, Role::kUser, GetStudySummary, v1::GetStudySummaryRequest,
                    v1::StudySummary)

VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, RegisterWorker, v1::RegisterWorkerRequest,
                    v1::RegisterWorkerResponse)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, AcquireTrial, v1::AcquireTrialRequest,
                    v1::AcquireTrialResponse)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, ReportProgress, v1::ReportProgressRequest,
                    v1::ReportProgressResponse)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, CompleteTrial, v1::CompleteTrialRequest,
                    v1::CompleteTrialResponse)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, Heartbeat, v1::HeartbeatRequest,
                    v1::HeartbeatResponse)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, ReleaseTrial, v1::ReleaseTrialRequest,
                    v1::ReleaseTrialResponse)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, DownloadCheckpoint,
                    v1::DownloadCheckpointRequest, grpc::ServerWriter<v1::CheckpointChunk>)
VERNIER_AUTH_METHOD(AuthWorkerService, Role::kWorker, AppendTrialLog, v1::AppendTrialLogRequest,
                    v1::AppendTrialLogResponse)

// A client stream: checked before the first message is read.
grpc::Status AuthWorkerService::UploadCheckpoint(
    grpc::ServerContext* context, grpc::ServerReader<v1::UploadCheckpointRequest>* reader,
    v1::UploadCheckpointResponse* response) {
  grpc::Status status = authorizer_->Check(*context, Role::kWorker);
  return status.ok() ? inner_->UploadCheckpoint(context, reader, response) : status;
}

grpc::Status AuthWorkerService::UploadArtifact(
    grpc::ServerContext* context, grpc::ServerReader<v1::UploadArtifactRequest>* reader,
    v1::UploadArtifactResponse* response) {
  grpc::Status status = authorizer_->Check(*context, Role::kWorker);
  return status.ok() ? inner_->UploadArtifact(context, reader, response) : status;
}

#undef VERNIER_AUTH_METHOD

}  // namespace vernier
