"""Flash attention on CuPy arrays: the Triton kernels of cuda_flash_kernels.py, launched through cuda_triton.

    out, lse = flash_forward(q, k, v, scale, causal, mask, groups)  # lse: (Z*H, L) float32, base-2 log-sum-exp
    dq, dk, dv = flash_backward(g, q, k, v, out, lse, scale, causal, need, mask, groups)
    # with dropout: drop=(rng, p), rng = dropout_rng(...) made from the generator's reservation of
    # dropout_blocks(...) Philox blocks; the backward regenerates the mask from the same rng

q (..., L, D), k and v (..., S, D) float16/bfloat16 with equal batch shapes and D <= 128 (with groups > 1,
grouped-query attention: k and v have 1/groups of q's heads, query head h reads head h // groups); any strides
with a unit stride along D (GPT-2's q/k/v are transposed views of the fused QKV projection: read in place).
mask (optional): boolean (True takes part) or floating (added to the scaled scores), broadcastable to
(..., L, S), read in place through broadcast strides. Saved for backward: the inputs, the output and lse (L
floats per head), never the (L, S) probabilities, nor a dropout mask.
"""

from __future__ import annotations

import numpy as np

MAX_HEAD_DIM = 128
_K: dict = {}


def available() -> bool:
    """Whether Triton is importable (the flash path needs it; ember falls back to the cuBLAS path)."""
    if "ok" not in _K:
        try:
            import triton  # noqa: F401

            _K["ok"] = True
        except ImportError:
            _K["ok"] = False
    return _K["ok"]


def supports(q, k, v, groups: int = 1) -> bool:
    D = q.shape[-1]
    if groups == 1:
        heads = q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    else:
        heads = (
            q.ndim >= 3
            and q.shape[:-3] == k.shape[:-3] == v.shape[:-3]
            and q.shape[-3] == groups * k.shape[-3] == groups * v.shape[-3]
        )
    return (
        q.dtype == k.dtype == v.dtype
        and q.dtype.name in ("float16", "bfloat16")
        and 0 < D <= MAX_HEAD_DIM
        and k.shape[-1] == D
        and v.shape[-1] == D
        and heads
        and k.shape[-2] == v.shape[-2]
        and q.size > 0
        and k.size > 0
        and int(np.prod(q.shape[:-2], dtype=np.int64)) < 65536
        and available()
    )


