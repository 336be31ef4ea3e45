#!/usr/bin/env bash
# fANOVA importance: `vernier importance` next to Optuna 3.1's
# FanovaImportanceEvaluator on identical trials. Optuna's RandomSampler runs
# each study into an Optuna SQLite file; `vernier import-optuna` replays it into
# a fresh vernier-server; compare.py reads both tools' importances and reports
# their rank agreement.
#
# Usage: bench/importance/run.sh
#   env: JOBS=2 BUILD=<repo>/build-bench OUT=<repo>/bench/importance/results
#        LARGE=1 adds a study of 1000 trials (Optuna: minutes per evaluation)
# Writes $OUT/{raw.json,table.md,machine.txt}.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/importance"
BUILD="${BUILD:-$ROOT/build-bench}"
OUT="${OUT:-$HERE/results}"
PY=/usr/bin/python3  # Debian's Python, where python3-optuna lives.

# Setup (the benchmark's, never the product's): Optuna and scikit-learn (the
# random forest of Optuna's evaluator) from Debian.
if ! "$PY" -c 'import optuna, sklearn' 2>/dev/null; then
  apt-get update && apt-get install -y --no-install-recommends python3-optuna python3-sklearn
fi
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then  # An existing build keeps its settings.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVERNIER_BUILD_TRAINER=OFF >/dev/null
fi
ninja -C "$BUILD" -j"${JOBS:-2}" vernier vernier-server

SCRATCH="$(mktemp -d)"
server_pid=""
cleanup() {
  [[ -z "$server_pid" ]] || { kill "$server_pid" && wait "$server_pid"; } 2>/dev/null || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
"$BUILD/bin/vernier-server" --db "$SCRATCH/vernier.db" --listen 127.0.0.1:0 --insecure \
  --port-file "$SCRATCH/port" >"$SCRATCH/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [[ -s "$SCRATCH/port" ]] && break; sleep 0.1; done
[[ -s "$SCRATCH/port" ]] || { cat "$SCRATCH/server.log" >&2; exit 1; }

mkdir -p "$OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(. /etc/os-release && echo "$PRETTY_NAME"), load average before:" \
       "$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command: bench/importance/run.sh${LARGE:+ (LARGE=$LARGE)}"
  echo "optuna: $("$PY" -c 'import optuna; print(optuna.__version__)')," \
       "scikit-learn: $("$PY" -c 'import sklearn; print(sklearn.__version__)')"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"
"$PY" "$HERE/compare.py" --vernier "$BUILD/bin/vernier" \
  --server "127.0.0.1:$(cat "$SCRATCH/port")" --scratch "$SCRATCH" --out "$OUT" \
  ${LARGE:+--large}
