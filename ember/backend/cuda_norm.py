"""Fused CUDA kernels for row-wise LayerNorm / RMSNorm over (rows, n) C-contiguous arrays.

forward     one launch: per row, mean and variance in float32 (two passes over the row held in registers,
            or re-read from cache for n > 8192), then y = (x - mean) * rstd * w + b in x's dtype.
backward    grad_input: one launch, per row gx = rstd * (g w - mean(g w) - xhat * mean(g w xhat)) (no
            mean term for RMS). grad_weight / grad_bias: per (chunk of rows, 32 columns) block, partial
            sums of g * xhat and g into a (chunks, n) float32 buffer, then one launch sums the chunks in
            order (none when one chunk covers all rows). No atomics: the results are deterministic.

x / y / g / gx are float32, float16 or bfloat16 (one dtype); w and b are x's dtype or float32. A row is
handled by one warp (n <= 128, four rows per block) or one block of up to 1024 threads.

NOTE: NVRTC sees no headers: the 16-bit conversions are inline PTX; kernels are compiled per
(x dtype, parameter dtype) pair on first use and cached.
"""

from __future__ import annotations

import functools

import numpy as np

from .cuda_common import TYPED_SRC
from .cuda_common import storage as _storage

_SRC = (
    TYPED_SRC
    + r"""


// Sum of (a, b) over the threads of a row: one warp (blockDim.x == 32, blockDim.y rows per block) or the
// whole block (blockDim.x a multiple of 32, blockDim.y == 1). The xor butterfly leaves the same bits in
// every lane, so all threads see one value. red: 64 floats of shared memory.
__device__ __forceinline__ void ember_row_sum2(float& a, float& b, float* red) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        a += __shfl_xor_sync(0xffffffffu, a, o);
        b += __shfl_xor_sync(0xffffffffu, b, o);
    }
    if (blockDim.x == 32) return;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) {
        red[wid] = a;
        red[32 + wid] = b;
    }
    __syncthreads();
    a = lane < nw ? red[lane] : 0.0f;
    b = lane < nw ? red[32 + lane] : 0.0f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        a += __shfl_xor_sync(0xffffffffu, a, o);
        b += __shfl_xor_sync(0xffffffffu, b, o);
    }
    __syncthreads();  // red is reused by the next reduction
}

__device__ __forceinline__ float ember_row_sum(float a, float* red) {
    float b = 0.0f;
    ember_row_sum2(a, b, red);
    return a;
}

// Forward. VPT > 0: thread t holds elements t + k * blockDim.x (k < VPT) in registers, n <= VPT * blockDim.x;
// VPT == 0: any n, the row is re-read (from L1/L2) for each pass.
template <int VPT>
__device__ __forceinline__ void ember_norm_fwd(const EMBER_T* __restrict__ x, const EMBER_W* __restrict__ w,
                                               const EMBER_W* __restrict__ b, EMBER_T* __restrict__ y,
                                               float* __restrict__ mean_out, float* __restrict__ var_out,
                                               float* __restrict__ rstd_out, long long rows, long long n,
                                               float eps, int center, int has_w, int has_b) {
    __shared__ float red[64];
    long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;  // uniform over each row's threads (a warp or the whole block)
    const EMBER_T* xr = x + row * n;
    EMBER_T* yr = y + row * n;
    const int t = threadIdx.x, T = blockDim.x;
    const float fn = (float)n;
    float mu = 0.0f, var;
    float v[VPT > 0 ? VPT : 1];
    if (VPT > 0) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
            long long j = t + (long long)k * T;
            v[k] = j < n ? ember_f(xr[j]) : 0.0f;
            s += v[k];
        }
        if (center) mu = ember_row_sum(s, red) / fn;
        float q = 0.0f;
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
            long long j = t + (long long)k * T;
            float d = j < n ? v[k] - mu : 0.0f;
            q += d * d;
        }
        var = ember_row_sum(q, red) / fn;
    } else {
        if (center) {
            float s = 0.0f;
            for (long long j = t; j < n; j += T) s += ember_f(xr[j]);
            mu = ember_row_sum(s, red) / fn;
        }
        float q = 0.0f;
        for (long long j = t; j < n; j += T) {
            float d = ember_f(xr[j]) - mu;
            q += d * d;
        }
        var = ember_row_sum(q, red) / fn;
    }
    float rs = 1.0f / sqrtf(var + eps);
    if (VPT > 0) {
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
            long long j = t + (long long)k * T;
            if (j < n) {
                float o = (v[k] - mu) * rs;
                if (has_w) o *= ember_f(w[j]);
                if (has_b) o += ember_f(b[j]);
                ember_set(yr[j], o);
            }
        }
    } else {
        for (long long j = t; j < n; j += T) {
            float o = (ember_f(xr[j]) - mu) * rs;
            if (has_w) o *= ember_f(w[j]);
            if (has_b) o += ember_f(b[j]);
            ember_set(yr[j], o);
        }
    }
    if (t == 0) {
        if (center) mean_out[row] = mu;
        var_out[row] = var;
        rstd_out[row] = rs;
    }
}

// grad_input: gx = rstd * (a - c1 - xhat * c2), a = g * w, xhat = (x - mean) * rstd, c1 = mean(a) (0 for
// RMS), c2 = mean(a * xhat). Same thread layout as the forward.
template <int VPT>
__device__ __forceinline__ void ember_norm_bwd(const EMBER_T* __restrict__ g, const EMBER_T* __restrict__ x,
                                               const EMBER_W* __restrict__ w, const float* __restrict__ mean,
                                               const float* __restrict__ rstd, EMBER_T* __restrict__ gx,
                                               long long rows, long long n, int center, int has_w) {
    __shared__ float red[64];
    long long row = (long long)blockIdx.x * blockDim.y + threadIdx.y;
    if (row >= rows) return;
    const EMBER_T* gr = g + row * n;
    const EMBER_T* xr = x + row * n;
    EMBER_T* gxr = gx + row * n;
    const int t = threadIdx.x, T = blockDim.x;
    const float fn = (float)n;
    const float mu = center ? mean[row] : 0.0f;
    const float rs = rstd[row];
    float s1 = 0.0f, s2 = 0.0f;
    float av[VPT > 0 ? VPT : 1], xh[VPT > 0 ? VPT : 1];
    if (VPT > 0) {
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
            long long j = t + (long long)k * T;
            av[k] = 0.0f;
            xh[k] = 0.0f;
            if (j < n) {
                float a = ember_f(gr[j]);
                if (has_w) a *= ember_f(w[j]);
                av[k] = a;
                xh[k] = (ember_f(xr[j]) - mu) * rs;
            }
            s1 += av[k];
            s2 += av[k] * xh[k];
        }
    } else {
        for (long long j = t; j < n; j += T) {
            float a = ember_f(gr[j]);
            if (has_w) a *= ember_f(w[j]);
            float h = (ember_f(xr[j]) - mu) * rs;
            s1 += a;
            s2 += a * h;
        }
    }
    ember_row_sum2(s1, s2, red);
    const float c1 = center ? s1 / fn : 0.0f;
    const float c2 = s2 / fn;
    if (VPT > 0) {
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
            long long j = t + (long long)k * T;
            if (j < n) ember_set(gxr[j], rs * (av[k] - c1 - xh[k] * c2));
        }
    } else {
        for (long long j = t; j < n; j += T) {
            float a = ember_f(gr[j]);
            if (has_w) a *= ember_f(w[j]);
            float h = (ember_f(xr[j]) - mu) * rs;
            ember_set(gxr[j], rs * (a - c1 - h * c2));
        }
    }
}

#define EMBER_NORM_KERNELS(V)                                                                          \
    extern "C" __global__ void __launch_bounds__(1024) ember_norm_fwd_##V(                             \
        const EMBER_T* x, const EMBER_W* w, const EMBER_W* b, EMBER_T* y, float* mean_out, float* var_out, \
        float* rstd_out, long long rows, long long n, float eps, int center, int has_w, int has_b) {      \
        ember_norm_fwd<V>(x, w, b, y, mean_out, var_out, rstd_out, rows, n, eps, center, has_w, has_b); \
    }                                                                                                  \
    extern "C" __global__ void __launch_bounds__(1024) ember_norm_bwd_##V(                             \
        const EMBER_T* g, const EMBER_T* x, const EMBER_W* w, const float* mean, const float* rstd,     \
        EMBER_T* gx, long long rows, long long n, int center, int has_w) {                              \
        ember_norm_bwd<V>(g, x, w, mean, rstd, gx, rows, n, center, has_w);                             \
    }

EMBER_NORM_KERNELS(0)
EMBER_NORM_KERNELS(1)
EMBER_NORM_KERNELS(2)
EMBER_NORM_KERNELS(4)
EMBER_NORM_KERNELS(8)

// grad_weight / grad_bias partials. Block (32, 8): column j = blockIdx.x * 32 + threadIdx.x, rows
// [blockIdx.y * rows_per_chunk, +rows_per_chunk) strided over threadIdx.y; the 8 partials are summed in a
// fixed order into pw / pb[blockIdx.y * n + j] (sum of g * xhat, sum of g).
extern "C" __global__ void __launch_bounds__(256)
    ember_norm_param_partials(const EMBER_T* __restrict__ g, const EMBER_T* __restrict__ x,
                              const float* __restrict__ mean, const float* __restrict__ rstd,
                              float* __restrict__ pw, float* __restrict__ pb, long long rows, long long n,
                              long long rows_per_chunk, int center, int need_w, int need_b) {
    __shared__ float sw[8][33], sb[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    long long j = (long long)blockIdx.x * 32 + tx;
    long long r0 = (long long)blockIdx.y * rows_per_chunk;
    long long r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
    float aw = 0.0f, ab = 0.0f;
    if (j < n) {
        for (long long r = r0 + ty; r < r1; r += 8) {
            float gv = ember_f(g[r * n + j]);
            ab += gv;
            if (need_w) {
                float mu = center ? mean[r] : 0.0f;
                aw += gv * ((ember_f(x[r * n + j]) - mu) * rstd[r]);
            }
        }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && j < n) {
        float s = 0.0f, u = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            s += sw[k][tx];
            u += sb[k][tx];
        }
        long long o = (long long)blockIdx.y * n + j;
        if (need_w) pw[o] = s;
        if (need_b) pb[o] = u;
    }
}

// gw[j] = sum over chunks c (in order) of pw[c * n + j]; same for gb.
extern "C" __global__ void __launch_bounds__(256)
    ember_norm_param_sum(const float* __restrict__ pw, const float* __restrict__ pb, float* __restrict__ gw,
                         float* __restrict__ gb, long long chunks, long long n, int need_w, int need_b) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += stride) {
        float s = 0.0f, u = 0.0f;
        for (long long c = 0; c < chunks; ++c) {
            if (need_w) s += pw[c * n + j];
            if (need_b) u += pb[c * n + j];
        }
        if (need_w) gw[j] = s;
        if (need_b) gb[j] = u;
    }
}
"""
)

