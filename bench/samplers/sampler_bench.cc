// Sampler quality benchmark: runs Vernier's samplers through the pure logic
// (no server) on standard test functions and prints one CSV row per
// (sampler, function, seed, budget) with the simple regret: the best value
// found within the budget minus the known optimum.
//
// The studies are sequential ask/tell loops of the largest budget; a smaller
// budget is read off the same run (the samplers do not know the budget), as
// in bench/samplers/optuna_bench.py.
//
// Usage: sampler_bench [--seeds N] [--first-seed S] [--budgets 50,100]
//                      [--samplers gp,tpe] [--functions branin,mixed]
//                      [--variant 'NAME=SAMPLER_YAML;KEY=VALUE,...']...
// Seeds S .. S+N-1 (S = 0 by default). A --variant adds (and selects, next to
// --samplers) a TPE sampler with the given study-file fields (e.g.
// "type: tpe, multivariate: true") and TpeTuning settings (see ApplyTuning),
// so that algorithm choices can be compared without a rebuild.
// Prints to stderr, per sampler and function, the mean CPU time of one Suggest()
// over the last ten trials of the largest budget.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/tpe_sampler.h"
#include "server/schema/study_schema.h"

namespace vernier {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Problem {
  std::string name;
  std::string params_yaml;  // The `params:` section of a study file.
  std::function<double(const ParamMap&)> evaluate;
  double optimum = 0;
};

double Get(const ParamMap& params, const std::string& name) {
  const ParamValue& value = params.at(name);
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::get<double>(value);
}

std::vector<double> Vector(const ParamMap& params, int dims) {
  std::vector<double> x;
  for (int i = 0; i < dims; ++i) x.push_back(Get(params, absl::StrCat("x", i)));
  return x;
}

std::string BoxYaml(int dims, double low, double high) {
  std::string yaml;
  for (int i = 0; i < dims; ++i) {
    absl::StrAppend(&yaml, "  x", i, ": {type: float, low: ", low, ", high: ", high, "}\n");
  }
  return yaml;
}

double Branin(const ParamMap& p) {
  const double x1 = Get(p, "x0"), x2 = Get(p, "x1");
  const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
  return std::pow(x2 - b * x1 * x1 + c * x1 - 6, 2) + 10 * (1 - t) * std::cos(x1) + 10;
}

double Hartmann6(const ParamMap& p) {
  static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  static constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                      {0.05, 10, 17, 0.1, 8, 14},
                                      {3, 3.5, 1.7, 10, 17, 8},
                                      {17, 8, 0.05, 10, 0.1, 14}};
  static constexpr double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                      {2329, 4135, 8307, 3736, 1004, 9991},
                                      {2348, 1451, 3522, 2883, 3047, 6650},
                                      {4047, 8828, 8732, 5743, 1091, 381}};
  const std::vector<double> x = Vector(p, 6);
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) inner += kA[i][j] * std::pow(x[j] - 1e-4 * kP[i][j], 2);
    sum += kAlpha[i] * std::exp(-inner);
  }
  return -sum;
}

double Rosenbrock10(const ParamMap& p) {
  const std::vector<double> x = Vector(p, 10);
  double sum = 0;
  for (int i = 0; i + 1 < 10; ++i) {
    sum += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return sum;
}

double StyblinskiTang5(const ParamMap& p) {
  double sum = 0;
  for (double x : Vector(p, 5)) sum += std::pow(x, 4) - 16 * x * x + 5 * x;
  return 0.5 * sum;
}

// A model-tuning-like space: the learning rate's best value depends on the
// optimizer, and momentum exists only for the "momentum" optimizer, which is
// the best branch. Minimum 0 at momentum, lr 1e-2, units 128, layers 3,
// dropout 0.2, momentum 0.9.
constexpr char kMixedYaml[] = R"(  lr: {type: float, low: 1.0e-5, high: 1.0, log: true}
  units: {type: int, low: 8, high: 1024, log: true}
  layers: {type: int, low: 1, high: 8}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.05}
  optimizer: {type: categorical, values: [sgd, momentum, adam]}
  momentum: {type: float, low: 0.5, high: 0.999, when: {optimizer: momentum}}
)";

double Mixed(const ParamMap& p) {
  const std::string& optimizer = std::get<std::string>(p.at("optimizer"));
  const double best_log_lr = optimizer == "sgd" ? -1.5 : optimizer == "adam" ? -3.0 : -2.0;
  double loss = std::pow(std::log10(Get(p, "lr")) - best_log_lr, 2) +
                0.2 * std::pow(std::log2(Get(p, "units")) - 7, 2) +
                0.1 * std::pow(Get(p, "layers") - 3, 2) + 10 * std::pow(Get(p, "dropout") - 0.2, 2);
  if (optimizer == "momentum") return loss + 20 * std::pow(Get(p, "momentum") - 0.9, 2);
  return loss + (optimizer == "sgd" ? 0.6 : 0.2);
}

