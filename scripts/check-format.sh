#!/usr/bin/env bash
# Fails when a C++ file is not clang-format clean (style is the tool's job).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "check-format: clang-format not installed; skipping" >&2
  exit 0
fi
# Untracked files too (not ignored ones): a new file is checked before it is added.
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cc' '*.h' 2>/dev/null || true)
((${#files[@]})) || exit 0
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "check-format: run clang-format -i on the files above" >&2
  exit 1
fi
