"""Summarises bench/pbt/run.sh's results: per seed and in total, the best and
mean final score with and without PBT, and how many trials exploited.

Usage: python3 report.py RESULTS_DIR STEPS
"""
import json
import os
import statistics
import sys

out, steps = sys.argv[1], int(sys.argv[2])


def load(name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def final(trial):
    return trial.get("final_metrics", {}).get("score", float("nan"))


seeds = sorted(int(n[len("toy-pbt-"):-len(".json")]) for n in os.listdir(out)
               if n.startswith("toy-pbt-") and n.endswith(".json"))
print(f"Final score (the sum of per-step gains, at most {steps}), per study:\n")
print("| seed | best, none | best, pbt | mean, none | mean, pbt | trials that exploited | exploits |")
print("|---:|---:|---:|---:|---:|---:|---:|")
rows = []
for seed in seeds:
    none, pbt = load(f"toy-none-{seed}.json"), load(f"toy-pbt-{seed}.json")
    exploited = sum(1 for t in pbt if t.get("exploits"))
    exploits = sum(len(t.get("exploits", [])) for t in pbt)
    row = (max(map(final, none)), max(map(final, pbt)), statistics.mean(map(final, none)),
           statistics.mean(map(final, pbt)), exploited / len(pbt), exploits)
    rows.append(row)
    print(f"| {seed} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.2f} | {row[3]:.2f} "
          f"| {exploited}/{len(pbt)} | {exploits} |")
if rows:
    m = [statistics.mean(r[i] for r in rows) for i in range(6)]
    wins = sum(1 for r in rows if r[1] > r[0])
    print(f"| mean | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f} | {m[4]:.0%} | {m[5]:.1f} |")
    print(f"\npbt's best beats none's best in {wins} of {len(rows)} seeds.")
