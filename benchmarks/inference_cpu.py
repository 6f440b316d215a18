"""Inference latency on CPU: ember eager vs the loaded `.ember` artifact (ember's ops) vs the NumPy-only
runtime (ember_runtime) vs onnxruntime (from ember.onnx.export) vs torch eager, in one run.

    python benchmarks/inference_cpu.py [--repeats 5] [--threads 2] [--json out.json]

Models (built by the same code for ember and torch, torch's weights copied into ember; benchmarks/train_cpu.py):
MLP 784-256-10, the 2-conv CNN on 28x28, the demo's char-GPT (4 layers, width 128, context 64, vocab 65; full
context in, logits out), at batch 1 and 32. Per call: the median over --calls calls, best of --repeats rounds.
Ratios are to torch eager. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from train_cpu import cnn, gpt, mlp  # noqa: E402


def _time(fn, calls: int, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        ts = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        best = min(best, statistics.median(ts))
    return best * 1e6


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    import onnxruntime as ort
    import torch

    import ember
    import ember_runtime

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    specs = {
        "MLP": (lambda t: mlp(t), lambda b: rng.standard_normal((b, 784)).astype(np.float32)),
        "CNN": (lambda t: cnn(t), lambda b: rng.standard_normal((b, 1, 28, 28)).astype(np.float32)),
        "char-GPT": (lambda t: gpt(t), lambda b: rng.integers(0, 65, (b, 64))),
    }
    rows = []
    tmp = tempfile.mkdtemp()
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    for name, (build, make_x) in specs.items():
        torch.manual_seed(0)
        tm = build(torch).eval()
        em = build(ember).eval()
        em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
        x1 = make_x(2)
        dyn = {"x": {0: "batch"}} if name != "char-GPT" else {"x": {0: "batch", 1: "seq"}}
        path = os.path.join(tmp, f"{name}.ember")
        ember.export.save(em, path, (ember.tensor(x1),), input_names=["x"], dynamic_axes=dyn)
        prog = ember.export.load(path)
        rt = ember_runtime.load(path)
        onnx_path = os.path.join(tmp, f"{name}.onnx")
        ember.onnx.export(
            em, (ember.tensor(x1),), onnx_path, input_names=["x"], output_names=["y"], dynamic_axes=dyn
        )
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        for b in (1, 32):
            x = make_x(b)
            tx, ex = torch.tensor(x), ember.tensor(x)
            ref = tm(tx).detach().numpy()
            for label, out in (
                ("ember", em(ex).detach().numpy()),
                ("artifact", prog(ex).numpy()),
                ("runtime", rt(x)),
                ("onnxruntime", sess.run(None, {"x": x})[0]),
            ):
                err = float(np.abs(np.asarray(out, dtype=np.float64) - ref).max())
                assert err < 1e-3, (
                    name,
                    b,
                    label,
                    err,
                )  # a wrong fast path would make the timing meaningless
            with torch.no_grad():
                t_us = _time(lambda tx=tx, m=tm: m(tx), args.calls, args.repeats)
            with ember.no_grad():
                e_us = _time(lambda ex=ex, m=em: m(ex), args.calls, args.repeats)
                a_us = _time(lambda ex=ex, m=prog: m(ex), args.calls, args.repeats)
            r_us = _time(lambda x=x, m=rt: m(x), args.calls, args.repeats)
            o_us = _time(lambda x=x, s=sess: s.run(None, {"x": x}), args.calls, args.repeats)
            rows.append(
                {
                    "model": name,
                    "batch": b,
                    "torch_us": t_us,
                    "ember_us": e_us,
                    "artifact_us": a_us,
                    "runtime_us": r_us,
                    "onnxruntime_us": o_us,
                }
            )
            print(
                f"{name:9s} b={b:<3d} torch {t_us:9.1f} us | ember {e_us:9.1f} ({e_us / t_us:4.2f}x) | artifact "
                f"{a_us:9.1f} ({a_us / t_us:4.2f}x) | runtime {r_us:9.1f} ({r_us / t_us:4.2f}x) | onnxruntime "
                f"{o_us:9.1f} ({o_us / t_us:4.2f}x)",
                flush=True,
            )
    info = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "threads": args.threads,
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
