#!/usr/bin/python3
"""Turns the pruner replay CSVs into the Markdown table of bench/README.md.

Usage: report.py vernier.csv optuna.csv > table.md
One row per (workers, impl, pruner): epochs spent (mean, and share of the
epochs without pruning), best final accuracy found (mean over seeds, and its
difference from no pruning in points), the test accuracy of that trial, and
epochs / simulated time until the best trial completed. The goal column checks
issue 5's goals: asha <= 25 % of the epochs within 0.3 points of no pruning,
median <= 50 % within 0.3 points.
"""
import collections
import csv
import math
import statistics
import sys

GOALS = {"asha": 0.25, "median": 0.50}  # Vernier pruner -> epoch share allowed.
MAX_LOSS_POINTS = 0.3


def mean(values):
    return statistics.mean(values) if values else math.nan


def main():
    runs = collections.defaultdict(list)  # (workers, impl, pruner) -> rows
    order = []
    for path in sys.argv[1:]:
        with open(path) as f:
            for row in csv.DictReader(f):
                key = (int(row["workers"]), row["impl"], row["pruner"])
                if key not in runs:
                    order.append(key)
                runs[key].append(row)
    seeds = sorted({len(rows) for rows in runs.values()})
    print(f"Mean over {'/'.join(map(str, seeds))} seeds (orders of the recorded configurations). "
          "Accuracies in %; Δ = difference from no pruning in points; epochs to best: epochs spent "
          "(all workers) when the study's best trial completed; time: simulated time units.\n")
    header = ["workers", "pruner", "epochs", "share of none", "best val acc", "Δ vs none",
              "test acc of best", "found the top config", "epochs to best", "time to best",
              "study time", "goal"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for workers in sorted({k[0] for k in order}):
        baseline = runs.get((workers, "vernier", "none"))
        if not baseline:
            continue
        none_epochs = mean([float(r["epochs"]) for r in baseline])
        none_best = mean([float(r["best_value"]) for r in baseline]) * 100
        top_number = max(baseline, key=lambda r: float(r["best_value"]))["best_number"]
        for key in [k for k in order if k[0] == workers]:
            rows = runs[key]
            epochs = mean([float(r["epochs"]) for r in rows])
            best = mean([float(r["best_value"]) for r in rows]) * 100
            share = epochs / none_epochs
            delta = best - none_best
            goal = "—"
            if key[1] == "vernier" and key[2] in GOALS:
                ok = share <= GOALS[key[2]] and delta >= -MAX_LOSS_POINTS
                goal = f"{'met' if ok else 'not met'} (≤ {GOALS[key[2]]:.0%}, ≥ -0.3)"
            found = sum(r["best_number"] == top_number for r in rows) / len(rows)
            cells = [str(workers), f"{key[1]} {key[2]}", f"{epochs:.0f}", f"{share:.1%}",
                     f"{best:.2f}", f"{delta:+.2f}",
                     f"{mean([float(r['best_test']) for r in rows]) * 100:.2f}",
                     f"{found:.0%}",
                     f"{mean([float(r['epochs_to_best']) for r in rows]):.0f}",
                     f"{mean([float(r['time_to_best']) for r in rows]):.0f}",
                     f"{mean([float(r['time']) for r in rows]):.0f}", goal]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
