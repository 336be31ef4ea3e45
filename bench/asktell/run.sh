#!/usr/bin/env bash
# Ask/tell speed: Vernier (asktell-bench through a real vernier-server on a
# fresh SQLite file, synchronous=FULL) next to Optuna 3.1 (SQLite storage,
# ask/tell loop) on the same machine in the same run. Each configuration runs
# RUNS times on a fresh database; report.py prints the medians.
#
# Usage: bench/asktell/run.sh
#   env: RUNS=3 SIZES="1000 10000" CLIENTS="1 8 32" SAMPLERS="random tpe"
#        OPTUNA_RANDOM_TRIALS=1000 OPTUNA_TPE_TRIALS=300 GROUP_COMMIT=true
#        CLIENT_THREADS=2 (asktell-bench --threads; 0: a blocking thread per client)
#        CONNECTIONS="0" (asktell-bench --connections for more than one client;
#                         0: one per client; "0 1" runs both)
#        JOBS=2 BUILD=<repo>/build-bench
# Writes bench/asktell/results/{raw.jsonl,table.md} (with the machine).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/asktell"
BUILD="${BUILD:-$ROOT/build-bench}"
OUT="${OUT:-$HERE/results}"
PY=/usr/bin/python3   # Debian's Python, where python3-optuna lives.

# Setup (the benchmark's, never the product's): Optuna from Debian.
if ! "$PY" -c 'import optuna' 2>/dev/null; then
  apt-get update && apt-get install -y python3-optuna
fi
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then  # An existing build keeps its settings.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVERNIER_BUILD_TRAINER=OFF >/dev/null
fi
ninja -C "$BUILD" -j"${JOBS:-2}" asktell-bench vernier-server

mkdir -p "$OUT"
SCRATCH="$(mktemp -d)"
. "$HERE/asktell_once.sh"
trap 'rm -rf "$SCRATCH"' EXIT

vernier_run() {  # sampler trials clients connections
  asktell_once "$BUILD" "$SCRATCH/vernier-$1-$2-$3.db" "$@" |
    sed "s/}\$/, \"group_commit\": ${GROUP_COMMIT:-true}}/"
}

RAW="$OUT/raw.jsonl"
: >"$RAW"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME")," \
       "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command: bench/asktell/run.sh (RUNS=${RUNS:-3} SIZES=\"${SIZES:-1000 10000}\"" \
       "CLIENTS=\"${CLIENTS:-1 8 32}\" SAMPLERS=\"${SAMPLERS:-random tpe}\"" \
       "OPTUNA_RANDOM_TRIALS=${OPTUNA_RANDOM_TRIALS:-1000} OPTUNA_TPE_TRIALS=${OPTUNA_TPE_TRIALS:-300}" \
       "GROUP_COMMIT=${GROUP_COMMIT:-true} CLIENT_THREADS=${CLIENT_THREADS:-2}" \
       "CONNECTIONS=\"${CONNECTIONS:-0}\")"
  echo "optuna: $("$PY" -c 'import optuna; print(optuna.__version__)')"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

for run in $(seq "${RUNS:-3}"); do
  for sampler in ${SAMPLERS:-random tpe}; do
    for size in ${SIZES:-1000 10000}; do
      for clients in ${CLIENTS:-1 8 32}; do
        for connections in ${CONNECTIONS:-0}; do
          [[ "$clients" == 1 && "$connections" != 0 ]] && continue  # The same as 0.
          vernier_run "$sampler" "$size" "$clients" "$connections" | tee -a "$RAW"
        done
      done
    done
    if [[ "$sampler" == tpe ]]; then optuna_trials="${OPTUNA_TPE_TRIALS:-300}"
    else optuna_trials="${OPTUNA_RANDOM_TRIALS:-1000}"; fi
    if [[ "$optuna_trials" -gt 0 ]]; then
      "$PY" "$HERE/optuna_asktell.py" --sampler "$sampler" --trials "$optuna_trials" \
        --db "$SCRATCH/optuna.db" | tee -a "$RAW"
    fi
  done
done
"$PY" "$HERE/report.py" "$RAW" | tee "$OUT/table.md"
