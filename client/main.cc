// vernier: the command-line client. Flags live here only; the commands are in
// client/commands.h and the files it names. main() is a table of commands:
// each entry says where the command sits, defines its own flags and returns
// what runs it.
//
// Exit codes: 0 success, 1 runtime failure (server unreachable, not found,
// study failed), 2 bad input (flags, study file).
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/artifacts.h"
#include "client/ask_tell.h"
#include "client/commands.h"
#include "client/dashboard/dashboard_server.h"
#include "client/embedded_run.h"
#include "client/enqueue.h"
#include "client/export.h"
#include "client/import_optuna.h"
#include "client/importance.h"
#include "client/logs.h"
#include "client/watch.h"
#include "common/channel.h"
#include "common/channel_flags.h"

namespace {

using vernier::CommandContext;

int ExitCode(const absl::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "vernier: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::string DefaultServer() {
  const char* env = std::getenv("VERNIER_SERVER");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
}

// What runs a command once the flags are parsed.
using Runner = std::function<absl::Status(const CommandContext& ctx)>;

// One command: its path under `vernier` ({"study", "create"}), its help, and
// a function that adds its own flags to its CLI::App and returns its runner.
// The flags' storage lives in the runner.
struct Command {
  std::vector<std::string> path;
  std::string help;
  std::function<Runner(CLI::App& app)> define;
  // False: the command talks to no existing server (`vernier run`).
  bool needs_server = true;
};

// A required positional STUDY argument, kept by the runner.
std::shared_ptr<std::string> AddStudyName(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  app.add_option("name", *name, "study name")->required();
  return name;
}

Runner StudyCommand(CLI::App& app,
                    absl::Status (*command)(const CommandContext&, const std::string&)) {
  std::shared_ptr<std::string> name = AddStudyName(app);
  return [name, command](const CommandContext& ctx) { return command(ctx, *name); };
}

// Adds flag `name` to `app`, calling `set` on `*request` when given.
template <typename T>
void AddBudgetFlag(CLI::App& app, const std::string& name, const std::string& help,
                   std::shared_ptr<vernier::v1::UpdateStudyRequest> request,
                   void (vernier::v1::UpdateStudyRequest::*set)(T)) {
  app.add_option_function<T>(
      name, [request, set](const T& value) { (request.get()->*set)(value); }, help);
}

// `study update` and `study resume`: STUDY and the budget flags.
Runner BudgetCommand(CLI::App& app, bool resume) {
  std::shared_ptr<std::string> name = AddStudyName(app);
  auto request = std::make_shared<vernier::v1::UpdateStudyRequest>();
  using Request = vernier::v1::UpdateStudyRequest;
  AddBudgetFlag<int64_t>(app, "--max-trials", "trials the study creates in all", request,
                         &Request::set_max_trials);
  AddBudgetFlag<int64_t>(app, "--parallel", "trials running at once", request,
                         &Request::set_parallel);
  AddBudgetFlag<int64_t>(app, "--max-failures", "the study stops once more trials have failed",
                         request, &Request::set_max_failures);
  AddBudgetFlag<double>(app, "--target",
                        "the study completes once a trial's objective reaches this", request,
                        &Request::set_target);
  AddBudgetFlag<double>(app, "--max-seconds",
                        "wall-clock budget, seconds from the study's creation", request,
                        &Request::set_max_seconds);
  AddBudgetFlag<int64_t>(
      app, "--patience-trials",
      "the study completes after this many COMPLETE trials in a row without a better one", request,
      &Request::set_patience_trials);
  AddBudgetFlag<int64_t>(app, "--priority",
                         "weight in the fair share of the workers' slots (1-1000; default 1)",
                         request, &Request::set_priority);
  return [name, request, resume](const CommandContext& ctx) {
    request->set_name(*name);
    request->set_resume(resume);
    return vernier::UpdateStudyCommand(ctx, *request);
  };
}

// Where `vernier run` serves its dashboard unless told otherwise.
constexpr char kRunDashboardListen[] = "127.0.0.1:8080";

// The dashboard of a `vernier run`, on `listen`, else (the port is taken: two
// runs at once) on any free port of the same host; its URL goes to stderr
// with the run's other notes. A dashboard that cannot start is only a note:
// the study runs without it.
std::shared_ptr<void> StartRunDashboard(const CommandContext& ctx, const std::string& listen) {
  vernier::DashboardOptions options;
  options.listen = listen;
  auto dashboard = std::make_shared<vernier::Dashboard>(ctx, options);
  absl::Status started = dashboard->Start();
  if (absl::IsUnavailable(started)) {
    options.listen = listen.substr(0, listen.rfind(':')) + ":0";
    dashboard = std::make_shared<vernier::Dashboard>(ctx, options);
    started = dashboard->Start();
  }
  if (!started.ok()) {
    std::cerr << "vernier: no dashboard: " << started.message() << "\n";
    return nullptr;
  }
  std::cerr << "vernier: dashboard at " << dashboard->Url() << "\n";
  return dashboard;
}

std::vector<Command> Commands() {
  return {
      {{"study", "create"},
       "create a study from a study file",
       [](CLI::App& app) -> Runner {
         auto file = std::make_shared<std::string>();
         app.add_option("-f,--file", *file, "study file (YAML)")->required();
         return [file](const CommandContext& ctx) {
           return vernier::CreateStudyCommand(ctx, *file, &std::cerr);
         };
       }},
      {{"dashboard"},
       "serve a web dashboard of the server's studies (plots, live updates)",
       [](CLI::App& app) -> Runner {
         auto options = std::make_shared<vernier::DashboardOptions>();
         app.add_option("--listen", options->listen,
                        "address to serve on, host:port (port 0: any free one)")
             ->capture_default_str();
         app.add_option("--https-cert", options->https_cert_file,
                        "PEM certificate chain: serve HTTPS (with --https-key)");
         app.add_option("--https-key", options->https_key_file, "PEM private key of --https-cert");
         return [options](const CommandContext& ctx) {
           vernier::DashboardOptions with_token = *options;
           with_token.token = ctx.token;
           return vernier::DashboardCommand(ctx, with_token);
         };
       }},
      {{"study", "list"},
       "list studies",
       [](CLI::App&) -> Runner { return vernier::ListStudiesCommand; }},
      {{"study", "show"},
       "show one study",
       [](CLI::App& app) { return StudyCommand(app, vernier::ShowStudyCommand); }},
      {{"study", "stop"},
       "stop a study (no new trials)",
       [](CLI::App& app) { return StudyCommand(app, vernier::StopStudyCommand); }},
      {{"study", "update"},
       "change a running study's budget (--max-trials, --parallel, --max-failures, --priority, "
       "stop conditions)",
       [](CLI::App& app) { return BudgetCommand(app, /*resume=*/false); }},
      {{"study", "resume"},
       "restart a STOPPED or COMPLETED study, with a larger budget where needed",
       [](CLI::App& app) { return BudgetCommand(app, /*resume=*/true); }},
      {{"study", "delete"},
       "delete a study with its trials, checkpoints, artifacts and logs (refused while trials "
       "run, unless --force)",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> name = AddStudyName(app);
         auto force = std::make_shared<bool>(false);
         app.add_flag("--force", *force,
                      "delete even while trials run: their workers are refused and stop them");
         return [name, force](const CommandContext& ctx) {
           vernier::v1::DeleteStudyRequest request;
           request.set_name(*name);
           request.set_force(*force);
           return vernier::DeleteStudyCommand(ctx, request);
         };
       }},
      {{"trial", "exclude"},
       "stop the study learning from a finished trial (samplers, pruners, best, stop "
       "conditions); its record stays",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> study = AddStudyName(app);
         auto number = std::make_shared<int64_t>(0);
         auto reason = std::make_shared<std::string>();
         auto undo = std::make_shared<bool>(false);
         app.add_option("trial", *number, "trial number")
             ->required()
             ->check(CLI::NonNegativeNumber);
         app.add_option("--reason", *reason, "why, for people (shown with the trial)");
         app.add_flag("--undo", *undo, "count the trial again");
         return [study, number, reason, undo](const CommandContext& ctx) {
           vernier::v1::ExcludeTrialRequest request;
           request.set_study(*study);
           request.set_trial_number(*number);
           request.set_reason(*reason);
           request.set_include(*undo);
           return vernier::ExcludeTrialCommand(ctx, request);
         };
       }},
      {{"study", "export"},
       "export a study and its trials as JSON or CSV",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> name = AddStudyName(app);
         auto options = std::make_shared<vernier::ExportOptions>();
         auto format = std::make_shared<std::string>("json");
         app.add_option("--format", *format, "json or csv")->capture_default_str();
         app.add_option("-o,--output", options->output_path,
                        "file to write (default: standard output)");
         app.add_option("--intermediate", options->intermediate_path,
                        "csv only: also write the intermediate values, one row per trial, "
                        "step and metric, to this file");
         return [name, options, format](const CommandContext& ctx) -> absl::Status {
           absl::StatusOr<vernier::ExportFormat> parsed = vernier::ParseExportFormat(*format);
           if (!parsed.ok()) return parsed.status();
           options->format = *parsed;
           return vernier::ExportStudyCommand(ctx, *name, *options);
         };
       }},
      {{"study", "enqueue"},
       "queue trials with given parameters; they run before sampled ones",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> name = AddStudyName(app);
         auto options = std::make_shared<vernier::EnqueueOptions>();
         app.add_option("--param", options->params,
                        "NAME=VALUE, repeated; parameters left out are sampled");
         app.add_option("--params-file", options->params_file,
                        "YAML or JSON file: one mapping NAME: VALUE, or a list of them");
         app.add_option("--from", options->from_study,
                        "re-run the best trials of this other study");
         app.add_option("--top", options->top, "with --from: how many of its best trials")
             ->capture_default_str()
             ->check(CLI::PositiveNumber);
         return [name, options](const CommandContext& ctx) {
           options->err = &std::cerr;
           return vernier::EnqueueCommand(ctx, *name, *options);
         };
       }},
      {{"import-optuna"},
       "import studies from an Optuna SQLite storage, to continue them with ask/tell",
       [](CLI::App& app) -> Runner {
         auto options = std::make_shared<vernier::ImportOptunaOptions>();
         auto study = std::make_shared<std::string>();
         auto new_name = std::make_shared<std::string>();
         app.add_option("storage", options->storage,
                        "the Optuna storage: sqlite:///path/to.db or a path")
             ->required();
         CLI::Option* study_option =
             app.add_option("--study", *study, "only this Optuna study (default: all of them)");
         CLI::Option* as_option =
             app.add_option("--as", *new_name, "name of the Vernier study (one study only)");
         app.add_option("--max-trials", options->max_trials,
                        "trials the new study may run after the imported ones")
             ->capture_default_str()
             ->check(CLI::NonNegativeNumber);
         return [options, study, new_name, study_option, as_option](const CommandContext& ctx) {
           if (study_option->count() > 0) options->study = *study;
           if (as_option->count() > 0) options->new_name = *new_name;
           return vernier::ImportOptunaCommand(ctx, *options);
         };
       }},
      {{"trials"},
       "list the trials of a study",
       [](CLI::App& app) { return StudyCommand(app, vernier::ListTrialsCommand); }},
      {{"best"},
       "show the best trials of a study",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> name = AddStudyName(app);
         auto count = std::make_shared<int>(0);  // 0: the server's default.
         app.add_option("-n", *count,
                        "how many (default 1; a multi-objective study: its whole Pareto front)")
             ->check(CLI::PositiveNumber);
         return [name, count](const CommandContext& ctx) {
           return vernier::BestTrialsCommand(ctx, *name, *count);
         };
       }},
      {{"importance"},
       "how much of the objective's variance each parameter explains (fANOVA over the "
       "COMPLETE trials, as Optuna's default importance evaluator)",
       [](CLI::App& app) -> Runner {
         auto args = std::make_shared<vernier::ImportanceArgs>();
         app.add_option("study", args->study, "study name")->required();
         app.add_option("--params", args->params,
                        "only these parameters, comma-separated (default: every parameter "
                        "present in every COMPLETE trial)")
             ->delimiter(',');
         app.add_option("--seed", args->seed, "seed of the random forest")->capture_default_str();
         app.add_option("--objective", args->objective,
                        "the objective metric to explain (default: the study's first)");
         return
             [args](const CommandContext& ctx) { return vernier::ImportanceCommand(ctx, *args); };
       }},
      {{"refit"},
       "run the best (or given) trial's parameters once more on training + validation data; "
       "its model becomes the study's final model (artifacts get --final)",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> name = AddStudyName(app);
         auto trial = std::make_shared<int64_t>(-1);
         app.add_option("--trial", *trial, "refit this COMPLETE trial (default: the best)")
             ->check(CLI::NonNegativeNumber);
         return [name, trial](const CommandContext& ctx) {
           return vernier::RefitCommand(
               ctx, *name, *trial >= 0 ? std::optional<int64_t>(*trial) : std::nullopt, &std::cerr);
         };
       }},
      {{"backup"},
       "copy the server's database to a new file while it runs (a path on the server)",
       [](CLI::App& app) -> Runner {
         auto path = std::make_shared<std::string>();
         app.add_option("path", *path, "absolute path of the new file")->required();
         return [path](const CommandContext& ctx) { return vernier::BackupCommand(ctx, *path); };
       }},
      {{"ask"},
       "start a trial for your own loop: prints {\"trial\": N, \"params\": {...}}",
       [](CLI::App& app) -> Runner {
         auto study = std::make_shared<std::string>();
         app.add_option("study", *study, "study name")->required();
         return [study](const CommandContext& ctx) { return vernier::AskCommand(ctx, *study); };
       }},
      {{"tell"},
       "record how an asked trial ended",
       [](CLI::App& app) -> Runner {
         auto args = std::make_shared<vernier::TellArgs>();
         auto value = std::make_shared<std::string>();
         app.add_option("study", args->study, "study name")->required();
         app.add_option("trial", args->trial, "trial number (from vernier ask)")->required();
         CLI::Option* value_option =
             app.add_option("--value", *value, "the objective's value (a number, inf or -inf)");
         app.add_option("--metric", args->metrics, "name=value, repeatable (final metrics)");
         app.add_option("--state", args->state, "complete, pruned or failed")
             ->capture_default_str();
         app.add_option("--reason", args->reason, "why the trial failed (--state failed)");
         return [args, value, value_option](const CommandContext& ctx) {
           if (value_option->count() > 0) args->value = *value;
           return vernier::TellCommand(ctx, *args);
         };
       }},
      {{"report"},
       "record an intermediate value of an asked trial: prints {..., \"should_prune\": "
       "true|false}",
       [](CLI::App& app) -> Runner {
         auto args = std::make_shared<vernier::ReportArgs>();
         auto value = std::make_shared<std::string>();
         app.add_option("study", args->study, "study name")->required();
         app.add_option("trial", args->trial, "trial number (from vernier ask)")->required();
         app.add_option("--step", args->step, "the step (epoch, iteration), >= 0")
             ->required()
             ->check(CLI::NonNegativeNumber);
         CLI::Option* value_option = app.add_option(
             "--value", *value, "the objective's value at the step (a number, inf or -inf)");
         app.add_option("--metric", args->metrics, "name=value, repeatable");
         return [args, value, value_option](const CommandContext& ctx) {
           if (value_option->count() > 0) args->value = *value;
           return vernier::ReportCommand(ctx, *args);
         };
       }},
      {{"logs"},
       "print the output of a trial (its latest attempt unless --attempt); -f follows it",
       [](CLI::App& app) -> Runner {
         auto args = std::make_shared<vernier::LogsArgs>();
         app.add_option("study", args->study, "study name")->required();
         app.add_option("trial", args->trial, "trial number")
             ->required()
             ->check(CLI::NonNegativeNumber);
         app.add_option("--attempt", args->attempt,
                        "which run of the trial: 1 its first, 2 its first retry, ... "
                        "(default: the latest)")
             ->check(CLI::PositiveNumber);
         app.add_flag("-f,--follow", args->follow,
                      "keep printing new output until the attempt ends (or Ctrl-C)");
         return [args](const CommandContext& ctx) { return vernier::LogsCommand(ctx, *args); };
       }},
      {{"watch"},
       "follow a study live: progress and ETA, running trials' steps, best so far, recent "
       "prunes and failures (plain lines when stdout is not a terminal)",
       [](CLI::App& app) -> Runner {
         auto args = std::make_shared<vernier::WatchArgs>();
         app.add_option("study", args->study, "study name")->required();
         app.add_flag("--once", args->once, "print the view once and exit");
         app.add_flag("--plain", args->plain, "one plain line per event, even on a terminal");
         return [args](const CommandContext& ctx) { return vernier::WatchCommand(ctx, *args); };
       }},
      {{"artifacts", "list"},
       "list the files the server keeps for a study's trials (trial, path, size, sha256)",
       [](CLI::App& app) -> Runner {
         std::shared_ptr<std::string> name = AddStudyName(app);
         auto trial = std::make_shared<int64_t>(-1);
         app.add_option("trial", *trial, "only this trial's files")->check(CLI::NonNegativeNumber);
         return [name, trial](const CommandContext& ctx) {
           return vernier::ListArtifactsCommand(
               ctx, *name, *trial >= 0 ? std::optional<int64_t>(*trial) : std::nullopt);
         };
       }},
      {{"artifacts", "get"},
       "download a trial's files into a directory, checksums verified",
       [](CLI::App& app) -> Runner {
         auto args = std::make_shared<vernier::ArtifactsGetArgs>();
         auto trial = std::make_shared<int64_t>(-1);
         app.add_option("study", args->study, "study name")->required();
         app.add_option("trial", *trial, "trial number (or --best, --final)")
             ->check(CLI::NonNegativeNumber);
         app.add_flag("--best", args->best, "the study's best trial");
         app.add_flag("--final", args->final,
                      "the study's final model: its newest COMPLETE refit trial");
         app.add_option("-o,--output", args->out_dir, "directory to write the files to")
             ->required();
         return [args, trial](const CommandContext& ctx) {
           if (*trial >= 0) args->trial = *trial;
           return vernier::GetArtifactsCommand(ctx, *args);
         };
       }},
      {{"run"},
       "run a study on this machine: a local server + local workers",
       [](CLI::App& app) -> Runner {
         auto options = std::make_shared<vernier::RunOptions>();
         app.add_option("file", options->study_file, "study file (YAML)")->required();
         app.add_option("--workers", options->workers, "local workers")
             ->capture_default_str()
             ->check(CLI::Range(1, 256));
         app.add_option("--data-dir", options->data_dir, "where the database and logs go")
             ->capture_default_str();
         app.add_option("--threads", options->threads_per_worker,
                        "threads per trial (0: cores / workers)")
             ->capture_default_str()
             ->check(CLI::NonNegativeNumber);
         app.add_option("--gpus", options->gpus, "GPUs for the local workers: auto or a list");
         app.add_option("--trials-per-gpu", options->trials_per_gpu, "trials packed on each GPU")
             ->capture_default_str()
             ->check(CLI::PositiveNumber);
         app.add_option("--worker-binary", options->worker_binary, "vernier-worker to launch");
         app.add_option("--server-binary", options->server_binary, "vernier-server to launch");
         auto plain = std::make_shared<bool>(false);
         app.add_flag("--plain", *plain, "plain progress lines, even on a terminal");
         auto dashboard = std::make_shared<std::string>(kRunDashboardListen);
         app.add_option("--dashboard", *dashboard,
                        "serve the dashboard of the run here, host:port (taken: any free port)")
             ->capture_default_str();
         auto no_dashboard = std::make_shared<bool>(false);
         app.add_flag("--no-dashboard", *no_dashboard, "do not serve a dashboard");
         return [options, plain, dashboard, no_dashboard](const CommandContext& ctx) {
           options->live = !*plain && vernier::StdoutIsTerminal();
           options->out = ctx.out;
           options->err = &std::cerr;
           if (!*no_dashboard) {
             options->on_running = [listen = *dashboard](const CommandContext& local) {
               return StartRunDashboard(local, listen);
             };
           }
           return vernier::RunStudy(*options);
         };
       },
       /*needs_server=*/false},
  };
}

