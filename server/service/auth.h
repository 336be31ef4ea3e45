// Bearer-token authentication for vernier-server's gRPC services.
//
// Every call to StudyService must carry `authorization: Bearer <user token>`
// and every call to WorkerService `authorization: Bearer <worker token>`.
// A call without a known token is UNAUTHENTICATED; a known token of the other
// role is PERMISSION_DENIED (a worker cannot create or stop studies, a user
// cannot complete trials). The health-check service stays open, so that load
// balancers and `docker compose` health checks need no secret.
//
// Why wrapping services and not a grpc::AuthMetadataProcessor or a server
// interceptor: an AuthMetadataProcessor only runs with secure (TLS) server
// credentials (InsecureServerCredentials asserts when given one), and tokens
// must work over plain text too (loopback, compose networks); a server
// interceptor in gRPC 1.51 cannot answer a call before its handler runs, so
// the handler would run first. The wrappers below check the token before
// delegating; an RPC added to the proto but not to a wrapper answers
// UNIMPLEMENTED (the generated default), so a new method fails closed, and
// tests/security enumerates every method of both services to prove it.
//
// Thread-safety: Authorizer and the wrappers are immutable after
// construction and thread-safe.
#ifndef VERNIER_SERVER_SERVICE_AUTH_H_
#define VERNIER_SERVER_SERVICE_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {

// Which tokens the server accepts. With `insecure` every call is allowed and
// the token lists must be empty.
struct AuthOptions {
  bool insecure = false;
  std::vector<std::string> worker_tokens;  // May call WorkerService only.
  std::vector<std::string> user_tokens;    // May call StudyService only.
};

// The roles a token may have.
enum class Role { kWorker, kUser };

// Checks that `options` makes sense: INVALID_ARGUMENT when `insecure` is set
// together with tokens, when a token is both a worker and a user token, or when
// a token fails ValidateToken; FAILED_PRECONDITION, naming the flags, when
// there is no token at all and `insecure` is not set (a server must not be
// left open by accident).
absl::Status ValidateAuthOptions(const AuthOptions& options);

class Authorizer {
 public:
  // REQUIRES: ValidateAuthOptions(options).ok().
  explicit Authorizer(AuthOptions options) : options_(std::move(options)) {}

  // OK when the call's `authorization` header holds a token of `needed`;
  // UNAUTHENTICATED when it is missing, malformed or unknown;
  // PERMISSION_DENIED when it is a token of the other role. Every known token
  // is compared in constant time, and all of them are compared, so the answer
  // time does not tell which one was close.
  grpc::Status Check(const grpc::ServerContext& context, Role needed) const;

 private:
  const AuthOptions options_;
};

// StudyService that checks for a user token, then delegates to `inner`.
class AuthStudyService final : public v1::StudyService::Service {
 public:
  // Both borrowed; they must outlive this object.
  AuthStudyService(const Authorizer* authorizer, v1::StudyService::Service* inner)
      : authorizer_(authorizer), inner_(inner) {}

