#!/usr/bin/env bash
# Multi-objective benchmark: Vernier's nsga2 next to Optuna 3.1's
# NSGAIISampler (and both random samplers) on ZDT1 and ZDT2, hypervolume of
# all trials w.r.t. (1.1, 11); larger is better.
#
# Usage: bench/samplers/run_mo.sh   (env: SEEDS=20 BUDGET=1000 DIMS=30 JOBS=1
#                                    BUILD=<repo>/build-bench)
# Writes bench/samplers/results/mo_{vernier,optuna}.csv and mo_table.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/samplers"
BUILD="${BUILD:-$ROOT/build-bench}"
SEEDS="${SEEDS:-20}"
BUDGET="${BUDGET:-1000}"
DIMS="${DIMS:-30}"
JOBS="${JOBS:-1}"
OUT="$HERE/results"
PYTHON=/usr/bin/python3

if ! "$PYTHON" -c 'import optuna' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends python3-optuna
fi
"$PYTHON" -c 'import optuna; assert optuna.__version__.startswith("3.1"), optuna.__version__'

if [ ! -x "$BUILD/bin/mo_bench" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DVERNIER_BUILD_TRAINER=OFF >/dev/null
  ninja -C "$BUILD" -j"$JOBS" mo_bench
fi

mkdir -p "$OUT"
time "$BUILD/bin/mo_bench" --seeds "$SEEDS" --budget "$BUDGET" --dims "$DIMS" >"$OUT/mo_vernier.csv"
time "$PYTHON" "$HERE/mo_optuna_bench.py" --seeds "$SEEDS" --budget "$BUDGET" --dims "$DIMS" \
  --jobs "$JOBS" >"$OUT/mo_optuna.csv"
"$PYTHON" - "$OUT/mo_vernier.csv" "$OUT/mo_optuna.csv" <<'PY' | tee "$OUT/mo_table.md"
import csv, statistics, sys
rows = [r for path in sys.argv[1:] for r in csv.DictReader(open(path))]
groups = {}
for r in rows:
    groups.setdefault((r["function"], r["impl"], r["sampler"]), []).append(float(r["hypervolume"]))
print("| function | sampler | seeds | mean HV | median HV | min HV |")
print("|---|---|---|---|---|---|")
for (function, impl, sampler), hv in sorted(groups.items()):
    print(f"| {function} | {impl} {sampler} | {len(hv)} | {statistics.mean(hv):.3f} | "
          f"{statistics.median(hv):.3f} | {min(hv):.3f} |")
PY
