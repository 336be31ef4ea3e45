#!/usr/bin/env bash
# Sampler quality benchmark: Vernier's samplers (through the pure logic, no
# server) next to Optuna 3.1's random, TPE and CMA-ES on Branin, Hartmann-6,
# Rosenbrock-10D, Styblinski-Tang-5D and a mixed space; budgets 50 and 100.
#
# Usage: bench/samplers/run.sh   (env: SEEDS=20 JOBS=1 BUILD=<repo>/build-bench
#                                 OPTUNA=1; OPTUNA=0 keeps results/optuna.csv)
# Writes bench/samplers/results/{vernier,optuna}.csv and table.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/samplers"
BUILD="${BUILD:-$ROOT/build-bench}"
SEEDS="${SEEDS:-20}"
JOBS="${JOBS:-1}"
OPTUNA="${OPTUNA:-1}"
OUT="$HERE/results"
# Debian's Optuna, run by Debian's interpreter (not a pyenv or venv python).
PYTHON=/usr/bin/python3

if ! "$PYTHON" -c 'import optuna, cmaes' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends python3-optuna python3-cmaes
fi
"$PYTHON" -c 'import optuna; assert optuna.__version__.startswith("3.1"), optuna.__version__'

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DVERNIER_BUILD_TRAINER=OFF >/dev/null
ninja -C "$BUILD" -j"$JOBS" sampler_bench

mkdir -p "$OUT"
echo "vernier: $SEEDS seeds" >&2
time "$BUILD/bin/sampler_bench" --seeds "$SEEDS" --budgets 50,100 >"$OUT/vernier.csv"
if [ "$OPTUNA" != 0 ]; then
  echo "optuna: $SEEDS seeds" >&2
  time "$PYTHON" "$HERE/optuna_bench.py" --seeds "$SEEDS" --budgets 50,100 --jobs "$JOBS" \
    >"$OUT/optuna.csv"
fi
"$PYTHON" "$HERE/report.py" "$OUT/vernier.csv" "$OUT/optuna.csv" | tee "$OUT/table.md"