std::vector<Problem> Problems() {
  return {
      {"branin", "  x0: {type: float, low: -5, high: 10}\n  x1: {type: float, low: 0, high: 15}\n",
       Branin, 0.39788735772973816},
      {"hartmann6", BoxYaml(6, 0, 1), Hartmann6, -3.322368011415515},
      {"rosenbrock10", BoxYaml(10, -2.048, 2.048), Rosenbrock10, 0},
      {"styblinski_tang5", BoxYaml(5, -5, 5), StyblinskiTang5, -39.16616570377142 * 5},
      {"mixed", kMixedYaml, Mixed, 0},
  };
}

struct SamplerConfig {
  std::string name;
  std::string sampler_yaml;      // Without the seed.
  bool exact_densities = false;  // TPE with TpeTuning::peak_normalized_kernels off.
  std::optional<TpeTuning> tuning = std::nullopt;  // A TPE with these settings.
};

const std::vector<SamplerConfig>& Samplers() {
  static const auto* samplers = new std::vector<SamplerConfig>{
      {"random", "type: random"},
      {"tpe", "type: tpe"},  // Multivariate, TpeTuning::Recommended(true).
      {"tpe_multivariate", "type: tpe, multivariate: true"},
      // The univariate TPE (the default before 2026-11-27): Optuna 3.1's.
      {"tpe_univariate", "type: tpe, multivariate: false"},
      // Multivariate with Optuna 3.1's choices (the bandwidth 0.2 n^(-1/(d+4))).
      {"tpe_multivariate_optuna31", "type: tpe, multivariate: true", false, TpeTuning()},
      {"tpe_exact_densities", "type: tpe, multivariate: false", true},
      {"gp", "type: gp"},
      {"cmaes", "type: cmaes"},
  };
  return *samplers;
}

