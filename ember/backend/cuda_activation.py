"""Fused CUDA kernels for gelu (exact and tanh) and silu: one launch forward, one launch backward.

Each kernel reads float32, float16 or bfloat16 (bfloat16 travels as its uint16 bits), computes in float32
and rounds once to the input dtype. Backward recomputes everything from x: grad_input = g * f'(x), so the
op saves only its input. Contiguous arrays go through 16-byte vector loads when aligned (4 float32 or 8
16-bit values per load), with a scalar loop for the tail.

NOTE: NVRTC sees no headers, so the half conversions are inline PTX and the vector type is our own.
"""

from __future__ import annotations

import numpy as np

from .cuda_common import TYPED_SRC
from .cuda_common import storage as _storage

_SRC = (
    TYPED_SRC
    + r"""
struct alignas(16) ember_v16 { unsigned int w[4]; };


#define EMBER_K0 0.7978845608028654f   // sqrt(2 / pi)
#define EMBER_K1 0.044715f
#define EMBER_RSQRT2 0.7071067811865476f
#define EMBER_RSQRT2PI 0.3989422804014327f  // 1 / sqrt(2 pi)

// OP 0: gelu tanh, 1: gelu exact (erf), 2: silu. The values are torch's; the forms avoid its cancellations:
// 0.5 (1 + tanh u) = sigmoid(2u) and 1 - tanh^2 u = 4 sigmoid(2u) sigmoid(-2u) (exp(-2|u|) never overflows),
// Phi(x) = erfc(-x / sqrt 2) / 2, and 1 - sigmoid(x) = exp(-x) sigmoid(x) for x >= 0.
template <int OP>
__device__ __forceinline__ float ember_act(float x) {
    if (OP == 0) {
        float u = EMBER_K0 * (x + EMBER_K1 * x * x * x);
        return x / (1.0f + expf(-2.0f * u));
    } else if (OP == 1) {
        return x * (0.5f * erfcf(-x * EMBER_RSQRT2));
    } else {
        return x / (1.0f + expf(-x));
    }
}

template <int OP>
__device__ __forceinline__ float ember_act_grad(float g, float x) {
    if (OP == 0) {
        float x2 = x * x;
        float u = EMBER_K0 * (x + EMBER_K1 * x2 * x);
        float s = 1.0f / (1.0f + expf(-2.0f * u));
        float ea = expf(-2.0f * fabsf(u));
        float q = ea / ((1.0f + ea) * (1.0f + ea));  // s (1 - s)
        // q == 0 for large |x|, where x * u' overflows float32 (inf * 0): the term is 0 there
        float rd = q == 0.0f ? 0.0f : 2.0f * x * q * (EMBER_K0 * (1.0f + 3.0f * EMBER_K1 * x2));
        return g * (s + rd);
    } else if (OP == 1) {
        float cdf = 0.5f * erfcf(-x * EMBER_RSQRT2);
        float pdf = expf(-0.5f * x * x) * EMBER_RSQRT2PI;
        return g * (cdf + x * pdf);
    } else {
        float e = expf(-x);
        float s = 1.0f / (1.0f + e);
        float oms = x >= 0.0f ? e * s : 1.0f - s;  // 1 - s
        return g * (s * (1.0f + x * oms));
    }
}

template <typename T>
union ember_pack {
    ember_v16 v;
    T e[16 / sizeof(T)];
};

__device__ __forceinline__ bool ember_aligned(const void* p) {
    return (((unsigned long long)p) & 15ull) == 0ull;
}

// y = f(x) over n contiguous elements (grid-stride).
template <typename T, int OP>
__device__ __forceinline__ void ember_act_fwd(const T* __restrict__ x, T* __restrict__ y, long long n) {
    const int V = 16 / sizeof(T);
    long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long stride = (long long)gridDim.x * blockDim.x;
    long long nv = (ember_aligned(x) && ember_aligned(y)) ? n / V : 0;
    const ember_v16* xv = reinterpret_cast<const ember_v16*>(x);
    ember_v16* yv = reinterpret_cast<ember_v16*>(y);
    for (long long i = tid; i < nv; i += stride) {
        ember_pack<T> a, o;
        a.v = xv[i];
#pragma unroll
        for (int k = 0; k < V; ++k) ember_set(o.e[k], ember_act<OP>(ember_f(a.e[k])));
        yv[i] = o.v;
    }
    for (long long i = nv * V + tid; i < n; i += stride) ember_set(y[i], ember_act<OP>(ember_f(x[i])));
}

// gx = g * f'(x) over n contiguous elements (grid-stride).
template <typename T, int OP>
__device__ __forceinline__ void ember_act_bwd(const T* __restrict__ g, const T* __restrict__ x,
                                              T* __restrict__ gx, long long n) {
    const int V = 16 / sizeof(T);
    long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long stride = (long long)gridDim.x * blockDim.x;
    long long nv = (ember_aligned(g) && ember_aligned(x) && ember_aligned(gx)) ? n / V : 0;
    const ember_v16* gv = reinterpret_cast<const ember_v16*>(g);
    const ember_v16* xv = reinterpret_cast<const ember_v16*>(x);
    ember_v16* ov = reinterpret_cast<ember_v16*>(gx);
    for (long long i = tid; i < nv; i += stride) {
        ember_pack<T> a, b, o;
        a.v = gv[i];
        b.v = xv[i];
#pragma unroll
        for (int k = 0; k < V; ++k) ember_set(o.e[k], ember_act_grad<OP>(ember_f(a.e[k]), ember_f(b.e[k])));
        ov[i] = o.v;
    }
    for (long long i = nv * V + tid; i < n; i += stride)
        ember_set(gx[i], ember_act_grad<OP>(ember_f(g[i]), ember_f(x[i])));
}

#define EMBER_ACT_KERNELS(NAME, OP)                                                                     \
    extern "C" __global__ void __launch_bounds__(256) ember_##NAME##_fwd(const EMBER_T* x, EMBER_T* y,  \
                                                                         long long n) {                 \
        ember_act_fwd<EMBER_T, OP>(x, y, n);                                                             \
    }                                                                                                    \
    extern "C" __global__ void __launch_bounds__(256) ember_##NAME##_bwd(const EMBER_T* g,              \
                                                                         const EMBER_T* x, EMBER_T* gx, \
                                                                         long long n) {                 \
        ember_act_bwd<EMBER_T, OP>(g, x, gx, n);                                                         \
    }

EMBER_ACT_KERNELS(gelu_tanh, 0)
EMBER_ACT_KERNELS(gelu_erf, 1)
EMBER_ACT_KERNELS(silu, 2)
"""
)

