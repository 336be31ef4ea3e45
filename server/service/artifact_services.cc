// The artifact methods of StudyServiceImpl and WorkerServiceImpl
// (services.h): convert, call the coordinator, convert back. They write no
// database row, so they need no DurableOnReturn.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/service/grpc_status.h"
#include "server/service/proto_convert.h"
#include "server/service/services.h"

namespace vernier {
namespace {

// Whether a later message of an upload stream names the same trial as its
// first (or leaves the fields unset).
bool SameUpload(const v1::UploadArtifactRequest& message, const v1::UploadArtifactRequest& first) {
  return (message.worker_id().empty() || message.worker_id() == first.worker_id()) &&
         (!message.has_lease() || FromProto(message.lease()) == FromProto(first.lease()));
}

}  // namespace

grpc::Status WorkerServiceImpl::UploadArtifact(
    grpc::ServerContext*, grpc::ServerReader<v1::UploadArtifactRequest>* reader,
    v1::UploadArtifactResponse* response) {
  v1::UploadArtifactRequest first;
  if (!reader->Read(&first) || !first.has_lease()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "lease: missing");
  }
  absl::StatusOr<std::unique_ptr<Study::ArtifactUpload>> upload =
      coordinator_->StartArtifactUpload(first.worker_id(), FromProto(first.lease()));
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  v1::UploadArtifactRequest message = first;
  do {
    if (!SameUpload(message, first)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "worker_id and lease must be those of the stream's first message");
    }
    if (message.path().empty() && message.data().empty()) continue;  // A header.
    absl::Status appended = (*upload)->Append(message.path(), message.data());
    if (!appended.ok()) return ToGrpcStatus(appended);
  } while (reader->Read(&message));
  absl::Status committed = (*upload)->Commit();
  if (!committed.ok()) return ToGrpcStatus(committed);
  response->set_files((*upload)->files());
  response->set_bytes((*upload)->bytes());
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ListArtifacts(grpc::ServerContext*,
                                             const v1::ListArtifactsRequest* request,
                                             v1::ListArtifactsResponse* response) {
  if (request->study().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "study: missing");
  }
  std::optional<int64_t> trial;
  if (request->has_trial()) trial = request->trial();
  absl::StatusOr<std::vector<StoredArtifact>> files =
      coordinator_->ListArtifacts(request->study(), trial);
  if (!files.ok()) return ToGrpcStatus(files.status());
  for (const StoredArtifact& file : *files) {
    v1::ArtifactFile* out = response->add_files();
    out->set_trial(file.trial);
    out->set_path(file.path);
    out->set_size_bytes(file.size_bytes);
    out->set_sha256(file.sha256);
  }
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::DownloadArtifact(grpc::ServerContext* context,
                                                const v1::DownloadArtifactRequest* request,
                                                grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (request->study().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "study: missing");
  }
  const absl::Status sent =
      coordinator_->ReadArtifact(request->study(), request->trial(), request->path(),
                                 [context, writer](absl::string_view data) {
                                   v1::ArtifactChunk chunk;
                                   chunk.set_data(std::string(data));
                                   return !context->IsCancelled() && writer->Write(chunk);
                                 });
  if (absl::IsCancelled(sent)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  }
  return ToGrpcStatus(sent);
}

}  // namespace vernier
