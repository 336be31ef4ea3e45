"""Medians of bench/asktell/run.sh's raw.jsonl, as a Markdown table, with
Vernier/Optuna throughput ratios (Optuna: the same sampler, one client).

  python3 report.py results/raw.jsonl
"""
import json
import statistics
import sys
from collections import defaultdict


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
    groups = defaultdict(list)
    for r in rows:
        groups[(r["system"], r["sampler"], r["trials"], r["clients"],
                r.get("group_commit", ""))].append(r)
    optuna = {k[1]: statistics.median(x["trials_per_s"] for x in v)
              for k, v in groups.items() if k[0] == "optuna"}
    print("| system | sampler | trials | clients | runs | trials/s | p50 ms | p99 ms "
          "| last 1k p50 ms | last 1k p99 ms | x Optuna | errors | lost |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k[1], k[0] != "optuna", k[2], k[3])):
        v = groups[key]
        med = lambda f: statistics.median(x[f] for x in v)
        ratio = ""
        if key[0] == "vernier" and key[1] in optuna:
            ratio = f"{med('trials_per_s') / optuna[key[1]]:.1f}x"
        name = key[0] + ("" if key[4] in ("", True) else " (no group commit)")
        print(f"| {name} | {key[1]} | {key[2]} | {key[3]} | {len(v)} | {med('trials_per_s'):.1f} "
              f"| {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {med('last1k_p50_ms'):.2f} "
              f"| {med('last1k_p99_ms'):.2f} | {ratio} | {sum(x['errors'] for x in v)} "
              f"| {sum(x['lost'] for x in v)} |")


if __name__ == "__main__":
    main()
