#include "client/study_paths.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vernier {

void ResolveStudyPaths(v1::StudySpec& spec, absl::string_view base_dir,
                       absl::FunctionRef<bool(const std::string&)> exists) {
  v1::TrainerSpec& trainer = *spec.mutable_trainer();
  if (trainer.has_command()) {
    v1::CommandTrainer& command = *trainer.mutable_command();
    std::vector<std::string> argv = ResolveCommandPaths(
        std::vector<std::string>(command.argv().begin(), command.argv().end()), base_dir, exists);
    command.mutable_argv()->Assign(argv.begin(), argv.end());
  }
  if (!trainer.has_builtin() || trainer.builtin().settings_json().empty()) return;
  nlohmann::ordered_json settings =
      nlohmann::ordered_json::parse(trainer.builtin().settings_json(), nullptr,
                                    /*allow_exceptions=*/false);
  if (!settings.is_object()) return;
  bool changed = false;
  for (absl::string_view key : kBuiltinPathSettings) {
    auto it = settings.find(std::string(key));
    if (it == settings.end() || !it->is_string()) continue;
    const std::string value = it->get<std::string>();
    // "auto" and "none" are cache_dir's words, not directories.
    if (value == "auto" || value == "none") continue;
    // A setting is one argument after argv[0] of the same rule.
    std::vector<std::string> resolved = ResolveCommandPaths({"", value}, base_dir, exists);
    if (resolved[1] != value) {
      *it = resolved[1];
      changed = true;
    }
  }
  if (changed)
    trainer.mutable_builtin()->set_settings_json(
        settings.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

std::vector<std::string> StudyPathWarnings(const v1::StudySpec& spec, absl::string_view base_dir,
                                           absl::FunctionRef<bool(const std::string&)> exists) {
  if (!spec.trainer().has_command()) return {};
  const std::vector<std::string> argv(spec.trainer().command().argv().begin(),
                                      spec.trainer().command().argv().end());
  const std::optional<size_t> missing = MissingProgramFile(argv, base_dir, exists);
  if (!missing.has_value()) return {};
  return {absl::StrCat("trainer.command[", *missing, "]: ", argv[*missing],
                       " does not exist under ", base_dir,
                       "; workers resolve it against their --code-dir")};
}

}  // namespace vernier
