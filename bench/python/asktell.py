"""Python-client ask/tell throughput: Vernier's client against a real
vernier-server next to Optuna 3.1 with SQLite storage, in one run; and the
trial helper's cost per report.

    bench/python/run.sh [BUILD_DIR]      (sets up and calls this)

Both sides do the same thing per trial: ask a new trial of a 3-parameter
random-sampled study (float, log float, categorical), compute a quadratic,
tell the value. Vernier's server syncs each write to disk (WAL, fdatasync);
Optuna's SQLite storage uses SQLite's defaults. Prints one CSV row per run.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import time


def vernier_run(address: str, name: str, trials: int, threads: int) -> float:
    import vernier

    client = vernier.connect(address)
    study = client.create_study({
        "name": name, "objective": {"metric": "loss", "goal": "minimize"},
        "params": {"x": {"type": "float", "low": -5.0, "high": 5.0},
                   "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
                   "opt": {"type": "categorical", "values": ["sgd", "adam", "rmsprop"]}},
        "sampler": {"type": "random", "seed": 1}, "budget": {"max_trials": trials},
        "trainer": {"external": True}})

    def objective(trial):
        return (trial.params["x"] - 1.0) ** 2 + trial.params["lr"]

    start = time.perf_counter()
    ran = study.optimize(objective, n_trials=trials, n_jobs=threads)
    elapsed = time.perf_counter() - start
    assert ran == trials, ran
    client.close()
    return trials / elapsed


def optuna_run(db: str, name: str, trials: int, threads: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{db}",
                                sampler=optuna.samplers.RandomSampler(seed=1))

    def objective(trial):
        x = trial.suggest_float("x", -5.0, 5.0)
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_categorical("opt", ["sgd", "adam", "rmsprop"])
        return (x - 1.0) ** 2 + lr

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=threads)
    return trials / (time.perf_counter() - start)


def helper_report_us(reports: int) -> tuple:
    """Microseconds per trial.report() on a pipe drained by a thread, and per
    hand-written json line on the same kind of pipe."""
    read_fd, write_fd = os.pipe()
    os.environ.update({"VERNIER_PARAMS_FILE": os.devnull, "VERNIER_REPORT_FD": str(write_fd)})
    import threading

    def drain():
        while os.read(read_fd, 1 << 16):
            pass

    threading.Thread(target=drain, daemon=True).start()
    from vernier import trial

    start = time.perf_counter()
    for step in range(reports):
        trial.report(step, val_loss=0.5, val_accuracy=0.9)
    helper = (time.perf_counter() - start) / reports * 1e6
    stream = os.fdopen(os.dup(write_fd), "w", buffering=1)
    start = time.perf_counter()
    for step in range(reports):
        print(json.dumps({"step": step, "metrics": {"val_loss": 0.5, "val_accuracy": 0.9}}),
              file=stream)
    by_hand = (time.perf_counter() - start) / reports * 1e6
    return helper, by_hand


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--optuna-trials", type=int, default=300)
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args()
    print("system,threads,run,trials,trials_per_s")
    medians = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        for system in ("vernier", "optuna"):
            rates = []
            for run in range(args.runs):
                name = f"py-{threads}-{run}"
                if system == "vernier":
                    rate = vernier_run(args.address, name, args.trials, threads)
                    n = args.trials
                else:
                    with tempfile.TemporaryDirectory() as d:
                        rate = optuna_run(os.path.join(d, "optuna.db"), name, args.optuna_trials,
                                          threads)
                    n = args.optuna_trials
                rates.append(rate)
                print(f"{system},{threads},{run},{n},{rate:.1f}", flush=True)
            medians[(system, threads)] = statistics.median(rates)
    for threads in sorted({t for _, t in medians}):
        v, o = medians[("vernier", threads)], medians[("optuna", threads)]
        print(f"# {threads} thread(s): vernier {v:.0f} trials/s, optuna {o:.0f} trials/s, "
              f"ratio {v / o:.1f}x", file=sys.stderr)
    helper, by_hand = helper_report_us(20000)
    print(f"# trial.report: {helper:.1f} us per report; a hand-written json line: "
          f"{by_hand:.1f} us", file=sys.stderr)


if __name__ == "__main__":
    main()
