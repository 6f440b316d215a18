"""Cross entropy with class indices on CUDA: one row kernel forward, one row kernel backward.

forward   per row r (one block): online max / sum of exp over the logits (one read of the row), lse[r],
          loss[r] = w[t] (lse - x[t]) [(1 - eps) + eps / C (wsum lse - sum_c w_c x_c)]; for mean/sum the last
          block to finish reduces the row losses (and the summed weights, mean's divisor) in a fixed order, so
          the reduction costs no extra launch and no host read.
backward  grad[r, c] = a_r (w[t] (1 - eps) (softmax - onehot) + eps / C (wsum softmax - w_c)), with softmax
          recomputed from the saved logits and lse (the N x C probabilities are never stored) and a_r the
          cotangent of row r (divided by the device-side count of non-ignored rows for mean).

Logits are float32, bfloat16 or float16 (statistics in float32, gradients in the logits' dtype); ignored
rows get loss 0 and gradient 0; an out-of-range target gives a NaN loss and a zero gradient row, as the
composed CUDA path does (torch asserts on the device). EMBER_CUDA_FUSED_CE=0 turns the path off.
"""

from __future__ import annotations

import os

import numpy as np

from .cuda_common import Kernels

ENABLED = os.environ.get("EMBER_CUDA_FUSED_CE", "1") == "1"

_KINDS = {"float32": 0, "bfloat16": 1, "float16": 2}
_NAMES = ("f32", "bf16", "f16")
_REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}
_COUNTERS: dict = {}  # device id -> uint32 ticket counter of the last-block reduction (reset by that block)
_NULL = np.uint64(0)

