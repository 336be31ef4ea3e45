#!/usr/bin/env bash
# Makes tests/testdata/schema_v3.db with the binaries of commit b317d2e.
set -euo pipefail
BIN=${BIN:?path to build/bin of commit b317d2e}
OUT=${OUT:-$PWD/schema_v3.db}
WORK=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=${PORT:-51977}
export VERNIER_SERVER=127.0.0.1:$PORT
"$BIN/vernier-server" --db "$WORK/v.db" --listen 127.0.0.1:$PORT --insecure --lease-seconds 600 &
SERVER=$!
sleep 1
V="$BIN/vernier"
cat > "$WORK/trial.py" <<'PY'
import json, os, time
p = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
r = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
loss = (p["x"] - 0.3) ** 2
for step in range(1, 4):
    time.sleep(float(p.get("sleep", 0.2)))
    print(json.dumps({"step": step, "metrics": {"loss": loss + 1.0 / step}}), file=r)
print(json.dumps({"final": True, "metrics": {"loss": loss}}), file=r)
PY
cat > "$WORK/asked.yaml" <<'Y'
name: asked
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2.0, high: 2.0}
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  units: {type: int, low: 16, high: 256, log: true}
  depth: {type: int, low: 1, high: 9, step: 2}
  opt: {type: categorical, values: [sgd, momentum, adam]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {opt: momentum}}
sampler: {type: tpe, seed: 3, n_startup_trials: 2, multivariate: false}
pruner: {type: median, warmup_steps: 1, min_trials: 1}
budget: {max_trials: 8}
trainer: {external: true}
Y
cat > "$WORK/worker.yaml" <<Y
name: worker-run
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2.0, high: 2.0, step: 0.25}
sampler: {type: random, seed: 11}
pruner: {type: asha, min_resource: 1, reduction_factor: 3}
budget: {max_trials: 3, parallel: 1, max_failures: 1, max_retries: 2}
trainer: {command: [python3, $WORK/trial.py], time_limit: 120, stop_grace: 2, sleep: 1.5}
Y
cat > "$WORK/mo.yaml" <<'Y'
name: mo
objectives: [{metric: acc, goal: maximize}, {metric: latency_ms, goal: minimize}]
constraints: [{metric: memory_gb, max: 4.0}]
params:
  width: {type: int, low: 8, high: 64}
  act: {type: categorical, values: [relu, 1, 2.5]}
sampler: {type: nsga2, population_size: 4, seed: 5}
budget: {max_trials: 10}
trainer: {external: true}
Y
cat > "$WORK/warm.yaml" <<'Y'
name: warm
objective: {metric: loss, goal: minimize}
params:
  x: {type: float, low: -2.0, high: 2.0}
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  units: {type: int, low: 16, high: 256, log: true}
  depth: {type: int, low: 1, high: 9, step: 2}
  opt: {type: categorical, values: [sgd, momentum, adam]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {opt: momentum}}
sampler: {type: gp, n_startup_trials: 3}
pruner: {type: hyperband, min_resource: 1, max_resource: 9, reduction_factor: 3}
budget: {max_trials: 5}
trainer: {external: true}
warm_start: {study: asked, max_trials: 2}
Y
cat > "$WORK/builtin.yaml" <<'Y'
name: builtin-grid
objective: {metric: val_accuracy, goal: maximize}
params:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  batch_size: {type: categorical, values: [32, 64]}
  optimizer: {type: categorical, values: [sgd, adam]}
sampler: {type: grid, resolution: {lr: 3}}
pruner: {type: percentile, percentile: 25, warmup_steps: 1, interval: 2, min_trials: 2}
budget: {max_trials: 12, parallel: 2}
trainer: {model: cnn, dataset: fashion-mnist, epochs: 3, train_subset: 2000}
Y
cat > "$WORK/pbt.yaml" <<'Y'
name: pbt-cmaes
objective: {metric: score, goal: maximize}
params:
  lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
  wd: {type: float, low: 0.0, high: 0.1}
  layers: {type: int, low: 1, high: 4}
