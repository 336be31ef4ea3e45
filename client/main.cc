// vernier: the command-line client. Flags live here only; the commands are in
// client/commands.h and client/embedded_run.h.
//
// Exit codes: 0 success, 1 runtime failure (server unreachable, not found,
// study failed), 2 bad input (flags, study file).
#include <cstdlib>
#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "client/ask_tell.h"
#include "client/commands.h"
#include "client/embedded_run.h"
#include "client/enqueue.h"
#include "client/export.h"
#include "common/channel.h"
#include "common/channel_flags.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace {

int ExitCode(const absl::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "vernier: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::string DefaultServer() {
  const char* env = std::getenv("VERNIER_SERVER");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vernier: hyperparameter tuning studies (create, follow, query, run locally)"};
  app.require_subcommand(1);
  std::string server = DefaultServer();
  std::string format_text = "table";
  app.add_option("--server", server, "coordinator address host:port (env VERNIER_SERVER)")
      ->capture_default_str();
  app.add_option("--format", format_text, "output format: table or json")->capture_default_str();
  vernier::ChannelFlags channel_flags;
  vernier::AddChannelFlags(app, "file holding your user token (default: $VERNIER_TOKEN)",
                           channel_flags);

  CLI::App* study = app.add_subcommand("study", "create, list, show or stop studies");
  study->require_subcommand(1);
  std::string file, name;
  CLI::App* create = study->add_subcommand("create", "create a study from a study file");
  create->add_option("-f,--file", file, "study file (YAML)")->required();
  CLI::App* list = study->add_subcommand("list", "list studies");
  CLI::App* show = study->add_subcommand("show", "show one study");
  show->add_option("name", name, "study name")->required();
  CLI::App* stop = study->add_subcommand("stop", "stop a study (no new trials)");
  stop->add_option("name", name, "study name")->required();
  vernier::ExportOptions export_options;
  std::string export_format = "json";
  CLI::App* export_cmd =
      study->add_subcommand("export", "export a study and its trials as JSON or CSV");
  export_cmd->add_option("name", name, "study name")->required();
  export_cmd->add_option("--format", export_format, "json or csv")->capture_default_str();
  export_cmd->add_option("-o,--output", export_options.output_path,
                         "file to write (default: standard output)");
  export_cmd->add_option("--intermediate", export_options.intermediate_path,
                         "csv only: also write the intermediate values, one row per trial, "
                         "step and metric, to this file");

  vernier::EnqueueOptions enqueue_options;
  CLI::App* enqueue = study->add_subcommand(
      "enqueue", "queue trials with given parameters; they run before sampled ones");
  enqueue->add_option("name", name, "study name")->required();
  enqueue->add_option("--param", enqueue_options.params,
                      "NAME=VALUE, repeated; parameters left out are sampled");
  enqueue->add_option("--params-file", enqueue_options.params_file,
                      "YAML or JSON file: one mapping NAME: VALUE, or a list of them");
  enqueue->add_option("--from", enqueue_options.from_study,
                      "re-run the best trials of this other study");
  enqueue->add_option("--top", enqueue_options.top, "with --from: how many of its best trials")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  CLI::App* trials = app.add_subcommand("trials", "list the trials of a study");
  trials->add_option("name", name, "study name")->required();
  int count = 0;  // 0: the server's default (1, or the whole Pareto front).
  CLI::App* best = app.add_subcommand("best", "show the best trials of a study");
  best->add_option("name", name, "study name")->required();
  best->add_option("-n", count,
                   "how many (default 1; a multi-objective study: its whole Pareto front)")
      ->check(CLI::PositiveNumber);

  std::string backup_path;
  CLI::App* backup = app.add_subcommand(
      "backup", "copy the server's database to a new file while it runs (a path on the server)");
  backup->add_option("path", backup_path, "absolute path of the new file")->required();

  std::string ask_study;
  CLI::App* ask = app.add_subcommand(
      "ask", "start a trial for your own loop: prints {\"trial\": N, \"params\": {...}}");
  ask->add_option("study", ask_study, "study name")->required();
  vernier::TellArgs tell_args;
  CLI::App* tell = app.add_subcommand("tell", "record how an asked trial ended");
  tell->add_option("study", tell_args.study, "study name")->required();
  tell->add_option("trial", tell_args.trial, "trial number (from vernier ask)")->required();
  std::string tell_value;
  CLI::Option* tell_value_option =
      tell->add_option("--value", tell_value, "the objective's value (a number, inf or -inf)");
  tell->add_option("--metric", tell_args.metrics, "name=value, repeatable (final metrics)");
  tell->add_option("--state", tell_args.state, "complete, pruned or failed")->capture_default_str();
  tell->add_option("--reason", tell_args.reason, "why the trial failed (--state failed)");
  vernier::ReportArgs report_args;
  CLI::App* report = app.add_subcommand(
      "report",
      "record an intermediate value of an asked trial: prints {..., \"should_prune\": true|false}");
  report->add_option("study", report_args.study, "study name")->required();
  report->add_option("trial", report_args.trial, "trial number (from vernier ask)")->required();
  report->add_option("--step", report_args.step, "the step (epoch, iteration), >= 0")
      ->required()
      ->check(CLI::NonNegativeNumber);
  std::string report_value;
  CLI::Option* report_value_option = report->add_option(
      "--value", report_value, "the objective's value at the step (a number, inf or -inf)");
  report->add_option("--metric", report_args.metrics, "name=value, repeatable");

  vernier::RunOptions run_options;
  CLI::App* run =
      app.add_subcommand("run", "run a study on this machine: embedded server + local workers");
  run->add_option("file", run_options.study_file, "study file (YAML)")->required();
  run->add_option("--workers", run_options.workers, "local workers")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  run->add_option("--data-dir", run_options.data_dir, "where the database and logs go")
      ->capture_default_str();
  run->add_option("--threads", run_options.threads_per_worker,
                  "threads per trial (0: cores / workers)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  run->add_option("--gpus", run_options.gpus, "GPUs for the local workers: auto or a list");
  run->add_option("--trials-per-gpu", run_options.trials_per_gpu, "trials packed on each GPU")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  run->add_option("--worker-binary", run_options.worker_binary, "vernier-worker to launch");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  absl::StatusOr<vernier::OutputFormat> format = vernier::ParseOutputFormat(format_text);
  if (!format.ok()) return ExitCode(format.status());

  if (run->parsed()) {
    run_options.out = &std::cout;
    run_options.err = &std::cerr;
    return ExitCode(vernier::RunStudy(run_options));
  }

  absl::StatusOr<vernier::ChannelOptions> channel_options =
      vernier::ChannelOptionsFromFlags(server, channel_flags);
  if (!channel_options.ok()) return ExitCode(channel_options.status());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = vernier::MakeChannel(*channel_options);
  if (!channel.ok()) return ExitCode(channel.status());
  std::unique_ptr<vernier::v1::StudyService::Stub> stub =
      vernier::v1::StudyService::NewStub(*channel);
  vernier::CommandContext ctx{stub.get(), &std::cout, *format, server};
  absl::Status status;
  if (create->parsed()) {
    status = vernier::CreateStudyCommand(ctx, file);
  } else if (list->parsed()) {
    status = vernier::ListStudiesCommand(ctx);
  } else if (show->parsed()) {
    status = vernier::ShowStudyCommand(ctx, name);
  } else if (stop->parsed()) {
    status = vernier::StopStudyCommand(ctx, name);
  } else if (trials->parsed()) {
    status = vernier::ListTrialsCommand(ctx, name);
  } else if (best->parsed()) {
    status = vernier::BestTrialsCommand(ctx, name, count);
  } else if (export_cmd->parsed()) {
    absl::StatusOr<vernier::ExportFormat> parsed = vernier::ParseExportFormat(export_format);
    if (!parsed.ok()) return ExitCode(parsed.status());
    export_options.format = *parsed;
    status = vernier::ExportStudyCommand(ctx, name, export_options);
  } else if (backup->parsed()) {
    status = vernier::BackupCommand(ctx, backup_path);
  } else if (ask->parsed()) {
    status = vernier::AskCommand(ctx, ask_study);
  } else if (tell->parsed()) {
    if (tell_value_option->count() > 0) tell_args.value = tell_value;
    status = vernier::TellCommand(ctx, tell_args);
  } else if (report->parsed()) {
    if (report_value_option->count() > 0) report_args.value = report_value;
    status = vernier::ReportCommand(ctx, report_args);
  } else if (enqueue->parsed()) {
    enqueue_options.err = &std::cerr;
    status = vernier::EnqueueCommand(ctx, name, enqueue_options);
  }
  return ExitCode(status);
}
