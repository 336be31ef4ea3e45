"""Accuracy of a model vernier-train saved, on an IDX image set, with PyTorch alone.

usage: predict_idx.py MODEL_DIR IMAGES_IDX LABELS_IDX

Loads MODEL_DIR/manifest.json and the TorchScript file it names, scales the
IDX images as the manifest's "input" says ((byte * pixel_scale - mean) / std,
shaped as input.shape), and prints the fraction predicted right as one line:
"accuracy 0.9650". Exit status 0 on success, 1 when the manifest or the data
are not what a vernier-model/1 image classifier expects, 77 when torch
cannot be imported (the calling test skips).
"""

import json
import os
import struct
import sys


def read_idx(path, magic):
    """Returns (dimensions, bytes) of an uncompressed IDX file of unsigned bytes."""
    with open(path, "rb") as f:
        data = f.read()
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise ValueError(f"{path}: magic {found:#x}, expected {magic:#x}")
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return dims, data[4 + 4 * rank :]


def main():
    try:
        import torch
    except ImportError as error:
        print(f"SKIP: cannot import torch ({error}); install python3-torch")
        return 77
    model_dir, images_path, labels_path = sys.argv[1:4]
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    spec = manifest["input"]
    if manifest["format"] != "vernier-model/1" or spec["kind"] != "image":
        print(f"FAIL: not an image model: format {manifest['format']}, input {spec['kind']}")
        return 1
    (count, rows, cols), pixels = read_idx(images_path, 0x00000803)
    (label_count,), labels = read_idx(labels_path, 0x00000801)
    if label_count != count:
        print(f"FAIL: {count} images but {label_count} labels")
        return 1
    images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).float()
    images = (images * spec["pixel_scale"] - spec["mean"]) / spec["std"]
    images = images.reshape([count] + spec["shape"])
    model = torch.jit.load(os.path.join(model_dir, manifest["model"]["file"]))
    model.eval()
    with torch.no_grad():
        predicted = model(images).argmax(1)
    truth = torch.tensor(list(labels), dtype=torch.long)
    print(f"accuracy {(predicted == truth).double().mean().item():.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
