# A trial program in Python that speaks Vernier's trial protocol: read the
# parameters, report one JSON line per step on the report channel, then a
# final one. Tuned by examples/quadratic.yaml.
import json, os, math, time

params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
report = os.fdopen(int(os.environ.get("VERNIER_REPORT_FD", "1")), "w", buffering=1)
loss = (params["x"] - 0.3) ** 2 + (params["y"] + 1.0) ** 2
for step in range(1, 6):
    time.sleep(float(params.get("sleep", 0.05)))
    print(json.dumps({"step": step, "metrics": {"loss": loss + 1.0 / step}}), file=report)
print(json.dumps({"final": True, "metrics": {"loss": loss}}), file=report)
