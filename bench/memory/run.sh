#!/usr/bin/env bash
# Server memory and start-up benchmark (not a test): vernier-server on a
# database holding one finished study of N trials with STEPS intermediate
# values each, for N in SIZES. For each size, RUNS starts of the server in
# each mode: `keep` (--keep-curves-in-memory: every curve in memory, as before
# studies rested), `rest` (the study's trials in memory with their last
# measurement only; it is never unloaded here) and `unloaded` (the default
# once a server has unloaded the study: its stored summary is read instead
# of its trials; one priming start with --unload-resting-after 0 stores it).
# Measured: the time from exec to serving (its port file written, every study
# loaded) and its RSS then (VmRSS; VmHWM, the peak, too). Medians.
#
# Usage: bench/memory/run.sh
#   env: SIZES="10000 100000 1000000" STEPS=20 RUNS=3 BUILD=<repo>/build
#        DB_DIR=<dir for the seeded databases, kept between runs>
# Writes bench/memory/results/latest.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
SIZES="${SIZES:-10000 100000 1000000}"
STEPS="${STEPS:-20}"
RUNS="${RUNS:-3}"
DB_DIR="${DB_DIR:-/tmp/vernier-memory-bench}"
OUT="$ROOT/bench/memory/results"
mkdir -p "$DB_DIR" "$OUT"
ninja -C "$BUILD" vernier-server dashboard-seed >/dev/null

# Prints "<seconds to serve> <VmRSS kB> <VmHWM kB>" for one start of the
# server on database $1, with extra flags $2...
measure() {
  local db=$1 work
  shift
  work=$(mktemp -d)
  local start end pid
  start=$(date +%s.%N)
  "$BUILD/bin/vernier-server" --db "$db" --listen 127.0.0.1:0 --insecure \
    --port-file "$work/port" "$@" >"$work/log" 2>&1 &
  pid=$!
  while [[ ! -s "$work/port" ]]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.01
  done
  end=$(date +%s.%N)
  local rss hwm
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  rm -rf "$work"
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}') $rss $hwm"
}

# Starts the server on database $1 until it has stored the study's resting
# summary, then stops it. (The server holds the database exclusively: it is
# read once the server is gone.)
prime_unloaded() {
  local db=$1 work pid
  for _ in 1 2 3 4 5; do
    work=$(mktemp -d)
    "$BUILD/bin/vernier-server" --db "$db" --listen 127.0.0.1:0 --insecure \
      --port-file "$work/port" --unload-resting-after 0 >"$work/log" 2>&1 &
    pid=$!
    while [[ ! -s "$work/port" ]]; do
      kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
      sleep 0.1
    done
    sleep 3  # Studies rest and unload once a second.
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$work"
    /usr/bin/python3 - "$db" <<'PY' && return 0
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT count(*) FROM studies WHERE resting_summary IS NULL").fetchone()
sys.exit(0 if rows[0] == 0 else 1)
PY
  done
  echo "the server did not unload the study of $db" >&2
  exit 1
}

# Removes the study's stored resting summary (the server is not running).
clear_summary() {
  /usr/bin/python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE studies SET resting_summary = NULL")
db.commit()
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

{
  echo "# vernier-server memory and start-up ($(date -u +%F), $(nproc) cores)"
  echo
  echo "One finished study of N trials x $STEPS steps; medians of $RUNS starts."
  echo
  echo "| trials | mode | start-up s | RSS MiB | peak RSS MiB |"
  echo "|---:|---|---:|---:|---:|"
} >"$OUT/latest.md"
for n in $SIZES; do
  db="$DB_DIR/study-$n-$STEPS.db"
  if [[ ! -f "$db" ]]; then
    "$BUILD/bin/dashboard-seed" --db "$db" --trials "$n" --steps "$STEPS" >/dev/null
  fi
  # rest and keep load the trials (no stored summary; rest never unloads
  # them here); unloaded needs the summary stored again.
  clear_summary "$db"
  for mode in rest keep unloaded; do
    flags=()
    [[ $mode == keep ]] && flags=(--keep-curves-in-memory)
    [[ $mode == rest ]] && flags=(--unload-resting-after 1000000)
    [[ $mode == unloaded ]] && prime_unloaded "$db"
    : >"$DB_DIR/runs"
    for _ in $(seq "$RUNS"); do measure "$db" "${flags[@]}" >>"$DB_DIR/runs"; done
    secs=$(cut -d' ' -f1 "$DB_DIR/runs" | median)
    rss=$(cut -d' ' -f2 "$DB_DIR/runs" | median)
    hwm=$(cut -d' ' -f3 "$DB_DIR/runs" | median)
    printf '| %s | %s | %.2f | %d | %d |\n' "$n" "$mode" "$secs" $((rss / 1024)) $((hwm / 1024)) \
      | tee -a "$OUT/latest.md"
  done
done
