#!/usr/bin/python3
"""Turns the benchmark CSVs into the Markdown table of bench/README.md.

Usage: report.py vernier.csv optuna.csv > table.md
One row per (function, budget); one column per sampler with the mean and the
median simple regret over the seeds (lower is better). The last column says
whether Vernier's tpe, and then its gp, is at or below Optuna's tpe on both
statistics.
"""
import collections
import csv
import statistics
import sys

COLUMNS = [("vernier", "random"), ("vernier", "tpe"), ("vernier", "tpe_univariate"),
           ("vernier", "tpe_multivariate_optuna31"), ("vernier", "tpe_multivariate"),
           ("vernier", "tpe_exact_densities"), ("vernier", "gp"), ("vernier", "cmaes"),
           ("optuna", "random"), ("optuna", "tpe"), ("optuna", "cmaes")]


def verdict(ours, theirs):
    if not ours or not theirs:
        return "—"
    if ours[0] <= theirs[0] and ours[1] <= theirs[1]:
        return "yes"
    if ours[0] <= theirs[0]:
        return "mean only"
    return "median only" if ours[1] <= theirs[1] else "no"


def main():
    regrets = collections.defaultdict(list)
    for path in sys.argv[1:]:
        with open(path) as f:
            for row in csv.DictReader(f):
                key = (row["function"], int(row["budget"]), row["impl"], row["sampler"])
                regrets[key].append(float(row["regret"]))
    cases = sorted({(k[0], k[1]) for k in regrets}, key=lambda c: (c[0], c[1]))
    seeds = {len(v) for v in regrets.values()}
    print(f"Simple regret, mean / median over {'/'.join(map(str, sorted(seeds)))} seeds "
          "(lower is better).\n")
    header = ["function", "budget"] + [f"{impl} {name}" for impl, name in COLUMNS]
    verdicts = ["vernier tpe <= optuna tpe", "vernier gp <= optuna tpe"]
    print("| " + " | ".join(header + verdicts) + " |")
    print("|" + "---|" * (len(header) + len(verdicts)))
    for function, budget in cases:
        cells = [function, str(budget)]
        stats = {}
        for column in COLUMNS:
            values = regrets.get((function, budget) + column)
            if not values:
                cells.append("—")
                continue
            stats[column] = (statistics.mean(values), statistics.median(values))
            cells.append("%.3g / %.3g" % stats[column])
        theirs = stats.get(("optuna", "tpe"))
        cells += [verdict(stats.get(("vernier", "tpe")), theirs),
                  verdict(stats.get(("vernier", "gp")), theirs)]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
