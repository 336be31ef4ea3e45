"""PyTorch eager twin of vernier-train's CNN (conv3x3 1->16, relu, maxpool2,
conv3x3 16->32, relu, maxpool2, dropout, fc 1568->128, relu, dropout, fc 128->10),
Fashion-MNIST resident on the device, batches sliced there, Adam, val eval per epoch.
Prints one line per epoch: 'epoch N seconds S val_accuracy A'."""
import argparse, gzip, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F

def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

class Cnn(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1); self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 128); self.fc2 = nn.Linear(128, 10); self.drop = nn.Dropout(dropout)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2); x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.drop(x.flatten(1)); x = self.drop(F.relu(self.fc1(x))); return self.fc2(x)

p = argparse.ArgumentParser(); p.add_argument('--data'); p.add_argument('--batch', type=int, default=128)
p.add_argument('--epochs', type=int, default=4); p.add_argument('--device', default='cuda'); p.add_argument("--threads", type=int, default=1); p.add_argument("--limit", type=int, default=0)
a = p.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(0); dev = torch.device(a.device)
X = torch.from_numpy(idx(a.data + '/train-images-idx3-ubyte.gz').copy()).to(dev).float().div_(255).unsqueeze(1)
Y = torch.from_numpy(idx(a.data + '/train-labels-idx1-ubyte.gz').copy()).to(dev).long()
X = (X - X[:50000].mean()) / X[:50000].std()
xt, yt, xv, yv = X[:50000], Y[:50000], X[50000:], Y[50000:]
model = Cnn(0.25).to(dev); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1, a.epochs + 1):
    if dev.type == 'cuda': torch.cuda.synchronize()
    t = time.perf_counter(); model.train(); perm = torch.randperm(50000, device=dev)
    for i in range(0, a.limit or 50000, a.batch):
        idxs = perm[i:i + a.batch]; loss = F.cross_entropy(model(xt[idxs]), yt[idxs])
        opt.zero_grad(); loss.backward(); opt.step()
    model.eval(); correct = 0
    with torch.no_grad():
        for i in range(0, 10000, 1000): correct += (model(xv[i:i + 1000]).argmax(1) == yv[i:i + 1000]).sum().item()
    model.train()
    if dev.type == 'cuda': torch.cuda.synchronize()
    print(f'epoch {epoch} seconds {time.perf_counter() - t:.4f} val_accuracy {correct / 10000:.4f}', flush=True)
