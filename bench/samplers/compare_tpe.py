#!/usr/bin/python3
"""Compares Vernier samplers with Optuna's TPE, cell by cell, over all seeds.

Usage: compare_tpe.py OPTUNA_CSV[,OPTUNA_CSV...] VERNIER_CSV [VERNIER_CSV...] [--markdown|--brief]
Prints, per Vernier sampler, for each (function, budget) the mean and median
simple regret and their ratios to Optuna TPE's (< 1: Vernier better), then the
worst ratio and whether the sampler is at or below Optuna TPE everywhere.
Seed sets may differ (seeds are iid), so the counts are printed too.
"""
import collections
import csv
import statistics
import sys


def load(paths, impl=None):
    regrets = collections.defaultdict(list)
    for path in paths:
        with open(path) as f:
            for row in csv.DictReader(f):
                if impl and row["impl"] != impl:
                    continue
                key = (row["impl"], row["sampler"], row["function"], int(row["budget"]))
                regrets[key].append(float(row["regret"]))
    return regrets


def stats(values):
    return statistics.mean(values), statistics.median(values)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    markdown = "--markdown" in sys.argv
    brief = "--brief" in sys.argv
    optuna = load(args[0].split(","), "optuna")
    vernier = load(args[1:], "vernier")
    cells = sorted({(k[2], k[3]) for k in vernier})
    samplers = sorted({k[1] for k in vernier})
    for sampler in samplers:
        worst = 0.0
        wins = True
        if brief:
            ratios = []
            for function, budget in cells:
                ours = vernier.get(("vernier", sampler, function, budget))
                theirs = optuna.get(("optuna", "tpe", function, budget))
                if ours and theirs:
                    (om, od), (tm, td) = stats(ours), stats(theirs)
                    ratios.append(f"{function[:4]}{budget}:{om / tm:.2f}/{od / td:.2f}")
                    worst = max(worst, om / tm, od / td)
            print(f"{sampler:24s} worst {worst:.2f} | " + " ".join(ratios))
            continue
        if markdown:
            print(f"\n`{sampler}`:\n")
            print("| function | budget | seeds (optuna / vernier) | optuna tpe | vernier "
                  f"{sampler} | ratio (mean / median) | at or below |")
            print("|---|---|---|---|---|---|---|")
        else:
            print(f"== {sampler}")
        for function, budget in cells:
            ours = vernier.get(("vernier", sampler, function, budget))
            theirs = optuna.get(("optuna", "tpe", function, budget))
            if not ours or not theirs:
                continue
            (om, od), (tm, td) = stats(ours), stats(theirs)
            rm, rd = om / tm, od / td
            worst = max(worst, rm, rd)
            ok = rm <= 1 and rd <= 1
            wins = wins and ok
            if markdown:
                print(f"| {function} | {budget} | {len(theirs)} / {len(ours)} | {tm:.4g} / {td:.4g} "
                      f"| {om:.4g} / {od:.4g} | {rm:.2f} / {rd:.2f} | {'yes' if ok else 'no'} |")
            else:
                print(f"  {function:17s} {budget:4d}  optuna {tm:9.4g} / {td:9.4g}  "
                      f"vernier {om:9.4g} / {od:9.4g}  ratio {rm:5.2f} / {rd:5.2f} "
                      f"{'' if ok else '  <-- above'}")
        if not markdown:
            print(f"  worst ratio {worst:.2f}; at or below everywhere: {'yes' if wins else 'no'}")


if __name__ == "__main__":
    main()
