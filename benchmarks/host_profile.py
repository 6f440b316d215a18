"""Where ember's host time goes in a GPT training step: runs only ember's step in a loop, for a sampling
profiler (py-spy) to watch without cProfile's per-call distortion. Not a test.

    py-spy record -r 1000 -f raw -o /tmp/pyspy.txt -- python benchmarks/host_profile.py --device cuda
    python benchmarks/pyspy_summary.py /tmp/pyspy.txt

The default size is host-bound on a GPU (GPT-2 small's layers, batch 1, context 64); --tiny shrinks the
widths and vocabulary so that the CPU's arithmetic is negligible too. Prints the fastest and the median
step time, and the host time of forward, backward and optimizer step (before any wait for the GPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from train_cpu import gpt  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--tiny", action="store_true", help="width 192, vocab 64: little arithmetic on any device")
    p.add_argument("--lib", default="ember", help="ember or torch (the same loop, for comparison)")
    args = p.parse_args(argv)
    lib = __import__(args.lib)
    cfg = dict(vocab=50304, block=args.block, n_layer=12, n_head=12, n_embd=768)
    if args.tiny:
        cfg.update(vocab=64, n_embd=192)
    lib.manual_seed(0)
    model = gpt(lib, **cfg).to(args.device)
    opt = lib.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    idx = np.random.default_rng(0).integers(0, cfg["vocab"], (args.batch, args.block + 1))
    x = lib.tensor(idx[:, :-1], device=args.device)
    y = lib.tensor(idx[:, 1:], device=args.device)
    half = args.device != "cpu"

    phases = {"forward": [], "backward": [], "optimizer": []}

    def step():
        t0 = time.perf_counter()
        with lib.autocast(args.device, dtype=lib.bfloat16, enabled=half):
            loss = model(x, y)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        for k, a, b in (("forward", t0, t1), ("backward", t1, t2), ("optimizer", t2, t3)):
            phases[k].append(b - a)
        return loss

    def sync():
        if args.device != "cpu":
            lib.cuda.synchronize()

    for _ in range(5):
        step()
    sync()
    for v in phases.values():
        v.clear()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    print(
        f"{args.lib} {args.device} {cfg}: step min {min(times) * 1e3:.2f} ms, "
        f"median {statistics.median(times) * 1e3:.2f} ms over {args.steps} steps; host time (median) "
        + ", ".join(f"{k} {statistics.median(v) * 1e3:.2f} ms" for k, v in phases.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
