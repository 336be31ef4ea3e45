"""A trial program with a known learning curve whose best learning rate moves.

The state is `level`, the sum of the per-step gains so far; the score is the
level. A step at learning rate lr gains exp(-(log10(lr) - opt(step))^2 / 0.18)
<= 1, where the best log10(lr) falls from -1 at step 1 to -3 at STEPS (a
decaying schedule): no fixed lr earns the most, one that follows the optimum
does. Every INTERVAL steps the state is checkpointed and announced; with
resume_from the program continues from that state (the donor's level) with
its new lr. Trials run at slightly different speeds (trial number mod 3), so a
study's population is asynchronous.

argv: STEPS INTERVAL SECONDS_PER_STEP [odd]; with "odd" it reports only odd
steps and checkpoints one step before each multiple of INTERVAL (irregular
steps: no report falls on a multiple of INTERVAL).
"""
import json
import math
import os
import sys
import time

steps, interval, pace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
odd = len(sys.argv) > 4 and sys.argv[4] == "odd"
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
trial = int(os.environ["VERNIER_TRIAL"])
ckpt = os.path.join(os.environ["VERNIER_TRIAL_DIR"], "ckpt")
pace *= 1 + 0.15 * (trial % 3)

level, start = 0.0, 1
if params.get("resume_from"):
    with open(os.path.join(params["resume_from"], "state.json")) as f:
        state = json.load(f)
    level, start = state["level"], state["step"] + 1

for step in range(start, steps + 1):
    time.sleep(pace)
    best = -1 - 2 * (step - 1) / (steps - 1)
    level += math.exp(-((math.log10(params["lr"]) - best) ** 2) / 0.18)
    if odd and step % 2 == 0:
        continue
    if step % interval == (interval - 1 if odd else 0):
        os.makedirs(ckpt, exist_ok=True)
        with open(os.path.join(ckpt, "state.json.tmp"), "w") as f:
            json.dump({"step": step, "level": level}, f)
        os.replace(os.path.join(ckpt, "state.json.tmp"), os.path.join(ckpt, "state.json"))
        print(json.dumps({"checkpoint": ckpt, "step": step}), file=report)
    print(json.dumps({"step": step, "metrics": {"score": level}}), file=report)
print(json.dumps({"final": True, "metrics": {"score": level}}), file=report)
