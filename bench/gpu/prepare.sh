#!/usr/bin/env bash
# Packs what a GPU machine without apt needs to run the GPU benchmarks into
# .devrun/ (ignored by git): the trainer's sources at HEAD, the server, worker
# and CLI built here (stripped) with their Debian shared libraries, Abseil's and
# nlohmann-json's headers and CMake files (vernier-train is built there against
# that machine's PyTorch), and the Fashion-MNIST files. Then, on the GPU
# machine, from the repository root:
#   bash .devrun/device.sh bench asha     # epoch times, packing, ASHA study
#   bash .devrun/device.sh curves         # learning curves for bench/pruners
#   BASE_REV=<rev> bench/gpu/prepare.sh, then
#   bash .devrun/device.sh warm asha packed curves_extra   # this session's run
# Results go to $OUT (summary.txt, study logs, exported CSVs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${BUILD:-$ROOT/build}/bin"
D="$ROOT/.devrun"
rm -rf "$D" && mkdir -p "$D"/{data,src} "$D"/stage/{bin,lib}
S="$D/stage/sysroot/usr"
mkdir -p "$S/include" "$S/lib/x86_64-linux-gnu/cmake" "$S/share/cmake"
git -C "$ROOT" archive HEAD | tar -x -C "$D/src"
# BASE_REV=<rev>: also the sources at that revision, built there as
# vernier-train-base for a same-machine comparison.
if [ -n "${BASE_REV:-}" ]; then
  mkdir -p "$D/src-base" && git -C "$ROOT" archive "$BASE_REV" | tar -x -C "$D/src-base"
fi
for b in vernier-server vernier-worker vernier; do strip -o "$D/stage/bin/$b" "$BIN/$b"; done
# Shared libraries of the three programs, less the C and C++ runtimes (newer there).
for b in vernier-server vernier-worker vernier; do ldd "$BIN/$b"; done | awk '{print $3}' |
  grep -v -E '^$|libc\.so|libm\.so|libgcc_s|libstdc\+\+' | sort -u |
  while read -r lib; do cp -L "$lib" "$D/stage/lib/"; done
cp -r /usr/include/absl /usr/include/nlohmann /usr/include/zlib.h /usr/include/zconf.h "$S/include/"
cp -r /usr/lib/x86_64-linux-gnu/cmake/absl "$S/lib/x86_64-linux-gnu/cmake/"
cp -a /usr/lib/x86_64-linux-gnu/libabsl_*.so* "$S/lib/x86_64-linux-gnu/"
cp -r /usr/share/cmake/nlohmann_json "$S/share/cmake/"
(cd "$D" && tar -cJf stage.tar.xz stage && rm -rf stage)
cp /usr/share/datasets/fashion-mnist/*.gz "$D/data/"
cp "$ROOT"/bench/gpu/{device.sh,cnn_eager.py,epoch_times.py,curves.yaml,curves_extra.yaml,asha.yaml} "$D/"
grep -qx '/.devrun/' "$ROOT/.git/info/exclude" || echo '/.devrun/' >>"$ROOT/.git/info/exclude"
du -sh "$D"
