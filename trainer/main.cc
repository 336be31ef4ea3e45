// vernier-train: one trial of the built-in trainer. Reads its parameters from
// --params FILE or $VERNIER_PARAMS_FILE, trains, and writes trial-protocol
// reports to the descriptor in $VERNIER_REPORT_FD (stdout when unset). Short
// progress lines go to stderr. Exit status 0 on success, 1 on any error (with
// "vernier-train: <message>" on stderr), 2 on bad usage.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/builtin_trainer.h"
#include "common/status_macros.h"
#include "common/trial_protocol.h"
#include "trainer/options.h"
#include "trainer/report_channel.h"
#include "trainer/trial.h"

namespace vernier {
namespace {

constexpr char kUsage[] = "usage: vernier-train [--params FILE] [--help]\n";

struct Flags {
  std::string params_path;  // Empty: take $VERNIER_PARAMS_FILE.
  bool help = false;
};

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
    } else if (arg == "--params" && i + 1 < argc) {
      flags.params_path = argv[++i];
    } else if (absl::StartsWith(arg, "--params=")) {
      flags.params_path = arg.substr(std::string("--params=").size());
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown or incomplete flag \"", arg, "\""));
    }
  }
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
  env.log = stderr;
  ASSIGN_OR_RETURN(MetricMap metrics, RunTrial(options, env, *channel));
  RETURN_IF_ERROR(channel->status());
  return channel->WriteFinal(metrics);
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
  const absl::Status status = vernier::Run(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "vernier-train: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
