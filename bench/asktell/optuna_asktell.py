"""Optuna's side of the ask/tell speed benchmark (bench/asktell/run.sh).

The same loop as asktell-bench, one client: study.ask() -> the same shifted
sphere in 4 floats -> study.tell(), on SQLite storage in a fresh file (Optuna
3.1's RDBStorage: SQLAlchemy's default for SQLite, a rollback journal with
synchronous=FULL, so each commit is synced). Prints one JSON line in
asktell-bench's format.

  /usr/bin/python3 optuna_asktell.py --sampler tpe --trials 300 --db /tmp/x.db
"""
import argparse
import json
import logging
import os
import time

import optuna


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sampler", choices=["random", "tpe"], default="random")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--db", required=True, help="SQLite file to create")
    args = parser.parse_args()
    optuna.logging.set_verbosity(logging.WARNING)
    if os.path.exists(args.db):
        os.remove(args.db)
    sampler = (optuna.samplers.RandomSampler(seed=1) if args.sampler == "random"
               else optuna.samplers.TPESampler(seed=1))
    study = optuna.create_study(storage=f"sqlite:///{args.db}", sampler=sampler,
                                study_name="asktell", direction="minimize")
    dists = {f"x{i}": optuna.distributions.FloatDistribution(-1, 1) for i in range(4)}
    latencies = []
    start = time.perf_counter()
    for _ in range(args.trials):
        t0 = time.perf_counter()
        trial = study.ask(dists)
        value = sum((v - 0.3) ** 2 for v in trial.params.values())
        study.tell(trial, value)
        latencies.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - start

    def pct(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else 0

    last = latencies[-1000:]
    print(json.dumps({"system": "optuna", "sampler": args.sampler, "trials": args.trials,
                      "clients": 1, "seconds": seconds, "trials_per_s": args.trials / seconds,
                      "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99),
                      "last1k_p50_ms": pct(last, 50), "last1k_p99_ms": pct(last, 99),
                      "errors": 0, "lost": 0}), flush=True)


if __name__ == "__main__":
    main()
