// Golden files of seeded sampler suggestions and pruner decisions, data
// driven as DuckDB's tests are: every `*.yaml` under tests/golden/samplers/
// and tests/golden/pruners/ is one test case (one gtest), and its output is
// compared with the `*.golden` file beside it. The case format, the scripted
// values and the way to regenerate the files are in tests/golden/README.md.
#include "tests/testing/golden.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/logic/multi_objective.h"
#include "server/logic/pbt.h"
#include "server/logic/pruner.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/logic/types.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/study_spec_for_test.h"
#include "yaml-cpp/yaml.h"

namespace vernier {
namespace {

namespace fs = std::filesystem;
using ::vernier::testing::ExactDouble;
using ::vernier::testing::MatchesGoldenFile;
using ::vernier::testing::StudySpecForTest;

// ---- Cases ------------------------------------------------------------------

struct GoldenCase {
  std::string kind;  // "samplers" or "pruners": the folder.
  std::string name;  // The file name without ".yaml".
  fs::path input;
  fs::path golden;
};

// gtest prints the case by its input file, not as bytes.
void PrintTo(const GoldenCase& golden_case, std::ostream* os) { *os << golden_case.input.string(); }

// Every case, sorted, so that test names and order are stable.
std::vector<GoldenCase> FindCases() {
  std::vector<GoldenCase> cases;
  for (const char* kind : {"samplers", "pruners"}) {
    const fs::path dir = fs::path(VERNIER_GOLDEN_DIR) / kind;
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
      const fs::path& path = entry.path();
      if (path.extension() != ".yaml") continue;
      fs::path golden = path;
      golden.replace_extension(".golden");
      cases.push_back({kind, path.stem().string(), path, golden});
    }
  }
  std::sort(cases.begin(), cases.end(), [](const GoldenCase& a, const GoldenCase& b) {
    return std::tie(a.kind, a.name) < std::tie(b.kind, b.name);
  });
  return cases;
}

std::string TestName(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string name = absl::StrCat(info.param.kind, "_", info.param.name);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// ---- Reading a case -----------------------------------------------------------

absl::Status CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed,
                       const std::string& where) {
  if (!node.IsMap()) return absl::InvalidArgumentError(absl::StrCat(where, ": must be a map"));
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (allowed.count(key) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TrialState> StateNamed(const std::string& name) {
  static const auto* states = new std::map<std::string, TrialState>{
      {"complete", TrialState::kComplete},
      {"running", TrialState::kRunning},
      {"pruned", TrialState::kPruned},
      {"failed", TrialState::kFailed},
  };
  auto it = states->find(name);
  if (it == states->end()) return absl::InvalidArgumentError(absl::StrCat("unknown state ", name));
  return it->second;
}

// ---- Rendering ------------------------------------------------------------------

std::string ValueText(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) return ExactDouble(*d);
  if (const auto* i = std::get_if<int64_t>(&value)) return absl::StrCat(*i);
  return absl::StrCat("\"", std::get<std::string>(value), "\"");
}

std::string ParamsText(const ParamMap& params) {
  return absl::StrJoin(params, " ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, "=", ValueText(entry.second));
  });
}

std::string MetricsText(const MetricMap& metrics) {
  return absl::StrJoin(metrics, " ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, "=", ExactDouble(entry.second));
  });
}

std::string Header(const GoldenCase& golden_case) {
  return absl::StrCat("# Output of ", golden_case.name,
                      ".yaml; see tests/golden/README.md. VERNIER_UPDATE_GOLDEN=1 rewrites it.\n");
}

// ---- Samplers -------------------------------------------------------------------

// The coordinate of `value` in [0, 1] along `param`'s range (log scales in
// log space, categoricals by index); 0 for a range of one point.
double UnitCoordinate(const ParamSpec& param, const ParamValue& value) {
  if (param.type == ParamSpec::Type::kCategorical) {
    const auto it = std::find(param.values.begin(), param.values.end(), value);
    const auto index = static_cast<double>(it - param.values.begin());
    return param.values.size() > 1 ? index / static_cast<double>(param.values.size() - 1) : 0;
  }
  const double x = std::holds_alternative<int64_t>(value)
                       ? static_cast<double>(std::get<int64_t>(value))
                       : std::get<double>(value);
  const double lo = param.log ? std::log(param.low) : param.low;
  const double hi = param.log ? std::log(param.high) : param.high;
  return hi > lo ? ((param.log ? std::log(x) : x) - lo) / (hi - lo) : 0;
}

