#!/usr/bin/python3
"""Optuna 3.1 side of the sampler quality benchmark.

Runs Optuna's RandomSampler, TPESampler and CmaEsSampler (default settings,
seeded) on the same functions, spaces, budgets and seeds as sampler_bench.cc
and prints the same CSV: impl,sampler,function,seed,budget,regret.
A smaller budget is read off the run of the largest one, as in the C++ bench.
"""
import argparse
import math
import multiprocessing
import sys

import optuna

BRANIN_OPT = 0.39788735772973816
HARTMANN_OPT = -3.322368011415515
STYBLINSKI_OPT = -39.16616570377142 * 5

HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
              [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
              [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def box(trial, dims, low, high):
    return [trial.suggest_float(f"x{i}", low, high) for i in range(dims)]


def branin(trial):
    x1 = trial.suggest_float("x0", -5, 10)
    x2 = trial.suggest_float("x1", 0, 15)
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(trial):
    x = box(trial, 6, 0, 1)
    total = 0.0
    for i in range(4):
        inner = sum(HARTMANN_A[i][j] * (x[j] - 1e-4 * HARTMANN_P[i][j]) ** 2 for j in range(6))
        total += HARTMANN_ALPHA[i] * math.exp(-inner)
    return -total


def rosenbrock10(trial):
    x = box(trial, 10, -2.048, 2.048)
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(9))


def styblinski_tang5(trial):
    return 0.5 * sum(v ** 4 - 16 * v * v + 5 * v for v in box(trial, 5, -5, 5))


def mixed(trial):
    # Same space and loss as kMixedYaml / Mixed() in sampler_bench.cc.
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    units = trial.suggest_int("units", 8, 1024, log=True)
    layers = trial.suggest_int("layers", 1, 8)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.05)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "momentum", "adam"])
    best_log_lr = {"sgd": -1.5, "adam": -3.0, "momentum": -2.0}[optimizer]
    loss = ((math.log10(lr) - best_log_lr) ** 2 + 0.2 * (math.log2(units) - 7) ** 2 +
            0.1 * (layers - 3) ** 2 + 10 * (dropout - 0.2) ** 2)
    if optimizer == "momentum":
        return loss + 20 * (trial.suggest_float("momentum", 0.5, 0.999) - 0.9) ** 2
    return loss + (0.6 if optimizer == "sgd" else 0.2)


PROBLEMS = [("branin", branin, BRANIN_OPT), ("hartmann6", hartmann6, HARTMANN_OPT),
            ("rosenbrock10", rosenbrock10, 0.0),
            ("styblinski_tang5", styblinski_tang5, STYBLINSKI_OPT), ("mixed", mixed, 0.0)]

SAMPLERS = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed,
                                                       warn_independent_sampling=False),
}


def run(job):
    problem, sampler, seed, budgets = job
    name, objective, optimum = next(p for p in PROBLEMS if p[0] == problem)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="minimize", sampler=SAMPLERS[sampler](seed))
    study.optimize(objective, n_trials=max(budgets))
    values = [t.value for t in study.trials]
    return [f"optuna,{sampler},{name},{seed},{b},{min(values[:b]) - optimum:.10g}"
            for b in budgets]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first..first+seeds-1")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma-separated")
    parser.add_argument("--budgets", default="50,100")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    samplers = args.samplers.split(",")
    unknown = [s for s in samplers if s not in SAMPLERS]
    if unknown:
        parser.error(f"unknown sampler(s): {', '.join(unknown)}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(p[0], s, seed, budgets) for p in PROBLEMS for s in samplers for seed in seeds]
    print("impl,sampler,function,seed,budget,regret")
    with multiprocessing.Pool(args.jobs) as pool:
        for rows in pool.imap(run, jobs):
            print("\n".join(rows))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
