#!/usr/bin/env bash
# Quick start, command 2: set up, build, and run every test (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/check-format.sh
cd "${VERNIER_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" --timeout 600
