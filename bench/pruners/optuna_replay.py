#!/usr/bin/python3
"""Replays recorded learning curves through Optuna 3.1's pruners.

The counterpart of pruner_bench (replay.h): the same export CSVs, the same
configurations (COMPLETE trials with a full curve), the same order per seed
(splitmix64 Fisher-Yates, as ReplayOrder), the same simulated worker pool
(W workers; each step costs 1 simulated second or the recorded time; ties go to
the lower worker index) and the same CSV columns, with impl=optuna.

Each trial is an ask/tell trial: it reports the recorded values with
trial.report(value, step), asks trial.should_prune() after each, and is told
PRUNED when the pruner says so or COMPLETE with the final value at its last
step.

Usage: optuna_replay.py --trials T.csv --curves C.csv [--metric val_accuracy]
         [--seeds 50] [--workers 4,8] [--step-time unit|recorded]
         [--max-trials 0] [--pruner LABEL=EXPR]...
EXPR is a Python expression over `optuna` and `E` (the curves' step count),
e.g. 'sha=optuna.pruners.SuccessiveHalvingPruner()'.
"""
import argparse
import csv
import heapq
import math
import sys

import optuna

MASK = (1 << 64) - 1


def replay_order(n, seed):
    """The order in which a replay with `seed` visits n configurations."""
    order = list(range(n))
    state = seed & MASK
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        j = (z ^ (z >> 31)) % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


# Same golden order as replay_test.cc: the two replays visit the same trials.
assert replay_order(10, 1) == [4, 2, 8, 1, 9, 3, 0, 6, 7, 5], replay_order(10, 1)


def load_curves(trials_path, curves_path, metric):
    """Returns (curves, max_steps, dropped); each curve a dict, by number."""
    by_trial = {}
    with open(curves_path, newline="") as f:
        for row in csv.DictReader(f):
            if row["metric"] == metric:
                by_trial.setdefault(int(row["number"]), {})[int(row["step"])] = float(row["value"])
    max_steps = max((len(s) for s in by_trial.values()), default=0)
    curves, dropped = [], 0
    with open(trials_path, newline="") as f:
        for row in csv.DictReader(f):
            number = int(row["number"])
            steps = by_trial.get(number)
            if row["state"] != "COMPLETE" or steps is None or len(steps) < max_steps:
                dropped += 1
                continue
            ordered = sorted(steps.items())
            final = row.get("final_" + metric) or ""
            test = row.get("final_test_accuracy") or ""
            duration = row.get("duration_seconds") or ""
            curves.append({
                "number": number,
                "steps": [s for s, _ in ordered],
                "values": [v for _, v in ordered],
                "final": float(final) if final else ordered[-1][1],
                "test": float(test) if test else math.nan,
                "seconds_per_step": float(duration) / len(ordered) if duration else 1.0,
            })
    if not curves:
        sys.exit(f"optuna_replay: {trials_path}: no COMPLETE trial with a full {metric} curve")
    curves.sort(key=lambda c: c["number"])
    return curves, max_steps, dropped


def replay(curves, pruner, workers, seed, recorded_step_time, max_trials):
    n = len(curves)
    trials_total = min(max_trials, n) if max_trials > 0 else n
    order = replay_order(n, seed)
    # A fixed name: HyperbandPruner hashes it to allot brackets.
    study = optuna.create_study(study_name=f"replay-{seed}", direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    cost = (lambda c: curves[c]["seconds_per_step"]) if recorded_step_time else (lambda c: 1.0)
    now, epochs, complete, pruned, started = 0.0, 0, 0, 0, 0
    running = [None] * workers  # per worker: [trial, config, next index]
    events = []
    completed = []  # (value, test, config, epochs, time), in completion order

    def start(w):
        nonlocal started
        running[w] = None
        if started >= trials_total:
            return
        config = order[started]
        started += 1
        running[w] = [study.ask(), config, 0]
        heapq.heappush(events, (now + cost(config), w))

    for w in range(workers):
        start(w)
    while events:
        now, w = heapq.heappop(events)
        trial, config, index = running[w]
        curve = curves[config]
        trial.report(curve["values"][index], curve["steps"][index])
        epochs += 1
        running[w][2] = index + 1
        if trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            pruned += 1
            start(w)
        elif index + 1 < len(curve["steps"]):
            heapq.heappush(events, (now + cost(config), w))
        else:
            study.tell(trial, curve["final"])
            complete += 1
            completed.append((curve["final"], curve["test"], config, epochs, now, trial.number))
            start(w)
    # The best COMPLETE trial, the lowest trial number among equals (as the
    # coordinator's BestTrials).
    best = max(completed, key=lambda c: (c[0], -c[5]))
    return {
        "epochs": epochs, "full_epochs": trials_total * len(curves[0]["steps"]),
        "complete": complete, "pruned": pruned, "best_value": best[0], "best_test": best[1],
        "best_number": curves[best[2]]["number"], "epochs_to_best": best[3],
        "time_to_best": best[4], "time": now,
    }


def default_pruners(max_steps):
    return [
        ("median", "optuna.pruners.MedianPruner()"),
        ("sha", "optuna.pruners.SuccessiveHalvingPruner()"),
        ("sha_rf3", "optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)"),
        ("hyperband", f"optuna.pruners.HyperbandPruner(min_resource=1, max_resource={max_steps}, "
                      "reduction_factor=3)"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", required=True)
    parser.add_argument("--curves", required=True)
    parser.add_argument("--metric", default="val_accuracy")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--workers", default="4,8")
    parser.add_argument("--step-time", choices=["unit", "recorded"], default="unit")
    parser.add_argument("--max-trials", type=int, default=0)
    parser.add_argument("--pruner", action="append", default=[])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    curves, max_steps, dropped = load_curves(args.trials, args.curves, args.metric)
    print(f"optuna_replay: {len(curves)} configurations of {max_steps} steps "
          f"({dropped} trials left out)", file=sys.stderr)
    pruners = [tuple(p.split("=", 1)) for p in args.pruner] or default_pruners(max_steps)
    workers = [int(w) for w in args.workers.split(",")]
    columns = ["epochs", "full_epochs", "complete", "pruned", "best_value", "best_test",
               "best_number", "epochs_to_best", "time_to_best", "time"]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["impl", "pruner", "workers", "seed"] + columns)
    for label, expr in pruners:
        for w in workers:
            for seed in range(args.seeds):
                pruner = eval(expr, {"optuna": optuna, "E": max_steps})  # noqa: S307 (our flag)
                result = replay(curves, pruner, w, seed, args.step_time == "recorded",
                                args.max_trials)
                out.writerow(["optuna", label, w, seed] +
                             [repr(result[c]) if isinstance(result[c], float) else result[c]
                              for c in columns])
            sys.stdout.flush()


if __name__ == "__main__":
    main()
