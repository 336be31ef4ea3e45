"""An IMDB-style LSTM text classifier (embedding, LSTM, mean over the words,
dense) on the SpamAssassin corpus (ham 0 / spam 1), as a Vernier trial script;
it reports validation F1 of class spam per epoch. Needs scripts/fetch-data.sh
once. By hand: /usr/bin/python3 spam_lstm.py"""
import os
import pathlib
import sys

import torch
from torch import nn

sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "python"))  # repo's vernier
from vernier import trial  # noqa: E402

import data  # noqa: E402


class Classifier(nn.Module):
    def __init__(self, vocab_size, embedding_dim, hidden_size, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, tokens):
        outputs, _ = self.lstm(self.embedding(tokens))
        mask = (tokens != 0).unsqueeze(2).float()
        mean = (outputs * mask).sum(1) / mask.sum(1).clamp(min=1)  # over the words, not padding
        return self.out(self.dropout(mean)).squeeze(1)


def f1(predicted, labels):
    true_positives = (predicted & labels).sum().item()
    precision = true_positives / max(1, predicted.sum().item())
    recall = true_positives / max(1, labels.sum().item())
    return 2 * precision * recall / max(1e-12, precision + recall)


def main():
    p = trial.params(defaults={"lr": 3e-3, "embedding_dim": 32, "hidden_size": 32,
                               "dropout": 0.2, "batch_size": 64, "epochs": 3, "max_len": 128,
                               "vocab_size": 20000, "seed": 0})
    torch.set_num_threads(int(os.environ.get("VERNIER_NUM_THREADS", "1")))
    torch.manual_seed(p["seed"])
    train_x, train_y, val_x, val_y = data.spam_assassin(p["max_len"], p["vocab_size"])
    model = Classifier(p["vocab_size"], p["embedding_dim"], p["hidden_size"], p["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"])
    for epoch in range(1, p["epochs"] + 1):
        model.train()
        for batch in torch.randperm(len(train_x)).split(p["batch_size"]):
            optimizer.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(
                model(train_x[batch]), train_y[batch].float())
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predicted = model(val_x) > 0
        val_f1 = f1(predicted, val_y.bool())
        val_accuracy = (predicted == val_y.bool()).float().mean().item()
        if trial.report(epoch, val_f1=val_f1, val_accuracy=val_accuracy):
            return  # pruned, or the study stopped
    trial.finish(val_f1=val_f1, val_accuracy=val_accuracy)


if __name__ == "__main__":
    main()
