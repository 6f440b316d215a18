"""Fused dropout on CUDA: the keep mask comes from the Philox stream inside the kernel and is regenerated in
backward, so nothing but (seed, offset) is saved (the unfused path keeps a full noise tensor).

The mask is bit-for-bit the one ``bernoulli_(1 - p)`` draws from the same generator state: element i takes
the 53-bit uniform u = ((w0 << 32 | w1) >> 11) * 2**-53 from words 2i and 2i + 1 of the stream (words 0-1 or
2-3 of Philox block offset + i // 2) and is kept when u < 1 - p; the output is x * (kept ? s : 0) with s the
scale 1 / (1 - p) rounded to x's dtype, as ``input * noise.div_(1 - p)`` computes it. The call consumes
ceil(n / 2) blocks of the stream, as the unfused draw does.
"""

from __future__ import annotations

import os

import numpy as np

from .cuda_common import DTYPE_CODE, HALF_SRC, Kernels, pointer

# on unless EMBER_CUDA_FUSED_DROPOUT=0 (then the CuPy composition)
ENABLED = os.environ.get("EMBER_CUDA_FUSED_DROPOUT", "1") == "1"

_SRC = (
    HALF_SRC
    + r"""
// Philox4x32-10 block b of the stream with key (k0, k1): the same rounds as backend/philox.py.
__device__ __forceinline__ void ember_philox(unsigned long long b, unsigned int k0, unsigned int k1,
                                             unsigned int* x) {
    unsigned int x0 = (unsigned int)(b & 0xffffffffULL), x1 = (unsigned int)(b >> 32), x2 = 0u, x3 = 0u;
    unsigned int ka = k0, kb = k1;
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        if (r) { ka += 0x9E3779B9u; kb += 0xBB67AE85u; }
        unsigned int hi0 = __umulhi(0xD2511F53u, x0), lo0 = 0xD2511F53u * x0;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, x2), lo1 = 0xCD9E8D57u * x2;
        unsigned int y0 = hi1 ^ x1 ^ ka, y2 = hi0 ^ x3 ^ kb;
        x0 = y0; x1 = lo1; x2 = y2; x3 = lo0;
    }
    x[0] = x0; x[1] = x1; x[2] = x2; x[3] = x3;
}

__device__ __forceinline__ bool ember_keep(unsigned int hi, unsigned int lo, double keep) {
    unsigned long long bits = ((unsigned long long)hi << 32) | lo;
    return (double)(bits >> 11) * 1.1102230246251565404236316680908203125e-16 < keep;
}

// y[i] = x[i] * (kept(i) ? scale : 0) for i < n; forward (x: the input) and backward (x: the gradient).
// base: null, or inside a CUDA graph its (seed, offset) buffer: the stream's seed and the offset that `offset`
// counts from at each replay (cuda_graph.rng_reserve).
extern "C" __global__ void ember_dropout(const void* x, void* y, long long n, unsigned long long seed,
                                         unsigned long long offset, double keep, float scale, int t,
                                         const unsigned long long* base) {
    if (base) {
        seed = base[0];
        offset += base[1];
    }
    unsigned int k0 = (unsigned int)(seed & 0xffffffffULL), k1 = (unsigned int)(seed >> 32);
    long long pairs = (n + 1) >> 1;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < pairs; j += stride) {
        unsigned int w[4];
        ember_philox(offset + (unsigned long long)j, k0, k1, w);
        long long i = 2 * j;
        ember_st(y, i, t, ember_ld(x, i, t) * (ember_keep(w[0], w[1], keep) ? scale : 0.0f));
        if (i + 1 < n) ember_st(y, i + 1, t, ember_ld(x, i + 1, t) * (ember_keep(w[2], w[3], keep) ? scale : 0.0f));
    }
}
"""
)

_KERNELS = Kernels(_SRC)
_MASK64 = (1 << 64) - 1


def supports(x) -> bool:
    return ENABLED and x.dtype in DTYPE_CODE and x.flags.c_contiguous and x.size > 0


def blocks(n: int) -> int:
    """Philox blocks one call over n elements consumes (two 32-bit words per element, four per block)."""
    return (n + 1) // 2


def scale_of(p: float, dtype) -> float:
    """1 / (1 - p) as the unfused path computes it in `dtype` (float32 division, rounded to dtype)."""
    s = np.float32(1.0) / np.float32(1.0 - p)
    return float(np.asarray(s, dtype=np.float32).astype(dtype).astype(np.float32))


def apply(x, p: float, seed: int, offset: int, base=None):
    """A new array: x with the Philox mask of (seed, offset) applied (forward, or backward on a gradient);
    `base`: a CUDA graph's (seed, offset) buffer (cuda_graph.rng_reserve), or None (see the kernel)."""
    import cupy

    y = cupy.empty(x.shape, dtype=x.dtype)
    n = x.size
    grid = max(1, min((blocks(n) + 255) // 256, 132 * 16))
    args = (
        pointer(x),
        pointer(y),
        np.int64(n),
        np.uint64(seed & _MASK64),
        np.uint64(offset & _MASK64),
        np.float64(1.0 - p),
        np.float32(scale_of(p, x.dtype)),
        np.int32(DTYPE_CODE[x.dtype]),
        np.uint64(0 if base is None else base.data.ptr),
    )
    _KERNELS("ember_dropout")((grid,), (256,), args)
    return y