// The scripted metrics of a trial with `params` (README.md): objective i of k
// is the squared distance, in unit coordinates, to the point whose every
// coordinate is 0.25 + 0.5 * i / (k - 1), negated when maximised; a
// constraint's metric is the mean coordinate.
MetricMap ScriptedMetrics(const StudySpec& spec, const ParamMap& params) {
  std::vector<double> coordinates;
  for (const ParamSpec& param : spec.space.params) {
    auto it = params.find(param.name);
    if (it != params.end()) coordinates.push_back(UnitCoordinate(param, it->second));
  }
  MetricMap metrics;
  const size_t k = spec.objectives.size();
  for (size_t i = 0; i < k; ++i) {
    const double centre = 0.25 + (k > 1 ? 0.5 * static_cast<double>(i) / (k - 1) : 0.0);
    double distance = 0;
    for (double u : coordinates) distance += (u - centre) * (u - centre);
    metrics[spec.objectives[i].metric] =
        spec.objectives[i].goal == Goal::kMinimize ? distance : -distance;
  }
  double mean = 0;
  for (double u : coordinates) mean += u / static_cast<double>(coordinates.size());
  for (const ConstraintSpec& constraint : spec.constraints) metrics[constraint.metric] = mean;
  return metrics;
}

// Asks `asks` trials one after another, each told (README.md) before the
// next ask, and renders one line per trial.
absl::StatusOr<std::string> RunSamplerCase(const GoldenCase& golden_case, const YAML::Node& input) {
  if (absl::Status keys = CheckKeys(input, {"study", "asks", "states"}, "case"); !keys.ok()) {
    return keys;
  }
  absl::StatusOr<StudySpec> parsed = StudySpecForTest(input["study"].as<std::string>());
  if (!parsed.ok()) return parsed.status();
  const StudySpec spec = *std::move(parsed);
  absl::StatusOr<std::unique_ptr<Sampler>> made = MakeSampler(spec);
  if (!made.ok()) return made.status();
  const std::unique_ptr<Sampler> sampler = *std::move(made);
  std::vector<TrialState> states = {TrialState::kComplete};
  if (input["states"]) {
    states.clear();
    for (const YAML::Node& state : input["states"]) {
      absl::StatusOr<TrialState> named = StateNamed(state.as<std::string>());
      if (!named.ok()) return named.status();
      states.push_back(*named);
    }
  }
  const int asks = input["asks"].as<int>();

  std::string out = Header(golden_case);
  if (std::optional<int64_t> capacity = sampler->Capacity(spec.space)) {
    absl::StrAppend(&out, "capacity ", *capacity, "\n");
  }
  std::vector<TrialRecord> trials;
  trials.reserve(static_cast<size_t>(asks));
  for (int n = 0; n < asks; ++n) {
    std::vector<const TrialRecord*> history;
    for (const TrialRecord& trial : trials) history.push_back(&trial);
    TrialRecord trial;
    trial.number = n;
    trial.params = sampler->Suggest(spec.space, history, n);
    trial.state = states[static_cast<size_t>(n) % states.size()];
    const MetricMap metrics = ScriptedMetrics(spec, trial.params);
    if (trial.state == TrialState::kComplete) {
      trial.final_metrics = metrics;
      if (ConstraintViolation(metrics, spec.constraints) > 0) {
        trial.state = TrialState::kInfeasible;
      }
    } else if (trial.state == TrialState::kPruned) {
      trial.intermediate.push_back({1, metrics});
    }
    absl::StrAppend(&out, "trial ", n, " ", TrialStateName(trial.state), " ",
                    ParamsText(trial.params));
    if (trial.state == TrialState::kComplete || trial.state == TrialState::kInfeasible ||
        trial.state == TrialState::kPruned) {
      absl::StrAppend(&out, " | ", MetricsText(metrics));
    }
    absl::StrAppend(&out, "\n");
    trials.push_back(std::move(trial));
  }
  return out;
}

// ---- Pruners --------------------------------------------------------------------

struct ScriptedTrial {
  ParamMap params;
  std::vector<std::pair<int64_t, double>> curve;  // (step, value), ascending steps.
  TrialState end = TrialState::kComplete;         // After the last report.
};

