"""Per-op host overhead on small tensors: ember vs torch, in one run (CPU, or CUDA with --device cuda).

    python benchmarks/overhead.py [--device cpu|cuda] [--repeat 7] [--json out.json]

On CUDA the ops are tiny, so the time per op is the host's (Python + launch); a CuPy `x + y` row is the
floor of a CuPy launch.

Prints a table of microseconds per op and the ratio ember/torch. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import operator
import platform
import statistics
import sys
import time
import timeit


def _bench(stmt, number: int, repeat: int) -> float:
    """Median over `repeat` runs of the per-call time in microseconds."""
    times = timeit.repeat(stmt, number=number, repeat=repeat)
    return statistics.median(times) / number * 1e6


def cases(mod, dev):
    mod.manual_seed(0)
    x16 = mod.randn(16, device=dev)
    y16 = mod.randn(16, device=dev)
    xg = mod.randn(16, device=dev, requires_grad=True)
    a64 = mod.randn(64, 64, device=dev)
    b64 = mod.randn(64, 64, device=dev)
    w = mod.randn(16, device=dev, requires_grad=True)

    def add_nograd():
        return x16 + y16

    def add_grad():
        return xg + y16

    def matmul64():
        return a64 @ b64

    def chain50_backward():
        h = w
        for _ in range(25):
            h = h * 1.01
            h = h + 0.1
        h.sum().backward()
        w.grad = None

    def mul_scalar():
        return x16 * 1.01

    def sum_small():
        return x16.sum()

    def index_small():
        return x16[3]

    return {
        "add 16 (no grad)": (add_nograd, 20000),
        "add 16 (requires grad)": (add_grad, 20000),
        "matmul 64x64": (matmul64, 5000),
        "50-op chain + backward": (chain50_backward, 200),
        "mul 16 by a Python float": (mul_scalar, 20000),
        "sum 16": (sum_small, 20000),
        "index x[3]": (index_small, 20000),
    }


def _raw_launch(ce, x, y, z):
    """One launch of the compiled ember_binary8 kernel (z = x + y, float32) with its arguments built per call as
    binary_op builds them, without its checks and allocation. The argument order is the kernel's: a, b, s,
    has_b, out, n, ta, tb, to, op, vec."""
    import numpy as np

    k = ce._KERNELS("ember_binary8")
    u64, i64, f32, i32 = np.uint64, np.int64, np.float32, ce._I32

    def f():
        args = (u64(x.data.ptr), u64(y.data.ptr), f32(0), i32[1], u64(z.data.ptr), i64(x.size), i32[0], i32[0],
                i32[0], i32[0], i32[1])  # fmt: skip
        k((1,), (256,), args)

    return f


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--json", default=None)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    import torch

    import ember

    torch.set_num_threads(1)
    # NOTE: tensors get device= rather than set_default_device, which wraps every torch op in a function mode
    results = {}
    e_cases, t_cases = cases(ember, args.device), cases(torch, args.device)
    for name in e_cases:
        fe, n = e_cases[name]
        ft, _ = t_cases[name]
        fe(), ft()  # warm up
        te = _bench(fe, n, args.repeat)
        tt = _bench(ft, n, args.repeat)
        results[name] = {"ember_us": te, "torch_us": tt, "ratio": te / tt}
    if args.device == "cuda":
        import cupy

        x, y = cupy.ones(16, dtype=cupy.float32), cupy.ones(16, dtype=cupy.float32)
        tc = _bench(lambda: x + y, 20000, args.repeat)
        tt = results["add 16 (no grad)"]["torch_us"]
        results["cupy x + y (16)"] = {"ember_us": tc, "torch_us": tt, "ratio": tc / tt}
        # the pieces of ember's own launch path (backend/cuda_elementwise.binary_op), and ember's add through
        # CuPy's ufunc instead of it
        from ember.backend import cuda_elementwise as ce
        from ember.backend import get_backend

        be = get_backend(ember.device("cuda"))
        z = x + y
        rows = {
            "cupy empty(16)": lambda: cupy.empty(16, dtype=cupy.float32),
            "ember binary_op add (arrays)": lambda: be.add(x, y),
            "cached kernel launch": _raw_launch(ce, x, y, z),
        }
        for name, f in rows.items():
            f()
            t = _bench(f, 20000, args.repeat)
            results[name] = {"ember_us": t, "torch_us": tt, "ratio": t / tt}
        fast = be.add
        be.add = operator.add
        try:
            fe = e_cases["add 16 (no grad)"][0]
            t = _bench(fe, 20000, args.repeat)
            results["add 16 (no grad), CuPy ufunc"] = {"ember_us": t, "torch_us": tt, "ratio": t / tt}
        finally:
            be.add = fast
        cupy.cuda.Device().synchronize()
    print(
        f"# {time.strftime('%Y-%m-%d')}  python {platform.python_version()}  {platform.machine()}  "
        f"torch {torch.__version__}  ember {ember.__version__}  device {args.device}"
    )
    print(f"{'case':28s} {'ember us':>10s} {'torch us':>10s} {'ratio':>7s}")
    for name, r in results.items():
        print(f"{name:28s} {r['ember_us']:10.2f} {r['torch_us']:10.2f} {r['ratio']:7.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
