#!/usr/bin/env bash
# Python client vs Optuna 3.1 (SQLite) ask/tell throughput, same run, and the
# trial helper's cost per report. Uses Debian's python3 with python3-grpcio,
# python3-protobuf and python3-optuna (installed here if missing).
#
#   bench/python/run.sh [BUILD_DIR]        RUNS=3 TRIALS=1000 OPTUNA_TRIALS=300 THREADS=1,8
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
pkgs=(python3-grpcio python3-protobuf python3-optuna protobuf-compiler protobuf-compiler-grpc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 python/generate_stubs.py
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
"$BUILD/bin/vernier-server" --db "$work/vernier.db" --listen 127.0.0.1:0 --insecure \
  --port-file "$work/port" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
PYTHONPATH=python /usr/bin/python3 bench/python/asktell.py --address "127.0.0.1:$(cat "$work/port")" \
  --runs "${RUNS:-3}" --trials "${TRIALS:-1000}" --optuna-trials "${OPTUNA_TRIALS:-300}" \
  --threads "${THREADS:-1,8}"