absl::StatusOr<ScriptedTrial> ReadScriptedTrial(const YAML::Node& node, const StudySpec& spec,
                                                const std::string& where) {
  if (absl::Status keys = CheckKeys(node, {"params", "curve", "end"}, where); !keys.ok()) {
    return keys;
  }
  ScriptedTrial trial;
  if (node["params"]) {
    for (const auto& entry : node["params"]) {
      const std::string name = entry.first.as<std::string>();
      const ParamSpec* param = spec.space.Find(name);
      if (param == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".params: unknown ", name));
      }
      switch (param->type) {
        case ParamSpec::Type::kFloat:
          trial.params[name] = entry.second.as<double>();
          break;
        case ParamSpec::Type::kInt:
          trial.params[name] = entry.second.as<int64_t>();
          break;
        case ParamSpec::Type::kCategorical:
          trial.params[name] = entry.second.as<std::string>();
          break;
      }
    }
  }
  for (const YAML::Node& point : node["curve"]) {
    const auto step = point[0].as<int64_t>();
    if (!trial.curve.empty() && step <= trial.curve.back().first) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".curve: steps must ascend"));
    }
    trial.curve.emplace_back(step, point[1].as<double>());
  }
  if (node["end"]) {
    absl::StatusOr<TrialState> end = StateNamed(node["end"].as<std::string>());
    if (!end.ok()) return end.status();
    trial.end = *end;
  }
  return trial;
}

// Replays scripted learning curves through the study's pruner (and PBT's
// exploit rule) as the coordinator would, and renders one line per report.
class PrunerReplay {
 public:
  PrunerReplay(const StudySpec& spec, std::unique_ptr<Pruner> pruner,
               std::vector<ScriptedTrial> script)
      : spec_(spec), pruner_(std::move(pruner)), script_(std::move(script)) {
    if (const PbtSpec* pbt = spec_.pruner.get<PbtSpec>()) {
      pbt_ = std::make_unique<PbtPolicy>(*pbt, spec_.space, spec_.sampler.seed);
    }
    trials_.reserve(script_.size());  // Pointers into trials_ stay valid.
  }

  // `sequential`: each trial reports all of its curve before the next one
  // starts; else every trial starts at once and they report in rounds (the
  // r-th report of each, by number).
  std::string Run(bool sequential) {
    if (sequential) {
      for (size_t i = 0; i < script_.size(); ++i) {
        Start(i);
        for (size_t r = 0; r < script_[i].curve.size() && Running(i); ++r) Report(i, r);
        Finish(i);
      }
    } else {
      size_t rounds = 0;
      for (size_t i = 0; i < script_.size(); ++i) {
        Start(i);
        rounds = std::max(rounds, script_[i].curve.size());
      }
      for (size_t r = 0; r < rounds; ++r) {
        for (size_t i = 0; i < script_.size(); ++i) {
          if (r < script_[i].curve.size() && Running(i)) Report(i, r);
          if (r + 1 == script_[i].curve.size()) Finish(i);
        }
      }
    }
    return out_;
  }

 private:
  void Start(size_t i) {
    TrialRecord trial;
    trial.number = static_cast<int64_t>(i);
    trial.params = script_[i].params;
    trial.state = TrialState::kRunning;
    trials_.push_back(std::move(trial));
  }

  bool Running(size_t i) const { return trials_[i].state == TrialState::kRunning; }

  // Ends a trial that was not pruned as its script says, with its last value
  // as the final one.
  void Finish(size_t i) {
    TrialRecord& trial = trials_[i];
    if (trial.state != TrialState::kRunning) return;
    trial.state = script_[i].end;
    if (trial.state == TrialState::kComplete && !trial.intermediate.empty()) {
      trial.final_metrics = trial.intermediate.back().metrics;
    }
    absl::StrAppend(&out_, "trial ", i, " ends ", TrialStateName(trial.state), "\n");
  }

  // Trial i reports its r-th point: a checkpoint at that step first (PBT),
  // then the measurement, then the decisions.
  void Report(size_t i, size_t r) {
    TrialRecord& trial = trials_[i];
    const auto [step, value] = script_[i].curve[r];
    if (pbt_ != nullptr) {
      std::set<int64_t>& kept = checkpoints_[trial.number];
      kept.insert(step);
      while (kept.size() > static_cast<size_t>(kPbtCheckpointsKept)) kept.erase(kept.begin());
    }
    trial.intermediate.push_back({step, {{spec_.objective.metric, value}}});
    std::vector<const TrialRecord*> all;
    for (const TrialRecord& t : trials_) all.push_back(&t);
    absl::StrAppend(&out_, "trial ", i, " step ", step, ": ");
    if (pruner_->ShouldPrune(spec_.objective, trial, step, all)) {
      trial.state = TrialState::kPruned;
      absl::StrAppend(&out_, "prune\n");
      return;
    }
    std::optional<ExploitDecision> exploit;
    if (pbt_ != nullptr) exploit = pbt_->Decide(spec_.objective, trial, step, all, checkpoints_);
    if (!exploit) {
      absl::StrAppend(&out_, "continue\n");
      return;
    }
    // As Coordinator::MaybeExploit: record the exploit, take the new
    // parameters, drop the checkpoints of the abandoned run.
    trial.exploits.push_back(
        ExploitRecord{step, exploit->donor, exploit->donor_step, trial.params});
    trial.params = exploit->params;
    std::set<int64_t>& own = checkpoints_[trial.number];
    own.erase(own.upper_bound(exploit->donor_step), own.end());
    absl::StrAppend(&out_, "exploit trial ", exploit->donor, " at step ", exploit->donor_step,
                    " -> ", ParamsText(exploit->params), "\n");
  }

