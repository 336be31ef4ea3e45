// The vernier CLI's commands, as functions over a StudyService stub so they can
// be tested against a real in-process server or gRPC's generated mock stub.
// Each writes its data to `out` and returns a Status whose message is ready to
// show to the user.
//
// Thread-safety: a CommandContext is used by one thread at a time.
#ifndef VERNIER_CLIENT_COMMANDS_H_
#define VERNIER_CLIENT_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/format.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "vernier/v1/study_service.grpc.pb.h"

namespace vernier {

struct CommandContext {
  v1::StudyService::StubInterface* stub = nullptr;  // Borrowed.
  std::ostream* out = nullptr;                      // Borrowed.
  OutputFormat format = OutputFormat::kTable;
  std::string server_address;  // For error messages.
  std::string token;           // The user's token the stub's channel sends; empty: none.
  absl::Duration deadline = absl::Seconds(10);  // Per RPC.
};

// Turns an RPC failure into a user-facing Status: the same code, and for
// UNAVAILABLE / DEADLINE_EXCEEDED a line that names the server address.
absl::Status FromGrpc(const grpc::Status& status, const std::string& server_address);

// Gives `rpc` the per-call deadline of `ctx`.
void SetDeadline(const CommandContext& ctx, grpc::ClientContext& rpc);

// Reads a study file. NOT_FOUND / PERMISSION_DENIED naming the path;
// INVALID_ARGUMENT for an empty file or one over kMaxStudyFileBytes (not
// read then).
absl::StatusOr<std::string> ReadStudyFile(const std::string& path);

// The CreateStudy request for a study file: its spec, converted here (the
// structural checks of StudySpecFromYaml; the server validates the rest),
// and its text, kept by the server for people. Errors name the path.
absl::StatusOr<v1::CreateStudyRequest> ReadStudyRequest(const std::string& path);
// The absolute directory of a study file, against which `vernier run`
// resolves its relative paths (client/study_paths.h).
std::string StudyFileDirectory(const std::string& path);
// Sends `request`; an INVALID_ARGUMENT answer names `path`.
absl::StatusOr<v1::Study> CreateStudy(const CommandContext& ctx,
                                      const v1::CreateStudyRequest& request,
                                      const std::string& path);

// `vernier study create -f FILE`: prints the new study's name. Sends the
// paths of the file as written (workers resolve them against their
// --code-dir) and warns on `err`, when given, about a relative program file
// that does not exist beside the study file.
absl::Status CreateStudyCommand(const CommandContext& ctx, const std::string& path,
                                std::ostream* err = nullptr);
absl::Status ListStudiesCommand(const CommandContext& ctx);
absl::Status ShowStudyCommand(const CommandContext& ctx, const std::string& name);
absl::Status StopStudyCommand(const CommandContext& ctx, const std::string& name);
// `vernier study update` (request.resume false: an ACTIVE study, at least one
// budget field set) and `vernier study resume` (a STOPPED or COMPLETED
// study); the fields set in `request` replace the budget's. Prints the study
// as it is after the change.
absl::Status UpdateStudyCommand(const CommandContext& ctx, const v1::UpdateStudyRequest& request);
// `vernier study delete NAME [--force]`: deletes the study with its trials,
// checkpoints, artifacts and logs, and says how many trials went.
absl::Status DeleteStudyCommand(const CommandContext& ctx, const v1::DeleteStudyRequest& request);
// `vernier trial exclude STUDY N [--reason TEXT] [--undo]`: prints the trial
// as it is after the change.
absl::Status ExcludeTrialCommand(const CommandContext& ctx, const v1::ExcludeTrialRequest& request);
absl::Status ListTrialsCommand(const CommandContext& ctx, const std::string& study);
absl::Status BestTrialsCommand(const CommandContext& ctx, const std::string& study, int count);
// `vernier refit STUDY [--trial N]`: queues one more run of the best (or
// given) trial's parameters on training plus validation data, prints the new
// trial and tells `err` how to fetch its model once a worker has run it. The
// server's answer otherwise (FAILED_PRECONDITION while the study is ACTIVE or
// another refit is pending, NOT_FOUND for an unknown study or trial).
absl::Status RefitCommand(const CommandContext& ctx, const std::string& study,
                          std::optional<int64_t> trial, std::ostream* err);
// `vernier backup PATH`: the server copies its database to PATH (on the
// server's machine); prints the size of the copy.
absl::Status BackupCommand(const CommandContext& ctx, const std::string& path);

// Trials per ListTrials call of GetTrials. 500 trials of 100 steps of three
// metrics each are about 3 MiB, under gRPC's default 4 MiB receive limit (the
// CLI's own channel takes 16 MiB, as the server sends).
inline constexpr int32_t kTrialPageSize = 500;

// Typed RPC helpers shared by the commands and `vernier run`.
absl::StatusOr<v1::Study> GetStudy(const CommandContext& ctx, const std::string& name);
// The study's summary (GetStudySummary); the server's errors as FromGrpc
// gives them.
absl::StatusOr<v1::StudySummary> GetSummary(const CommandContext& ctx, const std::string& study);
// Every trial of `study` in number order, whole, read kTrialPageSize at a
// time (each page an RPC with its own deadline), so a study of any size
// fits; a page the server or the channel refuses as too large
// (RESOURCE_EXHAUSTED) is asked again with half as many trials. Trials
// created while the pages are read are listed when their page is read.
absl::StatusOr<std::vector<v1::Trial>> GetTrials(const CommandContext& ctx,
                                                 const std::string& study);
// The same for the trials `request` lists (its study, states, order_by and
// omit_intermediate); its page_token is set here, and its page_size when it
// has none (kTrialPageSize).
absl::StatusOr<std::vector<v1::Trial>> GetTrials(const CommandContext& ctx,
                                                 v1::ListTrialsRequest request);
// Pages through the trials `request` lists as GetTrials does, handing each
// page to `on_page` as it comes instead of keeping them all (a 100,000-trial
// study need not be held whole). Stops at the first error, and once `limit`
// trials (when given) have come: no page asks for more than are left.
// `on_page` runs on the calling thread, in page order; while it runs, the
// next page is already being read (ctx.stub is called from another thread).
absl::Status ForEachTrialPage(const CommandContext& ctx, v1::ListTrialsRequest request,
                              const std::function<void(v1::ListTrialsResponse& page)>& on_page,
                              std::optional<int64_t> limit = std::nullopt);
absl::StatusOr<std::vector<v1::Trial>> GetBestTrials(const CommandContext& ctx,
                                                     const std::string& study, int count);

}  // namespace vernier

#endif  // VERNIER_CLIENT_COMMANDS_H_
