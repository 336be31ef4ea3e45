#!/usr/bin/env bash
# PBT on a toy with a moving optimum (toy_trial.py): the same studies with
# `pruner: {type: pbt}` and with no pruner, same sampler seeds, on a real
# vernier-server and two vernier-workers on loopback. One study at a time, all
# its trials side by side.
#
# Usage: bench/pbt/run.sh
#   env: BIN=<repo>/build/bin SEEDS=10 TRIALS=8 STEPS=40 INTERVAL=4 PACE=0.05
#        MIN_POPULATION=4 STEPS_REPORTED=all|odd OUT=bench/pbt/results
# Writes $OUT/table.md; KEEP=DIR keeps each study's `vernier trials --format json`
# there.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/pbt"
BIN="${BIN:-$ROOT/build/bin}"
SEEDS="${SEEDS:-10}"
TRIALS="${TRIALS:-8}"
STEPS="${STEPS:-40}"
INTERVAL="${INTERVAL:-4}"
PACE="${PACE:-0.05}"
MIN_POPULATION="${MIN_POPULATION:-4}"
STEPS_REPORTED="${STEPS_REPORTED:-all}"
OUT="${OUT:-$HERE/results}"

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
half=$(((TRIALS + 1) / 2))
for name in a b; do
  "$BIN/vernier-worker" --server "$ADDR" --name "$name" --cpu-slots "$half" \
    --threads-per-slot 1 --work-dir "$WORK/work-$name" >"$WORK/worker-$name.log" 2>&1 &
  PIDS+=($!)
done
cli() { "$BIN/vernier" --server "$ADDR" "$@"; }

RESULTS="${KEEP:-$WORK/results}"
mkdir -p "$OUT" "$RESULTS"
for seed in $(seq 0 $((SEEDS - 1))); do
  for pruner in none pbt; do
    name="toy-$pruner-$seed"
    cat >"$WORK/$name.yaml" <<YAML
name: $name
objective: {metric: score, goal: maximize}
params:
  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
sampler: {type: random, seed: $seed}
pruner:  {type: $pruner$([ "$pruner" = pbt ] && echo ", interval: $INTERVAL, min_population: $MIN_POPULATION")}
budget:  {max_trials: $TRIALS, parallel: $TRIALS, max_failures: 0}
trainer: {command: [python3, "$HERE/toy_trial.py", "$STEPS", "$INTERVAL", "$PACE", "$STEPS_REPORTED"], time_limit: 120}
YAML
    cli study create -f "$WORK/$name.yaml" >/dev/null
    until [ "$(cli --format json study show "$name" | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')" != ACTIVE ]; do
      sleep 0.5
    done
    cli --format json trials "$name" >"$RESULTS/$name.json"
    echo "$name done" >&2
  done
done
python3 "$HERE/report.py" "$RESULTS" "$STEPS" | tee "$OUT/table.md"
