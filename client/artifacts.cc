#include "client/artifacts.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/artifact_path.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

namespace fs = std::filesystem;

// How long a download may take beyond ctx.deadline: a second per MiB, so a
// large model on a slow link is not cut off while a dead server still is.
absl::Duration DownloadDeadline(const CommandContext& ctx, int64_t bytes) {
  return ctx.deadline + absl::Seconds(static_cast<double>(bytes) / (1 << 20));
}

absl::StatusOr<std::vector<v1::ArtifactFile>> ListArtifacts(const CommandContext& ctx,
                                                            const std::string& study,
                                                            std::optional<int64_t> trial) {
  grpc::ClientContext rpc;
  rpc.set_deadline(absl::ToChronoTime(absl::Now() + ctx.deadline));
  v1::ListArtifactsRequest request;
  request.set_study(study);
  if (trial) request.set_trial(*trial);
  v1::ListArtifactsResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->ListArtifacts(&rpc, request, &response), ctx.server_address));
  return std::vector<v1::ArtifactFile>(response.files().begin(), response.files().end());
}

// The trial `vernier artifacts get` means.
absl::StatusOr<int64_t> ChosenTrial(const CommandContext& ctx, const ArtifactsGetArgs& args) {
  const int given = (args.trial ? 1 : 0) + (args.best ? 1 : 0) + (args.final ? 1 : 0);
  if (given != 1) {
    return absl::InvalidArgumentError("give exactly one of TRIAL, --best and --final");
  }
  if (args.trial) return *args.trial;
  if (args.best) {
    ASSIGN_OR_RETURN(std::vector<v1::Trial> best, GetBestTrials(ctx, args.study, 1));
    if (best.empty()) {
      return absl::NotFoundError(
          absl::StrCat("study \"", args.study, "\" has no COMPLETE trial yet: no best trial"));
    }
    return best.front().number();
  }
  ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, GetTrials(ctx, args.study));
  std::optional<int64_t> newest;
  bool pending = false;
  for (const v1::Trial& trial : trials) {
    if (!absl::StartsWith(trial.origin(), "refit:")) continue;
    if (trial.state() == v1::TRIAL_STATE_COMPLETE) newest = trial.number();
    pending |= trial.state() == v1::TRIAL_STATE_WAITING || trial.state() == v1::TRIAL_STATE_RUNNING;
  }
  if (newest) return *newest;
  return absl::NotFoundError(absl::StrCat(
      "study \"", args.study, "\" has no final model: ",
      pending ? "its refit trial has not finished yet (`vernier trials " + args.study + "`)"
              : "no refit trial has completed; run `vernier refit " + args.study + "` first"));
}

// Creates `dir` and the directories of `path` under it, refusing any that
// exists as a symbolic link or a non-directory, so that nothing is written
// outside `dir`.
absl::Status MakeParents(const fs::path& dir, const std::string& path) {
  fs::path at = dir;
  const fs::path parent = fs::path(path).parent_path();
  for (const fs::path& segment : parent) {
    at /= segment;
    std::error_code error;
    const fs::file_status status = fs::symlink_status(at, error);
    if (fs::is_symlink(status) || (fs::exists(status) && !fs::is_directory(status))) {
      return absl::FailedPreconditionError(absl::StrCat(
          at.string(), " exists and is not a directory (a symbolic link is not followed)"));
    }
    if (!fs::exists(status) && !fs::create_directory(at, error) && error) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", at.string(), ": ", error.message()));
    }
  }
  return absl::OkStatus();
}

