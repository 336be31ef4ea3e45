// vernier-train: one trial of the built-in trainer, or predictions of a model
// one saved. Training reads its parameters from --params FILE or
// $VERNIER_PARAMS_FILE, trains, and writes trial-protocol reports to the
// descriptor in $VERNIER_REPORT_FD (stdout when unset); short progress lines go
// to stderr. --predict MODEL_DIR --input FILE writes predictions as CSV
// (trainer/predict.h). Exit status 0 on success, 1 on any error (with
// "vernier-train: <message>" on stderr), 2 on bad usage.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"
#include "common/trial_protocol.h"
#include "trainer/options.h"
#include "trainer/predict.h"
#include "trainer/report_channel.h"
#include "trainer/trial.h"

namespace vernier {
namespace {

constexpr char kUsage[] =
    "usage: vernier-train [--params FILE] [--help]\n"
    "       vernier-train --predict MODEL_DIR --input FILE [--labels FILE] [--output FILE]\n"
    "                     [--evaluate]\n";

struct Flags {
  std::string params_path;  // Empty: take $VERNIER_PARAMS_FILE.
  bool help = false;
  bool predict = false;  // --predict given: the other fields below apply.
  PredictOptions prediction;
};

// The value of flag `name` at argv[i] ("--name VALUE" or "--name=VALUE"),
// advancing i past it; nullopt when argv[i] is not that flag or lacks a value.
std::optional<std::string> FlagValue(int argc, char** argv, int& i, absl::string_view name) {
  const absl::string_view arg = argv[i];
  if (arg == name && i + 1 < argc) return std::string(argv[++i]);
  if (absl::StartsWith(arg, name) && arg.size() > name.size() && arg[name.size()] == '=') {
    return std::string(arg.substr(name.size() + 1));
  }
  return std::nullopt;
}

absl::Status CheckFlagCombination(const Flags& flags) {
  const PredictOptions& prediction = flags.prediction;
  if (!flags.predict) {
    if (!prediction.input_path.empty() || !prediction.labels_path.empty() ||
        !prediction.output_path.empty() || prediction.evaluate) {
      return absl::InvalidArgumentError(
          "--input, --labels, --output and --evaluate go with --predict MODEL_DIR");
    }
    return absl::OkStatus();
  }
  if (!flags.params_path.empty()) {
    return absl::InvalidArgumentError("--predict does not train: it takes no --params");
  }
  if (prediction.input_path.empty()) {
    return absl::InvalidArgumentError("--predict needs --input FILE (the examples)");
  }
  return absl::OkStatus();
}

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  PredictOptions& prediction = flags.prediction;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
    } else if (arg == "--evaluate") {
      prediction.evaluate = true;
    } else if (std::optional<std::string> params = FlagValue(argc, argv, i, "--params")) {
      flags.params_path = *params;
    } else if (std::optional<std::string> dir = FlagValue(argc, argv, i, "--predict")) {
      flags.predict = true;
      prediction.model_dir = *dir;
    } else if (std::optional<std::string> input = FlagValue(argc, argv, i, "--input")) {
      prediction.input_path = *input;
    } else if (std::optional<std::string> labels = FlagValue(argc, argv, i, "--labels")) {
      prediction.labels_path = *labels;
    } else if (std::optional<std::string> output = FlagValue(argc, argv, i, "--output")) {
      prediction.output_path = *output;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown or incomplete flag \"", arg, "\""));
    }
  }
  RETURN_IF_ERROR(CheckFlagCombination(flags));
  return flags;
}

// "float in [0, 0.95]", "int >= 0", "one of: sgd, momentum, adam", "string".
std::string DescribeRange(const BuiltinParam& param) {
  const bool is_int = param.kind == BuiltinParam::Kind::kInt;
  auto bound = [is_int](double value) {
    return is_int ? absl::StrCat(static_cast<int64_t>(value)) : absl::StrCat(value);
  };
  switch (param.kind) {
    case BuiltinParam::Kind::kFloat:
    case BuiltinParam::Kind::kInt:
      if (std::isinf(param.max_value)) {
        return absl::StrCat(is_int ? "int" : "float", " >= ", bound(param.min_value));
      }
      return absl::StrCat(is_int ? "int" : "float", " in [", bound(param.min_value), ", ",
                          bound(param.max_value), "]");
    case BuiltinParam::Kind::kChoice:
      return absl::StrCat("one of: ", absl::StrJoin(param.choices, ", "));
    case BuiltinParam::Kind::kString:
      return "string";
  }
  return "";
}

