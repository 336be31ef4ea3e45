#!/usr/bin/env bash
# Quick start, command 2: set up, build, and run every check CI runs.
#
#   build      scripts/setup.sh into build/ with VERNIER_WERROR=ON
#   format     scripts/check-format.sh
#   ctest      every tier of build/ (unit, service, e2e, faults, trainer, fuzz)
#   asan       clang ASan + UBSan, thread-safety analysis as errors: unit and
#              service tiers (scripts/test-preset.sh asan, time-boxed)
#   tsan       clang ThreadSanitizer: the unit tests that run threads (label
#              threads: coordinator, storage, TSan's own checks; time-boxed)
#   tidy       scripts/clang-tidy.sh over the asan build: NOT run by default,
#              ~6.5 CPU-minutes for the 47 non-test sources alone, too slow for
#              CI's 2 cores; VERNIER_TEST_STEPS="asan tidy" runs it.
#
# Every step runs even when an earlier one failed (except that ctest needs the
# build and tidy the asan build); the summary at the end names the failures.
# VERNIER_TEST_STEPS="build ctest" runs only those steps (local use).
# The sanitizer builds are -O0 (a third of -O1's compile time; the tests
# still take about a minute) and the default build -O2 -g1 (see
# CMakeLists.txt): CI's whole run stays under 40 minutes cold on 2 cores.
set -uo pipefail
cd "$(dirname "$0")/.."
steps=${VERNIER_TEST_STEPS:-build format ctest asan tsan}
failed=()
summary=()

want() { [[ " $steps " == *" $1 "* ]]; }
run() {  # run NAME COMMAND...
  local name=$1 start=$SECONDS status=0
  shift
  echo "=== test.sh: $name" >&2
  "$@" || status=$?
  summary+=("$name: $([[ $status == 0 ]] && echo ok || echo "FAILED ($status)") in $((SECONDS - start))s")
  ((status == 0)) || failed+=("$name")
  return "$status"
}

built=1
if want build; then
  VERNIER_WERROR=ON run build scripts/setup.sh || built=0
fi
want format && run format scripts/check-format.sh
if want ctest && ((built)); then
  run ctest ctest --test-dir "${VERNIER_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" \
    --timeout 600
fi
asan_built=0
if want asan; then
  run asan scripts/test-preset.sh asan "${VERNIER_ASAN_LIMIT:-1200}" && asan_built=1
  # The tests may fail while the build is fine: clang-tidy needs the build only.
  [[ -f build-asan/bin/logic_test ]] && asan_built=1
fi
if want tidy; then
  if ((asan_built)); then
    run tidy timeout 900 scripts/clang-tidy.sh build-asan
  else
    summary+=("tidy: not run (no asan build)")
    failed+=(tidy)
  fi
fi
want tsan && run tsan scripts/test-preset.sh tsan "${VERNIER_TSAN_LIMIT:-900}"

echo "=== test.sh: summary (${SECONDS}s)" >&2
printf '  %s\n' "${summary[@]}" >&2
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all steps passed" >&2
