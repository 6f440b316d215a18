"""Fused softmax / log_softmax over the last axis on CUDA: one kernel forward (max, sum of exponentials and the
output in one block per row, float32 statistics, output in the input's dtype) and one backward
(softmax: gx = y (g - sum(g y)); log_softmax: gx = g - exp(y) sum(g)), from the saved output only.

Semantics as the composed path: softmax of a row holding +inf or only -inf is NaN; log_softmax shifts by the
row maximum only when it is finite.
"""

from __future__ import annotations

import os

import numpy as np

from .cuda_common import DTYPE_CODE, HALF_SRC, REDUCE_SRC, Kernels, pointer

ENABLED = os.environ.get("EMBER_CUDA_FUSED_SOFTMAX", "1") == "1"  # EMBER_CUDA_FUSED_SOFTMAX=0: composition

_SRC = (
    HALF_SRC
    + REDUCE_SRC
    + r"""
extern "C" __global__ void ember_softmax_fwd(const void* x, void* y, long long n, int t, int log) {
    __shared__ float red[32];
    const long long base = (long long)blockIdx.x * n;
    float m = EMBER_NEG_INF;
    bool nan = false;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
        float v = ember_ld(x, base + j, t);
        nan |= v != v;
        m = fmaxf(m, v);
    }
    m = ember_block_reduce(m, red, true);
    // fmaxf skips NaN; the composition's max returns it, so a row with a NaN comes out all NaN
    float anynan = ember_block_reduce(nan ? 1.0f : 0.0f, red, true);
    if (anynan > 0.0f) m = __int_as_float(0x7fc00000);
    float shift = log ? ((m == m && m != EMBER_NEG_INF && m != -EMBER_NEG_INF) ? m : 0.0f) : m;
    float s = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) s += expf(ember_ld(x, base + j, t) - shift);
    s = ember_block_reduce(s, red, false);
    float ls = logf(s);
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
        float d = ember_ld(x, base + j, t) - shift;
        ember_st(y, base + j, t, log ? d - ls : expf(d) / s);
    }
}

// softmax: gx = y (g - sum(g y));  log_softmax: gx = g - exp(y) sum(g)
extern "C" __global__ void ember_softmax_bwd(const void* g, const void* y, void* gx, long long n, int t, int log) {
    __shared__ float red[32];
    const long long base = (long long)blockIdx.x * n;
    float s = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
        float gv = ember_ld(g, base + j, t);
        s += log ? gv : gv * ember_ld(y, base + j, t);
    }
    s = ember_block_reduce(s, red, false);
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
        float gv = ember_ld(g, base + j, t), yv = ember_ld(y, base + j, t);
        ember_st(gx, base + j, t, log ? gv - expf(yv) * s : yv * (gv - s));
    }
}
"""
)


def supports(a, dim: int) -> bool:
    """Last-axis softmax of a C-contiguous float32/float16/bfloat16 array with rows (< 2**31 of them)."""
    return (
        ENABLED
        and a.ndim >= 1
        and dim == a.ndim - 1
        and a.size > 0
        and a.dtype in DTYPE_CODE
        and a.flags.c_contiguous
        and a.size // a.shape[-1] < 2**31
    )


_KERNELS = Kernels(_SRC)


def _threads(n: int) -> int:
    return 1024 if n >= 4096 else 256 if n >= 256 else max(32, 1 << (int(n) - 1).bit_length())


def forward(a, log: bool):
    import cupy

    n = a.shape[-1]
    y = cupy.empty(a.shape, dtype=a.dtype)
    args = (
        pointer(a),
        pointer(y),
        np.int64(n),
        np.int32(DTYPE_CODE[a.dtype]),
        np.int32(log),
    )
    _KERNELS("ember_softmax_fwd")((a.size // n,), (_threads(n),), args)
    return y


def backward(g, y, log: bool):
    """Gradient of forward's input from the output y and the output gradient g (cast/copied to y's layout)."""
    import cupy

    if g.dtype != y.dtype or not g.flags.c_contiguous:
        g = cupy.ascontiguousarray(g, dtype=y.dtype)
    n = y.shape[-1]
    gx = cupy.empty(y.shape, dtype=y.dtype)
    args = (
        pointer(g),
        pointer(y),
        pointer(gx),
        np.int64(n),
        np.int32(DTYPE_CODE[y.dtype]),
        np.int32(log),
    )
    _KERNELS("ember_softmax_bwd")((y.size // n,), (_threads(n),), args)
    return gx
