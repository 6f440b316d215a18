"""The flash-attention kernels' math on the CPU, in Triton's interpreter: no GPU needed. A development check
(not a benchmark, not in `make test`: it needs `pip install triton` (~640 MB) next to torch):

    python benchmarks/check_flash_interpreter.py

Runs ember/backend/cuda_flash.py's forward and backward with NumPy standing in for CuPy and the interpreter
standing in for the GPU, in float16, against torch's float64 SDPA on the same rounded inputs: causal and not,
L != S, odd lengths, head dims 8-64, strided (transposed) q and k, boolean and additive masks broadcast over
batch or heads (with fully masked rows), grouped-query attention, dropout (the reference applies the keep mask
ember's Philox stream gives for the same seed and offset, computed on the host). Prints the relative errors; exits 1 if any is
over 5e-3 (an exactly-zero reference, one key only, is compared absolutely).
"""

from __future__ import annotations

import os
import sys

os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402
import triton.runtime.interpreter as _ti  # noqa: E402

sys.modules["cupy"] = np  # NumPy stands in for CuPy (empty, ascontiguousarray, transpose)

from ember.backend import cuda_flash  # noqa: E402
from ember.backend import cuda_flash_kernels as fk  # noqa: E402

_patch_tensor = _ti._patch_lang_tensor


def _patched_tensor(tensor, scope):
    """Triton 3.6's interpreter turns a 1-element block into an index with int(array), which NumPy >= 2.4
    refuses for 1-D arrays: take the element instead."""
    _patch_tensor(tensor, scope)
    scope.set_attr(tensor, "__index__", lambda self: int(np.asarray(self.handle.data).reshape(-1)[0]))


_ti._patch_lang_tensor = _patched_tensor