_CTYPE = {"float32": "float", "bfloat16": "ember_bf16", "float16": "ember_f16"}
_FUNCS: dict = {}
_MAX_VPT = 8  # values per thread held in registers; longer rows take the re-reading kernels (VPT 0)
_TARGET_BLOCKS = 528  # grad_weight partials: about 4 blocks per SM of an H100 (132 SMs)


def source(x_dtype: str, w_dtype: str) -> str:
    """The CUDA source for x of `x_dtype` and weight/bias of `w_dtype` ('float32', 'bfloat16', 'float16')."""
    return f"#define EMBER_T {_CTYPE[x_dtype]}\n#define EMBER_W {_CTYPE[w_dtype]}\n" + _SRC


def supports(x_dtype, w_dtype=None, b_dtype=None) -> bool:
    """Whether the kernels take x of this dtype (float32/float16/bfloat16) with these parameter dtypes
    (None: absent; else x's dtype or float32, and weight and bias of one dtype)."""
    xd = np.dtype(x_dtype)
    if _storage(xd) is None:
        return False
    pd = {np.dtype(d) for d in (w_dtype, b_dtype) if d is not None}
    return len(pd) == 0 or (len(pd) == 1 and pd.pop() in (xd, np.dtype(np.float32)))


def _function(xn: str, wn: str, name: str):
    key = (xn, wn, name)
    f = _FUNCS.get(key)
    if f is None:
        import cupy

        mkey = (xn, wn, None)
        mod = _FUNCS.get(mkey)
        if mod is None:
            mod = _FUNCS[mkey] = cupy.RawModule(code=source(xn, wn))
        f = _FUNCS[key] = mod.get_function(name)
    return f


