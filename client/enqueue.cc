#include "client/enqueue.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/spec/study_yaml.h"
#include "common/spec/yaml.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"
#include "nlohmann/json.hpp"

namespace vernier {
namespace {

absl::StatusOr<ParamSet> ParamSetFromJson(const nlohmann::ordered_json& node,
                                          const std::string& path) {
  if (!node.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": must be a mapping of parameter names to values"));
  }
  ParamSet set;
  for (const auto& [name, value] : node.items()) {
    ASSIGN_OR_RETURN(set[name], ParameterValueFromJson(value, absl::StrCat(path, ".", name)));
  }
  return set;
}

absl::StatusOr<v1::Trial> Enqueue(const CommandContext& ctx, const std::string& study,
                                  const ParamSet& params) {
  grpc::ClientContext rpc;
  rpc.set_deadline(absl::ToChronoTime(absl::Now() + ctx.deadline));
  v1::EnqueueTrialRequest request;
  request.set_study(study);
  request.mutable_params()->insert(params.begin(), params.end());
  v1::Trial trial;
  RETURN_IF_ERROR(FromGrpc(ctx.stub->EnqueueTrial(&rpc, request, &trial), ctx.server_address));
  return trial;
}

void Print(const CommandContext& ctx, const std::vector<v1::Trial>& trials) {
  if (ctx.format == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::Trial& trial : trials) out.push_back(TrialToJson(trial));
    *ctx.out << out.dump(2) << "\n";
    return;
  }
  for (const v1::Trial& trial : trials) *ctx.out << trial.number() << "\n";
}

// The sets of --param or --params-file.
absl::StatusOr<std::vector<ParamSet>> GivenSets(const EnqueueOptions& options) {
  if (!options.params_file.empty()) return ReadParamsFile(options.params_file);
  ParamSet set;
  for (const std::string& flag : options.params) {
    ASSIGN_OR_RETURN(auto param, ParseParamFlag(flag));
    if (set.count(param.first) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", flag, ": ", param.first, " is given twice"));
    }
    set.insert(std::move(param));
  }
  return std::vector<ParamSet>{std::move(set)};
}

// --from OLD --top K: the server re-runs OLD's best K COMPLETE trials in
// `study`, restricted to its space (EnqueueFromStudy).
absl::Status EnqueueFromStudy(const CommandContext& ctx, const std::string& study,
                              const EnqueueOptions& options) {
  grpc::ClientContext rpc;
  rpc.set_deadline(absl::ToChronoTime(absl::Now() + ctx.deadline));
  v1::EnqueueFromStudyRequest request;
  request.set_study(study);
  request.set_from_study(options.from_study);
  request.set_top(options.top);
  v1::EnqueueFromStudyResponse response;
  RETURN_IF_ERROR(
      FromGrpc(ctx.stub->EnqueueFromStudy(&rpc, request, &response), ctx.server_address));
  if (options.err != nullptr) {
    for (const std::string& skipped : response.skipped()) {
      *options.err << "vernier: skipped " << skipped << " of \"" << options.from_study << "\"\n";
    }
  }
  Print(ctx, {response.trials().begin(), response.trials().end()});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<std::string, v1::ParameterValue>> ParseParamFlag(const std::string& flag) {
  const size_t equals = flag.find('=');
  if (equals == std::string::npos || equals == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--param ", flag, ": expected NAME=VALUE, e.g. --param lr=0.01"));
  }
  const std::string name = flag.substr(0, equals);
  const std::string text = flag.substr(equals + 1);
  const std::string where = absl::StrCat("--param ", name);
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty value"));
  absl::StatusOr<nlohmann::ordered_json> json = ParseYamlText(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", json.status().message()));
  }
  ASSIGN_OR_RETURN(v1::ParameterValue value, ParameterValueFromJson(*json, where));
  return std::make_pair(name, std::move(value));
}

absl::StatusOr<std::vector<ParamSet>> ReadParamsFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadStudyFile(path));
  absl::StatusOr<nlohmann::ordered_json> root = ParseYamlText(text);
  if (!root.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", root.status().message()));
  }
  std::vector<ParamSet> sets;
  if (root->is_array()) {
    if (root->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty list"));
    for (size_t i = 0; i < root->size(); ++i) {
      ASSIGN_OR_RETURN(ParamSet set, ParamSetFromJson((*root)[i], absl::StrCat(path, "[", i, "]")));
      sets.push_back(std::move(set));
    }
    return sets;
  }
  ASSIGN_OR_RETURN(ParamSet set, ParamSetFromJson(*root, path));
  sets.push_back(std::move(set));
  return sets;
}

absl::Status EnqueueCommand(const CommandContext& ctx, const std::string& study,
                            const EnqueueOptions& options) {
  const int sources =
      !options.params.empty() + !options.params_file.empty() + !options.from_study.empty();
  if (sources != 1) {
    return absl::InvalidArgumentError(
        "give the parameters with exactly one of --param, --params-file or --from");
  }
  if (!options.from_study.empty()) return EnqueueFromStudy(ctx, study, options);
  ASSIGN_OR_RETURN(std::vector<ParamSet> sets, GivenSets(options));
  std::vector<v1::Trial> enqueued;
  for (size_t i = 0; i < sets.size(); ++i) {
    absl::StatusOr<v1::Trial> trial = Enqueue(ctx, study, sets[i]);
    if (!trial.ok()) {
      Print(ctx, enqueued);
      if (!options.params_file.empty() && sets.size() > 1) {
        return absl::Status(trial.status().code(), absl::StrCat(options.params_file, "[", i,
                                                                "]: ", trial.status().message()));
      }
      return trial.status();
    }
    enqueued.push_back(*std::move(trial));
  }
  Print(ctx, enqueued);
  return absl::OkStatus();
}

}  // namespace vernier