sampler: {type: cmaes, sigma0: 0.3, popsize: 4, restarts: true, seed: 9}
pruner: {type: pbt, interval: 2, quantile: 0.5, perturb_factors: [0.5, 2.0], params: [lr], min_population: 2}
budget: {max_trials: 6, parallel: 3}
trainer: {command: [python3, toy.py], checkpoint_every: 2}
Y
cat > "$WORK/sobol.yaml" <<'Y'
name: sobol-patience
objective: {metric: loss, goal: minimize}
params:
  a: {type: float, low: 0, high: 1}
  b: {type: int, low: 0, high: 10, step: 5}
sampler: {type: sobol, seed: 4}
pruner: {type: patience, patience: 2, min_delta: 0.01, wrapped: {type: median, min_trials: 2}}
budget: {max_trials: 4}
trainer: {external: true}
Y
cat > "$WORK/threshold.json" <<'Y'
{"name": "threshold-stopped", "objective": {"metric": "loss", "goal": "minimize"},
 "params": {"x": {"type": "float", "low": 0, "high": 1}},
 "sampler": {"type": "random"}, "pruner": {"type": "threshold", "upper": 5.0, "warmup_steps": 1},
 "budget": {"max_trials": 3}, "trainer": {"external": true}}
Y
for f in asked worker mo pbt sobol; do "$V" study create -f "$WORK/$f.yaml"; done
"$V" study create -f "$WORK/threshold.json"
# asked: 4 asked trials: two complete with curves, one pruned by a report, one left running.
for i in 0 1 2 3; do "$V" ask asked >/dev/null; done
"$V" report asked 0 --step 1 --value 2.0; "$V" report asked 0 --step 2 --value 1.5
"$V" tell asked 0 --value 1.25 --metric extra=7
"$V" report asked 1 --step 1 --value 0.5; "$V" tell asked 1 --value 0.25
"$V" report asked 2 --step 1 --value 9.0 || true
"$V" report asked 2 --step 2 --value 9.5 || true
"$V" study enqueue asked --param x=0.5 --param opt=adam
"$V" study create -f "$WORK/warm.yaml"
"$V" ask warm >/dev/null; "$V" tell warm 2 --value 0.75
# mo: two complete (one infeasible), one failed.
for i in 0 1 2; do "$V" ask mo >/dev/null; done
"$V" tell mo 0 --metric acc=0.9 --metric latency_ms=12 --metric memory_gb=2
"$V" tell mo 1 --metric acc=0.8 --metric latency_ms=5 --metric memory_gb=8
"$V" tell mo 2 --state failed --reason "out of memory"
"$V" ask sobol-patience >/dev/null; "$V" report sobol-patience 0 --step 1 --value 1.0
"$V" ask threshold-stopped >/dev/null; "$V" tell threshold-stopped 0 --value 0.5
"$V" study stop threshold-stopped
# worker-run: a worker completes one trial and is killed in the middle of the second.
"$BIN/vernier-worker" --server 127.0.0.1:$PORT --cpu-slots 1 --work-dir "$WORK/work" --name fixture &
WORKER=$!
for _ in $(seq 1 120); do
  if "$V" --format json trials worker-run | python3 -c 'import json,sys; t=json.load(sys.stdin); sys.exit(0 if len(t)>=2 and t[0]["state"]=="COMPLETE" and t[1].get("intermediate") else 1)'; then break; fi
  sleep 0.5
done
kill -9 $WORKER
"$V" study create -f "$WORK/builtin.yaml"
"$V" trials worker-run
kill -TERM $SERVER; wait $SERVER || true
cp "$WORK/v.db" "$OUT"
sqlite3 "$OUT" 'PRAGMA user_version; SELECT name, state FROM studies; SELECT study, number, state, worker_id FROM trials;'
