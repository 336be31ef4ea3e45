"""Medians of bench/asktell/run.sh's raw.jsonl, as a Markdown table, with
Vernier/Optuna throughput ratios (Optuna: the same sampler, one client), then
the growth of latency with the study's size (last 1k at the largest size over
the 1,000-trial p50). Runs differ by clients and by the connections they share.

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
                r.get("group_commit", ""), r.get("connections", r["clients"]))].append(r)
    optuna = {k[1]: statistics.median(x["trials_per_s"] for x in v)
              for k, v in groups.items() if k[0] == "optuna"}
    print("| system | sampler | trials | clients | connections | runs | trials/s | p50 ms "
          "| p99 ms | last 1k p50 ms | last 1k p99 ms | x Optuna | errors | lost |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k[1], k[0] != "optuna", k[2], k[3], -k[5])):
        v = groups[key]
        med = lambda f: statistics.median(x[f] for x in v)
        ratio = ""
        if key[0] == "vernier" and key[1] in optuna:
            ratio = f"{med('trials_per_s') / optuna[key[1]]:.1f}x"
        name = key[0] + ("" if key[4] in ("", True) else " (no group commit)")
        print(f"| {name} | {key[1]} | {key[2]} | {key[3]} | {key[5]} | {len(v)} "
              f"| {med('trials_per_s'):.1f} "
              f"| {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {med('last1k_p50_ms'):.2f} "
              f"| {med('last1k_p99_ms'):.2f} | {ratio} | {sum(x['errors'] for x in v)} "
              f"| {sum(x['lost'] for x in v)} |")
    growth(groups)


def growth(groups):
    """Issue 4's latency goal: the last-1k p50 of the largest study over the
    p50 of the 1,000-trial one (same system, sampler and clients)."""
    lines = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[3], -k[5])):
        system, sampler, trials, clients, group_commit, connections = key
        if trials != 1000:
            continue
        larger = [k for k in groups if k[:2] == key[:2] and k[3:] == key[3:] and k[2] > 1000]
        if not larger:
            continue
        big = max(larger, key=lambda k: k[2])
        small_p50 = statistics.median(x["p50_ms"] for x in groups[key])
        big_p50 = statistics.median(x["last1k_p50_ms"] for x in groups[big])
        lines.append(f"| {system} | {sampler} | {clients} | {connections} | {small_p50:.2f} "
                     f"| {big[2]} "
                     f"| {big_p50:.2f} | {big_p50 / small_p50:.2f}x |")
    if lines:
        print()
        print("| system | sampler | clients | connections | p50 ms at 1k | trials "
              "| last 1k p50 ms | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
