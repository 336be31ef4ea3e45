#!/usr/bin/env bash
# Pruner replay benchmark: recorded Fashion-MNIST learning curves replayed
# through Vernier's real coordinator (pruner_bench: none, median, percentile,
# asha, hyperband) and through Optuna 3.1's pruners (optuna_replay.py: median,
# successive halving, hyperband), same configurations, same orders per seed,
# same simulated worker pools.
#
# Usage: bench/pruners/run.sh
#   env: TRIALS=bench/data/fashion_mnist_trials.csv CURVES=bench/data/fashion_mnist_curves.csv
#        SEEDS=50 WORKERS=4,8 STEP_TIME=unit|recorded JOBS=1 BUILD=<repo>/build-bench-pruners
# Writes bench/pruners/results/{vernier,optuna}.csv and table.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/pruners"
BUILD="${BUILD:-$ROOT/build-bench-pruners}"
TRIALS="${TRIALS:-$ROOT/bench/data/fashion_mnist_trials.csv}"
CURVES="${CURVES:-$ROOT/bench/data/fashion_mnist_curves.csv}"
SEEDS="${SEEDS:-50}"
WORKERS="${WORKERS:-4,8}"
STEP_TIME="${STEP_TIME:-unit}"
JOBS="${JOBS:-1}"
OUT="${OUT:-$HERE/results}"
# Debian's Optuna, run by Debian's interpreter (not a pyenv or venv python).
PYTHON=/usr/bin/python3

if ! "$PYTHON" -c 'import optuna' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends python3-optuna
fi
"$PYTHON" -c 'import optuna; assert optuna.__version__.startswith("3.1"), optuna.__version__'

cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
ninja -C "$BUILD" -j"$JOBS" pruner_bench

mkdir -p "$OUT"
ARGS=(--trials "$TRIALS" --curves "$CURVES" --seeds "$SEEDS" --workers "$WORKERS"
      --step-time "$STEP_TIME")
echo "vernier: $SEEDS seeds, workers $WORKERS" >&2
time "$BUILD/bin/pruner_bench" "${ARGS[@]}" >"$OUT/vernier.csv"
echo "optuna: $SEEDS seeds, workers $WORKERS" >&2
time "$PYTHON" "$HERE/optuna_replay.py" "${ARGS[@]}" >"$OUT/optuna.csv"
"$PYTHON" "$HERE/report.py" "$OUT/vernier.csv" "$OUT/optuna.csv" | tee "$OUT/table.md"
