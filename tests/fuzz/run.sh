#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each one
# briefly from its committed seed corpus, after replaying every committed
# regression input. Exit status 0 when nothing crashed.
#
#   tests/fuzz/run.sh [BUILD_DIR] [RUNS]
#     BUILD_DIR  default build-fuzz (relative to the repository root)
#     RUNS       inputs per target after the seeds, default 20000
# Needs Debian's clang and libclang-rt-14-dev (libclang_rt.fuzzer);
# scripts/setup.sh installs both.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${1:-$ROOT/build-fuzz}
RUNS=${2:-20000}
FUZZ_DIR=$ROOT/tests/fuzz

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S "$FUZZ_DIR" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE= \
    -DCMAKE_CXX_COMPILER="${VERNIER_FUZZ_CXX:-clang++}" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "${VERNIER_FUZZ_JOBS:-2}" --target study_spec_fuzz trial_protocol_fuzz

# Leaks in a parser would be bugs too, but the Debian yaml-cpp is not
# instrumented; keep LeakSanitizer on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
for target in study_spec_fuzz trial_protocol_fuzz; do
  name=${target%_fuzz}
  regressions=$FUZZ_DIR/regressions/$name
  if compgen -G "$regressions/*" >/dev/null; then
    echo "fuzz: $target: replaying $(ls "$regressions" | wc -l) regression input(s)"
    "$BUILD_DIR/$target" "$regressions"/* 2>"$BUILD_DIR/$target.replay.log" ||
      { cat "$BUILD_DIR/$target.replay.log" >&2; exit 1; }
  fi
  # Work on a copy: the committed corpus stays as it is; new inputs and any
  # crash file land in the build directory.
  work=$BUILD_DIR/corpus-$name
  rm -rf "$work" && mkdir -p "$work" && cp "$FUZZ_DIR/corpus/$name"/* "$work"/
  echo "fuzz: $target: $RUNS runs from $(ls "$FUZZ_DIR/corpus/$name" | wc -l) seed(s)"
  "$BUILD_DIR/$target" -runs="$RUNS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD_DIR/$target-" -print_final_stats=1 "$work" \
    2>"$BUILD_DIR/$target.log" ||
    { tail -n 60 "$BUILD_DIR/$target.log" >&2; echo "fuzz: $target FAILED; input in $BUILD_DIR/$target-*" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD_DIR/$target.log" | sed "s/^/fuzz: $target: /"
done
echo "fuzz: all targets passed"