_THREADS = 256
_MAX_BLOCKS = 65536
_CTYPE = {"float32": "float", "bfloat16": "ember_bf16", "float16": "ember_f16"}
_FUNCS: dict = {}


def source(dtype_name: str) -> str:
    """The CUDA source of the kernels for one dtype ('float32', 'bfloat16', 'float16')."""
    return f"#define EMBER_T {_CTYPE[dtype_name]}\n" + _SRC


def supports(dtype) -> bool:
    """Whether the fused kernels take arrays of this dtype (float32, float16, bfloat16)."""
    return _storage(np.dtype(dtype)) is not None


def _function(dtype_name: str, name: str):
    key = (dtype_name, name)
    f = _FUNCS.get(key)
    if f is None:
        import cupy

        mkey = (dtype_name, None)
        mod = _FUNCS.get(mkey)
        if mod is None:
            mod = _FUNCS[mkey] = cupy.RawModule(code=source(dtype_name))
        f = _FUNCS[key] = mod.get_function(name)
    return f


def _grid(n: int, itemsize: int) -> int:
    per_block = _THREADS * (16 // itemsize)
    return max(1, min(_MAX_BLOCKS, -(-n // per_block)))


def _as_storage(a, sdt):
    import cupy

    if a.dtype != sdt:
        a = a.view(sdt)
    return a if a.flags.c_contiguous else cupy.ascontiguousarray(a)


def _unary(kernel: str, x):
    import cupy

    st = _storage(x.dtype)
    if st is None:
        raise TypeError(f"ember fused activation: unsupported dtype {x.dtype}")
    name, sdt = st
    xs = _as_storage(x, sdt)
    y = cupy.empty(x.shape, dtype=sdt)
    n = y.size
    if n:
        _function(name, kernel)((_grid(n, sdt.itemsize),), (_THREADS,), (xs, y, np.int64(n)))
    return y if sdt == x.dtype else y.view(x.dtype)


def _binary(kernel: str, g, x):
    import cupy

    st = _storage(x.dtype)
    if st is None:
        raise TypeError(f"ember fused activation: unsupported dtype {x.dtype}")
    name, sdt = st
    if g.dtype != x.dtype:
        g = g.astype(x.dtype)
    if g.shape != x.shape:
        g = cupy.broadcast_to(g, x.shape)
    gs = _as_storage(g, sdt)
    xs = _as_storage(x, sdt)
    gx = cupy.empty(x.shape, dtype=sdt)
    n = gx.size
    if n:
        _function(name, kernel)((_grid(n, sdt.itemsize),), (_THREADS,), (gs, xs, gx, np.int64(n)))
    return gx if sdt == x.dtype else gx.view(x.dtype)


def gelu_forward(x, approximate: str = "none"):
    """gelu(x) in x's dtype (float32/float16/bfloat16, any shape and strides; the result is C-contiguous)."""
    return _unary("ember_gelu_tanh_fwd" if approximate == "tanh" else "ember_gelu_erf_fwd", x)


def gelu_backward(g, x, approximate: str = "none"):
    """g * gelu'(x) in x's dtype (g is cast to x's dtype and broadcast to its shape when it differs)."""
    return _binary("ember_gelu_tanh_bwd" if approximate == "tanh" else "ember_gelu_erf_bwd", g, x)


def silu_forward(x):
    """x * sigmoid(x) in x's dtype."""
    return _unary("ember_silu_fwd", x)


def silu_backward(g, x):
    """g * silu'(x) = g * s * (1 + x * (1 - s)), s = sigmoid(x), in x's dtype."""
    return _binary("ember_silu_bwd", g, x)


__all__ = ["gelu_backward", "gelu_forward", "silu_backward", "silu_forward", "source", "supports"]