class _Interpreted:
    """Launch a @triton.jit kernel through the interpreter with torch views of the NumPy arrays."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, grid, *args, **kw):
        kw.pop("num_warps", None)
        kw.pop("num_stages", None)
        self.fn[grid](*(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args), **kw)


def _reference(q, k, v, g, scale, causal, mask=None, groups=1, keep=None, p=0.0):
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    tm = None
    if mask is not None:
        tm = torch.tensor(mask if mask.dtype == np.bool_ else mask.astype(np.float64))
    if keep is None:
        o = torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, attn_mask=tm, is_causal=causal, scale=scale, enable_gqa=groups > 1
        )
    else:  # softmax, then the given keep mask and 1 / (1 - p)
        kk, vv = (t.repeat_interleave(groups, dim=-3) for t in (tk, tv))
        s = (tq @ kk.transpose(-1, -2)) * scale
        if causal:
            s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
        o = (s.softmax(-1) * torch.tensor(keep) / (1 - p)) @ vv
    o.backward(torch.tensor(g.astype(np.float64)))
    return o.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()


def _err(a, b) -> float:
    a = a.astype(np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    nb = np.linalg.norm(b)
    return float(np.abs(a).max(initial=0.0)) if nb < 1e-6 else float(np.linalg.norm(a - b) / nb)


def main() -> int:
    cuda_flash._K.update(
        fwd=_Interpreted(fk._flash_fwd),
        delta=_Interpreted(fk._flash_bwd_delta),
        dkdv=_Interpreted(fk._flash_bwd_dkdv),
        dq=_Interpreted(fk._flash_bwd_dq),
        log2e=fk.LOG2E,
        ok=True,
    )
    rng = np.random.default_rng(0)
    cases = [
        ((2, 3), 5, 7, 8, False),
        ((1, 1), 1, 1, 16, True),
        ((2, 2), 33, 17, 24, True),
        ((1, 2), 130, 70, 64, False),
        ((2,), 129, 129, 64, True),
        ((), 6, 11, 8, True),
        ((1, 3), 65, 200, 64, True),
    ]
    worst = 0.0
    for batch, L, S, D, causal in cases:
        for strided in (False, True):
            q, k, v = (rng.standard_normal(batch + (n, D)).astype(np.float16) for n in (L, S, S))
            g = rng.standard_normal(batch + (L, D)).astype(np.float16)
            if strided and len(batch) == 2:  # (B, H, T, D) views of (B, T, H, D) memory, as GPT-2's
                q = np.ascontiguousarray(q.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
                k = np.ascontiguousarray(k.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
            scale = 1 / np.sqrt(D)
            out, lse = cuda_flash.flash_forward(q, k, v, scale, causal)
            grads = cuda_flash.flash_backward(g, q, k, v, out, lse, scale, causal, (True, True, True))
            errs = [_err(a, r) for a, r in zip((out,) + grads, _reference(q, k, v, g, scale, causal))]
            worst = max(worst, *errs)
            print(
                f"batch {batch} L {L} S {S} D {D} causal {causal} strided {strided}: "
                + " ".join(f"{n} {e:.1e}" for n, e in zip(("out", "dq", "dk", "dv"), errs))
            )
    # masks (boolean with fully masked rows, additive with -inf) broadcast over batch or heads; GQA
    for batch, L, S, D, mkind, mshape, groups in [
        ((2, 3), 9, 70, 16, "bool", (3, 9, 70), 1),
        ((2, 2), 65, 33, 32, "float", (2, 1, 65, 33), 1),
        ((1, 4), 20, 20, 16, "float", (20, 20), 1),
        ((2, 4), 33, 70, 16, None, None, 2),
        ((1, 6), 17, 17, 16, "bool", (1, 6, 17, 17), 3),
        ((6,), 5, 9, 8, None, None, 6),
    ]:
        kv = batch[:-1] + (batch[-1] // groups,)
        q = rng.standard_normal(batch + (L, D)).astype(np.float16)
        k, v = (rng.standard_normal(kv + (S, D)).astype(np.float16) for _ in range(2))
        g = rng.standard_normal(batch + (L, D)).astype(np.float16)
        mask = None
        if mkind == "bool":
            mask = rng.random(mshape) < 0.7
            mask[..., 1, :] = False  # a fully masked row: zeros out, no gradient
        elif mkind == "float":
            mask = rng.standard_normal(mshape).astype(np.float32)
            mask[..., 0, 3] = -np.inf
        scale = 1 / np.sqrt(D)
        out, lse = cuda_flash.flash_forward(q, k, v, scale, False, mask, groups)
        grads = cuda_flash.flash_backward(
            g, q, k, v, out, lse, scale, False, (True, True, True), mask, groups
        )
        ref = _reference(q, k, v, g, scale, False, mask, groups)
        errs = [_err(a, r) for a, r in zip((out,) + grads, ref)]
        worst = max(worst, *errs)
        print(
            f"batch {batch} L {L} S {S} D {D} mask {mkind} {mshape} groups {groups}: "
            + " ".join(f"{n} {e:.1e}" for n, e in zip(("out", "dq", "dk", "dv"), errs))
        )
    # dropout: the kernels' mask against the one ember's Philox stream gives on the host
    from ember.backend.philox import philox_blocks

    for batch, L, S, D, causal, p, groups in [
        ((2, 3), 70, 70, 16, True, 0.3, 1),
        ((1, 2), 33, 65, 32, False, 0.5, 1),
        ((2,), 130, 9, 16, False, 0.1, 1),
        ((1, 1), 5, 7, 8, True, 0.9, 1),
        ((1, 4), 33, 40, 16, True, 0.2, 2),
    ]:
        kv = batch[:-1] + (batch[-1] // groups,)
        q = rng.standard_normal(batch + (L, D)).astype(np.float16)
        k, v = (rng.standard_normal(kv + (S, D)).astype(np.float16) for _ in range(2))
        g = rng.standard_normal(batch + (L, D)).astype(np.float16)
        seed, offset = 0x9E3779B97F4A7C15 + L, 2**33 + S
        rngbuf = np.array([seed, offset, 1], dtype=np.uint64)
        nb = cuda_flash.dropout_blocks(q, k)
        S4 = (S + 3) // 4
        words = philox_blocks(np, seed, offset, nb, kernel=False).reshape(-1, L, 4 * S4)[..., :S]
        keep = ((words >> 8).astype(np.float32) * np.float32(2.0**-24) >= np.float32(p)).reshape(
            batch + (L, S)
        )
        scale = 1 / np.sqrt(D)
        out, lse = cuda_flash.flash_forward(q, k, v, scale, causal, None, groups, drop=(rngbuf, p))
        grads = cuda_flash.flash_backward(
            g, q, k, v, out, lse, scale, causal, (True, True, True), None, groups, drop=(rngbuf, p)
        )
        ref = _reference(q, k, v, g, scale, causal, None, groups, keep=keep, p=p)
        errs = [_err(a, r) for a, r in zip((out,) + grads, ref)]
        worst = max(worst, *errs)
        print(
            f"batch {batch} L {L} S {S} D {D} causal {causal} groups {groups} dropout {p} (kept {keep.mean():.3f}): "
            + " ".join(f"{n} {e:.1e}" for n, e in zip(("out", "dq", "dk", "dv"), errs))
        )
    print(f"worst relative error {worst:.1e}")
    return 0 if worst < 5e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
