"""Attention on CUDA without the float32 elementwise passes: row kernels for the softmax and its gradient,
and a half-precision path (float16/bfloat16 products on tensor cores, softmax statistics in float32).

NOTE: this still materialises the (L, S) score matrix once per call (float32 scores, half-precision
probabilities saved for backward), as torch's math backend does; a flash-style kernel that never stores it
is the GPU-performance issue's next step and will replace `attention_half` behind the same two functions.

Half-precision path, per (batch * heads):
    forward   S = Q K^T (float32 out) -> P = softmax(S * scale [causal]) (half) -> O = P V (half)
    backward  dV = P^T dO;  dP = dO V^T (float32);  dS = P (dP - rowsum(dP P)) * scale (half);
              dQ = dS K;  dK = dS^T Q
"""

from __future__ import annotations

import numpy as np

from .cuda_common import HALF_SRC, REDUCE_SRC, Kernels

# the shared helpers: ember_h2f / ember_f2h take 1 for bfloat16 and 0 (any other value) for float16
_SRC = (
    HALF_SRC
    + REDUCE_SRC
    + r"""
// Row r of the (rows, S) scores; causal rows (i = r % L) keep columns j <= i (top-left aligned, as torch).
__device__ __forceinline__ long long ember_row_limit(long long r, long long L, long long S, int causal) {
    if (!causal) return S;
    long long i = r % L;
    return i + 1 < S ? i + 1 : S;
}

// Per row of the float32 scores s (rows, S): softmax(s * scale), masked columns 0. out_kind 0 writes the
// probabilities over s in place (float32); 1 writes them to p as bfloat16 and 2 as float16 (s is scratch).
extern "C" __global__ void ember_softmax_rows(float* s, unsigned short* p, long long L, long long S,
                                              float scale, int causal, int out_kind) {
    __shared__ float red[32];
    long long r = blockIdx.x;
    float* row = s + r * S;
    unsigned short* prow = p + r * S;
    long long lim = ember_row_limit(r, L, S, causal);
    float m = EMBER_NEG_INF;
    for (long long j = threadIdx.x; j < lim; j += blockDim.x) m = fmaxf(m, __fmul_rn(row[j], scale));
    m = ember_block_reduce(m, red, true);
    if (m == EMBER_NEG_INF) m = 0.0f;
    float sum = 0.0f;
    for (long long j = threadIdx.x; j < lim; j += blockDim.x) {
        float e = expf(__fsub_rn(__fmul_rn(row[j], scale), m));
        row[j] = e;
        sum += e;
    }
    sum = ember_block_reduce(sum, red, false);
    if (sum == 0.0f) sum = 1.0f;
    if (out_kind == 0) {
        for (long long j = threadIdx.x; j < lim; j += blockDim.x) row[j] = row[j] / sum;
        for (long long j = lim + threadIdx.x; j < S; j += blockDim.x) row[j] = 0.0f;
    } else {
        int bf16 = out_kind == 1;
        for (long long j = threadIdx.x; j < lim; j += blockDim.x) prow[j] = ember_f2h(row[j] / sum, bf16);
        for (long long j = lim + threadIdx.x; j < S; j += blockDim.x) prow[j] = 0;
    }
}

// ds = p * (dp - rowsum(dp * p)) * scale per row, written in half precision (dp float32, p half).
extern "C" __global__ void ember_softmax_grad_to_half(const float* dp, const unsigned short* p,
                                                      unsigned short* ds, long long S, float scale, int bf16) {
    __shared__ float red[32];
    long long r = blockIdx.x;
    const float* dprow = dp + r * S;
    const unsigned short* prow = p + r * S;
    unsigned short* dsrow = ds + r * S;
    float d = 0.0f;
    for (long long j = threadIdx.x; j < S; j += blockDim.x) d += dprow[j] * ember_h2f(prow[j], bf16);
    d = ember_block_reduce(d, red, false);
    for (long long j = threadIdx.x; j < S; j += blockDim.x)
        dsrow[j] = ember_f2h(ember_h2f(prow[j], bf16) * (dprow[j] - d) * scale, bf16);
}
"""
)


