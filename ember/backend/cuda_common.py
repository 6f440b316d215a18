"""What the CUDA kernel modules share: dtype codes, device helpers for 16-bit floats, a block reduction, and
kernels compiled from one source on first use.

Type codes (`DTYPE_CODE`, and the `t` argument of the device helpers): 0 float32, 1 bfloat16, 2 float16.
NVRTC sees no headers, so the 16-bit conversions are inline PTX (round to nearest even) and infinity comes
from its bit pattern. Imports nothing from CuPy until a kernel is first called.
"""

from __future__ import annotations

import numpy as np

DTYPE_CODE = {np.dtype(np.float32): 0, np.dtype(np.float16): 2}
try:
    import ml_dtypes

    DTYPE_CODE[np.dtype(ml_dtypes.bfloat16)] = 1
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    pass

_NAMES = {0: "float32", 1: "bfloat16", 2: "float16"}
# dtype -> (its name, the dtype of the raw view a kernel reads: float32 / float16 / uint16 for bfloat16)
_STORAGE = {dt: (_NAMES[c], np.dtype(np.uint16) if c == 1 else dt) for dt, c in DTYPE_CODE.items()}


def storage(dt):
    """(dtype name, raw view dtype) for a float32/float16/bfloat16 dtype object, else None."""
    return _STORAGE.get(dt)


def pointer(a):
    """A device array as a kernel argument: its address (CuPy knows no bfloat16 C type)."""
    return np.uint64(a.data.ptr)


# ember_h2f / ember_f2h: one 16-bit value (t: 1 bfloat16, else float16); ember_ld / ember_st: element i of
# an array of type code t (0 float32, 1 bfloat16, 2 float16), in float32.
HALF_SRC = r"""
#define EMBER_NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float ember_h2f(unsigned short h, int t) {
    if (t == 1) return __uint_as_float(((unsigned int)h) << 16);
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short ember_f2h(float f, int t) {
    unsigned short h;
    if (t == 1) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float ember_ld(const void* p, long long i, int t) {
    if (t == 0) return ((const float*)p)[i];
    return ember_h2f(((const unsigned short*)p)[i], t);
}

__device__ __forceinline__ void ember_st(void* p, long long i, int t, float f) {
    if (t == 0) ((float*)p)[i] = f;
    else ((unsigned short*)p)[i] = ember_f2h(f, t);
}
"""

# ember_block_reduce: max (is_max) or sum over a block of up to 1024 threads; every thread gets the result.
# red: 32 floats of shared memory. Needs HALF_SRC's EMBER_NEG_INF.
REDUCE_SRC = r"""
__device__ __forceinline__ float ember_block_reduce(float v, float* red, bool is_max) {
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
"""


# For kernels compiled per element type (EMBER_T a C type): ember_bf16 / ember_f16 hold the 16 bits;
# ember_f(v) reads any of them as float, ember_set(d, v) stores a float into one.
TYPED_SRC = r"""
struct ember_bf16 { unsigned short u; };
struct ember_f16 { unsigned short u; };

__device__ __forceinline__ float ember_f(float v) { return v; }
__device__ __forceinline__ float ember_f(ember_bf16 v) { return __uint_as_float(((unsigned int)v.u) << 16); }
__device__ __forceinline__ float ember_f(ember_f16 v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.u));
    return f;
}
__device__ __forceinline__ void ember_set(float& d, float v) { d = v; }
__device__ __forceinline__ void ember_set(ember_bf16& d, float v) {
    unsigned short h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(v));
    d.u = h;
}
__device__ __forceinline__ void ember_set(ember_f16& d, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    d.u = h;
}
"""


class Kernels:
    """The kernels of one CUDA source: `kernels("name")` is the CuPy function, compiled by NVRTC on the first
    call and cached (CuPy also caches the binary on disk)."""

    __slots__ = ("source", "_module", "_functions")

    def __init__(self, source: str):
        self.source = source
        self._module = None
        self._functions: dict = {}

    def __call__(self, name: str):
        f = self._functions.get(name)
        if f is None:
            if self._module is None:
                import cupy

                self._module = cupy.RawModule(code=self.source)
            f = self._functions[name] = self._module.get_function(name)
        return f