  const StudySpec& spec_;
  const std::unique_ptr<Pruner> pruner_;
  const std::vector<ScriptedTrial> script_;
  std::unique_ptr<PbtPolicy> pbt_;
  std::vector<TrialRecord> trials_;
  CheckpointIndex checkpoints_;
  std::string out_;
};

absl::StatusOr<std::string> RunPrunerCase(const GoldenCase& golden_case, const YAML::Node& input) {
  if (absl::Status keys = CheckKeys(input, {"study", "order", "trials"}, "case"); !keys.ok()) {
    return keys;
  }
  absl::StatusOr<StudySpec> parsed = StudySpecForTest(input["study"].as<std::string>());
  if (!parsed.ok()) return parsed.status();
  const StudySpec spec = *std::move(parsed);
  absl::StatusOr<std::unique_ptr<Pruner>> pruner = MakePruner(spec.pruner);
  if (!pruner.ok()) return pruner.status();
  const std::string order = input["order"].as<std::string>();
  if (order != "sequential" && order != "rounds") {
    return absl::InvalidArgumentError("order: must be sequential or rounds");
  }
  std::vector<ScriptedTrial> script;
  for (const YAML::Node& node : input["trials"]) {
    absl::StatusOr<ScriptedTrial> trial =
        ReadScriptedTrial(node, spec, absl::StrCat("trials[", script.size(), "]"));
    if (!trial.ok()) return trial.status();
    script.push_back(*std::move(trial));
  }
  PrunerReplay replay(spec, *std::move(pruner), std::move(script));
  return absl::StrCat(Header(golden_case), replay.Run(order == "sequential"));
}

// ---- Tests ------------------------------------------------------------------------

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, OutputMatchesGoldenFile) {
  const GoldenCase& golden_case = GetParam();
  YAML::Node input;
  try {
    input = YAML::LoadFile(golden_case.input.string());
  } catch (const YAML::Exception& e) {
    FAIL() << golden_case.input << ": " << e.what();
  }
  absl::StatusOr<std::string> output = absl::InternalError("no output");
  try {
    output = golden_case.kind == "samplers" ? RunSamplerCase(golden_case, input)
                                            : RunPrunerCase(golden_case, input);
  } catch (const YAML::Exception& e) {
    FAIL() << golden_case.input << ": " << e.what();
  }
  ASSERT_OK(output) << golden_case.input;
  EXPECT_TRUE(MatchesGoldenFile(golden_case.golden.string(), *output));
}

INSTANTIATE_TEST_SUITE_P(Files, GoldenTest, ::testing::ValuesIn(FindCases()), TestName);

// The cases cover every sampler and pruner type, so that a new type without
// a golden file, or a folder that went missing, fails here.
TEST(GoldenFilesTest, CoverEverySamplerAndPruner) {
  std::set<std::string> samplers, pruners;
  for (const GoldenCase& golden_case : FindCases()) {
    const YAML::Node input = YAML::LoadFile(golden_case.input.string());
    ASSERT_OK_AND_ASSIGN(const StudySpec spec, StudySpecForTest(input["study"].as<std::string>()));
    (golden_case.kind == "samplers" ? samplers : pruners)
        .insert(
            std::string(golden_case.kind == "samplers" ? spec.sampler.type() : spec.pruner.type()));
  }
  EXPECT_THAT(samplers,
              ::testing::IsSupersetOf({"random", "tpe", "grid", "sobol", "gp", "cmaes", "nsga2"}));
  EXPECT_THAT(pruners, ::testing::IsSupersetOf({"none", "median", "percentile", "asha", "hyperband",
                                                "threshold", "patience", "pbt"}));
}

// Every golden file belongs to a case: a renamed case leaves no stale file.
TEST(GoldenFilesTest, EveryGoldenFileHasACase) {
  for (const char* kind : {"samplers", "pruners"}) {
    for (const fs::directory_entry& entry :
         fs::directory_iterator(fs::path(VERNIER_GOLDEN_DIR) / kind)) {
      fs::path input = entry.path();
      if (input.extension() != ".golden") continue;
      input.replace_extension(".yaml");
      EXPECT_TRUE(fs::exists(input)) << entry.path() << " has no " << input.filename();
    }
  }
}

}  // namespace
}  // namespace vernier
