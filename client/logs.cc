#include "client/logs.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace vernier {

absl::Status LogsCommand(const CommandContext& ctx, const LogsArgs& args) {
  v1::GetTrialLogRequest request;
  request.set_study(args.study);
  request.set_trial(args.trial);
  request.set_attempt(args.attempt);
  request.set_follow(args.follow);
  grpc::ClientContext rpc;
  if (!args.follow) rpc.set_deadline(absl::ToChronoTime(absl::Now() + ctx.deadline));
  std::unique_ptr<grpc::ClientReaderInterface<v1::TrialLogChunk>> reader =
      ctx.stub->GetTrialLog(&rpc, request);
  v1::TrialLogChunk chunk;
  int64_t expected = 0;  // Where the next chunk should start.
  while (reader->Read(&chunk)) {
    if (chunk.offset() > expected) {
      // The server cut what lies between (it keeps the last bytes only).
      *ctx.out << (expected == 0 ? absl::StrCat("[vernier: the first ", chunk.offset(),
                                                " bytes of this log were cut]\n")
                                 : absl::StrCat("\n[vernier: ", chunk.offset() - expected,
                                                " bytes of this log were cut here]\n"));
    }
    *ctx.out << chunk.data();
    ctx.out->flush();
    expected = chunk.offset() + static_cast<int64_t>(chunk.data().size());
  }
  return FromGrpc(reader->Finish(), ctx.server_address);
}

}  // namespace vernier
