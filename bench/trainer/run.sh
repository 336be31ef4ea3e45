#!/usr/bin/env bash
# Training speed of the built-in trainer: the default CNN on Fashion-MNIST,
# trained by vernier-train (libtorch, C++) and by the same model and loop in
# Debian's PyTorch for Python (python3-torch 1.13.1, the same version as
# Debian's libtorch), at batch sizes 32, 64 and 256 with the same thread
# count. Reports training images per second, the median over RUNS runs of
# the median of the epochs after the first (the first epoch warms up).
#
# Usage: bench/trainer/run.sh
#   env: RUNS=3 IMAGES=24000 EPOCHS=3 THREADS=1 BATCHES="32 64 256"
#        DEVICE=cpu|cuda  CONCURRENT=1 (trials run at once; 4 or 8 packs them
#        on one GPU: the figure is then their summed throughput)
#        BUILD=<dir holding bin/vernier-train> (default <repo>/build)
#        DATA_DIR=/usr/share/datasets/fashion-mnist
#        PY_ARGS=--dense-as-conv (Python computes the dense layers as vernier-train does)
# Writes bench/trainer/results/<device>-t<threads>-c<concurrent>.md (a table).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/trainer"
BUILD="${BUILD:-$ROOT/build}"
RUNS="${RUNS:-3}"
IMAGES="${IMAGES:-24000}"
EPOCHS="${EPOCHS:-3}"
THREADS="${THREADS:-1}"
BATCHES="${BATCHES:-32 64 256}"
DEVICE="${DEVICE:-cpu}"
CONCURRENT="${CONCURRENT:-1}"
DATA_DIR="${DATA_DIR:-/usr/share/datasets/fashion-mnist}"
PYTHON="${PYTHON:-/usr/bin/python3}"
TRAIN="$BUILD/bin/vernier-train"
OUT="$HERE/results"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends python3-torch
fi
[ -x "$TRAIN" ] || { echo "no $TRAIN: build it (cmake --build $BUILD --target vernier-train)" >&2; exit 1; }
mkdir -p "$OUT"

# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# One vernier-train run; prints its images/s (median over epochs 2..E).
vernier_once() {
  local batch=$1 tag=$2
  # val_fraction: 60 validation images, so the epoch time is training time.
  printf '{"data_dir": "%s", "train_subset": %d, "val_fraction": 0.0025, "epochs": %d, "batch_size": %d, "num_threads": %d, "seed": 1}\n' \
    "$DATA_DIR" "$IMAGES" "$EPOCHS" "$batch" "$THREADS" >"$WORK/p$tag.json"
  VERNIER_DEVICE="$DEVICE" "$TRAIN" --params "$WORK/p$tag.json" >/dev/null 2>"$WORK/log$tag"
  grep -o '([0-9.]* s)' "$WORK/log$tag" | tr -d '(s )' | tail -n +2 |
    awk -v n="$IMAGES" '{print n / $1}' | median
}

python_once() {
  local batch=$1
  "$PYTHON" "$HERE/cnn_bench.py" --data-dir "$DATA_DIR" --images "$IMAGES" --epochs "$EPOCHS" \
    --batch-size "$batch" --threads "$THREADS" --device "$DEVICE" ${PY_ARGS:-} |
    awk '{print $6}' | tail -n +2 | median
}

# CONCURRENT copies of one measurement at once; prints their summed images/s.
packed() {
  local fn=$1 batch=$2
  for ((i = 0; i < CONCURRENT; ++i)); do "$fn" "$batch" "$i" >"$WORK/r$i" & done
  wait
  cat "$WORK"/r* | awk '{s += $1} END {print s}'
  rm -f "$WORK"/r*
}

TABLE="$OUT/$DEVICE-t$THREADS-c$CONCURRENT.md"
{
  echo "images/s (training), default CNN, $IMAGES images, device $DEVICE, $THREADS thread(s),"
  echo "$CONCURRENT trial(s) at once, median of $RUNS runs x epochs 2..$EPOCHS; $(date -u +%F)"
  echo
  echo "| batch | vernier-train (C++) | PyTorch (Python) | C++ / Python |"
  echo "|---|---|---|---|"
} >"$TABLE"
for batch in $BATCHES; do
  cpp=(); py=()
  for ((run = 0; run < RUNS; ++run)); do
    cpp+=("$(packed vernier_once "$batch")")
    py+=("$(packed python_once "$batch")")
    echo "batch $batch run $run: vernier ${cpp[-1]}  python ${py[-1]}" >&2
  done
  c=$(printf '%s\n' "${cpp[@]}" | median)
  p=$(printf '%s\n' "${py[@]}" | median)
  printf '| %s | %.0f | %.0f | %.2fx |\n' "$batch" "$c" "$p" "$(echo "$c $p" | awk '{print $1 / $2}')" >>"$TABLE"
done
cat "$TABLE"
