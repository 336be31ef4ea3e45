"""The classic MNIST CNN of pytorch/examples (two convolutions, max pooling,
dropout, two dense layers, Adadelta with a step schedule), on Fashion-MNIST,
as a Vernier trial script. By hand: /usr/bin/python3 mnist_cnn.py"""
import os
import pathlib
import sys

import torch
from torch import nn
import torch.nn.functional as F

sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "python"))  # repo's vernier
from vernier import trial  # noqa: E402

import data  # noqa: E402


class Net(nn.Module):
    def __init__(self, dropout1, dropout2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dropout1 = nn.Dropout(dropout1)
        self.dropout2 = nn.Dropout(dropout2)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return self.fc2(self.dropout2(x))


def main():
    p = trial.params(defaults={"lr": 1.0, "gamma": 0.7, "dropout1": 0.25, "dropout2": 0.5,
                               "batch_size": 64, "epochs": 3, "train_size": 2000, "seed": 1})
    torch.set_num_threads(int(os.environ.get("VERNIER_NUM_THREADS", "1")))
    torch.manual_seed(p["seed"])
    train_x, train_y, val_x, val_y = data.fashion_mnist(p["train_size"], val_size=2000)
    model = Net(p["dropout1"], p["dropout2"])
    optimizer = torch.optim.Adadelta(model.parameters(), lr=p["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=p["gamma"])
    for epoch in range(1, p["epochs"] + 1):
        model.train()
        for batch in torch.randperm(len(train_x)).split(p["batch_size"]):
            optimizer.zero_grad()
            F.cross_entropy(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            logits = model(val_x)
        val_loss = F.cross_entropy(logits, val_y).item()
        val_accuracy = (logits.argmax(1) == val_y).float().mean().item()
        if trial.report(epoch, val_loss=val_loss, val_accuracy=val_accuracy):
            return  # pruned, or the study stopped
    trial.finish(val_loss=val_loss, val_accuracy=val_accuracy)


if __name__ == "__main__":
    main()
