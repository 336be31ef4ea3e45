// `vernier artifacts list` and `vernier artifacts get`: the files trials left
// for their user, as the server keeps them (server/storage/artifact_store.h).
//
// `get` writes every file of one trial under a directory, each first to a
// temporary name beside its place, then checks its size and SHA-256 against
// the listing and renames it into place; a file that does not match is
// removed and the command fails naming it. It never writes outside the
// directory: a path that is not a valid artifact path
// (common/artifact_path.h) is refused, and so is a directory on the way
// that is a symbolic link.
//
// Thread-safety: as client/commands.h.
#ifndef VERNIER_CLIENT_ARTIFACTS_H_
#define VERNIER_CLIENT_ARTIFACTS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "client/commands.h"

namespace vernier {

// `vernier artifacts list STUDY [TRIAL]`: a table of trial, path, size and
// sha256 (or a JSON array of objects with those keys). The server's answer
// otherwise (NOT_FOUND naming the study or trial; FAILED_PRECONDITION from a
// server that keeps no artifacts).
absl::Status ListArtifactsCommand(const CommandContext& ctx, const std::string& study,
                                  std::optional<int64_t> trial);

// Which trial `vernier artifacts get` fetches.
struct ArtifactsGetArgs {
  std::string study;
  std::optional<int64_t> trial;
  bool best = false;   // --best: the study's best trial (GetBestTrials).
  bool final = false;  // --final: its newest COMPLETE refit trial.
  std::string out_dir;
};

// `vernier artifacts get STUDY (TRIAL | --best | --final) -o DIR`: downloads
// the trial's files under DIR (created when missing) as the file comment
// says, then prints what it wrote. INVALID_ARGUMENT unless exactly one of
// TRIAL, --best and --final is given, or for an unsafe path from the
// server; NOT_FOUND when the study has no such trial (no COMPLETE trial for
// --best; for --final no COMPLETE refit, with the command that makes one),
// or the trial has no files; DATA_LOSS naming a file whose size or SHA-256
// differs from the listing; the server's errors.
absl::Status GetArtifactsCommand(const CommandContext& ctx, const ArtifactsGetArgs& args);

}  // namespace vernier

#endif  // VERNIER_CLIENT_ARTIFACTS_H_