SOURCE = r"""
// NVRTC sees no headers: special values from bit patterns, our own aligned vector structs
#define EMBER_LOWEST __int_as_float(0xff7fffff)
#define EMBER_NAN __int_as_float(0x7fffffff)

struct alignas(16) ember_f4 { float a, b, c, d; };
struct alignas(8) ember_u2 { unsigned int a, b; };

__device__ __forceinline__ float ember_h2f(unsigned short h, int bf16) {
    if (bf16) return __uint_as_float(((unsigned int)h) << 16);
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short ember_f2h(float f, int bf16) {
    unsigned short h;
    if (bf16) asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    else asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// Element access by storage kind: float32, or 16-bit floats (BF = 1 bfloat16, 0 float16) in unsigned short.
struct EmberF32 {
    typedef float T;
    static __device__ __forceinline__ float ld(const float* p, long long i) { return p[i]; }
    static __device__ __forceinline__ void st(float* p, long long i, float v) { p[i] = v; }
    static __device__ __forceinline__ void ld4(const float* p, long long i, float* o) {
        ember_f4 v = *reinterpret_cast<const ember_f4*>(p + i);
        o[0] = v.a; o[1] = v.b; o[2] = v.c; o[3] = v.d;
    }
    static __device__ __forceinline__ void st4(float* p, long long i, const float* o) {
        ember_f4 v; v.a = o[0]; v.b = o[1]; v.c = o[2]; v.d = o[3];
        *reinterpret_cast<ember_f4*>(p + i) = v;
    }
};

template <int BF>
struct EmberHalf {
    typedef unsigned short T;
    static __device__ __forceinline__ float ld(const T* p, long long i) { return ember_h2f(p[i], BF); }
    static __device__ __forceinline__ void st(T* p, long long i, float v) { p[i] = ember_f2h(v, BF); }
    static __device__ __forceinline__ void ld4(const T* p, long long i, float* o) {
        ember_u2 v = *reinterpret_cast<const ember_u2*>(p + i);
        o[0] = ember_h2f((unsigned short)(v.a & 0xffffu), BF); o[1] = ember_h2f((unsigned short)(v.a >> 16), BF);
        o[2] = ember_h2f((unsigned short)(v.b & 0xffffu), BF); o[3] = ember_h2f((unsigned short)(v.b >> 16), BF);
    }
    static __device__ __forceinline__ void st4(T* p, long long i, const float* o) {
        ember_u2 v;
        v.a = (unsigned int)ember_f2h(o[0], BF) | ((unsigned int)ember_f2h(o[1], BF) << 16);
        v.b = (unsigned int)ember_f2h(o[2], BF) | ((unsigned int)ember_f2h(o[3], BF) << 16);
        *reinterpret_cast<ember_u2*>(p + i) = v;
    }
};

// Merge two (max, sum of exp(x - max)) pairs; EMBER_LOWEST marks an empty pair (its sum is 0).
__device__ __forceinline__ void ember_lse_merge(float& m, float& s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

// Block-wide merge of the per-thread (m, s, sx); every thread gets the result. blockDim.x: multiple of 32.
__device__ __forceinline__ void ember_block_lse(float& m, float& s, float& sx, float* sh) {
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        sx += __shfl_xor_sync(0xffffffffu, sx, o);
        ember_lse_merge(m, s, m2, s2);
    }
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) { sh[wid] = m; sh[32 + wid] = s; sh[64 + wid] = sx; }
    __syncthreads();
    if (wid == 0) {
        m = lane < nw ? sh[lane] : EMBER_LOWEST;
        s = lane < nw ? sh[32 + lane] : 0.0f;
        sx = lane < nw ? sh[64 + lane] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) {
            float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
            sx += __shfl_xor_sync(0xffffffffu, sx, o);
            ember_lse_merge(m, s, m2, s2);
        }
        if (lane == 0) { sh[0] = m; sh[32] = s; sh[64] = sx; }
    }
    __syncthreads();
    m = sh[0]; s = sh[32]; sx = sh[64];
}

__device__ __forceinline__ double ember_block_sum_d(double v, double* sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = 0.0;
    if (wid == 0) {
        v = lane < nw ? sh[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    __syncthreads();
    return v;  // valid in thread 0
}

// One block per row of x (N, C). reduction: 0 none (out: N losses), 1 sum, 2 mean (out: one value).
// w: class weights (float32, C) or null; wsum: their sum (device) or null (then C). vec: C % 4 == 0 and the
// rows are 16-byte (float32) / 8-byte (16-bit) aligned.
template <class L>
__device__ __forceinline__ void ember_ce_fwd(
        const typename L::T* x, const long long* tgt, const float* w, const float* wsum_p, long long N, long long C,
        long long ignore_index, float smoothing, int reduction, int vec, float* lse_out, typename L::T* out,
        float* row_loss, float* row_wt, unsigned int* counter, float* den_out) {
    __shared__ float sh[96];
    __shared__ double shd[32];
    __shared__ int am_last;
    long long r = blockIdx.x;
    const typename L::T* row = x + r * C;
    const bool smooth = smoothing > 0.0f;
    float m = EMBER_LOWEST, s = 0.0f, sx = 0.0f;
    if (vec) {
        for (long long j = 4LL * threadIdx.x; j < C; j += 4LL * blockDim.x) {
            float a[4];
            L::ld4(row, j, a);
            float lm = fmaxf(fmaxf(a[0], a[1]), fmaxf(a[2], a[3]));
            if (lm > m) { s *= expf(m - lm); m = lm; }
            s += expf(a[0] - m) + expf(a[1] - m) + expf(a[2] - m) + expf(a[3] - m);
            if (smooth) {
                if (w) sx += a[0] * w[j] + a[1] * w[j + 1] + a[2] * w[j + 2] + a[3] * w[j + 3];
                else sx += (a[0] + a[1]) + (a[2] + a[3]);
            }
        }
    } else {
        for (long long j = threadIdx.x; j < C; j += blockDim.x) {
            float a = L::ld(row, j);
            if (a > m) { s *= expf(m - a); m = a; }
            s += expf(a - m);
            if (smooth) sx += w ? a * w[j] : a;
        }
    }
    ember_block_lse(m, s, sx, sh);
    if (threadIdx.x == 0) {
        float lse = m + logf(s);  // an all -inf row: s = 0, lse = -inf, loss NaN (as torch)
        lse_out[r] = lse;
        long long t = tgt[r];
        bool valid = t != ignore_index;
        bool bad = valid && (t < 0 || t >= C);
        float loss = 0.0f, wt = 0.0f;
        if (valid && !bad) {
            wt = w ? w[t] : 1.0f;
            loss = (lse - L::ld(row, t)) * wt;
            if (smooth) {
                double wsum = wsum_p ? (double)wsum_p[0] : (double)C;
                float sm = (float)(wsum * (double)lse - (double)sx);
                loss = loss * (1.0f - smoothing) + sm * (smoothing / (float)C);
            }
        }
        if (bad) loss = EMBER_NAN;
        if (reduction == 0) {
            L::st(out, r, loss);
        } else {
            row_loss[r] = loss;
            row_wt[r] = wt;
            __threadfence();  // the row's values are visible before its ticket is taken
            unsigned int ticket = atomicAdd(counter, 1u);
            am_last = ticket == gridDim.x - 1;
        }
    }
    if (reduction == 0) return;
    __syncthreads();
    if (!am_last) return;
    __threadfence();
    double sl = 0.0, sw = 0.0;
    const volatile float* vl = row_loss;
    const volatile float* vw = row_wt;
    for (long long i = threadIdx.x; i < N; i += blockDim.x) {
        sl += (double)vl[i];
        sw += (double)vw[i];
    }
    sl = ember_block_sum_d(sl, shd);
    sw = ember_block_sum_d(sw, shd);
    if (threadIdx.x == 0) {
        L::st(out, 0, (float)(reduction == 2 ? sl / sw : sl));  // mean over no rows: 0 / 0 = NaN, as torch
        den_out[0] = (float)sw;
        *counter = 0u;  // ready for the next launch (launches on one stream never overlap)
    }
}

// One block per row: grad = a_r (pick (softmax - onehot(t)) + spread (wsum softmax - w)), in x's dtype.
// g: the cotangent (g_kind 0 float32, 1 bfloat16, 2 float16) at g[r * g_stride] (none) or g[0].
template <class L>
__device__ __forceinline__ void ember_ce_bwd(
        const typename L::T* x, const long long* tgt, const float* lse, const float* w, const float* wsum_p,
        const float* den, const void* g, int g_kind, long long g_stride, long long C, long long ignore_index,
        float smoothing, int reduction, int vec, typename L::T* gx) {
    long long r = blockIdx.x;
    const typename L::T* row = x + r * C;
    typename L::T* grow = gx + r * C;
    long long t = tgt[r];
    if (t == ignore_index || t < 0 || t >= C) {  // ignored (or out-of-range) targets: a zero row
        float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (vec) for (long long j = 4LL * threadIdx.x; j < C; j += 4LL * blockDim.x) L::st4(grow, j, z);
        else for (long long j = threadIdx.x; j < C; j += blockDim.x) L::st(grow, j, 0.0f);
        return;
    }
    long long gi = reduction == 0 ? r * g_stride : 0;
    float a;
    if (g_kind == 0) a = ((const float*)g)[gi];
    else a = ember_h2f(((const unsigned short*)g)[gi], g_kind == 1);
    if (reduction == 2) a = a / den[0];
    float wt = w ? w[t] : 1.0f;
    float pick = a * wt;
    float spread = 0.0f, coef = pick;
    if (smoothing > 0.0f) {
        pick = pick * (1.0f - smoothing);
        spread = a * (smoothing / (float)C);
        coef = pick + spread * (wsum_p ? wsum_p[0] : (float)C);
    }
    float l = lse[r];
    if (vec) {
        for (long long j = 4LL * threadIdx.x; j < C; j += 4LL * blockDim.x) {
            float v[4];
            L::ld4(row, j, v);
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                float d = expf(v[k] - l) * coef;
                if (j + k == t) d -= pick;
                if (spread != 0.0f) d -= w ? spread * w[j + k] : spread;
                v[k] = d;
            }
            L::st4(grow, j, v);
        }
    } else {
        for (long long j = threadIdx.x; j < C; j += blockDim.x) {
            float d = expf(L::ld(row, j) - l) * coef;
            if (j == t) d -= pick;
            if (spread != 0.0f) d -= w ? spread * w[j] : spread;
            L::st(grow, j, d);
        }
    }
}

#define EMBER_CE_KERNELS(NAME, L)                                                                               \
extern "C" __global__ void ember_ce_fwd_##NAME(                                                                \
        const L::T* x, const long long* tgt, const float* w, const float* wsum, long long N, long long C,        \
        long long ignore_index, float smoothing, int reduction, int vec, float* lse, L::T* out, float* row_loss, \
        float* row_wt, unsigned int* counter, float* den) {                                                     \
    ember_ce_fwd<L>(x, tgt, w, wsum, N, C, ignore_index, smoothing, reduction, vec, lse, out, row_loss, row_wt, \
                    counter, den);                                                                             \
}                                                                                                              \
extern "C" __global__ void ember_ce_bwd_##NAME(                                                                \
        const L::T* x, const long long* tgt, const float* lse, const float* w, const float* wsum, const float* den,\
        const void* g, int g_kind, long long g_stride, long long C, long long ignore_index, float smoothing,     \
        int reduction, int vec, L::T* gx) {                                                                     \
    ember_ce_bwd<L>(x, tgt, lse, w, wsum, den, g, g_kind, g_stride, C, ignore_index, smoothing, reduction, vec, \
                    gx);                                                                                       \
}

EMBER_CE_KERNELS(f32, EmberF32)
EMBER_CE_KERNELS(bf16, EmberHalf<1>)
EMBER_CE_KERNELS(f16, EmberHalf<0>)
"""


