"""`python -m ember demo`: train a character-level GPT on Tiny Shakespeare, on the CPU.

Shows a progress bar with loss and tokens/s, evaluates on held-out text, saves a checkpoint with
ember.save, writes a loss-curve PNG, prints a generated sample and ends with `val loss X.XXXX`.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "datasets" / "tinyshakespeare.txt"


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="ember demo", description=__doc__)
    p.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=240.0,
        help="stop training after this many seconds, whatever --steps says (default 240)",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--block-size", type=int, default=64, help="context length in characters")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128, help="model width")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=6e-3, help="peak learning rate (AdamW, cosine decay)")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--eval-interval", type=int, default=500)
    p.add_argument(
        "--eval-iters",
        type=int,
        default=20,
        help="batches per loss estimate during training (the final estimate uses at least 100)",
    )
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out-dir", default="out/demo", help="checkpoint, loss curve and sample go here")
    p.add_argument("--sample-chars", type=int, default=400)
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")
    return p


class CharData:
    """The text as int64 character ids, split 90/10 into train/val."""

    def __init__(self, path: Path = DATA):
        text = path.read_text(encoding="utf-8")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        ids = np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        n = int(0.9 * len(ids))
        self.train, self.val = ids[:n], ids[n:]

    def batch(self, split: str, batch_size: int, block_size: int, rng: np.random.Generator):
        import ember

        data = self.train if split == "train" else self.val
        ix = rng.integers(0, len(data) - block_size - 1, size=batch_size)
        offsets = ix[:, None] + np.arange(block_size + 1)[None, :]
        chunk = data[offsets]
        return ember.from_numpy(chunk[:, :-1].copy()), ember.from_numpy(chunk[:, 1:].copy())

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def _lr_at(step: int, elapsed: float, args) -> float:
    """Linear warm-up, then cosine decay to 10% over whichever budget (steps or seconds) runs out first."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = max((step - args.warmup) / max(1, args.steps - args.warmup), elapsed / args.time_limit)
    progress = min(1.0, progress)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def estimate_loss(model, data: CharData, args, rng, val_iters: int | None = None) -> dict:
    """Mean loss over random batches: args.eval_iters for train, val_iters (default the same) for val."""
    import ember

    model.eval()
    out = {}
    with ember.no_grad():
        for split in ("train", "val"):
            losses = []
            n = (val_iters or args.eval_iters) if split == "val" else args.eval_iters
            for _ in range(n):
                x, y = data.batch(split, args.batch_size, args.block_size, rng)
                _, loss = model(x, y)
                losses.append(loss.item())
            out[split] = float(np.mean(losses))
    model.train()
    return out


def plot_losses(history: list, batch_losses: list, path: Path) -> None:
    """Per-step training loss (smoothed) and the periodic train/val estimates, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if batch_losses:
        raw = np.asarray(batch_losses)
        k = max(1, min(50, len(raw) // 10))
        smooth = np.convolve(raw, np.ones(k) / k, mode="valid")
        ax.plot(
            np.arange(k, len(raw) + 1), smooth, lw=1, alpha=0.7, label=f"train batch loss ({k}-step mean)"
        )
    steps, train, val = zip(*history)
    ax.plot(steps, train, "o-", label="train estimate")
    ax.plot(steps, val, "o-", label="val estimate")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title("char-GPT on Tiny Shakespeare (ember)")
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def run(args) -> int:
    import ember
    from ember.models import GPT, GPTConfig

    t_start = time.time()
    ember.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = CharData()
    config = GPTConfig(
        block_size=args.block_size,
        vocab_size=len(data.chars),
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=args.dropout,
        bias=True,
    )
    model = GPT(config)
    print(
        f"char-GPT: {model.get_num_params() / 1e3:.1f}k parameters, vocab {config.vocab_size}, "
        f"context {config.block_size}, batch {args.batch_size}"
    )
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = ember.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
    )
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    history = []
    batch_losses = []
    tokens_per_step = args.batch_size * args.block_size
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=args.steps, desc="training", unit="step", dynamic_ncols=True)
    t_train = time.time()
    step = 0
    last_loss = float("nan")
    for step in range(args.steps):
        if time.time() - t_train > args.time_limit:
            print(f"\ntime limit of {args.time_limit:.0f} s reached after {step} steps")
            break
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, time.time() - t_train, args)
        x, y = data.batch("train", args.batch_size, args.block_size, rng)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        last_loss = loss.item()
        batch_losses.append(last_loss)
        elapsed = time.time() - t_train
        if bar is not None:
            bar.set_postfix(loss=f"{last_loss:.3f}", tok_s=f"{(step + 1) * tokens_per_step / elapsed:,.0f}")
            bar.update(1)
        if (step + 1) % args.eval_interval == 0:
            losses = estimate_loss(model, data, args, rng)
            history.append((step + 1, losses["train"], losses["val"]))
            msg = f"step {step + 1}: train {losses['train']:.4f}, val {losses['val']:.4f}, {elapsed:.0f} s"
            if bar is not None:
                bar.write(msg)
            else:
                print(msg, flush=True)
    else:
        step = args.steps
    if bar is not None:
        bar.close()
    train_time = time.time() - t_train
    losses = estimate_loss(model, data, args, rng, val_iters=max(100, args.eval_iters))
    history.append((step, losses["train"], losses["val"]))

    ckpt = out_dir / "checkpoint.ember"
    ember.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "config": vars(config),
            "vocab": "".join(data.chars),
            "step": step,
        },
        ckpt,
    )
    plot_losses(history, batch_losses, out_dir / "loss.png")
    start = ember.tensor([[data.stoi["\n"]]])
    sample_ids = model.generate(
        start,
        args.sample_chars,
        temperature=0.8,
        top_k=None,
        generator=ember.Generator().manual_seed(args.seed),
    )[0].tolist()
    sample = data.decode(sample_ids)
    (out_dir / "sample.txt").write_text(sample, encoding="utf-8")
    print("\n----- sample -----")
    print(sample.strip())
    print("------------------")
    print(
        f"trained {step} steps in {train_time:.1f} s ({step * tokens_per_step / max(train_time, 1e-9):,.0f} "
        f"tokens/s); total {time.time() - t_start:.1f} s"
    )
    print(f"checkpoint: {ckpt}, loss curve: {out_dir / 'loss.png'}")
    print(f"train loss {losses['train']:.4f}")
    print(f"val loss {losses['val']:.4f}")
    return 0


def main(argv=None) -> int:
    return run(build_parser().parse_args(argv))
