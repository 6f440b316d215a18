"""A plain PyTorch training script (unmodified PyTorch code; the tests run it under torch and under
`python -m ember run` and compare the printed losses)."""

import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 3)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        x = F.relu(self.bn(self.fc1(x)))
        return self.fc2(self.drop(x))


def main():
    weights_file = sys.argv[1]
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((256, 20)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, 256), dtype=torch.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
    model = Net()
    state = np.load(weights_file)
    model.load_state_dict({k: torch.tensor(state[k]) for k in state.files})
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    torch.manual_seed(0)
    for epoch in range(3):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(loader):.6f}")
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    print(f"accuracy {acc:.6f}")


if __name__ == "__main__":
    main()