_kernel = Kernels(SOURCE)  # _kernel(name): the compiled function


def _counter(dev_id: int):
    c = _COUNTERS.get(dev_id)
    if c is None:
        import cupy

        c = _COUNTERS[dev_id] = cupy.zeros(1, dtype=np.uint32)
    return c


def _threads(n: int) -> int:
    return 512 if n >= 512 else max(32, 1 << (int(n) - 1).bit_length())


def _vec(x) -> bool:
    c = x.shape[1]
    return c % 4 == 0 and x.data.ptr % (4 * x.itemsize) == 0


def _bits(a):
    """A kernel argument for a float32/bf16/f16 array (16-bit floats travel as uint16)."""
    return a if a.dtype == np.float32 else a.view(np.uint16)


def supported(x, t, weight) -> bool:
    """Whether the fused kernels take this call: 2-D C-contiguous float32/bf16/f16 logits with N, C > 0,
    1-D integer targets and an optional 1-D weight of C floats."""
    return (
        ENABLED
        and x.ndim == 2
        and x.shape[0] > 0
        and x.shape[1] > 0
        and x.dtype.name in _KINDS
        and x.flags.c_contiguous
        and t.ndim == 1
        and t.dtype.kind in "iu"
        and (
            weight is None
            or (
                weight.ndim == 1
                and weight.shape[0] == x.shape[1]
                and (weight.dtype.kind == "f" or weight.dtype.name == "bfloat16")
            )
        )
    )


