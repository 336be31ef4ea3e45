#include "server/logic/refit.h"

#include <cmath>
#include <string>

#include "common/builtin_trainer.h"

namespace vernier {
namespace {

// A number-valued setting: the trial's parameter, else the study's setting.
std::optional<double> NumberSetting(const TrialRecord& trial, const nlohmann::json& settings,
                                    const std::string& name) {
  if (auto param = trial.params.find(name); param != trial.params.end()) {
    if (const auto* i = std::get_if<int64_t>(&param->second)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&param->second)) return *d;
    return std::nullopt;
  }
  if (auto setting = settings.find(name); setting != settings.end() && setting->is_number()) {
    return setting->get<double>();
  }
  return std::nullopt;
}

std::string StringSetting(const TrialRecord& trial, const nlohmann::json& settings,
                          const std::string& name, const std::string& fallback) {
  if (auto param = trial.params.find(name); param != trial.params.end()) {
    if (const auto* s = std::get_if<std::string>(&param->second)) return *s;
  }
  if (auto setting = settings.find(name); setting != settings.end() && setting->is_string()) {
    return setting->get<std::string>();
  }
  return fallback;
}

}  // namespace

std::optional<int64_t> RefitEpochs(const TrialRecord& source, const nlohmann::json& settings) {
  std::optional<int64_t> last;
  for (const Measurement& m : source.intermediate) {
    if (m.step >= 1 && (!last || m.step > *last)) last = m.step;
  }
  if (!last) return std::nullopt;
  const std::optional<double> patience = NumberSetting(source, settings, "patience");
  if (!patience || *patience <= 0) return last;
  const std::string metric = StringSetting(source, settings, "early_stop_metric", "val_loss");
  const bool lower = BuiltinMetricLowerIsBetter(metric);
  std::optional<int64_t> best_step;
  double best = 0;
  for (const Measurement& m : source.intermediate) {  // In step order.
    auto value = m.metrics.find(metric);
    if (m.step < 1 || value == m.metrics.end() || std::isnan(value->second)) continue;
    if (!best_step || (lower ? value->second < best : value->second > best)) {
      best_step = m.step;
      best = value->second;
    }
  }
  return best_step ? best_step : last;
}

}  // namespace vernier
