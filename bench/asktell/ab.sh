#!/usr/bin/env bash
# Two builds of Vernier side by side: asktell-bench against each one's own
# vernier-server, alternating A and B in every round so that both see the same
# machine. For refactors that must not cost speed. Prints one line per run and
# then the medians of trials/s and p50 per build, sampler and client count.
#
#   bench/asktell/ab.sh BUILD_A BUILD_B [ROUNDS]
#   env: SAMPLERS="random tpe" CLIENTS="1 32" TRIALS=1000
#
# Each BUILD needs bin/vernier-server and bin/asktell-bench, e.g. for an older
# commit: git worktree add /tmp/base COMMIT && cmake -S /tmp/base -B
# /tmp/base/build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
# -DVERNIER_BUILD_TRAINER=OFF && ninja -C /tmp/base/build-bench asktell-bench vernier-server
set -euo pipefail
a=${1:?usage: ab.sh BUILD_A BUILD_B [ROUNDS]}
b=${2:?usage: ab.sh BUILD_A BUILD_B [ROUNDS]}
rounds=${3:-5}
scratch=$(mktemp -d)
. "$(dirname "$0")/asktell_once.sh"
trap 'rm -rf "$scratch"' EXIT

run() {  # run LABEL BUILD SAMPLER CLIENTS: one line "LABEL SAMPLER CLIENTS trials/s p50_ms errors lost"
  asktell_once "$2" "$scratch/$1.db" "$3" "${TRIALS:-1000}" "$4" 0 |
    python3 -c "import json, sys; d = json.load(sys.stdin); \
print('$1 $3 $4', round(d['trials_per_s'], 1), round(d['p50_ms'], 3), d['errors'], d['lost'])"
}

echo "# label sampler clients trials/s p50_ms errors lost"
for _ in $(seq "$rounds"); do
  for sampler in ${SAMPLERS:-random tpe}; do
    for clients in ${CLIENTS:-1 32}; do
      run A "$a" "$sampler" "$clients"
      run B "$b" "$sampler" "$clients"
    done
  done
done | tee "$scratch/runs.txt"
python3 - "$scratch/runs.txt" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("#"):
        continue
    label, sampler, clients, rate, p50, _, _ = line.split()
    runs[(sampler, int(clients), label)].append((float(rate), float(p50)))
print("| sampler | clients | A trials/s | B trials/s | B/A | A p50 ms | B p50 ms |")
print("|---|---|---|---|---|---|---|")
for sampler, clients in sorted({(s, c) for s, c, _ in runs}):
    a = runs[(sampler, clients, "A")]
    b = runs[(sampler, clients, "B")]
    ra, rb = statistics.median(r for r, _ in a), statistics.median(r for r, _ in b)
    pa, pb = statistics.median(p for _, p in a), statistics.median(p for _, p in b)
    print(f"| {sampler} | {clients} | {ra:.1f} | {rb:.1f} | {rb / ra:.2f}x | {pa:.2f} | {pb:.2f} |")
PY
