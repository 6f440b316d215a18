"""Fused softmax / log_softmax over the last axis on CUDA: one kernel forward (max, sum of exponentials and the
output in one block per row, float32 statistics, output in the input's dtype) and one backward
(softmax: gx = y (g - sum(g y)); log_softmax: gx = g - exp(y) sum(g)), from the saved output only.

Semantics as the composed path: softmax of a row holding +inf or only -inf is NaN; log_softmax shifts by the
row maximum only when it is finite.
"""

from __future__ import annotations

import os

import numpy as np

ENABLED = os.environ.get("EMBER_CUDA_FUSED_SOFTMAX", "0") == "1"

_MOD: dict = {}

_SRC = r"""
#define EMBER_NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float ember_ld(const void* p, long long i, int t) {
    if (t == 0) return ((const float*)p)[i];
    unsigned short h = ((const unsigned short*)p)[i];
    if (t == 1) return __uint_as_float(((unsigned int)h) << 16);
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ void ember_st(void* p, long long i, int t, float f) {
    if (t == 0) { ((float*)p)[i] = f; return; }
    unsigned short h;
    if (t == 1) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    ((unsigned short*)p)[i] = h;
}

// max (is_max) or sum over the block; every thread gets the result. red: 32 floats of shared memory.
__device__ __forceinline__ float ember_reduce(float v, float* red, bool is_max) {
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    if (lane == 0) red[wid] = v;
    __syncthreads();
    if (wid == 0) {
        v = lane < nw ? red[lane] : (is_max ? EMBER_NEG_INF : 0.0f);
        for (int o = 16; o > 0; o >>= 1) {
            float w = __shfl_xor_sync(0xffffffffu, v, o);
            v = is_max ? fmaxf(v, w) : v + w;
        }
        if (lane == 0) red[0] = v;
    }
    __syncthreads();
    v = red[0];
    __syncthreads();
    return v;
}

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
    m = ember_reduce(m, red, true);
    // fmaxf skips NaN; the composition's max returns it, so a row with a NaN comes out all NaN
    float anynan = ember_reduce(nan ? 1.0f : 0.0f, red, true);
    if (anynan > 0.0f) m = __int_as_float(0x7fc00000);
    float shift = log ? ((m == m && m != EMBER_NEG_INF && m != -EMBER_NEG_INF) ? m : 0.0f) : m;
    float s = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) s += expf(ember_ld(x, base + j, t) - shift);
    s = ember_reduce(s, red, false);
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
    s = ember_reduce(s, red, false);
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
        float gv = ember_ld(g, base + j, t), yv = ember_ld(y, base + j, t);
        ember_st(gx, base + j, t, log ? gv - expf(yv) * s : yv * (gv - s));
    }
}
"""

_BY_DTYPE = {np.dtype(np.float32): 0, np.dtype(np.float16): 2}
try:
    import ml_dtypes

    _BY_DTYPE[np.dtype(ml_dtypes.bfloat16)] = 1
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    pass


def supports(a, dim: int) -> bool:
    """Last-axis softmax of a C-contiguous float32/float16/bfloat16 array with rows (< 2**31 of them)."""
    return (
        ENABLED
        and a.ndim >= 1
        and dim == a.ndim - 1
        and a.size > 0
        and a.dtype in _BY_DTYPE
        and a.flags.c_contiguous
        and a.size // a.shape[-1] < 2**31
    )


def _fn(name: str):
    f = _MOD.get(name)
    if f is None:
        import cupy

        mod = _MOD.get("module")
        if mod is None:
            mod = _MOD["module"] = cupy.RawModule(code=_SRC)
        f = _MOD[name] = mod.get_function(name)
    return f


def _threads(n: int) -> int:
    return 1024 if n >= 4096 else 256 if n >= 256 else max(32, 1 << (int(n) - 1).bit_length())


def forward(a, log: bool):
    import cupy

    n = a.shape[-1]
    y = cupy.empty(a.shape, dtype=a.dtype)
    args = (
        np.uint64(a.data.ptr),
        np.uint64(y.data.ptr),
        np.int64(n),
        np.int32(_BY_DTYPE[a.dtype]),
        np.int32(log),
    )
    _fn("ember_softmax_fwd")((a.size // n,), (_threads(n),), args)
    return y


def backward(g, y, log: bool):
    """Gradient of forward's input from the output y and the output gradient g (cast/copied to y's layout)."""
    import cupy

    if g.dtype != y.dtype or not g.flags.c_contiguous:
        g = cupy.ascontiguousarray(g, dtype=y.dtype)
    n = y.shape[-1]
    gx = cupy.empty(y.shape, dtype=y.dtype)
    args = (
        np.uint64(g.data.ptr),
        np.uint64(y.data.ptr),
        np.uint64(gx.data.ptr),
        np.int64(n),
        np.int32(_BY_DTYPE[y.dtype]),
        np.int32(log),
    )
    _fn("ember_softmax_bwd")((y.size // n,), (_threads(n),), args)
    return gx
