#!/usr/bin/env bash
# Dashboard benchmark (not a test): a 100,000-trial study with 100 steps each
# served by vernier-server; time until headless Chromium has drawn its study
# page (median of 3, goal < 2 s), the `vernier dashboard` process's memory,
# and ask/tell throughput with 10 dashboard pages open vs none (goal >= 95 %).
# dashboard_bench.py says how each is measured.
#
# Usage: bench/dashboard/run.sh [--profile] [--skip-throughput]
#   env: TRIALS=100000 STEPS=100 RUNS=3 PAGES=10 DASHBOARDS=10
#        ASKTELL_TRIALS=100000 ASKTELL_CLIENTS=8 JOBS=2 BUILD=<repo>/build-bench
#        DB_CACHE=<file> (reuse the seeded database between runs)
# Needs Debian's chromium, chromium-driver and python3-selenium (installed
# here when missing), and node_modules in client/dashboard/web (npm ci).
# Writes bench/dashboard/results/{latest.md,raw.json}.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/dashboard"
BUILD="${BUILD:-$ROOT/build-bench}"
PY=/usr/bin/python3   # Debian's Python, where python3-selenium lives.

# Setup (the benchmark's, never the product's).
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]] || ! "$PY" -c 'import selenium' 2>/dev/null; then
  apt-get update && apt-get install -y chromium chromium-driver python3-selenium
fi
if [[ ! -d "$ROOT/client/dashboard/web/node_modules/echarts" ]]; then
  (cd "$ROOT/client/dashboard/web" && npm ci)
fi
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then  # An existing build keeps its settings.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVERNIER_BUILD_TRAINER=OFF >/dev/null
fi
ninja -C "$BUILD" -j"${JOBS:-2}" vernier-server vernier asktell-bench dashboard-seed

args=(--bin-dir "$BUILD/bin" --trials "${TRIALS:-100000}" --steps "${STEPS:-100}"
      --runs "${RUNS:-3}" --pages "${PAGES:-10}" --dashboards "${DASHBOARDS:-10}"
      --asktell-trials "${ASKTELL_TRIALS:-100000}" --asktell-clients "${ASKTELL_CLIENTS:-8}"
      --out "$HERE/results")
[[ -n "${DB_CACHE:-}" ]] && args+=(--db-cache "$DB_CACHE")
"$PY" "$HERE/dashboard_bench.py" "${args[@]}" "$@"
