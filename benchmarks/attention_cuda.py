"""scaled_dot_product_attention forward + backward on CUDA beyond the plain flash case (float32, dropout, head dim
> 128): torch, ember with the row-softmax kernels off (EMBER_CUDA_FUSED_ATTENTION=0, the composed path) and ember
as it runs by default (row-softmax kernels on; half precision with dropout goes to the flash kernels), in one run.

    python benchmarks/attention_cuda.py [--repeat 20] [--json out.json]

Prints milliseconds per forward + backward and peak allocated memory. Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import json
import time

CASES = [  # (name, dtype, (batch, heads, length, head dim), causal, dropout)
    ("f32 causal", "float32", (8, 12, 1024, 64), True, 0.0),
    ("f32 full", "float32", (8, 12, 1024, 64), False, 0.0),
    ("bf16 causal dropout 0.1", "bfloat16", (8, 12, 1024, 64), True, 0.1),
    ("f16 causal head dim 256", "float16", (4, 8, 1024, 256), True, 0.0),
]


def _time(mod, sync, fn, repeat: int) -> float:
    for _ in range(3):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync()
    return (time.perf_counter() - t0) / repeat * 1e3


def run_case(mod, case, repeat: int):
    name, dtype, shape, causal, p = case
    mod.manual_seed(0)
    dt = getattr(mod, dtype)
    q, k, v = (mod.randn(*shape, device="cuda", dtype=dt, requires_grad=True) for _ in range(3))
    g = mod.randn(*shape, device="cuda", dtype=dt)
    sdpa = mod.nn.functional.scaled_dot_product_attention

    def step():
        out = sdpa(q, k, v, dropout_p=p, is_causal=causal)
        out.backward(g)
        q.grad = k.grad = v.grad = None

    sync = mod.cuda.synchronize
    mod.cuda.reset_peak_memory_stats()
    ms = _time(mod, sync, step, repeat)
    return ms, mod.cuda.max_memory_allocated() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    import torch

    import ember
    from ember.backend.cuda import CUDABackend

    rows = []
    default = CUDABackend.fused_attention
    print(f"# {torch.cuda.get_device_name()}  ms per forward+backward (peak MiB)")
    print(f"{'case':28s} {'torch':>16s} {'ember fused off':>16s} {'ember':>16s}  off/torch ember/torch")
    for case in CASES:
        t = run_case(torch, case, args.repeat)
        res = {}
        for fused in (False, True):
            CUDABackend.fused_attention = fused
            res[fused] = run_case(ember, case, args.repeat)
        CUDABackend.fused_attention = default
        d, f = res[False], res[True]
        print(
            f"{case[0]:28s} {t[0]:8.2f} ({t[1]:5.0f}) {d[0]:8.2f} ({d[1]:5.0f}) {f[0]:8.2f} ({f[1]:5.0f})"
            f"  {d[0] / t[0]:9.2f} {f[0] / t[0]:11.2f}"
        )
        rows.append({"case": case[0], "torch": t, "ember_fused_off": d, "ember": f})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
