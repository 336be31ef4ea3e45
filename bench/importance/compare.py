#!/usr/bin/env python3
"""fANOVA parameter importance: Vernier's `vernier importance` next to Optuna
3.1's FanovaImportanceEvaluator on the very same trials.

    compare.py --vernier BIN --server HOST:PORT --scratch DIR [--out DIR] [--large]

For each study below: Optuna's RandomSampler(seed) runs the objective into an
Optuna SQLite storage; Optuna's evaluator (seed 0, and seed 1 to show how much
Optuna moves with its own seed) reads it; `vernier import-optuna` replays the
same trials into a Vernier study on the running server and `vernier importance
--seed 0 --format json` reads them back. Prints and writes (with --out)
raw.json and table.md: per study the rank agreement (Spearman's rho, Kendall's
tau-b), whether the top parameter is the same, and the largest difference of
one importance.
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

import optuna
from optuna.importance import FanovaImportanceEvaluator


def additive(trial):
    # Main effects only; shares of variance are 64 : 16 : 4 : 1.
    xs = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(1, 5)]
    return 8 * xs[0] + 4 * xs[1] + 2 * xs[2] + 1 * xs[3]


def quadratic_useless(trial):
    a = trial.suggest_float("a", -5.0, 5.0)
    b = trial.suggest_int("b", 0, 10)
    c = trial.suggest_float("c", -1.0, 1.0)
    trial.suggest_float("useless", 0.0, 1.0)  # Never read.
    return (a - 1) ** 2 + 0.5 * (b - 3) ** 2 + 10 * c ** 2


def categorical(trial):
    base = {"sgd": 3.0, "momentum": 1.5, "adam": 0.0, "rmsprop": 0.5}
    opt = trial.suggest_categorical("optimizer", list(base))
    act = trial.suggest_categorical("activation", ["relu", "tanh"])
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.05)
    units = trial.suggest_int("units", 16, 256, log=True)
    return base[opt] + 2 * dropout + units / 256 + (0.05 if act == "tanh" else 0.0)


def wide(trial):
    # Eight floats of growing effect, an 8-way categorical and noise: the
    # size where Optuna's evaluator takes minutes.
    xs = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(8)]
    c = trial.suggest_categorical("c", list("abcdefgh"))
    noise = random.Random(trial.number).gauss(0.0, 1.0)
    return sum((i + 1) * x for i, x in enumerate(xs)) + "abcdefgh".index(c) + noise


# name, objective, trials, sampler seed, analytic main-effect shares (if known)
STUDIES = [
    ("additive", additive, 200, 0,
     {"x1": 64 / 85, "x2": 16 / 85, "x3": 4 / 85, "x4": 1 / 85}),
    ("quadratic_useless", quadratic_useless, 150, 1, None),
    ("categorical", categorical, 150, 2, None),
]
# --large adds it (Optuna then needs about 4 minutes per evaluation here).
LARGE = ("wide", wide, 1000, 3, None)


def ranks(values):
    """Average ranks (1 = smallest), ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else float("nan")


def spearman(a, b):
    return pearson(ranks(a), ranks(b))


def kendall_tau_b(a, b):
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    n1 = concordant + discordant + ties_a
    n2 = concordant + discordant + ties_b
    return (concordant - discordant) / math.sqrt(n1 * n2) if n1 and n2 else float("nan")


def agreement(reference, other):
    names = sorted(reference)
    a = [reference[n] for n in names]
    b = [other.get(n, 0.0) for n in names]
    return {
        "spearman": spearman(a, b),
        "kendall": kendall_tau_b(a, b),
        "top_same": max(reference, key=reference.get) == max(other, key=other.get),
        "max_abs_diff": max(abs(x - y) for x, y in zip(a, b)),
    }


def vernier(binary, server, *args):
    out = subprocess.run([binary, "--server", server, *args], check=True,
                         capture_output=True, text=True)
    return out.stdout


