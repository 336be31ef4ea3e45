#!/usr/bin/env bash
# Soak benchmark (not in CI): 2,000 simulated workers (threads of one
# vernier-load process, over 200 gRPC channels on loopback) run trials against a
# real vernier-server on a SQLite file for 30 minutes, while workers die at
# random (60 a minute across the fleet, seeded: each abandons its lease and
# comes back as a new worker) and the server is killed with SIGKILL and
# restarted on the same database and port every 45 s. Then the database is
# read back. Prints calls and errors by RPC and code, p50/p99/max latency per
# RPC, leases lost to churn, retries, restarts and their downtime, and lost /
# duplicated / corrupt writes; exits non-zero on any of those, on an
# unexpected error code, or when the server does not come back.
#
# Usage: bench/load/soak.sh   (env: WORKERS=2000 CHANNELS=200 SOAK_SECONDS=1800
#                               CHURN=60 RESTART_EVERY=45 LEASE=3 STEPS=5 SEED=1
#                               JOBS=2 BUILD=<repo>/build-bench)
# Writes bench/load/results/soak-latest.txt (with the machine's description);
# bench/load/run.sh does the work.
set -euo pipefail

WORKERS="${WORKERS:-2000}" CHANNELS="${CHANNELS:-200}" LOAD_SECONDS="${SOAK_SECONDS:-1800}" \
  RESULT=soak-latest.txt exec "$(dirname "$0")/run.sh" \
  --churn-per-minute "${CHURN:-60}" --restart-every "${RESTART_EVERY:-45}" \
  --lease-seconds "${LEASE:-3}" --seed "${SEED:-1}"
