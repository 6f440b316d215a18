"""The ``ember`` command line: ``python -m ember demo | run script.py``."""

from __future__ import annotations

import argparse
import runpy
import sys


def _demo(args) -> int:
    """Until the nn/optim issue lands: fit y = 3x - 1 with raw autograd, and print the loss."""
    import ember

    ember.manual_seed(0)
    x = ember.randn(256, 1)
    y = 3 * x - 1 + 0.01 * ember.randn(256, 1)
    w = ember.zeros(1, 1, requires_grad=True)
    b = ember.zeros(1, requires_grad=True)
    for step in range(200):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
            w.grad = None
            b.grad = None
        if step % 50 == 0 or step == 199:
            print(f"step {step:3d}  loss {loss:.5f}")
    print(f"fitted w={w.item():.3f} b={b.item():.3f} (true 3, -1)")
    return 0


def _run(args) -> int:
    """Run a PyTorch script unmodified with ``import torch`` resolving to ember."""
    import ember

    sys.modules["torch"] = ember
    sys.argv = [args.script] + args.args
    runpy.run_path(args.script, run_name="__main__")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ember", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("demo", help="run the demo job")
    p_run = sub.add_parser("run", help="run a PyTorch script on ember")
    p_run.add_argument("script")
    p_run.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    return {"demo": _demo, "run": _run}[args.cmd](args)
