#!/usr/bin/env bash
# Runs clang-tidy with the repository's .clang-tidy (a short list of bug and
# performance checks) over every source of a clang build's compile database.
#
#   scripts/clang-tidy.sh [BUILD_DIR] [FILE_REGEX]
#     BUILD_DIR   a configured and built clang build (the generated proto
#                 headers must exist), default build-asan (cmake --preset asan)
#     FILE_REGEX  which sources, default all of ours (not generated code)
# Exit status 0 when clang-tidy finds nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$ROOT/build-asan}
REGEX=${2:-"^$ROOT/(bench|client|common|server|tests|trainer|worker)/.*\\.cc\$"}
if [[ ! -f "$BUILD_DIR/compile_commands.json" ]]; then
  echo "clang-tidy: no $BUILD_DIR/compile_commands.json (configure and build a clang preset first)" >&2
  exit 2
fi
RUN=$(command -v run-clang-tidy-14 || command -v run-clang-tidy)
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy)
log=$BUILD_DIR/clang-tidy.log
# -quiet: only findings; the header filter and the checks come from .clang-tidy.
if ! "$RUN" -clang-tidy-binary "$TIDY" -p "$BUILD_DIR" -j "${VERNIER_TIDY_JOBS:-$(nproc)}" -quiet \
  "$REGEX" >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" | sort -u >&2 || tail -n 40 "$log" >&2
  echo "clang-tidy: findings above (full log: $log)" >&2
  exit 1
fi
echo "clang-tidy: clean ($(grep -c '"file"' "$BUILD_DIR/compile_commands.json") sources in the database)"