void PrintHelp() {
  std::fputs(kUsage, stdout);
  std::fputs(
      "\nTrains one trial of Vernier's built-in trainer. The parameter file is a flat JSON\n"
      "object, e.g. {\"lr\": 0.003, \"optimizer\": \"adam\", \"epochs\": 3}; parameters it\n"
      "leaves out take their defaults, unknown ones are an error. Reports (one JSON line\n"
      "per epoch, then a final one) go to the descriptor in $VERNIER_REPORT_FD, or stdout.\n"
      "Environment: VERNIER_PARAMS_FILE (instead of --params), VERNIER_REPORT_FD,\n"
      "VERNIER_DEVICE (cpu | cuda; unset: cuda when available), VERNIER_NUM_THREADS.\n"
      "\n--predict MODEL_DIR --input FILE loads a saved model (model.pt, manifest.json)\n"
      "and writes one CSV row per example of FILE to --output (default stdout): each\n"
      "class's probability and the predicted class, or the predicted value. FILE is of\n"
      "the kind the model was trained on: IDX images; text, one example per line (or a\n"
      ".csv/.tsv of text,label); a CSV with the model's feature columns. --evaluate\n"
      "prints the metrics on labelled input as JSON (images: labels in --labels, an IDX\n"
      "file). Runs on the CPU unless VERNIER_DEVICE=cuda.\n"
      "\nParameters:\n",
      stdout);
  for (const BuiltinParam& param : BuiltinTrainerParams()) {
    std::printf("  %-13s %s, default %s\n  %-13s   %s\n", param.name.c_str(),
                DescribeRange(param).c_str(), param.default_value.dump().c_str(), "",
                param.help.c_str());
  }
}

absl::Status Run(const Flags& flags) {
  std::string params_path = flags.params_path;
  if (params_path.empty()) {
    const char* from_env = std::getenv(kEnvParamsFile);
    if (from_env == nullptr || *from_env == '\0') {
      return absl::InvalidArgumentError(
          "no parameters: pass --params FILE or set VERNIER_PARAMS_FILE (see --help)");
    }
    params_path = from_env;
  }
  ASSIGN_OR_RETURN(TrainOptions options, LoadTrainOptions(params_path));
  ASSIGN_OR_RETURN(std::unique_ptr<ReportChannel> channel,
                   ReportChannel::FromEnvironment(std::getenv(kEnvReportFd), stderr));
  TrialEnvironment env;
  env.device = std::getenv(kEnvDevice);
  env.num_threads = std::getenv(kEnvNumThreads);
  env.trial_dir = std::getenv(kEnvTrialDir);
  env.artifact_dir = std::getenv(kEnvArtifactDir);
  env.params_file = params_path.c_str();
  env.log = stderr;
  ASSIGN_OR_RETURN(MetricMap metrics, RunTrial(options, env, *channel));
  RETURN_IF_ERROR(channel->status());
  return channel->WriteFinal(metrics);
}

absl::Status PredictFromFlags(PredictOptions options) {
  options.device = std::getenv(kEnvDevice);
  return RunPrediction(options, stdout);
}

}  // namespace
}  // namespace vernier

int main(int argc, char** argv) {
  absl::StatusOr<vernier::Flags> flags = vernier::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "vernier-train: %s\n%s", std::string(flags.status().message()).c_str(),
                 vernier::kUsage);
    return 2;
  }
  if (flags->help) {
    vernier::PrintHelp();
    return 0;
  }
  const absl::Status status =
      flags->predict ? vernier::PredictFromFlags(flags->prediction) : vernier::Run(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "vernier-train: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