def dropout_blocks(q, k) -> int:
    """Philox blocks one attention call with dropout consumes: ceil(S / 4) per row of every head."""
    heads = int(np.prod(q.shape[:-2], dtype=np.int64))
    return heads * q.shape[-2] * ((k.shape[-2] + 3) // 4)


def dropout_rng(seed: int, offset: int, base=None):
    """The kernels' (seed, offset, 1) as a uint64[3] device array, written by a one-thread kernel from the
    generator's reservation (no host copy, so a CUDA graph can capture it: inside one, `base` is the graph's
    generator buffer, which supplies the seed and the offset `offset` counts from at each replay). The array
    also serves as philox_blocks_cuda's base (dropout_keep)."""
    import cupy

    from .cuda_graph import set_base

    out = cupy.empty(3, dtype=cupy.uint64)
    set_base(out, seed, offset, base)
    return out


def dropout_keep(rng, q, k, p: float):
    """The keep mask (..., L, S) of the kernels' dropout with this rng (for create_graph backward and tests)."""
    import cupy

    from .philox import philox_blocks_cuda

    L, S = q.shape[-2], k.shape[-2]
    S4 = (S + 3) // 4
    words = philox_blocks_cuda(0, 0, dropout_blocks(q, k), base=rng).reshape(-1, L, 4 * S4)[..., :S]
    u = (words >> 8).astype(cupy.float32) * cupy.float32(2.0**-24)
    return (u >= cupy.float32(p)).reshape(q.shape[:-2] + (L, S))


def _drop_args(drop, dummy):
    """(rng array, p, 1 / (1 - p) or 0, flag) kernel arguments for drop = (rng, p) or None."""
    if drop is None:
        return dummy, 0.0, 1.0, False
    rng, p = drop
    return rng, float(p), (1.0 / (1.0 - p) if p < 1 else 0.0), True


def _kernels():
    if not _K.get("fwd"):
        from . import cuda_flash_kernels as fk
        from .cuda_triton import TritonKernel

        _K["fwd"] = TritonKernel(fk._flash_fwd)
        _K["delta"] = TritonKernel(fk._flash_bwd_delta)
        _K["dkdv"] = TritonKernel(fk._flash_bwd_dkdv)
        _K["dq"] = TritonKernel(fk._flash_bwd_dq)
        _K["log2e"] = fk.LOG2E
    return _K


def _view4(a):
    """(array, Z, H, (stride_z, stride_h, stride_row)) in elements, viewing (..., R, D) as (Z, H, R, D)."""
    import cupy

    if a.strides[-1] != a.itemsize or a.ndim > 4:
        a = cupy.ascontiguousarray(a)
        if a.ndim > 4:
            a = a.reshape((-1,) + a.shape[-2:])
    isz = a.itemsize
    st = [s // isz for s in a.strides]
    if a.ndim == 4:
        return a, a.shape[0], a.shape[1], (st[0], st[1], st[2])
    if a.ndim == 3:
        return a, 1, a.shape[0], (0, st[0], st[1])
    return a, 1, 1, (0, 0, st[0])


def _mask4(mask, q, S: int):
    """(array, 4 strides in elements, kind) for the kernels: the mask broadcast to q's (..., L, S) and viewed
    as (Z, H, L, S) (stride 0 along broadcast dimensions); booleans as uint8. kind: 0 none, 1 bool, 2 added."""
    import cupy

    if mask is None:
        return q, (0, 0, 0, 0), 0
    kind = 1 if mask.dtype == np.bool_ else 2
    if kind == 1:
        mask = mask.view(np.uint8)
    full = q.shape[:-1] + (S,)
    m = cupy.broadcast_to(mask, full)
    if m.ndim > 4:
        m = m.reshape((-1,) + full[-2:])  # a copy only where the broadcast strides can't be merged
    isz = m.itemsize
    st = [s // isz for s in m.strides]
    st = [0] * (4 - m.ndim) + st
    return m, tuple(st), kind


def _empty_as(x, dtype):
    """An uninitialised array of x's shape whose memory order follows x's strides (GPT-2's q is a (B, H, T, D)
    view of (B, T, H, D) memory: so are the output and the gradients, and the transpose back to (B, T, C) that
    follows attention needs no copy)."""
    import cupy

    if x.ndim < 3 or x.ndim > 4 or x.strides[-1] != x.itemsize:
        return cupy.empty(x.shape, dtype=dtype)  # C order (so that _view4 never has to copy it)
    perm = sorted(range(x.ndim - 1), key=lambda i: -x.strides[i]) + [x.ndim - 1]
    buf = cupy.empty(tuple(x.shape[i] for i in perm), dtype=dtype)
    inv = [0] * x.ndim
    for j, i in enumerate(perm):
        inv[i] = j
    return buf.transpose(inv)


def _blocks(D: int):
    bd = max(16, 1 << (D - 1).bit_length())
    warps = 4 if bd <= 64 else 8
    return bd, warps


def _operands(q, k, v, mask):
    """The kernels' view of the inputs: (L, S, D, Z, H, (q4, sq), (k4, sk), (v4, sv), (m4, sm, kind))."""
    L, D = q.shape[-2:]
    S = k.shape[-2]
    q4, Z, H, sq = _view4(q)
    k4, _, _, sk = _view4(k)
    v4, _, _, sv = _view4(v)
    return L, S, D, Z, H, (q4, sq), (k4, sk), (v4, sv), _mask4(mask, q, S)


def flash_forward(q, k, v, scale: float, causal: bool, mask=None, groups: int = 1, drop=None):
    import cupy

    ks = _kernels()
    L, S, D, Z, H, (q4, sq), (k4, sk), (v4, sv), (m4, sm, kind) = _operands(q, k, v, mask)
    out = _empty_as(q, q.dtype)
    o4, _, _, so = _view4(out)
    lse = cupy.empty((Z * H, L), dtype=np.float32)
    rng, p, dsc, dropout = _drop_args(drop, lse)
    bd, warps = _blocks(D)
    bm, bn = 128, 64
    ks["fwd"](
        ((L + bm - 1) // bm, Z * H, 1),
        q4, k4, v4, o4, lse, m4, rng, float(scale) * ks["log2e"], p, dsc,
        *sq, *sk, *sv, *so, *sm,
        H, groups, L, S, D,
        CAUSAL=bool(causal), MASK=kind, DROPOUT=dropout, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd,
        num_warps=warps, num_stages=3,
    )  # fmt: skip
    return out, lse


def flash_backward(
    g, q, k, v, out, lse, scale: float, causal: bool, need, mask=None, groups: int = 1, drop=None
):
    """(dq, dk, dv) in q's dtype; entries not in `need` (three flags) are None. drop: the forward's."""
    import cupy

    ks = _kernels()
    L, S, D, Z, H, (q4, sq), (k4, sk), (v4, sv), (m4, sm, kind) = _operands(q, k, v, mask)
    o4, _, _, so = _view4(out)
    do4, _, _, sd = _view4(g.astype(q.dtype, copy=False))
    bd, warps = _blocks(D)
    bm, bn = 64, 64
    delta = cupy.empty((Z * H, L), dtype=np.float32)
    ks["delta"](
        ((L + bm - 1) // bm, Z * H, 1), o4, do4, delta, *so, *sd, H, L, D, BLOCK_M=bm, BLOCK_D=bd, num_warps=4
    )
    qk_scale = float(scale) * ks["log2e"]
    rng, p, dsc, dropout = _drop_args(drop, lse)
    dq = dk = dv = None
    if need[1] or need[2]:
        dk = _empty_as(k, q.dtype)
        dv = _empty_as(v, q.dtype)
        dk4, _, _, sdk = _view4(dk)
        dv4, _, _, sdv = _view4(dv)
        ks["dkdv"](
            ((S + bn - 1) // bn, Z * (H // groups), 1),
            q4, k4, v4, do4, lse, delta, dk4, dv4, m4, rng, qk_scale, float(scale), p, dsc,
            *sq, *sk, *sv, *sd, *sdk, *sdv, *sm,
            H, groups, L, S, D,
            CAUSAL=bool(causal), MASK=kind, DROPOUT=dropout, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd, num_warps=warps, num_stages=2,
        )  # fmt: skip
    if need[0]:
        dq = _empty_as(q, q.dtype)
        dq4, _, _, sdq = _view4(dq)
        ks["dq"](
            ((L + bm - 1) // bm, Z * H, 1),
            q4, k4, v4, do4, lse, delta, dq4, m4, rng, qk_scale, float(scale), p, dsc,
            *sq, *sk, *sv, *sd, *sdq, *sm,
            H, groups, L, S, D,
            CAUSAL=bool(causal), MASK=kind, DROPOUT=dropout, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=bd, num_warps=warps, num_stages=2,
        )  # fmt: skip
    return dq, (dk if need[1] else None), (dv if need[2] else None)
