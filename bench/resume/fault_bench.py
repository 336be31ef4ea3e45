"""Epochs saved by resume: the same study, with workers killed at random, with
checkpoints (a retried trial resumes from its last uploaded epoch) and without
(it starts again from epoch 1).

usage: fault_bench.py BIN_DIR OUT_DIR

A real vernier-server (lease LEASE s) and WORKERS vernier-workers on loopback
run a study of TRIALS trials of the built-in CNN (EPOCHS epochs on the first
TRAIN_SUBSET Fashion-MNIST training images). Every KILL_MIN..KILL_MAX seconds
(drawn from a seeded generator, so both arms see the same schedule) one
worker, drawn at random, is killed with SIGKILL and started again a second
later. Per arm and repeat it records the study's wall time and the epochs
trained: the "epoch k/N:" lines of every attempt's log on the server (`vernier
logs STUDY N --attempt A`), so an attempt killed mid-epoch counts only the
epochs it finished. The minimum is TRIALS * EPOCHS.

Environment: TRIALS=10 EPOCHS=10 WORKERS=2 TRAIN_SUBSET=2000 LEASE=3
KILL_MIN=5 KILL_MAX=12 REPEATS=3 SEED=1. Prints a Markdown table and writes it,
with each run's numbers, to OUT_DIR/table.md.
"""

import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def env_int(name, default):
    return int(os.environ.get(name, default))


TRIALS = env_int("TRIALS", 10)
EPOCHS = env_int("EPOCHS", 10)
WORKERS = env_int("WORKERS", 2)
TRAIN_SUBSET = env_int("TRAIN_SUBSET", 2000)
LEASE = env_int("LEASE", 3)
KILL_MIN = env_int("KILL_MIN", 5)
KILL_MAX = env_int("KILL_MAX", 12)
REPEATS = env_int("REPEATS", 3)
SEED = env_int("SEED", 1)
EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+:", re.MULTILINE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A vernier-server and its workers in a scratch directory."""

    def __init__(self, bin_dir, work):
        self.bin, self.work = bin_dir, work
        self.address = f"127.0.0.1:{free_port()}"
        self.server = self._spawn("server", [
            f"{bin_dir}/vernier-server", "--insecure", "--db", f"{work}/vernier.db",
            "--listen", self.address, "--lease-seconds", str(LEASE),
            "--heartbeat-seconds", "0.5"])
        self._wait_for_log("server", "serving on port")
        self.workers = [self.start_worker(i) for i in range(WORKERS)]

    def _spawn(self, name, argv):
        log = open(f"{self.work}/{name}.log", "a")
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def _wait_for_log(self, name, text):
        for _ in range(300):
            with open(f"{self.work}/{name}.log") as f:
                if text in f.read():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start; see {self.work}/{name}.log")

    def start_worker(self, index):
        return self._spawn(f"worker-{index}", [
            f"{self.bin}/vernier-worker", "--server", self.address, "--name", f"w{index}",
            "--cpu-slots", "1", "--threads-per-slot", "1",
            "--work-dir", f"{self.work}/work-{index}"])

    def kill_and_restart(self, index):
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait()
        time.sleep(1)
        self.workers[index] = self.start_worker(index)

    def cli(self, *args):
        return subprocess.run([f"{self.bin}/vernier", "--server", self.address, *args],
                              check=True, capture_output=True, text=True).stdout

    def stop(self):
        for process in self.workers + [self.server]:
            process.send_signal(signal.SIGKILL)
            process.wait()


def study_yaml(name, checkpoint_every):
    return f"""
name: {name}
objective: {{metric: val_accuracy, goal: maximize}}
params:
  lr: {{type: float, low: 3.0e-4, high: 3.0e-3, log: true}}
sampler: {{type: random, seed: 3}}
checkpoint: {{every: {checkpoint_every}}}
budget: {{max_trials: {TRIALS}, parallel: {WORKERS}, max_retries: 100}}
trainer: {{model: cnn, dataset: fashion-mnist, epochs: {EPOCHS}, train_subset: {TRAIN_SUBSET}}}
"""


def run_arm(bin_dir, checkpoint_every, schedule_seed):
    """Runs one study under the kill schedule; returns (seconds, epochs, kills, retries)."""
    with tempfile.TemporaryDirectory() as work:
        cluster = Cluster(bin_dir, work)
        try:
            name = f"resume-{checkpoint_every}"
            with open(f"{work}/study.yaml", "w") as f:
                f.write(study_yaml(name, checkpoint_every))
            cluster.cli("study", "create", "-f", f"{work}/study.yaml")
            start = time.monotonic()
            schedule = random.Random(schedule_seed)
            next_kill, kills = start + schedule.uniform(KILL_MIN, KILL_MAX), 0
            while json.loads(cluster.cli("--format", "json", "study", "show", name))["state"] == "ACTIVE":
                if time.monotonic() >= next_kill:
                    cluster.kill_and_restart(schedule.randrange(WORKERS))
                    kills += 1
                    next_kill = time.monotonic() + schedule.uniform(KILL_MIN, KILL_MAX)
                time.sleep(0.2)
            seconds = time.monotonic() - start
            trials = json.loads(cluster.cli("--format", "json", "trials", name))
            bad = [t["number"] for t in trials if t["state"] != "COMPLETE"]
            if bad:
                raise RuntimeError(f"trials not COMPLETE: {bad}; see {work}")
            epochs = retries = 0
            for trial in trials:
                retries += trial["retries"]
                for attempt in range(1, trial["retries"] + 2):
                    log = cluster.cli("logs", name, str(trial["number"]), "--attempt", str(attempt))
                    epochs += len(EPOCH_LINE.findall(log))
            return seconds, epochs, kills, retries
        finally:
            cluster.stop()


def main():
    bin_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    runs = {"resume (checkpoint every 1)": [], "restart from zero (checkpoint every 0)": []}
    for repeat in range(REPEATS):
        for arm, every in (("resume (checkpoint every 1)", 1),
                           ("restart from zero (checkpoint every 0)", 0)):
            result = run_arm(bin_dir, every, SEED * 1000 + repeat)
            runs[arm].append(result)
            print(f"repeat {repeat} {arm}: {result[0]:.0f} s, {result[1]} epochs, "
                  f"{result[2]} kills, {result[3]} retries", flush=True)
    minimum = TRIALS * EPOCHS
    lines = [f"{TRIALS} trials x {EPOCHS} epochs (minimum {minimum} epochs), {WORKERS} workers, "
             f"a worker killed every {KILL_MIN}-{KILL_MAX} s, lease {LEASE} s, "
             f"medians of {REPEATS} runs", "",
             "| arm | epochs trained | wasted epochs | study seconds | kills | retries |",
             "|---|---|---|---|---|---|"]
    for arm, results in runs.items():
        seconds, epochs, kills, retries = (statistics.median(r[i] for r in results) for i in range(4))
        lines.append(f"| {arm} | {epochs:.0f} | {epochs - minimum:.0f} | {seconds:.0f} | "
                     f"{kills:.0f} | {retries:.0f} |")
    lines += ["", "Each run (seconds, epochs, kills, retries):"]
    for arm, results in runs.items():
        lines.append(f"- {arm}: " + "; ".join(f"{s:.0f}, {e}, {k}, {r}" for s, e, k, r in results))
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