// The CLI::App of `path` under `app`, creating the groups on the way ("study"
// holds create, list, ...).
CLI::App& AppAt(CLI::App& app, const std::vector<std::string>& path, const std::string& help) {
  CLI::App* at = &app;
  for (size_t i = 0; i < path.size(); ++i) {
    const bool last = i + 1 == path.size();
    CLI::App* next = nullptr;
    for (CLI::App* sub : at->get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == path[i]) next = sub;
    }
    if (next == nullptr) {
      const std::string group_help = path[i] == "artifacts"
                                         ? "list or download the files trials left"
                                         : "create, list, show or stop studies";
      next = at->add_subcommand(path[i], last ? help : group_help);
      if (!last) next->require_subcommand(1);
    }
    at = next;
  }
  return *at;
}

// The runner of the command the user chose, if any.
struct Chosen {
  Runner run;
  bool needs_server = true;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vernier: hyperparameter tuning studies (create, follow, query, run locally)"};
  app.require_subcommand(1);
  // The options below work before or after the subcommand
  // (`vernier trials S --format json`): subcommands pass the options they do
  // not know up to here.
  app.fallthrough();
  std::string server = DefaultServer();
  std::string format_text = "table";
  app.add_option("--server", server, "coordinator address host:port (env VERNIER_SERVER)")
      ->capture_default_str();
  app.add_option("--format", format_text, "output format: table or json")->capture_default_str();
  vernier::ChannelFlags channel_flags;
  vernier::AddChannelFlags(app, "file holding your user token (default: $VERNIER_TOKEN)",
                           channel_flags);