  grpc::Status CreateStudy(grpc::ServerContext* context, const v1::CreateStudyRequest* request,
                           v1::Study* response) override;
  grpc::Status GetStudy(grpc::ServerContext* context, const v1::GetStudyRequest* request,
                        v1::Study* response) override;
  grpc::Status ListStudies(grpc::ServerContext* context, const v1::ListStudiesRequest* request,
                           v1::ListStudiesResponse* response) override;
  grpc::Status StopStudy(grpc::ServerContext* context, const v1::StopStudyRequest* request,
                         v1::Study* response) override;
  grpc::Status UpdateStudy(grpc::ServerContext* context, const v1::UpdateStudyRequest* request,
                           v1::Study* response) override;
  grpc::Status DeleteStudy(grpc::ServerContext* context, const v1::DeleteStudyRequest* request,
                           v1::DeleteStudyResponse* response) override;
  grpc::Status ExcludeTrial(grpc::ServerContext* context, const v1::ExcludeTrialRequest* request,
                            v1::Trial* response) override;
  grpc::Status ListTrials(grpc::ServerContext* context, const v1::ListTrialsRequest* request,
                          v1::ListTrialsResponse* response) override;
  grpc::Status GetTrial(grpc::ServerContext* context, const v1::GetTrialRequest* request,
                        v1::Trial* response) override;
  grpc::Status GetBestTrials(grpc::ServerContext* context, const v1::GetBestTrialsRequest* request,
                             v1::GetBestTrialsResponse* response) override;
  grpc::Status BackupDatabase(grpc::ServerContext* context,
                              const v1::BackupDatabaseRequest* request,
                              v1::BackupDatabaseResponse* response) override;
  grpc::Status Ask(grpc::ServerContext* context, const v1::AskRequest* request,
                   v1::AskResponse* response) override;
  grpc::Status Tell(grpc::ServerContext* context, const v1::TellRequest* request,
                    v1::TellResponse* response) override;
  grpc::Status Report(grpc::ServerContext* context, const v1::ReportRequest* request,
                      v1::ReportResponse* response) override;
  grpc::Status EnqueueTrial(grpc::ServerContext* context, const v1::EnqueueTrialRequest* request,
                            v1::Trial* response) override;
  grpc::Status EnqueueFromStudy(grpc::ServerContext* context,
                                const v1::EnqueueFromStudyRequest* request,
                                v1::EnqueueFromStudyResponse* response) override;
  grpc::Status Refit(grpc::ServerContext* context, const v1::RefitRequest* request,
                     v1::Trial* response) override;
  grpc::Status GetTrialLog(grpc::ServerContext* context, const v1::GetTrialLogRequest* request,
                           grpc::ServerWriter<v1::TrialLogChunk>* writer) override;
  grpc::Status ListArtifacts(grpc::ServerContext* context, const v1::ListArtifactsRequest* request,
                             v1::ListArtifactsResponse* response) override;
  grpc::Status DownloadArtifact(grpc::ServerContext* context,
                                const v1::DownloadArtifactRequest* request,
                                grpc::ServerWriter<v1::ArtifactChunk>* writer) override;
  grpc::Status WatchStudy(grpc::ServerContext* context, const v1::WatchStudyRequest* request,
                          grpc::ServerWriter<v1::StudyEvent>* writer) override;
  grpc::Status GetStudySummary(grpc::ServerContext* context,
                               const v1::GetStudySummaryRequest* request,
                               v1::StudySummary* response) override;

 private:
  const Authorizer* const authorizer_;
  v1::StudyService::Service* const inner_;
};

// WorkerService that checks for a worker token, then delegates to `inner`.
class AuthWorkerService final : public v1::WorkerService::Service {
 public:
  // Both borrowed; they must outlive this object.
  AuthWorkerService(const Authorizer* authorizer, v1::WorkerService::Service* inner)
      : authorizer_(authorizer), inner_(inner) {}

  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status AcquireTrial(grpc::ServerContext* context, const v1::AcquireTrialRequest* request,
                            v1::AcquireTrialResponse* response) override;
  grpc::Status ReportProgress(grpc::ServerContext* context,
                              const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override;
  grpc::Status CompleteTrial(grpc::ServerContext* context, const v1::CompleteTrialRequest* request,
                             v1::CompleteTrialResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ReleaseTrial(grpc::ServerContext* context, const v1::ReleaseTrialRequest* request,
                            v1::ReleaseTrialResponse* response) override;
  grpc::Status UploadCheckpoint(grpc::ServerContext* context,
                                grpc::ServerReader<v1::UploadCheckpointRequest>* reader,
                                v1::UploadCheckpointResponse* response) override;
  grpc::Status DownloadCheckpoint(grpc::ServerContext* context,
                                  const v1::DownloadCheckpointRequest* request,
                                  grpc::ServerWriter<v1::CheckpointChunk>* writer) override;
  grpc::Status UploadArtifact(grpc::ServerContext* context,
                              grpc::ServerReader<v1::UploadArtifactRequest>* reader,
                              v1::UploadArtifactResponse* response) override;
  grpc::Status AppendTrialLog(grpc::ServerContext* context,
                              const v1::AppendTrialLogRequest* request,
                              v1::AppendTrialLogResponse* response) override;

 private:
  const Authorizer* const authorizer_;
  v1::WorkerService::Service* const inner_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_SERVICE_AUTH_H_
