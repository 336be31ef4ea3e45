// Multi-objective sampler benchmark: Vernier's nsga2 and random samplers
// (through the pure logic, no server) on ZDT1 and ZDT2 (Zitzler, Deb and
// Thiele 2000; both objectives minimised, variables in [0, 1]), one CSV row
// per (sampler, function, seed, budget) with the hypervolume of all trials
// with respect to the reference point (1.1, 11). bench/samplers/
// mo_optuna_bench.py prints the same rows for Optuna 3.1's NSGAIISampler.
//
// Usage: mo_bench [--seeds 20] [--budget 1000] [--dims 30]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/logic/nsga2_sampler.h"
#include "server/logic/pareto.h"
#include "server/logic/sampler.h"
#include "server/logic/study_spec.h"
#include "server/schema/study_schema.h"

namespace vernier {
namespace {

using Objectives = std::function<Point(const std::vector<double>&)>;

// ZDT1 (convex front f2 = 1 - sqrt(f1)) and ZDT2 (concave, 1 - f1^2).
Point Zdt(const std::vector<double>& x, bool concave) {
  double sum = 0;
  for (size_t i = 1; i < x.size(); ++i) sum += x[i];
  const double g = 1 + 9 * sum / static_cast<double>(x.size() - 1);
  const double ratio = x[0] / g;
  return {x[0], g * (1 - (concave ? ratio * ratio : std::sqrt(ratio)))};
}

double RunStudy(const Sampler& sampler, int dims, int budget, bool concave) {
  std::string yaml =
      "name: zdt\nobjectives: [{metric: f1, goal: minimize}, "
      "{metric: f2, goal: minimize}]\nparams:\n";
  for (int i = 0; i < dims; ++i)
    absl::StrAppend(&yaml, "  x", i, ": {type: float, low: 0, high: 1}\n");
  absl::StrAppend(&yaml, "trainer: {command: [/bin/true]}\n");
  const SearchSpace space = ParseStudySpec(yaml)->space;
  std::vector<TrialRecord> trials;
  trials.reserve(budget);
  std::vector<Point> points;
  for (int n = 0; n < budget; ++n) {
    std::vector<const TrialRecord*> history;
    for (const TrialRecord& t : trials) history.push_back(&t);
    TrialRecord trial;
    trial.number = n;
    trial.params = sampler.Suggest(space, history, n);
    std::vector<double> x;
    for (int i = 0; i < dims; ++i)
      x.push_back(std::get<double>(trial.params.at(absl::StrCat("x", i))));
    Point f = Zdt(x, concave);
    trial.state = TrialState::kComplete;
    trial.final_metrics = {{"f1", f[0]}, {"f2", f[1]}};
    trials.push_back(std::move(trial));
    points.push_back(std::move(f));
  }
  return Hypervolume2d(points, {1.1, 11});
}

}  // namespace
}  // namespace vernier

int main(int argc, char** argv) {
  int seeds = 20, budget = 1000, dims = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seeds") == 0) seeds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--budget") == 0) budget = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--dims") == 0) dims = std::atoi(argv[i + 1]);
  }
  const std::vector<vernier::ObjectiveSpec> objectives = {{"f1", vernier::Goal::kMinimize},
                                                          {"f2", vernier::Goal::kMinimize}};
  std::printf("impl,sampler,function,seed,budget,hypervolume\n");
  for (int seed = 0; seed < seeds; ++seed) {
    for (bool concave : {false, true}) {
      const char* function = concave ? "zdt2" : "zdt1";
      vernier::Nsga2Sampler nsga2(vernier::Nsga2Spec{}, seed, objectives, {});
      vernier::RandomSampler random(seed);
      std::printf("vernier,nsga2,%s,%d,%d,%.6f\n", function, seed, budget,
                  vernier::RunStudy(nsga2, dims, budget, concave));
      std::printf("vernier,random,%s,%d,%d,%.6f\n", function, seed, budget,
                  vernier::RunStudy(random, dims, budget, concave));
      std::fflush(stdout);
    }
  }
  return 0;
}