  std::vector<std::pair<CLI::App*, Chosen>> commands;
  for (const Command& command : Commands()) {
    CLI::App& at = AppAt(app, command.path, command.help);
    commands.emplace_back(&at, Chosen{command.define(at), command.needs_server});
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::optional<Chosen> chosen;
  for (const auto& [at, runner] : commands) {
    if (at->parsed()) chosen = runner;
  }
  if (!chosen) return ExitCode(absl::InvalidArgumentError("no command given; see --help"));
  absl::StatusOr<vernier::OutputFormat> format = vernier::ParseOutputFormat(format_text);
  if (!format.ok()) return ExitCode(format.status());
  if (!chosen->needs_server) {
    return ExitCode(chosen->run(CommandContext{nullptr, &std::cout, *format, ""}));
  }
  absl::StatusOr<vernier::ChannelOptions> channel_options =
      vernier::ChannelOptionsFromFlags(server, channel_flags);
  if (!channel_options.ok()) return ExitCode(channel_options.status());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = vernier::MakeChannel(*channel_options);
  if (!channel.ok()) return ExitCode(channel.status());
  std::unique_ptr<vernier::v1::StudyService::Stub> stub =
      vernier::v1::StudyService::NewStub(*channel);
  CommandContext ctx{stub.get(), &std::cout, *format, server};
  ctx.token = channel_options->token;
  return ExitCode(chosen->run(ctx));
}
