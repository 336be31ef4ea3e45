#!/usr/bin/env bash
# The dashboard's answers alone (not a test): starts vernier-server on a copy
# of a seeded database and a `vernier dashboard` in front of it, then asks
# /api/trials and /api/curves (or PATHS) N times each with curl (gzip, as a
# browser does) and prints the median time and the CPU seconds each process
# spent per answer.
#
# Usage: bench/dashboard/api_cpu.sh DB [STUDY]
#   DB: a database dashboard-seed wrote (run.sh keeps one with DB_CACHE=FILE)
#   env: BIN=<repo>/build/bin N=10 PORT=7711 (and PORT+1)
#        QUERY=&digits=7 (added to each path: the page's own query)
#        PATHS="trials curves" (API paths; "study" is the summary a live page
#        asks for every second)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${BIN:-$ROOT/build/bin}"
DB="${1:?usage: api_cpu.sh DB [STUDY]}"
STUDY="${2:-big}"
N="${N:-10}"
PORT="${PORT:-7711}"
WORK="$(mktemp -d)"
trap 'kill "${DASHBOARD:-}" "${SERVER:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

cp "$DB" "$WORK/study.db"
"$BIN/vernier-server" --db "$WORK/study.db" --listen "127.0.0.1:$PORT" --insecure \
  --unload-resting-after 3600 >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
  grep -q "serving" "$WORK/server.log" 2>/dev/null && break
  sleep 0.2
done
"$BIN/vernier" --server "127.0.0.1:$PORT" dashboard --listen "127.0.0.1:$((PORT + 1))" \
  >"$WORK/dashboard.log" 2>&1 &
DASHBOARD=$!
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ask() {
  curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w "%{time_total}" \
    "http://127.0.0.1:$((PORT + 1))/api/$1"
}
for name in ${PATHS:-trials curves}; do
  path="$name?study=$STUDY${QUERY:-}"
  ask "$path" >/dev/null  # Warm: the first answer loads the study.
  gzipped=$(curl -s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$((PORT + 1))/api/$path" | wc -c)
  server0=$(cpu_ticks "$SERVER")
  dashboard0=$(cpu_ticks "$DASHBOARD")
  times=()
  for _ in $(seq 1 "$N"); do times+=("$(ask "$path")"); done
  server1=$(cpu_ticks "$SERVER")
  dashboard1=$(cpu_ticks "$DASHBOARD")
  hz=$(getconf CLK_TCK)
  median=$(printf "%s\n" "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  awk -v p="/api/$path" -v m="$median" -v all="${times[*]}" -v s=$((server1 - server0)) \
    -v d=$((dashboard1 - dashboard0)) -v n="$N" -v hz="$hz" -v z="$gzipped" 'BEGIN {
      printf "%s: %.1f MB gzipped, median %.3f s of [%s]; CPU-s per answer: vernier-server %.3f, dashboard %.3f\n",
             p, z / 1e6, m, all, s / hz / n, d / hz / n }'
done
