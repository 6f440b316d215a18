"""Host work of a GPT training step counted in Python bytecodes: a deterministic proxy for the per-op Python
path, for measuring host-overhead changes on machines whose timings are too noisy for microsecond effects
(shared VMs). Counts every opcode executed by Python frames (NumPy/CuPy internals in C are not counted) in
the forward, the backward and the optimizer step of one step of a tiny GPT (12 layers, 12 heads, width 48,
context 16, vocabulary 64, AdamW) on the CPU, and the busiest functions. Not a test.

    python benchmarks/host_opcodes.py [--top 25] [--lib ember|torch]

torch runs its ops in C++, so for torch the count is only the model's own Python (a floor for ember).
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from train_cpu import gpt  # noqa: E402


def _counting(counts: collections.Counter, calls: collections.Counter):
    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        code = frame.f_code
        key = f"{Path(code.co_filename).name}:{code.co_name}"
        calls[key] += 1

        def local(frame, event, arg):
            if event == "opcode":
                counts[key] += 1
            return local

        return local

    return tracer


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--lib", default="ember")
    p.add_argument("--autocast", action="store_true", help="forward under autocast('cpu', bfloat16)")
    args = p.parse_args(argv)
    lib = __import__(args.lib)
    lib.manual_seed(0)
    model = gpt(lib, vocab=64, block=16, n_layer=12, n_head=12, n_embd=48)
    opt = lib.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    idx = np.random.default_rng(0).integers(0, 64, (1, 17))
    x, y = lib.tensor(idx[:, :-1]), lib.tensor(idx[:, 1:])

    def forward():
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=args.autocast):
            return model(x, y)

    for _ in range(3):  # warm caches and lazy imports
        loss = forward()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    counts: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    sys.settrace(_counting(counts, calls))
    try:
        loss = forward()
        fwd = sum(counts.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        bwd = sum(counts.values()) - fwd
        opt.step()
    finally:
        sys.settrace(None)
    total = sum(counts.values())
    print(
        f"{args.lib}: opcodes per step: forward {fwd}, backward {bwd}, optimizer {total - fwd - bwd}, total {total}"
    )
    print(f"{'opcodes':>9s} {'calls':>6s} {'per call':>8s}")
    for name, n in counts.most_common(args.top):
        print(f"{n:9d} {calls[name]:6d} {n / max(calls[name], 1):8.0f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
