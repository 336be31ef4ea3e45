#!/usr/bin/env bash
# One device session: build vernier-train against this machine's PyTorch (and,
# when prepare.sh packed BASE_REV, the same program at that revision as
# vernier-train-base), then the phases named on the command line:
#   bench:  seconds per epoch (1 trial) and packed throughput (4, 8) next to PyTorch eager;
#   warm:   one 1-epoch trial, which fills the decoded-data cache the studies use;
#   packed: packed throughput of vernier-train, vernier-train-base and PyTorch eager
#           (8 trials at batch 128; 8 at batch 32, 3 epochs);
#   asha:   a 100-trial ASHA study with 8 trials per GPU (wall time);
#   curves: 100 configurations x 8 epochs, no pruning, exported as CSV;
#   curves_extra: 16 more configurations (another seed), 16 trials per GPU.
# Made by bench/gpu/prepare.sh; env STUDY_TIMEOUT (seconds) stops a study and
# exports what finished (ASHA_TIMEOUT / CURVES_TIMEOUT per phase).
set -uo pipefail
PHASES="$*"
R=$PWD/.devrun; W=/tmp/w; D=$R/data
mkdir -p $W && cd $W
[ -d stage ] || tar -xJf $R/stage.tar.xz
export LD_LIBRARY_PATH=$W/stage/lib:$W/stage/sysroot/usr/lib/x86_64-linux-gnu
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1 XDG_CACHE_HOME=$W/cache
log() { echo "== $(date +%T) $*" | tee -a $OUT/summary.txt; }
if [ ! -x stage/bin/vernier-train ]; then
  nvidia-smi -L; python3 -c 'import torch;print(torch.__version__, torch.cuda.get_device_name(0))'
  TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  SYS=$W/stage/sysroot/usr; ln -sf $W/stage/lib/libz.so.1 $SYS/lib/x86_64-linux-gnu/libz.so
  build_trainer() {  # $1 = source folder, $2 = build folder, $3 = installed name
    cmake -S $R/$1 -B $2 -G Ninja -DCMAKE_BUILD_TYPE=Release -DVERNIER_BUILD_SERVICES=OFF \
      -DVERNIER_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$TP;$SYS" -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DZLIB_INCLUDE_DIR=$SYS/include -DZLIB_LIBRARY=$SYS/lib/x86_64-linux-gnu/libz.so >$OUT/cmake-$2.log 2>&1 \
      || { tail -40 $OUT/cmake-$2.log; return 3; }
    cmake --build $2 -j8 --target vernier-train >$OUT/build-$2.log 2>&1 \
      || { grep -m20 -A5 error $OUT/build-$2.log; tail -20 $OUT/build-$2.log; return 4; }
    cp $2/bin/vernier-train stage/bin/$3
  }
  log build
  build_trainer src b vernier-train & new=$!
  [ -d $R/src-base ] && { build_trainer src-base bb vernier-train-base & base=$!; }
  wait $new || exit 4
  [ -n "${base:-}" ] && { wait $base || log "base build failed"; }
  log built
fi
T=stage/bin/vernier-train
for b in 32 64 128; do
  echo "{\"epochs\":4,\"batch_size\":$b,\"optimizer\":\"adam\",\"lr\":0.001,\"l1\":1e-6,\"l2\":1e-5,\"cache_dir\":\"auto\",\"data_dir\":\"$D\"}" > p$b.json
done
sed 's/"epochs":4/"epochs":3/' p32.json > p32e3.json
sed 's/"epochs":4/"epochs":1/' p128.json > p128e1.json
run_study() {  # $1 = yaml name
  sed "s#DATA_DIR#$D#" $R/$1.yaml > $1.yaml
  rm -rf vd-$1; local t0=$(date +%s.%N)
  timeout -s INT ${3:-${STUDY_TIMEOUT:-100000}} stage/bin/vernier run $1.yaml --workers 1 ${GPU_FLAGS:---gpus 0 --trials-per-gpu $2} --threads 1 --data-dir vd-$1 \
    > $OUT/$1-run.log 2>&1; echo "rc=$?" >> $OUT/$1-run.log
  log "$1 study wall seconds $(python3 -c "print(round($(date +%s.%N) - $t0, 1))")"
  tail -5 $OUT/$1-run.log | tee -a $OUT/summary.txt
  export_study $1
}
export_study() {  # $1 = yaml name of a finished study in vd-$1
  stage/bin/vernier-server --insecure --db vd-$1/vernier.db --listen 127.0.0.1:50999 > /dev/null 2>&1 & local pid=$!
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
  warm)
    env VERNIER_DEVICE=cuda $T --params p128e1.json > /dev/null 2>&1; log "warm rc=$? cache: $(du -sh $W/cache | cut -f1)" ;;
  packed)
    for t in $T stage/bin/vernier-train-base; do
      [ -x $t ] || continue
      python3 $R/epoch_times.py 8 "$(basename $t) b128" env VERNIER_DEVICE=cuda $t --params p128.json | tee -a $OUT/summary.txt
      python3 $R/epoch_times.py 8 "$(basename $t) b32" env VERNIER_DEVICE=cuda $t --params p32e3.json | tee -a $OUT/summary.txt
    done
    python3 $R/epoch_times.py 1 "vernier-train b128" env VERNIER_DEVICE=cuda $T --params p128.json | tee -a $OUT/summary.txt
    python3 $R/epoch_times.py 8 "pytorch-eager b128" python3 $R/cnn_eager.py --data $D --batch 128 --epochs 4 | tee -a $OUT/summary.txt ;;
  asha) run_study asha 8 ${ASHA_TIMEOUT:-} ;;
  curves) run_study curves 12 ;;
  curves_extra) run_study curves_extra 16 ${CURVES_TIMEOUT:-} ;;
  export:*) export_study ${phase#export:} ;;
  esac
done
log done
# At most 8 files come back from a device run: the logs travel as one archive.
(cd $OUT && tar -czf logs.tar.gz --remove-files *.log)
