#!/usr/bin/python3
"""Optuna 3.1 side of the multi-objective benchmark (bench/samplers/mo_bench.cc).

Runs Optuna's NSGAIISampler (default settings: population 50, uniform
crossover, crossover_prob 0.9, swapping_prob 0.5, mutation_prob 1/#params) and
RandomSampler, seeded, on ZDT1 and ZDT2 and prints the same CSV:
impl,sampler,function,seed,budget,hypervolume (reference point (1.1, 11)).
"""
import argparse
import math
import multiprocessing

import optuna


def zdt(x, concave):
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    ratio = x[0] / g
    return x[0], g * (1 - (ratio * ratio if concave else math.sqrt(ratio)))


def hypervolume(points, ref=(1.1, 11.0)):
    inside = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    volume, best_y = 0.0, ref[1]
    for x, y in inside:
        if y < best_y:
            volume += (ref[0] - x) * (best_y - y)
            best_y = y
    return volume


def run(job):
    sampler_name, concave, seed, budget, dims = job
    sampler = (optuna.samplers.NSGAIISampler(seed=seed) if sampler_name == "nsga2"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(lambda t: zdt([t.suggest_float(f"x{i}", 0, 1) for i in range(dims)], concave),
                   n_trials=budget)
    points = [tuple(t.values) for t in study.trials if t.values is not None]
    return (f"optuna,{sampler_name},{'zdt2' if concave else 'zdt1'},{seed},{budget},"
            f"{hypervolume(points):.6f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    jobs = [(s, c, seed, args.budget, args.dims) for seed in range(args.seeds)
            for c in (False, True) for s in ("nsga2", "random")]
    print("impl,sampler,function,seed,budget,hypervolume", flush=True)
    with multiprocessing.Pool(args.jobs) as pool:
        for row in pool.imap(run, jobs):
            print(row, flush=True)


if __name__ == "__main__":
    main()
