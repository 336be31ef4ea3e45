# A trial program for the fault tests. It speaks the trial protocol like
# examples/quadratic_trial.py and also appends, after writing each report
# line, the same report to a side log (params "side_log"), one JSON object per
# line tagged with the trial number, this attempt's trial directory and pid,
# so a test can compare what trials said with what the server stored.
# Params: x, y (floats), steps (int), sleep (seconds per step), side_log.
import json
import os
import sys
import time

params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ.get("VERNIER_REPORT_FD", "1")), "w", buffering=1)
side = os.open(params["side_log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
tag = {
    "trial": int(os.environ["VERNIER_TRIAL"]),
    "dir": os.environ["VERNIER_TRIAL_DIR"],
    "pid": os.getpid(),
    "params": {"x": params["x"], "y": params["y"]},
}
loss = (params["x"] - 0.3) ** 2 + (params["y"] + 1.0) ** 2


def emit(line):
    try:
        print(json.dumps(line), file=report)
    except BrokenPipeError:  # The worker is gone; so is this attempt.
        sys.exit(1)
    os.write(side, (json.dumps(dict(tag, **line)) + "\n").encode())


for step in range(1, int(params.get("steps", 5)) + 1):
    time.sleep(float(params.get("sleep", 0.1)))
    emit({"step": step, "metrics": {"loss": loss + 1.0 / step, "pid": os.getpid()}})
emit({"final": True, "metrics": {"loss": loss, "pid": os.getpid()}})
