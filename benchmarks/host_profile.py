"""Where ember's host time goes in a GPT training step: runs only ember's step in a loop, for a sampling
profiler (py-spy) to watch without cProfile's per-call distortion. Not a test.

    py-spy record -r 1000 -f raw -o /tmp/pyspy.txt -- python benchmarks/host_profile.py --device cuda
    python benchmarks/pyspy_summary.py /tmp/pyspy.txt

The default size is host-bound on a GPU (GPT-2 small's layers, batch 1, context 64); --tiny shrinks the
widths and vocabulary so that the CPU's arithmetic is negligible too. Prints the fastest and the median
step time.
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
    with lib.device(args.device):
        model = gpt(lib, **cfg)
    opt = lib.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    idx = np.random.default_rng(0).integers(0, cfg["vocab"], (args.batch, args.block + 1))
    x = lib.tensor(idx[:, :-1], device=args.device)
    y = lib.tensor(idx[:, 1:], device=args.device)
    half = args.device != "cpu"

    def step():
        with lib.autocast(args.device, dtype=lib.bfloat16, enabled=half):
            loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def sync():
        if args.device != "cpu":
            lib.cuda.synchronize()

    for _ in range(5):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    print(
        f"{args.lib} {args.device} {cfg}: step min {min(times) * 1e3:.2f} ms, "
        f"median {statistics.median(times) * 1e3:.2f} ms over {args.steps} steps"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
