// The files a trial leaves for its user: the worker gives every trial an
// empty artifact directory ($VERNIER_ARTIFACT_DIR, <trial dir>/artifacts)
// and, when the trial program has ended (COMPLETE, PRUNED or FAILED alike),
// uploads every regular file under it with UploadArtifact, before it
// reports the trial's end, while it still holds the lease.
//
// What is sent: regular files, found recursively, under their path relative
// to the directory. Symbolic links are never followed (a link, even to a
// file inside, is skipped, so nothing outside the directory can be sent),
// nor are sockets, pipes or devices; the skipped entries are listed for the
// worker's log. A file whose relative path is not a valid artifact path
// (common/artifact_path.h) fails the upload, naming it.
//
// Thread-safety: the functions are thread-safe (stubs are).
#ifndef VERNIER_WORKER_ARTIFACT_UPLOAD_H_
#define VERNIER_WORKER_ARTIFACT_UPLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "vernier/v1/worker_service.grpc.pb.h"

namespace vernier::worker {

// The largest chunk sent in one message (the server's limit).
inline constexpr size_t kArtifactChunkBytes = 1 << 20;

// What a trial left in its artifact directory.
struct ArtifactScan {
  struct File {
    std::string path;  // Relative, '/'-separated: the artifact path.
    int64_t size_bytes = 0;
  };
  std::vector<File> files;  // Sorted by path.
  int64_t bytes = 0;        // Their sizes, summed.
  // Entries that are not sent: symbolic links and special files, relative.
  std::vector<std::string> skipped;
};

// The artifact directory of the trial directory `trial_dir`.
std::string ArtifactDirOf(const std::string& trial_dir);

// Creates the (empty, private) artifact directory of the trial directory
// `trial_dir` and returns its path. The error of mkdir.
absl::StatusOr<std::string> MakeArtifactDir(const std::string& trial_dir);

// Finds what to send under `dir` (see the file comment); a missing `dir` is
// an empty scan. INVALID_ARGUMENT naming a file whose path is not a valid
// artifact path; INTERNAL when the directory cannot be read.
absl::StatusOr<ArtifactScan> ScanArtifacts(const std::string& dir);

// OK when `scan` fits in `max_bytes`; otherwise RESOURCE_EXHAUSTED naming
// both sizes and artifacts.max_bytes, the failure reason of the trial.
absl::Status CheckArtifactSize(const ArtifactScan& scan, int64_t max_bytes);

// Sends the files of `scan`, read from `dir`, as the artifacts of `lease`,
// on `context` (whose deadline the caller sets). An empty scan is sent too:
// it clears what an earlier attempt of the trial left. Returns the RPC's
// status, or INTERNAL when a file cannot be read.
grpc::Status UploadArtifacts(v1::WorkerService::StubInterface* stub, grpc::ClientContext* context,
                             const std::string& worker_id, const v1::TrialLease& lease,
                             const std::string& dir, const ArtifactScan& scan);

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_ARTIFACT_UPLOAD_H_
