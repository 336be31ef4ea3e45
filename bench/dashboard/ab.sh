#!/usr/bin/env bash
# A/B of the study page's load time: alternates dashboard_bench.py's page
# loads (--skip-throughput) between two directories of binaries, PAIRS times,
# and prints each median, so that the machine's drift hits both alike.
#
# Usage: bench/dashboard/ab.sh BIN_A BIN_B
#   BIN_A, BIN_B: directories holding vernier, vernier-server, asktell-bench
#   and dashboard-seed (links to one build, with a `vernier` from each version).
#   env: PAIRS=3 RUNS=5 DB_CACHE=/tmp/bench-big.db (seeded once when missing)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
[[ $# -eq 2 ]] || { echo "usage: $0 BIN_A BIN_B" >&2; exit 2; }
out="$(mktemp -d)"
for pair in $(seq "${PAIRS:-3}"); do
  for side in A B; do
    dir="$1"; [[ $side == B ]] && dir="$2"
    /usr/bin/python3 "$ROOT/bench/dashboard/dashboard_bench.py" --bin-dir "$dir" \
      --runs "${RUNS:-5}" --db-cache "${DB_CACHE:-/tmp/bench-big.db}" --skip-throughput \
      --out "$out/$side-$pair" > "$out/$side-$pair.log" 2>&1
    echo "$side $pair $(grep -o 'median [0-9]* ms of \[[0-9, ]*\]' "$out/$side-$pair/latest.md")"
  done
done
