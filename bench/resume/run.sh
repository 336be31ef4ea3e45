#!/usr/bin/env bash
# Epochs saved by resume in a fault test: bench/resume/fault_bench.py runs the
# same study with checkpoints (a retried trial resumes) and without (it starts
# from epoch 1) while workers are killed at random, on a real vernier-server
# and vernier-workers on loopback.
#
# Usage: bench/resume/run.sh
#   env: BIN=<repo>/build/bin OUT=bench/resume/results, and fault_bench.py's
#        TRIALS EPOCHS WORKERS TRAIN_IMAGES TEST_IMAGES LEASE KILL_PROB MAX_KILLS REPEATS SEED
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${BIN:-$ROOT/build/bin}"
OUT="${OUT:-$ROOT/bench/resume/results}"
exec python3 "$ROOT/bench/resume/fault_bench.py" "$BIN" "$OUT"