@functools.lru_cache(maxsize=256)
def geometry(n: int) -> tuple:
    """(threads per row T, values per thread VPT (0: re-reading loop), rows per block) for rows of n."""
    if n <= 32:
        return 32, 1, 4
    t = min(1024, max(32, 1 << (-(-n // 4) - 1).bit_length()))  # about 4 values per thread
    vpt = -(-n // t)
    if vpt > _MAX_VPT:
        return 1024, 0, 1
    vpt = 1 << (vpt - 1).bit_length()
    return t, vpt, 4 if t == 32 else 1


@functools.lru_cache(maxsize=256)
def param_chunks(rows: int, n: int) -> tuple:
    """(chunks, rows per chunk) for the grad_weight / grad_bias partial sums."""
    colblocks = -(-n // 32)
    chunks = max(1, min(-(-_TARGET_BLOCKS // colblocks), -(-rows // 32)))
    per = -(-rows // chunks)
    return -(-rows // per), per


def _in(a, sdt):
    """`a` as the C-contiguous storage-dtype array the kernels read."""
    import cupy

    if a.dtype != sdt:
        a = a.view(sdt)
    return a if a.flags.c_contiguous else cupy.ascontiguousarray(a)


def _kinds(x, w, b):
    """((x dtype name, storage dtype), (parameter dtype name, storage dtype)); TypeError if unsupported."""
    st = _storage(x.dtype)
    p = w if w is not None else b
    pst = st if p is None else _storage(p.dtype)
    if (
        st is None
        or pst is None
        or (p is not None and p.dtype != x.dtype and p.dtype != np.float32)
        or (w is not None and b is not None and w.dtype != b.dtype)
    ):
        raise TypeError(
            f"ember fused norm: unsupported dtypes x {x.dtype}, weight {getattr(w, 'dtype', None)}, "
            f"bias {getattr(b, 'dtype', None)}"
        )
    return st, pst


def norm_rows_forward(x, w, b, eps: float, center: bool):
    """LayerNorm (center=True) or RMSNorm (center=False) of each row of x (rows, n).

    w, b: None or (n,) of x's dtype or float32. Returns (y (rows, n) in x's dtype, mean (rows,) float32 or
    None for RMS, var (rows,) float32 (the mean square for RMS), rstd (rows,) float32 = 1 / sqrt(var + eps)).
    """
    import cupy

    (xn, xs), (wn, ws) = _kinds(x, w, b)
    rows, n = x.shape
    f32 = np.float32
    y = cupy.empty((rows, n), dtype=xs)
    mean = cupy.empty(rows, dtype=f32) if center else None
    var = cupy.empty(rows, dtype=f32)
    rstd = cupy.empty(rows, dtype=f32)
    if rows and n:
        xa = _in(x, xs)
        wa = _in(w, ws) if w is not None else xa
        ba = _in(b, ws) if b is not None else xa
        t, vpt, rpb = geometry(n)
        args = (
            xa,
            wa,
            ba,
            y,
            mean if center else var,
            var,
            rstd,
            np.int64(rows),
            np.int64(n),
            np.float32(eps),
            np.int32(bool(center)),
            np.int32(w is not None),
            np.int32(b is not None),
        )
        _function(xn, wn, f"ember_norm_fwd_{vpt}")((-(-rows // rpb),), (t, rpb), args)
    return (y if xs == x.dtype else y.view(x.dtype)), mean, var, rstd


def norm_rows_backward(g, x, w, mean, rstd, center: bool, need_x: bool, need_w: bool, need_b: bool):
    """Gradients of `norm_rows_forward` for output gradient g (rows, n), from the saved x, w and the
    forward's mean (None for RMS) and rstd. Returns (gx in x's dtype or None, gw float32 (n,) or None, gb
    float32 (n,) or None); g is cast to x's dtype when it differs. gw needs w (need_w is ignored without)."""
    import cupy

    (xn, xs), (wn, ws) = _kinds(x, w, None)
    rows, n = x.shape
    f32 = np.float32
    need_w = bool(need_w and w is not None)
    gx = cupy.empty((rows, n), dtype=xs) if need_x else None
    if not (rows and n) or not (need_x or need_w or need_b):  # sums over no rows: zeros
        gw = cupy.zeros(n, dtype=f32) if need_w else None
        gb = cupy.zeros(n, dtype=f32) if need_b else None
        return (gx if gx is None or xs == x.dtype else gx.view(x.dtype)), gw, gb
    gw = cupy.empty(n, dtype=f32) if need_w else None  # every entry is written below
    gb = cupy.empty(n, dtype=f32) if need_b else None
    if g.dtype != x.dtype:
        g = g.astype(x.dtype)
    ga = _in(g, xs)
    xa = _in(x, xs)
    rs = rstd.reshape(rows)
    mu = mean.reshape(rows) if center else rs
    if need_x:
        t, vpt, rpb = geometry(n)
        args = (
            ga,
            xa,
            _in(w, ws) if w is not None else xa,
            mu,
            rs,
            gx,
            np.int64(rows),
            np.int64(n),
            np.int32(bool(center)),
            np.int32(w is not None),
        )
        _function(xn, wn, f"ember_norm_bwd_{vpt}")((-(-rows // rpb),), (t, rpb), args)
        if xs != x.dtype:
            gx = gx.view(x.dtype)
    if need_w or need_b:
        chunks, per = param_chunks(rows, n)
        if chunks == 1:
            pw, pb = gw, gb
        else:
            part = cupy.empty((2, chunks, n), dtype=f32)
            pw, pb = part[0], part[1]
        dummy = rs
        args = (
            ga,
            xa,
            mu,
            rs,
            pw if need_w else dummy,
            pb if need_b else dummy,
            np.int64(rows),
            np.int64(n),
            np.int64(per),
            np.int32(bool(center)),
            np.int32(need_w),
            np.int32(need_b),
        )
        _function(xn, wn, "ember_norm_param_partials")((-(-n // 32), chunks), (32, 8), args)
        if chunks > 1:
            args = (
                pw,
                pb,
                gw if need_w else dummy,
                gb if need_b else dummy,
                np.int64(chunks),
                np.int64(n),
                np.int32(need_w),
                np.int32(need_b),
            )
            _function(xn, wn, "ember_norm_param_sum")((max(1, min(4096, -(-n // 256))),), (256,), args)
    return gx, gw, gb


__all__ = ["geometry", "norm_rows_backward", "norm_rows_forward", "param_chunks", "source", "supports"]
