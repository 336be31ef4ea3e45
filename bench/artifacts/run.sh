#!/usr/bin/env bash
# Artifact upload through the server: a trial that leaves SIZE_MIB MiB in
# $VERNIER_ARTIFACT_DIR, run TRIALS times with `artifacts: {keep: all}` and
# TRIALS times with `artifacts: {keep: none}` (nothing uploaded), on a real
# vernier-server and one vernier-worker on loopback, one trial at a time.
#
# Prints, per study, each trial's duration (the server's start to end) and,
# for the uploads, the worker's own measure of each upload ("uploaded in X
# s"): the upload's throughput, and the time it adds to a trial (mean
# duration with uploads minus mean duration without).
#
# Usage: bench/artifacts/run.sh
#   env: BIN=<repo>/build/bin SIZE_MIB=200 TRIALS=3
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/artifacts"
BIN="${BIN:-$ROOT/build/bin}"
SIZE_MIB="${SIZE_MIB:-200}"
TRIALS="${TRIALS:-3}"

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ADDR="127.0.0.1:$PORT"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/vernier-server" --insecure --db "$WORK/vernier.db" --listen "$ADDR" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "serving on port" "$WORK/server.log" && break; sleep 0.1; done
"$BIN/vernier-worker" --server "$ADDR" --name bench --cpu-slots 1 \
  --threads-per-slot 1 --work-dir "$WORK/work" >"$WORK/worker.log" 2>&1 &
PIDS+=($!)

cli() { "$BIN/vernier" --server "$ADDR" "$@"; }

run_study() {  # NAME KEEP
  cat >"$WORK/$1.yaml" <<YAML
name: $1
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: $TRIALS, parallel: 1}
trainer: {command: [python3, "$HERE/trial.py"], size_mib: $SIZE_MIB}
artifacts: {keep: $2, max_bytes: $((SIZE_MIB + 1))MiB}
YAML
  cli study create -f "$WORK/$1.yaml" >/dev/null
  until cli --format json study show "$1" |
    python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["state"] != "COMPLETED")'; do
    sleep 0.2
  done
  cli --format json trials "$1" >"$WORK/$1.json"
}

run_study without none
run_study with all

python3 - "$WORK" "$SIZE_MIB" <<'PY'
import json, re, statistics, sys
work, size_mib = sys.argv[1], int(sys.argv[2])
def durations(name):
    trials = json.load(open(f"{work}/{name}.json"))
    assert all(t["state"] == "COMPLETE" for t in trials), trials
    return [(t["end_time_unix_ms"] - t["start_time_unix_ms"]) / 1000 for t in trials]
without, with_ = durations("without"), durations("with")
uploads = [float(s) for s in re.findall(r"bytes uploaded in ([0-9.]+) s", open(f"{work}/worker.log").read())]
print(f"artifact: {size_mib} MiB per trial, {len(with_)} trials each way")
print("trial seconds, keep: none (no upload): " + ", ".join(f"{d:.2f}" for d in without))
print("trial seconds, keep: all  (upload):    " + ", ".join(f"{d:.2f}" for d in with_))
print("upload seconds (worker's measure):      " + ", ".join(f"{u:.2f}" for u in uploads))
print(f"upload throughput: {size_mib / statistics.median(uploads):.0f} MiB/s (median)")
print(f"time added to a trial: {statistics.mean(with_) - statistics.mean(without):.2f} s (mean with - mean without)")
PY