def run_study(name, objective, n_trials, seed, args):
    storage = f"sqlite:///{os.path.join(args.scratch, name + '.db')}"
    study = optuna.create_study(study_name=name, storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)

    optuna_runs = {}
    for fanova_seed in (0, 1):
        started = time.perf_counter()
        importances = FanovaImportanceEvaluator(seed=fanova_seed).evaluate(study)
        optuna_runs[fanova_seed] = {
            "importances": {k: float(v) for k, v in importances.items()},
            "seconds": time.perf_counter() - started,
        }

    vname = f"importance-{name}"
    vernier(args.vernier, args.server, "import-optuna", storage, "--study", name, "--as", vname)
    started = time.perf_counter()
    answer = json.loads(vernier(args.vernier, args.server, "importance", vname, "--seed", "0",
                                "--format", "json"))
    seconds = time.perf_counter() - started
    vernier_importances = {row["param"]: row["importance"] for row in answer["importances"]}
    if answer["trials_used"] != n_trials:
        sys.exit(f"{name}: vernier used {answer['trials_used']} trials, not {n_trials}")
    return {
        "study": name,
        "trials": n_trials,
        "sampler_seed": seed,
        "optuna_seed0": optuna_runs[0],
        "optuna_seed1": optuna_runs[1],
        "vernier_seed0": {"importances": vernier_importances, "seconds": seconds},
        "vernier_vs_optuna": agreement(optuna_runs[0]["importances"], vernier_importances),
        "optuna_seed1_vs_seed0": agreement(optuna_runs[0]["importances"],
                                           optuna_runs[1]["importances"]),
    }


def fmt(importances, names):
    return ", ".join(f"{n} {importances.get(n, 0.0):.3f}" for n in names)


def table(results, truths):
    lines = [
        "| study | trials | Spearman ρ | Kendall τ-b | top same | max abs diff "
        "| Optuna seed 1 vs 0: ρ / τ-b / max diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, s = r["vernier_vs_optuna"], r["optuna_seed1_vs_seed0"]
        lines.append(
            f"| {r['study']} | {r['trials']} | {a['spearman']:.3f} | {a['kendall']:.3f} "
            f"| {'yes' if a['top_same'] else 'NO'} | {a['max_abs_diff']:.3f} "
            f"| {s['spearman']:.3f} / {s['kendall']:.3f} / {s['max_abs_diff']:.3f} |")
    lines.append("")
    lines.append("Importances (Optuna seed 0 order):")
    lines.append("")
    for r in results:
        optuna0 = r["optuna_seed0"]["importances"]
        names = sorted(optuna0, key=optuna0.get, reverse=True)
        lines.append(f"- {r['study']}:")
        lines.append(f"  - Optuna (seed 0, {r['optuna_seed0']['seconds']:.2f} s): "
                     f"{fmt(optuna0, names)}")
        lines.append(f"  - Vernier (seed 0, {r['vernier_seed0']['seconds']:.2f} s incl. the "
                     f"RPCs): {fmt(r['vernier_seed0']['importances'], names)}")
        if truths.get(r["study"]):
            lines.append(f"  - analytic main-effect shares: {fmt(truths[r['study']], names)}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vernier", required=True, help="the vernier CLI binary")
    parser.add_argument("--server", required=True, help="a running vernier-server, host:port")
    parser.add_argument("--scratch", required=True, help="directory for the Optuna storages")
    parser.add_argument("--out", help="directory for raw.json and table.md")
    parser.add_argument("--large", action="store_true",
                        help="also a study of 1000 trials and 9 parameters")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    studies = STUDIES + ([LARGE] if args.large else [])
    results = [run_study(name, fn, n, seed, args) for name, fn, n, seed, _ in studies]
    truths = {name: truth for name, _, _, _, truth in studies}
    text = table(results, truths)
    print(text, end="")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "raw.json"), "w") as f:
            json.dump(results, f, indent=2)
        with open(os.path.join(args.out, "table.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
