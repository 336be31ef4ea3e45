"""A plain PyTorch trial script: a small CNN on a Fashion-MNIST subset that
reports validation accuracy after every epoch, so a pruner (ASHA in
fashion_mnist_asha.yaml) can stop weak trials early. By hand it trains once
with the defaults: /usr/bin/python3 train.py"""
import os
import pathlib
import sys

import torch
from torch import nn

sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "python"))  # repo's vernier
from vernier import trial  # noqa: E402

import data  # noqa: E402


def make_model(channels, dropout):
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(2 * channels * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    p = trial.params(defaults={"lr": 1e-3, "batch_size": 64, "channels": 8, "dropout": 0.25,
                               "epochs": 4, "train_size": 6000, "seed": 0})
    torch.set_num_threads(int(os.environ.get("VERNIER_NUM_THREADS", "1")))
    torch.manual_seed(p["seed"])
    train_x, train_y, val_x, val_y = data.fashion_mnist(p["train_size"], val_size=2000)
    model = make_model(p["channels"], p["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"])
    for epoch in range(1, p["epochs"] + 1):
        model.train()
        for batch in torch.randperm(len(train_x)).split(p["batch_size"]):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
        val_accuracy = accuracy(model, val_x, val_y)
        if trial.report(epoch, val_accuracy=val_accuracy):
            return  # pruned, or the study stopped
    torch.save(model.state_dict(), trial.artifact_dir() / "model.pt")
    trial.finish(val_accuracy=val_accuracy)


if __name__ == "__main__":
    main()
