"""Which call of a CUDA training step waits for the GPU? Queues a 1-second spin kernel before each piece of a
step; a piece that returns only after the spin finished synchronised with the host. For such a piece, the
innermost Python frames and C calls that lasted about as long as the spin are printed: the waiting call and
its callers. Not a test.

    python benchmarks/find_sync.py [--dropout 0.1]    (the GPT pieces with dropout: attention, residual)
"""

from __future__ import annotations

import sys
import time

import numpy as np


def _slow_frames(fn, threshold: float):
    """Run fn under a profiler; return (result, [(depth, where, seconds)]) for every Python frame or C call
    that took longer than threshold seconds, innermost first."""
    stack: list = []
    slow: list = []

    def prof(frame, event, arg):
        now = time.perf_counter()
        if event in ("call", "c_call"):
            stack.append((now, frame, arg if event == "c_call" else None))
        elif stack:  # return, c_return, c_exception
            t0, fr, cfn = stack.pop()
            if now - t0 > threshold:
                code = fr.f_code
                where = f"{code.co_filename.split('/ember/')[-1]}:{fr.f_lineno} {code.co_name}"
                if cfn is not None:
                    where = f"C {getattr(cfn, '__qualname__', repr(cfn))}  (called at {where})"
                slow.append((len(stack), where, now - t0))

    sys.setprofile(prof)
    try:
        out = fn()
    finally:
        sys.setprofile(None)
    slow.sort(key=lambda s: -s[0])
    return out, slow


def main(argv=None) -> int:
    import argparse

    import cupy

    ap = argparse.ArgumentParser()
    ap.add_argument("--dropout", type=float, default=0.0, help="the GPT pieces' dropout (training mode)")
    args = ap.parse_args(argv)

    import ember

    spin = cupy.RawKernel(
        r"""extern "C" __global__ void spin(long long cycles) {
            long long s = clock64(); while (clock64() - s < cycles) { } }""",
        "spin",
    )
    khz = cupy.cuda.runtime.deviceGetAttribute(cupy.cuda.runtime.cudaDevAttrClockRate, 0)
    found = []

    def check(name, fn):
        spin((1,), (1,), (np.int64(1.0 * khz * 1000),))
        ev = cupy.cuda.Event()
        ev.record()
        t0 = time.perf_counter()
        out, slow = _slow_frames(fn, 0.5)
        dt = time.perf_counter() - t0
        waited = ev.done
        cupy.cuda.Device().synchronize()
        print(f"{'SYNC ' if waited else 'ok   '} {dt * 1e3:8.1f} ms  {name}")
        if waited:
            found.append(name)
            for depth, where, sec in slow[:8]:
                print(f"        depth {depth:3d} {sec * 1e3:7.1f} ms  {where}")
        return out

    model = ember.nn.Linear(16, 16).to("cuda")
    opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = ember.amp.GradScaler("cuda")
    x = ember.randn(8, 16, device="cuda")
    for rnd in range(2):
        print("round", rnd)
        with ember.autocast("cuda", dtype=ember.bfloat16):
            y = check("linear forward (autocast)", lambda: model(x))
            loss = check("float/pow/mean", lambda y=y: y.float().pow(2).mean())
        sl = check("scaler.scale", lambda loss=loss: scaler.scale(loss))
        check("backward", lambda sl=sl: sl.backward())
        check("scaler.unscale_", lambda: scaler.unscale_(opt))
        check("scaler.step (reads the inf flag: one sync expected)", lambda: scaler.step(opt))
        check("scaler.update", lambda: scaler.update())
        check("zero_grad", lambda: opt.zero_grad())
    # the GPT-2 pieces, small
    from ember.models.gpt import GPT, GPTConfig

    cfg = GPTConfig(block_size=64, vocab_size=512, n_layer=2, n_head=4, n_embd=128, dropout=args.dropout)
    m = GPT(cfg).to("cuda").train()
    o = ember.optim.AdamW(m.parameters(), lr=1e-3)
    idx = ember.randint(0, 512, (4, 64), device="cuda")
    for rnd in range(2):
        print("gpt round", rnd)
        with ember.autocast("cuda", dtype=ember.bfloat16):
            _, loss = check("gpt forward + loss", lambda: m(idx, idx))
        check("gpt backward", lambda loss=loss: loss.backward())
        check("clip_grad_norm_", lambda: ember.nn.utils.clip_grad_norm_(m.parameters(), 1.0))
        check("adamw step", lambda: o.step())
        check("zero_grad", lambda: o.zero_grad(set_to_none=True))
    print("pieces that waited:", found or "none (besides any expected)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
