"""Epochs saved by resume: the same study, with workers killed at random, with
checkpoints (a retried trial resumes from its last uploaded epoch) and without
(it starts again from epoch 1).

usage: fault_bench.py BIN_DIR OUT_DIR

A real vernier-server (lease LEASE s) and WORKERS vernier-workers on loopback
run a study of TRIALS trials of the built-in CNN (EPOCHS epochs) on a slice
of Fashion-MNIST written to the scratch directory: its first TRAIN_IMAGES
training images (a fifth held out for validation) and TEST_IMAGES test
images, so that an epoch, validation included, takes seconds on a CPU. The faults follow a plan drawn
from a seeded generator per (trial, attempt), the same in both arms, so that
they do not depend on the machine's speed: an attempt is doomed with
probability KILL_PROB (at most MAX_KILLS kills per trial), and once it has
finished its k-th epoch (k uniform in 1..EPOCHS-1, read from its log on the
server) the worker running it is killed with SIGKILL and started again a
second later; the trial goes back to the queue when its lease expires. An
attempt of the resume arm that has fewer than k epochs left is not killed.

Per arm and repeat it records the study's wall time and the epochs trained:
the "epoch k/N:" lines of every attempt's log on the server (`vernier logs
STUDY N --attempt A`), so an attempt killed mid-epoch counts only the epochs
it finished (and an attempt that a later one resumed from epoch k counts at
least up to k: its last line can be lost with its worker). The minimum is
TRIALS * EPOCHS.

Environment: TRIALS=10 EPOCHS=10 WORKERS=2 TRAIN_IMAGES=2500 TEST_IMAGES=500 LEASE=3
KILL_PROB=0.5 MAX_KILLS=2 REPEATS=3 SEED=1; KEEP=1 keeps each run's
scratch directory (logs, database) and prints its path. Prints a Markdown table and
writes it, with each run's numbers, to OUT_DIR/table.md.
"""

import gzip
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
TRAIN_IMAGES = env_int("TRAIN_IMAGES", 2500)
TEST_IMAGES = env_int("TEST_IMAGES", 500)
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
LEASE = env_int("LEASE", 3)
KILL_PROB = float(os.environ.get("KILL_PROB", 0.5))
MAX_KILLS = env_int("MAX_KILLS", 2)
REPEATS = env_int("REPEATS", 3)
SEED = env_int("SEED", 1)
EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+:", re.MULTILINE)
RESUMED_LINE = re.compile(r"^resumed from .* at epoch (\d+)$", re.MULTILINE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_name(index):
    """A name no other worker's id contains."""
    return f"faultbench{index}x"


def kill_epoch(seed, trial, attempt):
    """After which of its epochs attempt `attempt` of `trial` is killed; None: never."""
    draw = random.Random(f"{seed}/{trial}/{attempt}")
    if draw.random() >= KILL_PROB:
        return None
    return draw.randint(1, EPOCHS - 1)


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
            f"{self.bin}/vernier-worker", "--server", self.address, "--name", worker_name(index),
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


def epochs_trained(attempt_logs):
    """Epochs a trial's attempts finished, from their logs in order.

    Each attempt counts its "epoch k/N:" lines; an attempt that a later one
    resumed from epoch k also finished epoch k (it uploaded that checkpoint),
    though its line may have been lost with the killed worker.
    """
    starts = [int(m.group(1)) if (m := RESUMED_LINE.search(log)) else 0 for log in attempt_logs]
    ends = starts[1:] + [EPOCHS]
    return sum(max(len(EPOCH_LINE.findall(log)), end - start)
               for log, start, end in zip(attempt_logs, starts, ends))


def write_slice(data_dir):
    """Writes the first images of Fashion-MNIST's IDX files, uncompressed, to data_dir."""
    os.makedirs(data_dir, exist_ok=True)
    for prefix, count in (("train", TRAIN_IMAGES), ("t10k", TEST_IMAGES)):
        for kind, header, item in (("images-idx3-ubyte", 16, 28 * 28), ("labels-idx1-ubyte", 8, 1)):
            with gzip.open(f"{FASHION_MNIST}/{prefix}-{kind}.gz") as f:
                data = f.read(header + count * item)
            # The count field (bytes 4-7) says how many items follow.
            with open(f"{data_dir}/{prefix}-{kind}", "wb") as f:
                f.write(data[:4] + count.to_bytes(4, "big") + data[8:])


def study_yaml(name, checkpoint_every, data_dir):
    return f"""
name: {name}
objective: {{metric: val_accuracy, goal: maximize}}
params:
  lr: {{type: float, low: 3.0e-4, high: 3.0e-3, log: true}}
sampler: {{type: random, seed: 3}}
checkpoint: {{every: {checkpoint_every}}}
budget: {{max_trials: {TRIALS}, parallel: {WORKERS}, max_retries: 100}}
trainer: {{model: cnn, dataset: fashion-mnist, epochs: {EPOCHS}, val_fraction: 0.2,
          data_dir: "{data_dir}"}}
"""


def run_arm(bin_dir, checkpoint_every, schedule_seed):
    """Runs one study under the kill schedule; returns (seconds, epochs, kills, retries)."""
    with tempfile.TemporaryDirectory() as scratch:
        work = tempfile.mkdtemp(prefix="resume-bench-") if os.environ.get("KEEP") else scratch
        write_slice(f"{work}/data")
        cluster = Cluster(bin_dir, work)
        try:
            name = f"resume-{checkpoint_every}"
            with open(f"{work}/study.yaml", "w") as f:
                f.write(study_yaml(name, checkpoint_every, f"{work}/data"))
            cluster.cli("study", "create", "-f", f"{work}/study.yaml")
            start = time.monotonic()
            kills, killed = 0, set()
            while json.loads(cluster.cli("--format", "json", "study", "show", name))["state"] == "ACTIVE":
                for trial in json.loads(cluster.cli("--format", "json", "trials", name)):
                    number, attempt = trial["number"], trial["retries"] + 1
                    if trial["state"] != "RUNNING" or (number, attempt) in killed:
                        continue
                    if sum(1 for n, _ in killed if n == number) >= MAX_KILLS:
                        continue
                    at = kill_epoch(schedule_seed, number, attempt)
                    if at is None:
                        continue
                    log = cluster.cli("logs", name, str(number), "--attempt", str(attempt))
                    if len(EPOCH_LINE.findall(log)) < at:
                        continue
                    index = next(i for i in range(WORKERS) if worker_name(i) in trial["worker_id"])
                    cluster.kill_and_restart(index)
                    killed.add((number, attempt))
                    kills += 1
                time.sleep(0.3)
            seconds = time.monotonic() - start
            trials = json.loads(cluster.cli("--format", "json", "trials", name))
            bad = [t["number"] for t in trials if t["state"] != "COMPLETE"]
            if bad:
                raise RuntimeError(f"trials not COMPLETE: {bad}; see {work}")
            epochs = retries = 0
            for trial in trials:
                retries += trial["retries"]
                logs = [cluster.cli("logs", name, str(trial["number"]), "--attempt", str(a))
                        for a in range(1, trial["retries"] + 2)]
                epochs += epochs_trained(logs)
            if os.environ.get("KEEP"):
                print(f"kept {work}", flush=True)
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
             f"an attempt killed with p={KILL_PROB} after a random epoch (at most {MAX_KILLS} per trial), lease {LEASE} s, "
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
