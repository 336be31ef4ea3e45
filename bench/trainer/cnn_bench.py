"""The built-in trainer's default CNN trained with PyTorch for Python, timed
the way bench/trainer/run.sh times vernier-train: the training images resident
on the device, batches gathered there through a device permutation, Adam,
dropout 0.25, cross-entropy; one line per epoch with images per second.

Usage: cnn_bench.py --data-dir DIR --images N --batch-size B --epochs E
                    --threads T [--device cpu|cuda] [--seed S]
Output: one line per epoch, "epoch <e> seconds <s> images_per_s <r>".
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(data_dir, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(os.path.join(data_dir, name + ".gz"))


class Cnn(nn.Module):
    """trainer/models.h CnnImpl with its defaults: conv 3x3 1->16, relu, max
    pool, conv 3x3 16->32, relu, max pool, dropout, dense 1568->128, relu,
    dropout, dense 128->10."""

    def __init__(self, dropout=0.25, dense_as_conv=False):
        super().__init__()
        self.dense_as_conv = dense_as_conv
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(x.flatten(1))
        x = self.dropout(F.relu(self.dense(self.fc1, x)))
        return self.dense(self.fc2, x)

    def dense(self, layer, x):
        """With --dense-as-conv, the same product as a 1x1 convolution (oneDNN),
        as vernier-train computes it on the CPU (trainer/models.cc Dense)."""
        if not self.dense_as_conv:
            return layer(x)
        n, out = x.shape[0], layer.weight.shape[0]
        return F.conv2d(x.view(n, -1, 1, 1), layer.weight.view(out, -1, 1, 1),
                        layer.bias).view(n, out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--images", type=int, default=12000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense-as-conv", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    images = read_idx(find(args.data_dir, "train-images-idx3-ubyte"))[: args.images]
    labels = read_idx(find(args.data_dir, "train-labels-idx1-ubyte"))[: args.images]
    x = torch.from_numpy(images.copy()).to(device).float().div_(255).unsqueeze(1)
    x = (x - x.mean()) / x.std()
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    model = Cnn(dense_as_conv=args.dense_as_conv).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    n = x.shape[0]
    for epoch in range(1, args.epochs + 1):
        model.train()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        order = torch.randperm(n).to(device)
        loss_sum = torch.zeros((), device=device)
        for begin in range(0, n, args.batch_size):
            index = order[begin:begin + args.batch_size]
            inputs, targets = x.index_select(0, index), y.index_select(0, index)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), targets)
            loss_sum += loss.detach() * index.numel()
            loss.backward()
            optimizer.step()
        mean_loss = loss_sum.item() / n  # Waits for the device, as vernier-train does.
        seconds = time.perf_counter() - start
        print(f"epoch {epoch} seconds {seconds:.4f} images_per_s {n / seconds:.1f} "
              f"loss {mean_loss:.4f}", flush=True)


if __name__ == "__main__":
    main()
