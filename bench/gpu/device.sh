#!/usr/bin/env bash
# One device session: build vernier-train against this machine's PyTorch, then
#   phase bench: seconds per epoch (1 trial) and packed throughput (4, 8) next to PyTorch eager,
#                then a 100-trial ASHA study with 8 trials per GPU (wall time);
#   phase curves: 100 configurations x 8 epochs, no pruning, exported as CSV.
# Made by bench/gpu/prepare.sh; env STUDY_TIMEOUT (seconds) stops a study and
# exports what finished, RESUME=1 continues the last study of that phase.
set -uo pipefail
PHASES="$*"
R=$PWD/.devrun; W=/tmp/w; D=$R/data
mkdir -p $W && cd $W
[ -d stage ] || tar -xJf $R/stage.tar.xz
export LD_LIBRARY_PATH=$W/stage/lib:$W/stage/sysroot/usr/lib/x86_64-linux-gnu
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
log() { echo "== $(date +%T) $*" | tee -a $OUT/summary.txt; }
if [ ! -x stage/bin/vernier-train ]; then
  nvidia-smi -L; python3 -c 'import torch;print(torch.__version__, torch.cuda.get_device_name(0))'
  TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  SYS=$W/stage/sysroot/usr; ln -sf $W/stage/lib/libz.so.1 $SYS/lib/x86_64-linux-gnu/libz.so
  log configure
  cmake -S $R/src -B b -G Ninja -DCMAKE_BUILD_TYPE=Release -DVERNIER_BUILD_SERVICES=OFF \
    -DVERNIER_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$TP;$SYS" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DZLIB_INCLUDE_DIR=$SYS/include -DZLIB_LIBRARY=$SYS/lib/x86_64-linux-gnu/libz.so >$OUT/cmake.log 2>&1 \
    || { tail -40 $OUT/cmake.log; exit 3; }
  log build
  cmake --build b -j16 --target vernier-train >$OUT/build.log 2>&1 || { grep -m20 -A5 error $OUT/build.log; tail -20 $OUT/build.log; exit 4; }
  cp b/bin/vernier-train stage/bin/ && log built
fi
T=stage/bin/vernier-train
for b in 64 128; do
  echo "{\"epochs\":4,\"batch_size\":$b,\"optimizer\":\"adam\",\"lr\":0.001,\"data_dir\":\"$D\"}" > p$b.json
done
run_study() {  # $1 = yaml name
  sed "s#DATA_DIR#$D#" $R/$1.yaml > $1.yaml
  rm -rf vd-$1; local t0=$(date +%s.%N)
  timeout -s INT ${STUDY_TIMEOUT:-100000} stage/bin/vernier run $1.yaml --workers 1 ${GPU_FLAGS:---gpus 0 --trials-per-gpu $2} --threads 1 --data-dir vd-$1 \
    > $OUT/$1-run.log 2>&1; echo "rc=$?" >> $OUT/$1-run.log
  log "$1 study wall seconds $(python3 -c "print(round($(date +%s.%N) - $t0, 1))")"
  tail -5 $OUT/$1-run.log | tee -a $OUT/summary.txt
  stage/bin/vernier-server --db vd-$1/vernier.db --listen 127.0.0.1:50999 > /dev/null 2>&1 & local pid=$!
  sleep 2
  stage/bin/vernier --server 127.0.0.1:50999 study export fmnist-$1 --format csv -o $OUT/$1-trials.csv --intermediate $OUT/$1-curves.csv
  stage/bin/vernier --server 127.0.0.1:50999 trials fmnist-$1 > $OUT/$1-trials.txt
  kill $pid; wait $pid
  log "$1 exported: $(wc -l < $OUT/$1-trials.csv) trial rows, $(wc -l < $OUT/$1-curves.csv) curve rows"
}
for phase in $PHASES; do
  case $phase in
  bench)
    for b in 64 128; do
      python3 $R/epoch_times.py 1 "vernier-train b$b" env VERNIER_DEVICE=cuda $T --params p$b.json | tee -a $OUT/summary.txt
      python3 $R/epoch_times.py 1 "pytorch-eager b$b" python3 $R/cnn_eager.py --data $D --batch $b --epochs 4 | tee -a $OUT/summary.txt
    done
    for n in 4 8; do
      python3 $R/epoch_times.py $n "vernier-train b128" env VERNIER_DEVICE=cuda $T --params p128.json | tee -a $OUT/summary.txt
      python3 $R/epoch_times.py $n "pytorch-eager b128" python3 $R/cnn_eager.py --data $D --batch 128 --epochs 4 | tee -a $OUT/summary.txt
    done ;;
  asha) run_study asha 8 ;;
  curves) run_study curves 12 ;;
  esac
done
log done