StudySpec ParseOrDie(const std::string& yaml) {
  absl::StatusOr<StudySpec> spec = ParseStudySpec(yaml);
  if (!spec.ok()) {
    std::fprintf(stderr, "bad study: %s\n", std::string(spec.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(spec);
}

// CPU time of this thread: unlike wall time, not inflated by other processes
// on a shared machine.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs one study and returns the best value after each trial; adds the
// seconds spent in the last ten Suggest() calls to `late_seconds`.
std::vector<double> RunStudy(const Problem& problem, const SamplerConfig& config, uint64_t seed,
                             int budget, double& late_seconds) {
  const StudySpec spec = ParseOrDie(absl::StrCat(
      "name: bench\nobjective: {metric: value, goal: minimize}\nparams:\n", problem.params_yaml,
      "sampler: {", config.sampler_yaml, ", seed: ", seed, "}\ntrainer: {command: [/bin/true]}\n"));
  std::unique_ptr<Sampler> sampler = *MakeSampler(spec.sampler, spec.objective);
  if (config.exact_densities || config.tuning) {
    const TpeSpec& tpe = *spec.sampler.get<TpeSpec>();
    TpeTuning tuning = config.tuning.value_or(TpeTuning::Recommended(tpe.multivariate));
    if (config.exact_densities) tuning.peak_normalized_kernels = false;
    sampler = std::make_unique<TpeSampler>(tpe, spec.sampler.seed, spec.objective, tuning);
  }
  std::vector<TrialRecord> trials;
  trials.reserve(budget);
  std::vector<const TrialRecord*> history;
  std::vector<double> best_so_far;
  double best = std::numeric_limits<double>::infinity();
  for (int n = 0; n < budget; ++n) {
    TrialRecord trial;
    trial.number = n;
    const double start = ThreadCpuSeconds();
    trial.params = sampler->Suggest(spec.space, history, n);
    if (n >= budget - 10) late_seconds += ThreadCpuSeconds() - start;
    const double value = problem.evaluate(trial.params);
    trial.state = TrialState::kComplete;
    trial.final_metrics["value"] = value;
    trials.push_back(std::move(trial));
    history.push_back(&trials.back());
    best = std::min(best, value);
    best_so_far.push_back(best);
  }
  return best_so_far;
}

struct Options {
  int seeds = 20;
  int first_seed = 0;
  std::vector<SamplerConfig> variants;  // --variant.
  std::vector<int> budgets = {50, 100};
  std::vector<std::string> samplers;   // Empty: all.
  std::vector<std::string> functions;  // Empty: all.
};

bool Selected(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

// Sets one TpeTuning field from "key=value"; false for an unknown key or a
// bad value.
bool ApplyTuning(absl::string_view setting, TpeTuning& tuning) {
  const std::vector<std::string> kv = absl::StrSplit(setting, absl::MaxSplits('=', 1));
  if (kv.size() != 2) return false;
  const std::string& key = kv[0];
  const std::string& value = kv[1];
  double number = 0;
  const bool is_number = absl::SimpleAtod(value, &number);
  if (key == "peak") {
    tuning.peak_normalized_kernels = value == "1";
  } else if (key == "gamma" && is_number) {
    tuning.gamma = number;
  } else if (key == "gamma_sqrt") {
    tuning.gamma_sqrt = value == "1";
  } else if (key == "max_good" && is_number) {
    tuning.max_good = static_cast<int64_t>(number);
  } else if (key == "prior_weight" && is_number) {
    tuning.prior_weight = number;
  } else if (key == "min_bandwidth" && is_number) {
    tuning.min_bandwidth_factor = number;
  } else if (key == "mv_bandwidth" && value == "range") {
    tuning.multivariate_bandwidth = TpeTuning::MultivariateBandwidth::kScaledRange;
  } else if (key == "mv_bandwidth" && value == "gap") {
    tuning.multivariate_bandwidth = TpeTuning::MultivariateBandwidth::kNeighbourGap;
  } else if (key == "mv_bandwidth" && value == "scott") {
    tuning.multivariate_bandwidth = TpeTuning::MultivariateBandwidth::kScottOfData;
  } else if (key == "rank_weights") {
    tuning.rank_weights = value == "1";
  } else if (key == "gap_continuous_only") {
    tuning.gap_continuous_only = value == "1";
  } else if (key == "gap_scale" && is_number) {
    tuning.gap_scale = number;
  } else if (key == "sigma0" && is_number) {
    tuning.multivariate_sigma0 = number;
  } else {
    return false;
  }
  return true;
}

// "NAME=SAMPLER_YAML;KEY=VALUE,..." (the part after ';' optional).
bool ParseVariant(absl::string_view text, SamplerConfig& config) {
  const std::vector<std::string> name_rest = absl::StrSplit(text, absl::MaxSplits('=', 1));
  if (name_rest.size() != 2 || name_rest[0].empty()) return false;
  const std::vector<std::string> yaml_tuning =
      absl::StrSplit(name_rest[1], absl::MaxSplits(';', 1));
  config.name = name_rest[0];
  config.sampler_yaml = yaml_tuning[0];
  config.tuning = TpeTuning();
  if (yaml_tuning.size() < 2 || yaml_tuning[1].empty()) return true;
  for (absl::string_view setting : absl::StrSplit(yaml_tuning[1], ',')) {
    if (!ApplyTuning(setting, *config.tuning)) return false;
  }
  return true;
}

Options ParseFlags(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    bool ok = true;
    if (flag == "--seeds") {
      ok = absl::SimpleAtoi(argv[i + 1], &options.seeds) && options.seeds > 0;
    } else if (flag == "--first-seed") {
      ok = absl::SimpleAtoi(argv[i + 1], &options.first_seed) && options.first_seed >= 0;
    } else if (flag == "--variant") {
      SamplerConfig variant;
      ok = ParseVariant(argv[i + 1], variant);
      options.variants.push_back(variant);
    } else if (flag == "--budgets") {
      options.budgets.clear();
      for (absl::string_view part : absl::StrSplit(argv[i + 1], ',')) {
        int budget = 0;
        ok = ok && absl::SimpleAtoi(part, &budget) && budget > 0;
        options.budgets.push_back(budget);
      }
    } else if (flag == "--samplers") {
      options.samplers = absl::StrSplit(argv[i + 1], ',');
    } else if (flag == "--functions") {
      options.functions = absl::StrSplit(argv[i + 1], ',');
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: sampler_bench [--seeds N] [--first-seed S] [--budgets 50,100] "
                   "[--samplers a,b] [--functions f,g] [--variant 'NAME=YAML;KEY=VALUE,...']\n");
      std::exit(2);
    }
  }
  return options;
}

}  // namespace
}  // namespace vernier

int main(int argc, char** argv) {
  using namespace vernier;  // NOLINT(build/namespaces): a bench's main.
  const Options options = ParseFlags(argc, argv);
  const int max_budget = *std::max_element(options.budgets.begin(), options.budgets.end());
  std::vector<SamplerConfig> configs;
  for (const SamplerConfig& config : Samplers()) {
    // Variants alone select only themselves.
    const bool only_variants = options.samplers.empty() && !options.variants.empty();
    if (!only_variants && Selected(options.samplers, config.name)) configs.push_back(config);
  }
  configs.insert(configs.end(), options.variants.begin(), options.variants.end());
  std::printf("impl,sampler,function,seed,budget,regret\n");
  for (const Problem& problem : Problems()) {
    if (!Selected(options.functions, problem.name)) continue;
    for (const SamplerConfig& config : configs) {
      double late_seconds = 0;
      for (int seed = options.first_seed; seed < options.first_seed + options.seeds; ++seed) {
        const std::vector<double> best = RunStudy(problem, config, seed, max_budget, late_seconds);
        for (int budget : options.budgets) {
          std::printf("vernier,%s,%s,%d,%d,%.10g\n", config.name.c_str(), problem.name.c_str(),
                      seed, budget, best[budget - 1] - problem.optimum);
        }
        std::fflush(stdout);
      }
      std::fprintf(stderr, "%s %s: %.2f ms CPU per suggestion at trials %d-%d\n",
                   config.name.c_str(), problem.name.c_str(),
                   1e3 * late_seconds / (10.0 * options.seeds), max_budget - 10, max_budget - 1);
    }
  }
  return 0;
}
