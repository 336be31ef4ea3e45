"""A trial program for the network-namespace fault test (netns_fault_test.py).

It speaks the trial protocol like tests/faults/fault_trial.py, and after writing
each report line to the worker it appends the same report to a side log (the
params' "side_log"), one JSON object per line, so the test can compare what the
server stored with what the trial said.

Each attempt draws a random "attempt" number (below 2**52, so a double holds it
exactly) and sends it as a metric with every report: the stored metrics name the
attempt they came from, even when pids are reused. Side-log lines carry the trial
number, the attempt, this attempt's trial directory (which names the worker host)
and the params.

Params: x, y (floats), steps (int), sleep (seconds per step), side_log (path).
Standard library only.
"""

import json
import os
import random
import sys
import time


def main():
    params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
    report = os.fdopen(int(os.environ.get("VERNIER_REPORT_FD", "1")), "w", buffering=1)
    side = os.open(params["side_log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    attempt = random.SystemRandom().randrange(1, 2**52)
    tag = {
        "trial": int(os.environ["VERNIER_TRIAL"]),
        "attempt": attempt,
        "dir": os.environ["VERNIER_TRIAL_DIR"],
        "params": {"x": params["x"], "y": params["y"]},
    }
    loss = (params["x"] - 0.3) ** 2 + (params["y"] + 1.0) ** 2

    def emit(line):
        """Sends one report to the worker, then records it in the side log
        (one write() of one line, so concurrent trials never interleave)."""
        try:
            print(json.dumps(line), file=report)
        except BrokenPipeError:  # The worker is gone; so is this attempt.
            sys.exit(1)
        os.write(side, (json.dumps(dict(tag, **line)) + "\n").encode())

    for step in range(1, int(params.get("steps", 5)) + 1):
        time.sleep(float(params.get("sleep", 0.1)))
        emit({"step": step, "metrics": {"loss": loss + 1.0 / step, "attempt": attempt}})
    emit({"final": True, "metrics": {"loss": loss, "attempt": attempt}})


if __name__ == "__main__":
    main()
