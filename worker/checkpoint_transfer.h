// Moving trial checkpoints between a worker and the coordinator (pbt): a
// local snapshot of a checkpoint directory a trial announced, the upload of a
// snapshot (UploadCheckpoint, client stream) and the download of another
// trial's checkpoint (DownloadCheckpoint, server stream).
//
// A checkpoint is a flat directory of regular files whose names are letters,
// digits, '.', '_' and '-' (vernier-train writes model.pt, optimizer.pt and
// state.json); anything else in the directory is skipped.
//
// Thread-safety: the functions are thread-safe (stubs are).
#ifndef VERNIER_WORKER_CHECKPOINT_TRANSFER_H_
#define VERNIER_WORKER_CHECKPOINT_TRANSFER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier::worker {

// The largest chunk sent in one message.
inline constexpr size_t kCheckpointChunkBytes = 1 << 20;

// Copies the files of checkpoint directory `from` into the new directory
// `to`. The trial keeps training meanwhile and may overwrite the checkpoint,
// so when `from` holds a state.json with an "epoch" (vernier-train's), it
// must equal `step`, else FAILED_PRECONDITION (the checkpoint moved on; the
// next one will be sent). NOT_FOUND when `from` holds no file.
absl::Status SnapshotCheckpoint(const std::string& from, int64_t step, const std::string& to);

// Sends the files of `dir` as the checkpoint of `lease` at `step`. Returns
// the RPC's status (or INTERNAL when a file cannot be read).
grpc::Status UploadCheckpoint(v1::WorkerService::StubInterface* stub, absl::Duration timeout,
                              const std::string& worker_id, const v1::TrialLease& lease,
                              int64_t step, const std::string& dir);

// Fetches the checkpoint of trial `donor` at `donor_step` (same study as
// `lease`) into the new directory `dir`, atomically: `dir` appears only
// complete. Returns the RPC's status, or INTERNAL for a local write error or
// a bad file name from the server.
grpc::Status DownloadCheckpoint(v1::WorkerService::StubInterface* stub, absl::Duration timeout,
                                const std::string& worker_id, const v1::TrialLease& lease,
                                int64_t donor, int64_t donor_step, const std::string& dir);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_CHECKPOINT_TRANSFER_H_
