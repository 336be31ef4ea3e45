"""Loads a model vernier-train saved, with nothing but PyTorch, and checks it.

usage: load_model.py VERNIER_TRAIN WORK_DIR

Writes a small tabular classification CSV to WORK_DIR, trains on it with the
real VERNIER_TRAIN binary (VERNIER_ARTIFACT_DIR=WORK_DIR/artifacts), then
loads WORK_DIR/artifacts/model (model.pt, manifest.json). The script
prepares every row as the manifest says (fill, clip, standardise), runs the
TorchScript model, and checks that the outputs have the manifest's width and
that the accuracy over the whole file is within 0.1 of the test_accuracy the
trial reported (the test split is a part of the same file). Exit status 0 on
success, 1 on a failed check, 77 when torch cannot be imported (ctest skips).
"""

import csv
import json
import math
import os
import random
import subprocess
import sys


def train(vernier_train, work_dir):
    """Returns the model directory of a short real training run."""
    os.makedirs(work_dir, exist_ok=True)
    data_csv = os.path.join(work_dir, "data.csv")
    rng = random.Random(3)
    with open(data_csv, "w") as f:
        f.write("a,b,c,label\n")
        for i in range(400):
            a, b, c = rng.random(), rng.random() * 10, rng.random()
            missing = "" if i % 17 == 0 else f"{c}"  # Some missing cells.
            f.write(f"{a},{b},{missing},{'yes' if a + b / 10 > 1 else 'no'}\n")
    params = os.path.join(work_dir, "params.json")
    with open(params, "w") as f:
        json.dump({"dataset": "tabular-csv", "data_file": data_csv, "model": "mlp",
                   "epochs": 8, "units": 16, "lr": 0.01, "outliers": "clip"}, f)
    env = dict(os.environ, VERNIER_ARTIFACT_DIR=os.path.join(work_dir, "artifacts"),
               VERNIER_DEVICE="cpu")
    subprocess.run([vernier_train, "--params", params], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(work_dir, "artifacts", "model"), data_csv


def main():
    try:
        import torch
    except ImportError as error:
        print(f"SKIP: cannot import torch ({error}); install python3-torch")
        return 77
    model_dir, data_csv = train(sys.argv[1], sys.argv[2])
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["format"] == "vernier-model/1", manifest["format"]
    model = torch.jit.load(os.path.join(model_dir, manifest["model"]["file"]))
    model.eval()
    spec = manifest["input"]
    assert spec["kind"] == "features", spec["kind"]
    names = spec["feature_names"]
    with open(data_csv) as f:
        rows = list(csv.DictReader(f))
    features, labels = [], []
    for row in rows:
        values = []
        for c, name in enumerate(names):
            cell = row[name].strip()
            value = float(cell) if cell else math.nan
            if math.isnan(value):
                value = spec["fill_values"][c]
            if spec["clip_low"]:
                value = min(max(value, spec["clip_low"][c]), spec["clip_high"][c])
            if spec["means"]:
                value = (value - spec["means"][c]) / spec["scales"][c]
            values.append(value)
        features.append(values)
        labels.append(manifest["output"]["class_names"].index(row[spec["target"]].strip()))
    with torch.no_grad():
        outputs = model(torch.tensor(features, dtype=torch.float32))
    width = manifest["output"]["width"]
    if tuple(outputs.shape) != (len(rows), width):
        print(f"FAIL: outputs of shape {tuple(outputs.shape)}, expected ({len(rows)}, {width})")
        return 1
    if manifest["output"]["kind"] == "binary_logit":
        predicted = (outputs[:, 0] > 0).long()
    else:
        predicted = outputs.argmax(1)
    accuracy = (predicted == torch.tensor(labels)).double().mean().item()
    reported = manifest["metrics"]["test_accuracy"]
    print(f"accuracy on {len(rows)} rows: {accuracy:.4f}; trial's test_accuracy {reported:.4f}")
    if abs(accuracy - reported) > 0.1:
        print("FAIL: the loaded model does not predict as the trained one did")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
