# A trial that only leaves an artifact: SIZE_MIB MiB of random bytes in
# $VERNIER_ARTIFACT_DIR/model.bin (written before the clock of the upload
# starts: the worker uploads once the program has ended).
import json, os

params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
size = int(params["size_mib"]) << 20
path = os.path.join(os.environ["VERNIER_ARTIFACT_DIR"], "model.bin")
with open(path, "wb") as f:
    chunk = os.urandom(1 << 20)
    for _ in range(size >> 20):
        f.write(chunk)
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
print(json.dumps({"final": True, "metrics": {"loss": params["x"]}}), file=report)