def cross_entropy_forward(x, t, weight, reduction: str, ignore_index: int, smoothing: float):
    """Loss of logits x (N, C) against int64 targets t (N,). Returns (out, lse (N,) float32, den, w, wsum):
    out in x's dtype ((N,) for none, () otherwise); den: (1,) float32 summed weight of the counted rows
    (mean's divisor, on the device); w / wsum: the float32 weight and its sum (None without weight)."""
    import cupy

    n, c = x.shape
    kind = _KINDS[x.dtype.name]
    red = _REDUCTIONS[reduction]
    w = None if weight is None else cupy.ascontiguousarray(weight, dtype=np.float32)
    wsum = w.sum(dtype=np.float32).reshape(1) if (w is not None and smoothing > 0) else None
    lse = cupy.empty(n, dtype=np.float32)
    den = cupy.empty(1, dtype=np.float32)
    if red == 0:
        out = cupy.empty(n, dtype=x.dtype)
        row_loss = row_wt = counter = _NULL
    else:
        out = cupy.empty((), dtype=x.dtype)
        scratch = cupy.empty(2 * n, dtype=np.float32)
        row_loss, row_wt = scratch[:n], scratch[n:]
        counter = _counter(x.device.id)
    vec = _vec(x)
    args = (
        _bits(x),
        t,
        _NULL if w is None else w,
        _NULL if wsum is None else wsum,
        np.int64(n),
        np.int64(c),
        np.int64(ignore_index),
        np.float32(smoothing),
        np.int32(red),
        np.int32(vec),
        lse,
        _bits(out),
        row_loss,
        row_wt,
        counter,
        den,
    )
    _kernel("ember_ce_fwd_" + _NAMES[kind])((n,), (_threads(c // 4 if vec else c),), args)
    return out, lse, den, w, wsum


def cross_entropy_backward(g, x, t, lse, den, w, wsum, reduction: str, ignore_index: int, smoothing: float):
    """Gradient of `cross_entropy_forward`'s loss w.r.t. x for the cotangent g ((N,) for none, else ()),
    in x's dtype."""
    import cupy

    n, c = x.shape
    kind = _KINDS[x.dtype.name]
    red = _REDUCTIONS[reduction]
    if g.dtype.name not in _KINDS:
        g = g.astype(np.float32)
    g_kind = _KINDS[g.dtype.name]
    g_stride = g.strides[0] // g.itemsize if (red == 0 and g.ndim == 1) else 0
    if red == 0 and g.ndim != 1:
        g = cupy.ascontiguousarray(cupy.broadcast_to(g, (n,)))
        g_stride = 1
    gx = cupy.empty((n, c), dtype=x.dtype)
    vec = _vec(x)
    args = (
        _bits(x),
        t,
        lse,
        _NULL if w is None else w,
        _NULL if wsum is None else wsum,
        den,
        _bits(g),
        np.int32(g_kind),
        np.int64(g_stride),
        np.int64(c),
        np.int64(ignore_index),
        np.float32(smoothing),
        np.int32(red),
        np.int32(vec),
        _bits(gx),
    )
    _kernel("ember_ce_bwd_" + _NAMES[kind])((n,), (_threads(c // 4 if vec else c),), args)
    return gx
