#!/usr/bin/env bash
# Load benchmark: 500 simulated workers (threads of one vernier-load process,
# over 50 gRPC channels on loopback) call AcquireTrial / ReportProgress /
# CompleteTrial against a real vernier-server on a SQLite file for 60 s; then
# the database is read back. Prints calls, p50/p99/max latency per RPC,
# errors, "database is locked" counts and lost reports; exits non-zero when
# any error or lost report was seen.
#
# Usage: bench/load/run.sh [vernier-load flags...]
#          (env: WORKERS=500 CHANNELS=50 LOAD_SECONDS=60 STEPS=5 JOBS=2
#           BUILD=<repo>/build-bench RESULT=latest.txt)
# Extra flags go to vernier-load (bench/load/soak.sh passes churn and
# restarts). Writes bench/load/results/$RESULT (with the machine's
# description).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/load"
BUILD="${BUILD:-$ROOT/build-bench}"
OUT="$HERE/results"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DVERNIER_BUILD_TRAINER=OFF >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" vernier-load vernier-server

mkdir -p "$OUT"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME")," \
       "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command: bench/load/run.sh $* (WORKERS=${WORKERS:-500} CHANNELS=${CHANNELS:-50}" \
       "LOAD_SECONDS=${LOAD_SECONDS:-60} STEPS=${STEPS:-5})"
  # Thousands of worker threads: make sure the limits allow them.
  ulimit -u unlimited 2>/dev/null || true
  "$BUILD/bin/vernier-load" --server-bin "$BUILD/bin/vernier-server" --dir "$SCRATCH" \
    --workers "${WORKERS:-500}" --channels "${CHANNELS:-50}" \
    --seconds "${LOAD_SECONDS:-60}" --steps "${STEPS:-5}" "$@"
} 2>&1 | tee "$OUT/${RESULT:-latest.txt}"
