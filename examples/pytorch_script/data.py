"""Data for the example trial scripts, read from where Vernier's built-in
trainer reads it: Fashion-MNIST from Debian's dataset-fashion-mnist package
(gzipped IDX files), the SpamAssassin corpus from scripts/fetch-data.sh."""
import gzip
import json
import os
import pathlib
import random
import re
from collections import Counter

import torch

FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")


def _idx(path):
    """A gzipped IDX file as a uint8 tensor of its shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def fashion_mnist(train_size, val_size, data_dir=FASHION_DIR):
    """(train_x, train_y, val_x, val_y): the first `train_size` training images
    and the last `val_size` as validation, as float tensors N x 1 x 28 x 28."""
    images = _idx(data_dir / "train-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    labels = _idx(data_dir / "train-labels-idx1-ubyte.gz").long()
    images = (images - 0.286) / 0.353  # the training set's mean and stddev
    return images[:train_size], labels[:train_size], images[-val_size:], labels[-val_size:]


def spam_assassin_dir():
    root = os.environ.get("VERNIER_DATASETS") or pathlib.Path.home() / ".cache/vernier/datasets"
    return pathlib.Path(root) / "spam-assassin" / "data"


def _subject_and_body(raw):
    """An e-mail's Subject line and body (the headers dropped)."""
    head, _, body = raw.partition("\n\n")
    subject = re.search(r"^Subject:(.*)$", head, re.MULTILINE | re.IGNORECASE)
    return (subject.group(1) if subject else "") + "\n" + body


def spam_assassin(max_len, vocab_size, val_fraction=0.2, seed=0):
    """(train_x, train_y, val_x, val_y): e-mails as token ids (0 padding, 1
    unknown) cut or padded to `max_len`; ham 0, spam 1. The vocabulary is the
    training split's most frequent tokens."""
    corpus = spam_assassin_dir()
    if not corpus.is_dir():
        raise SystemExit(f"{corpus}: not found; run scripts/fetch-data.sh once")
    examples = []
    for group in sorted(corpus.iterdir()):
        for path in sorted(group.glob("*.json")):
            text = json.loads(path.read_text(encoding="utf-8"))["text"]
            tokens = re.findall(r"[a-z0-9]+", _subject_and_body(text).lower())
            examples.append((tokens, int(group.name.startswith("spam"))))
    random.Random(seed).shuffle(examples)
    n_val = int(len(examples) * val_fraction)
    train, val = examples[n_val:], examples[:n_val]
    counts = Counter(token for tokens, _ in train for token in tokens)
    ids = {token: i + 2 for i, (token, _) in enumerate(counts.most_common(vocab_size - 2))}

    def encode(split):
        x = torch.zeros(len(split), max_len, dtype=torch.long)
        for row, (tokens, _) in enumerate(split):
            encoded = [ids.get(token, 1) for token in tokens[:max_len]]
            x[row, :len(encoded)] = torch.tensor(encoded, dtype=torch.long)
        return x, torch.tensor([label for _, label in split])

    return (*encode(train), *encode(val))
