"""Which step of a CUDA training step waits for the GPU? Queues a 1-second spin kernel before each piece and
reports the pieces that return only after it finished (a host synchronisation). Not a test.

    python benchmarks/find_sync.py
"""

from __future__ import annotations

import time

import numpy as np


def main() -> int:
    import cupy

    import ember

    spin = cupy.RawKernel(
        r"""extern "C" __global__ void spin(long long cycles) {
            long long s = clock64(); while (clock64() - s < cycles) { } }""",
        "spin",
    )
    khz = cupy.cuda.runtime.deviceGetAttribute(cupy.cuda.runtime.cudaDevAttrClockRate, 0)

    def check(name, fn):
        spin((1,), (1,), (np.int64(1.0 * khz * 1000),))
        ev = cupy.cuda.Event()
        ev.record()
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        waited = ev.done
        cupy.cuda.Device().synchronize()
        print(f"{'SYNC ' if waited else 'ok   '} {dt * 1e3:8.1f} ms  {name}")
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

    m = GPT(GPTConfig(block_size=64, vocab_size=512, n_layer=2, n_head=4, n_embd=128)).to("cuda")
    o = ember.optim.AdamW(m.parameters(), lr=1e-3)
    idx = ember.randint(0, 512, (4, 64), device="cuda")
    for rnd in range(2):
        print("gpt round", rnd)
        with ember.autocast("cuda", dtype=ember.bfloat16):
            _, loss = check("gpt forward + loss", lambda: m(idx, idx))
        check("gpt backward", lambda loss=loss: loss.backward())
        check("adamw step", lambda: o.step())
        check("zero_grad", lambda: o.zero_grad(set_to_none=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
