"""Training-step time on CPU, ember vs torch, same model code and weights, in one run.

    python benchmarks/train_cpu.py [--repeats 3] [--threads 2]

Models: MLP 784-256-10 (Adam, batch 64); a 2-conv CNN on 28x28 (SGD momentum, batch 64); the demo's
char-GPT (4 layers, width 128, context 64, batch 32, AdamW). Each model is built by the same function for
both libraries (the module is a parameter), torch's initial weights are copied into ember, and the step
times (median over steps, best of --repeats interleaved runs) are printed with their ratio.
Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time

import numpy as np


def mlp(t):
    return t.nn.Sequential(t.nn.Linear(784, 256), t.nn.ReLU(), t.nn.Linear(256, 10))


def cnn(t):
    nn = t.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 10),
    )


def gpt(t, vocab=65, block=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0):
    """nanoGPT's model, written once against the torch API (t is torch or ember); dropout as nanoGPT places it
    (attention weights, after each residual branch, after the embeddings), in training mode only."""
    nn, F = t.nn, t.nn.functional

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(n_embd, dim=2)
            q = q.view(B, T, n_head, C // n_head).transpose(1, 2)
            k = k.view(B, T, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
            p = dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            return self.drop(self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = Attn()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = nn.Sequential(
                nn.Linear(n_embd, 4 * n_embd),
                nn.GELU(approximate="tanh"),
                nn.Linear(4 * n_embd, n_embd),
                nn.Dropout(dropout),
            )

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(block, n_embd)
            self.drop = nn.Dropout(dropout)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.wte.weight = self.lm_head.weight

        def forward(self, idx, targets=None):
            T = idx.size(1)
            x = self.drop(self.wte(idx) + self.wpe(t.arange(T, device=idx.device)))
            for b in self.h:
                x = b(x)
            logits = self.lm_head(self.ln_f(x))
            if targets is None:  # inference: the logits
                return logits
            return F.cross_entropy(logits.view(-1, vocab), targets.view(-1))

    return GPT()


def _copy_weights(src, dst, ember):
    dst.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def _setups(torch, ember, rng):
    x_mlp = rng.standard_normal((64, 784)).astype(np.float32)
    x_img = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y10 = rng.integers(0, 10, 64)
    idx = rng.integers(0, 65, (32, 65))
    out = {}
    for name, build, opt, batch in (
        ("MLP 784-256-10, Adam, b64", mlp, lambda t, p: t.optim.Adam(p, lr=1e-3), (x_mlp, y10)),
        (
            "CNN 2-conv 28x28, SGD mom, b64",
            cnn,
            lambda t, p: t.optim.SGD(p, lr=0.01, momentum=0.9),
            (x_img, y10),
        ),
        (
            "char-GPT 4x128 ctx64, AdamW, b32",
            gpt,
            lambda t, p: t.optim.AdamW(p, lr=1e-3),
            (idx[:, :-1].copy(), idx[:, 1:].copy()),
        ),
    ):
        torch.manual_seed(0)
        tm = build(torch)
        em = build(ember)
        _copy_weights(tm, em, ember)
        pair = {}
        for lib, model in (("torch", tm), ("ember", em)):
            t = torch if lib == "torch" else ember
            xb = t.tensor(batch[0])
            yb = t.tensor(batch[1])
            optimizer = opt(t, model.parameters())
            if build is gpt:

                def step(model=model, optimizer=optimizer, xb=xb, yb=yb):
                    loss = model(xb, yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    return loss
            else:
                F = t.nn.functional

                def step(model=model, optimizer=optimizer, xb=xb, yb=yb, F=F):
                    loss = F.cross_entropy(model(xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    return loss

            pair[lib] = step
        out[name] = pair
    return out


def _time_steps(step, n: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=0, help="steps per timing (default: per model)")
    p.add_argument("--only", default=None, help="substring of the model names to run")
    args = p.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    import ember

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    rng = np.random.default_rng(0)
    setups = _setups(torch, ember, rng)
    steps = {"MLP": 200, "CNN": 20, "char": 15}
    print(
        f"# {time.strftime('%Y-%m-%d')}  {platform.processor() or platform.machine()}  python "
        f"{platform.python_version()}  torch {torch.__version__}  ember {ember.__version__}  threads "
        f"{args.threads}"
    )
    print(f"{'model':36s} {'ember ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for name, pair in setups.items():
        if args.only and args.only not in name:
            continue
        n = args.steps or next(v for k, v in steps.items() if name.startswith(k))
        best = {"torch": math.inf, "ember": math.inf}
        for _ in range(args.repeats):  # interleaved
            for lib in ("torch", "ember"):
                best[lib] = min(best[lib], _time_steps(pair[lib], n))
        print(f"{name:36s} {best['ember']:9.2f} {best['torch']:9.2f} {best['ember'] / best['torch']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