_KERNELS = Kernels(_SRC)


def _threads(n: int) -> int:
    return 256 if n >= 256 else max(32, 1 << (int(n) - 1).bit_length())


def scaled_softmax_(s, scale: float, causal: bool) -> None:
    """In place over the last axis of a C-contiguous float32 array (..., L, S): softmax(s * scale) with
    torch's top-left causal mask — one pass per row instead of scale/mask/max/exp/sum/divide passes."""
    L, S = s.shape[-2], s.shape[-1]
    rows = s.size // S if S else 0
    if rows == 0:  # nothing to normalise (L == 0 or an empty batch): a zero-block launch is an error
        return
    args = (s, s, np.int64(L), np.int64(S), np.float32(scale), np.int32(bool(causal)), np.int32(0))
    _KERNELS("ember_softmax_rows")((rows,), (_threads(S),), args)


def _as3(a, rows: int, cols: int):
    import cupy

    return cupy.ascontiguousarray(a).reshape(-1, rows, cols)


def attention_half(q, k, v, scale: float, causal: bool):
    """softmax(q k^T * scale [causal]) v for float16/bfloat16 q (..., L, E), k (..., S, E), v (..., S, Ev)
    with equal batch shapes. Returns (out (..., L, Ev), probabilities P (..., L, S)), both in q's dtype."""
    import cupy

    from .cuda_blas import gemm_batched

    batch, (L, E), S, Ev = q.shape[:-2], q.shape[-2:], k.shape[-2], v.shape[-1]
    q3, k3, v3 = _as3(q, L, E), _as3(k, S, E), _as3(v, S, Ev)
    s = gemm_batched(q3, k3, trans_b=True, out_dtype=np.float32)
    p = cupy.empty(s.shape, dtype=q.dtype)
    if s.size:
        out_kind = 1 if q.dtype != np.float16 else 2
        args = (
            s,
            p.view(cupy.uint16),
            np.int64(L),
            np.int64(S),
            np.float32(scale),
            np.int32(bool(causal)),
            np.int32(out_kind),
        )
        _KERNELS("ember_softmax_rows")((s.size // S,), (_threads(S),), args)
    del s
    out = gemm_batched(p, v3)
    return out.reshape(batch + (L, Ev)), p.reshape(batch + (L, S))


def attention_half_backward(g, gw, q, k, v, p, scale: float, need):
    """Gradients (dq, dk, dv) of `attention_half` for output gradient g and, when the weights were an output
    too, their gradient gw; entries not in `need` (dq, dk, dv flags) come back as None."""
    import cupy

    from .cuda_blas import gemm_batched

    L, E, S, Ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
    dt = q.dtype
    g3 = _as3(g.astype(dt, copy=False), L, Ev)
    p3 = p.reshape(-1, L, S)
    dq = dk = dv = None
    if need[2]:
        dv = gemm_batched(p3, g3, trans_a=True).reshape(v.shape)
    if need[0] or need[1]:
        q3, k3, v3 = _as3(q, L, E), _as3(k, S, E), _as3(v, S, Ev)
        dp = gemm_batched(g3, v3, trans_b=True, out_dtype=np.float32)
        if gw is not None:
            dp += cupy.asarray(gw, dtype=np.float32).reshape(dp.shape)
        ds = cupy.empty(dp.shape, dtype=dt)
        if ds.size:
            bf16 = int(dt != np.float16)
            _KERNELS("ember_softmax_grad_to_half")(
                (ds.size // S,),
                (_threads(S),),
                (
                    dp,
                    p3.view(cupy.uint16),
                    ds.view(cupy.uint16),
                    np.int64(S),
                    np.float32(scale),
                    np.int32(bf16),
                ),
            )
        del dp
        if need[0]:
            dq = gemm_batched(ds, k3).reshape(q.shape)
        if need[1]:
            dk = gemm_batched(ds, q3, trans_a=True).reshape(k.shape)
    return dq, dk, dv
