#!/usr/bin/env bash
# One time-boxed tier of CMakePresets.json: configure the preset, build its
# targets, run its tests. Fails with status 124 and says so when the whole
# tier takes longer than LIMIT seconds, instead of hanging CI.
#
#   scripts/test-preset.sh PRESET [LIMIT]     e.g. scripts/test-preset.sh asan 1200
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/test-preset.sh PRESET [LIMIT_SECONDS]}
limit=${2:-1800}
jobs=$(nproc)

step() {  # step NAME COMMAND...: runs COMMAND within what is left of the limit
  local name=$1 left=$((limit - SECONDS)) status=124
  shift
  if ((left > 0)); then
    status=0
    timeout --kill-after=30 "$left" "$@" || status=$?
  fi
  if ((status == 124 || status == 137)); then
    echo "tier $preset: over its ${limit}s limit during $name" >&2
    exit 124
  elif ((status != 0)); then
    echo "tier $preset: $name failed (status $status)" >&2
    exit "$status"
  fi
}

step configure cmake --preset "$preset" --log-level=WARNING
step build cmake --build --preset "$preset" -j "$jobs"
step test ctest --preset "$preset" -j "$jobs"
echo "tier $preset: passed in ${SECONDS}s (limit ${limit}s)"
