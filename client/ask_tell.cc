#include "client/ask_tell.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

absl::StatusOr<v1::TrialState> ParseState(const std::string& text) {
  const std::string state = absl::AsciiStrToLower(text);
  if (state == "complete") return v1::TRIAL_STATE_COMPLETE;
  if (state == "pruned") return v1::TRIAL_STATE_PRUNED;
  if (state == "failed") return v1::TRIAL_STATE_FAILED;
  return absl::InvalidArgumentError(
      absl::StrCat("--state: must be complete, pruned or failed, got \"", text, "\""));
}

absl::StatusOr<double> ParseNumber(const std::string& text, absl::string_view flag) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", text, "\" is not a number"));
  }
  return value;
}

// Parses --metric name=value flags into `metrics`.
absl::Status ParseMetrics(const std::vector<std::string>& flags,
                          google::protobuf::Map<std::string, double>& metrics) {
  for (const std::string& metric : flags) {
    const size_t eq = metric.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metric: \"", metric, "\" is not name=value"));
    }
    ASSIGN_OR_RETURN(double value, ParseNumber(metric.substr(eq + 1), "--metric"));
    metrics[metric.substr(0, eq)] = value;
  }
  return absl::OkStatus();
}

// Fills `request` from the command line's arguments.
absl::Status BuildTellRequest(const TellArgs& args, v1::TellRequest& request) {
  request.set_study(args.study);
  request.set_trial_number(args.trial);
  ASSIGN_OR_RETURN(v1::TrialState state, ParseState(args.state));
  request.set_state(state);
  if (args.value) {
    ASSIGN_OR_RETURN(double value, ParseNumber(*args.value, "--value"));
    request.set_value(value);
  }
  RETURN_IF_ERROR(ParseMetrics(args.metrics, *request.mutable_metrics()));
  if (!args.reason.empty()) {
    if (state != v1::TRIAL_STATE_FAILED) {
      return absl::InvalidArgumentError("--reason: only with --state failed");
    }
    request.set_failure_reason(args.reason);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AskCommand(const CommandContext& ctx, const std::string& study) {
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::AskRequest request;
  request.set_study(study);
  v1::AskResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->Ask(&rpc, request, &response), ctx.server_address));
  const nlohmann::json trial = TrialToJson(response.trial());
  *ctx.out
      << nlohmann::json{{"trial", response.trial().number()}, {"params", trial["params"]}}.dump()
      << "\n";
  return absl::OkStatus();
}

absl::Status TellCommand(const CommandContext& ctx, const TellArgs& args) {
  v1::TellRequest request;
  RETURN_IF_ERROR(BuildTellRequest(args, request));
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::TellResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->Tell(&rpc, request, &response), ctx.server_address));
  ASSIGN_OR_RETURN(v1::Study info, GetStudy(ctx, args.study));
  *ctx.out << FormatTrials({response.trial()}, info.objective().metric(), ctx.format,
                           absl::ToUnixMillis(absl::Now()));
  return absl::OkStatus();
}

absl::Status ReportCommand(const CommandContext& ctx, const ReportArgs& args) {
  v1::ReportRequest request;
  request.set_study(args.study);
  request.set_trial_number(args.trial);
  request.set_step(args.step);
  if (args.value) {
    ASSIGN_OR_RETURN(double value, ParseNumber(*args.value, "--value"));
    request.set_value(value);
  }
  RETURN_IF_ERROR(ParseMetrics(args.metrics, *request.mutable_metrics()));
  grpc::ClientContext rpc;
  SetDeadline(ctx, rpc);
  v1::ReportResponse response;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->Report(&rpc, request, &response), ctx.server_address));
  *ctx.out << nlohmann::json{{"trial", args.trial},
                             {"step", args.step},
                             {"should_prune", response.should_prune()}}
                  .dump()
           << "\n";
  return absl::OkStatus();
}

}  // namespace vernier
