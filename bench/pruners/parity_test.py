#!/usr/bin/python3
"""CTest: Vernier's asha decides as Optuna 3.1's SuccessiveHalvingPruner.

Writes crossing, noisy learning curves (40 configurations, 9 epochs) as the
two export CSVs, replays them with pruner_bench ({type: asha}: min_resource 1,
rf 3) and with optuna_replay.py (SuccessiveHalvingPruner(min_resource=1,
reduction_factor=3)) over the same seeds and a 3-worker pool, and checks that
every replay spent the same epochs, pruned as many trials, ended at the same
time and picked the same best trial.

Usage: parity_test.py PRUNER_BENCH_BINARY
Exits 77 (CTest: skipped) when Debian's Optuna is not installed.
"""
import csv
import io
import math
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = 10
COLUMNS = ["epochs", "complete", "pruned", "best_number", "epochs_to_best", "time"]


def write_curves(directory):
    rng = random.Random(7)
    trials = os.path.join(directory, "trials.csv")
    curves = os.path.join(directory, "curves.csv")
    with open(trials, "w") as t, open(curves, "w") as c:
        t.write("number,state,objective_value,duration_seconds,final_val_accuracy\n")
        c.write("number,step,metric,value\n")
        for number in range(40):
            top, rate = rng.uniform(0.5, 0.92), rng.uniform(0.1, 1.5)
            values = [top * (1 - math.exp(-rate * s)) + rng.gauss(0, 0.01) for s in range(1, 10)]
            t.write(f"{number},COMPLETE,{values[-1]!r},{rng.uniform(5, 20)!r},{values[-1]!r}\n")
            for step, value in enumerate(values, 1):
                c.write(f"{number},{step},val_accuracy,{value!r}\n")
    return trials, curves


def run(argv):
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return {(r["workers"], r["seed"]): r for r in csv.DictReader(io.StringIO(out))}


def main():
    if subprocess.run(["/usr/bin/python3", "-c", "import optuna"],
                      capture_output=True).returncode != 0:
        print("skipped: Debian's python3-optuna is not installed")
        return 77
    with tempfile.TemporaryDirectory() as directory:
        trials, curves = write_curves(directory)
        common = ["--trials", trials, "--curves", curves, "--seeds", str(SEEDS), "--workers", "3",
                  "--step-time", "recorded"]
        vernier = run([sys.argv[1]] + common + ["--pruner", "asha={type: asha}"])
        optuna = run(["/usr/bin/python3", os.path.join(HERE, "optuna_replay.py")] + common +
                     ["--pruner", "sha_rf3=optuna.pruners.SuccessiveHalvingPruner("
                                  "min_resource=1, reduction_factor=3)"])
    failures = 0
    for key in sorted(vernier):
        for column in COLUMNS:
            ours, theirs = float(vernier[key][column]), float(optuna[key][column])
            if abs(ours - theirs) > 1e-9:
                failures += 1
                print(f"workers {key[0]} seed {key[1]}: {column}: vernier {ours}, optuna {theirs}")
    pruned = sum(int(r["pruned"]) for r in vernier.values())
    print(f"{len(vernier)} replays, {pruned} trials pruned, {failures} differences")
    return 1 if failures or len(vernier) != SEEDS or pruned == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