// Downloads `file` of `study` into `dir`, verified, as the header says.
absl::Status DownloadFile(const CommandContext& ctx, const std::string& study,
                          const v1::ArtifactFile& file, const fs::path& dir) {
  RETURN_IF_ERROR(CheckArtifactPath(file.path(), "the server's artifact path"));
  RETURN_IF_ERROR(MakeParents(dir, file.path()));
  const fs::path target = dir / file.path();
  const std::string temp = absl::StrCat(target.string(), ".vernier-partial-", getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", temp, ": ", std::strerror(errno)));
  }
  grpc::ClientContext rpc;
  rpc.set_deadline(absl::ToChronoTime(absl::Now() + DownloadDeadline(ctx, file.size_bytes())));
  v1::DownloadArtifactRequest request;
  request.set_study(study);
  request.set_trial(file.trial());
  request.set_path(file.path());
  std::unique_ptr<grpc::ClientReaderInterface<v1::ArtifactChunk>> reader =
      ctx.stub->DownloadArtifact(&rpc, request);
  Sha256 sha;
  int64_t size = 0;
  absl::Status written;
  v1::ArtifactChunk chunk;
  while (reader->Read(&chunk)) {
    const std::string& data = chunk.data();
    sha.Update(data);
    size += static_cast<int64_t>(data.size());
    if (written.ok() && write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      written = absl::ResourceExhaustedError(
          absl::StrCat("cannot write ", temp, ": ", std::strerror(errno)));
      rpc.TryCancel();
    }
  }
  const grpc::Status finished = reader->Finish();
  if (close(fd) != 0 && written.ok()) {
    written = absl::ResourceExhaustedError(
        absl::StrCat("cannot write ", temp, ": ", std::strerror(errno)));
  }
  if (written.ok()) written = FromGrpc(finished, ctx.server_address);
  const std::string digest = sha.HexDigest();
  if (written.ok() && (size != file.size_bytes() || digest != file.sha256())) {
    written = absl::DataLossError(absl::StrCat(
        "artifact \"", file.path(), "\" of trial ", file.trial(), " arrived damaged: ", size,
        " bytes with SHA-256 ", digest, ", the server lists ", file.size_bytes(), " bytes with ",
        file.sha256(), "; nothing was written for it"));
  }
  std::error_code error;
  if (written.ok()) fs::rename(temp, target, error);
  if (!written.ok() || error) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    if (written.ok()) {
      written = absl::PermissionDeniedError(
          absl::StrCat("cannot write ", target.string(), ": ", error.message()));
    }
  }
  return written;
}

}  // namespace

absl::Status ListArtifactsCommand(const CommandContext& ctx, const std::string& study,
                                  std::optional<int64_t> trial) {
  ASSIGN_OR_RETURN(std::vector<v1::ArtifactFile> files, ListArtifacts(ctx, study, trial));
  if (ctx.format == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::ArtifactFile& file : files) {
      out.push_back({{"trial", file.trial()},
                     {"path", file.path()},
                     {"size_bytes", file.size_bytes()},
                     {"sha256", file.sha256()}});
    }
    *ctx.out << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::ArtifactFile& file : files) {
    rows.push_back(
        {absl::StrCat(file.trial()), file.path(), absl::StrCat(file.size_bytes()), file.sha256()});
  }
  *ctx.out << RenderTable({"TRIAL", "PATH", "SIZE", "SHA256"}, rows);
  return absl::OkStatus();
}

absl::Status GetArtifactsCommand(const CommandContext& ctx, const ArtifactsGetArgs& args) {
  if (args.out_dir.empty()) return absl::InvalidArgumentError("-o: missing (the directory)");
  ASSIGN_OR_RETURN(const int64_t trial, ChosenTrial(ctx, args));
  ASSIGN_OR_RETURN(std::vector<v1::ArtifactFile> files, ListArtifacts(ctx, args.study, trial));
  if (files.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "trial ", trial, " of study \"", args.study,
        "\" has no stored artifacts (its program left none in $VERNIER_ARTIFACT_DIR, or the "
        "study's artifacts.keep did not keep them)"));
  }
  for (const v1::ArtifactFile& file : files) {
    RETURN_IF_ERROR(CheckArtifactPath(file.path(), "the server's artifact path"));
  }
  const fs::path dir(args.out_dir);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", args.out_dir, ": ", error.message()));
  }
  int64_t bytes = 0;
  for (const v1::ArtifactFile& file : files) {
    RETURN_IF_ERROR(DownloadFile(ctx, args.study, file, dir));
    bytes += file.size_bytes();
  }
  if (ctx.format == OutputFormat::kJson) {
    *ctx.out << nlohmann::json{{"trial", trial},
                               {"dir", args.out_dir},
                               {"files", files.size()},
                               {"bytes", bytes}}
                    .dump()
             << "\n";
  } else {
    *ctx.out << "trial " << trial << ": " << files.size() << " files, " << bytes << " bytes in "
             << args.out_dir << " (SHA-256 verified)\n";
  }
  return absl::OkStatus();
}

}  // namespace vernier
