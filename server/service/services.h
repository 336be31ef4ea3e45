// The gRPC services of vernier-server. Thin by design: each method converts
// the request to domain types, calls the Coordinator once and converts the
// answer. No SQL, sampling, state-machine code or file I/O lives here.
//
// Thread-safety: thread-safe (the Coordinator is); the Coordinator must
// outlive the services.
#ifndef VERNIER_SERVER_SERVICE_SERVICES_H_
#define VERNIER_SERVER_SERVICE_SERVICES_H_

#include "server/coordinator/coordinator.h"
#include "vernier/v1/study_service.grpc.pb.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier {

class StudyServiceImpl final : public v1::StudyService::Service {
 public:
  explicit StudyServiceImpl(Coordinator* coordinator) : coordinator_(coordinator) {}

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
  // The artifact methods are in artifact_services.cc.
  grpc::Status ListArtifacts(grpc::ServerContext* context, const v1::ListArtifactsRequest* request,
                             v1::ListArtifactsResponse* response) override;
  grpc::Status DownloadArtifact(grpc::ServerContext* context,
                                const v1::DownloadArtifactRequest* request,
                                grpc::ServerWriter<v1::ArtifactChunk>* writer) override;
  grpc::Status GetTrialLog(grpc::ServerContext* context, const v1::GetTrialLogRequest* request,
                           grpc::ServerWriter<v1::TrialLogChunk>* writer) override;
  // Blocks its thread while it watches (like GetTrialLog with follow); ends
  // when the client cancels or the coordinator's EndWatches() is called.
  grpc::Status WatchStudy(grpc::ServerContext* context, const v1::WatchStudyRequest* request,
                          grpc::ServerWriter<v1::StudyEvent>* writer) override;
  grpc::Status GetStudySummary(grpc::ServerContext* context,
                               const v1::GetStudySummaryRequest* request,
                               v1::StudySummary* response) override;

 private:
  Coordinator* const coordinator_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  // The checkpoint RPCs answer FAILED_PRECONDITION when the coordinator
  // keeps no checkpoints (a pbt study needs them).
  explicit WorkerServiceImpl(Coordinator* coordinator) : coordinator_(coordinator) {}

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
  // In artifact_services.cc.
  grpc::Status UploadArtifact(grpc::ServerContext* context,
                              grpc::ServerReader<v1::UploadArtifactRequest>* reader,
                              v1::UploadArtifactResponse* response) override;
  grpc::Status AppendTrialLog(grpc::ServerContext* context,
                              const v1::AppendTrialLogRequest* request,
                              v1::AppendTrialLogResponse* response) override;

 private:
  Coordinator* const coordinator_;
};

}  // namespace vernier

#endif  // VERNIER_SERVER_SERVICE_SERVICES_H_
