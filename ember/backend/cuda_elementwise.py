"""Elementwise CUDA kernels where CuPy's generic ones cost twice the bytes' time: dtype casts between float32,
float16 and bfloat16 (autocast casts every weight and activation), and the bias add of linear layers. Also the
embedding lookup, which must not read its indices back to check them.

Both read and write 16 bytes per thread where the pointers allow it (CuPy's kernels move one element per
thread). Half types travel as their uint16 bits; conversions round to nearest even (cvt.rn), as torch.
"""

from __future__ import annotations

import numpy as np

from .cuda_common import DTYPE_CODE, HALF_SRC, Kernels, pointer

# type codes (cuda_common): 0 float32, 1 bfloat16, 2 float16
_SRC = (
    HALF_SRC
    + r"""
struct alignas(16) ember_f4 { float x, y, z, w; };  // NVRTC sees no headers: our own 16-byte vectors
struct alignas(16) ember_u4 { unsigned int x, y, z, w; };

// out[i] = (dst type) in[i], 8 elements per thread per step (the caller checks 16-byte alignment of both).
extern "C" __global__ void ember_cast8(const void* in, void* out, long long n, int ti, int to) {
    long long n8 = n >> 3;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long v = (long long)blockIdx.x * blockDim.x + threadIdx.x; v < n8; v += stride) {
        float f[8];
        if (ti == 0) {
            ember_f4 a = ((const ember_f4*)in)[2 * v], b = ((const ember_f4*)in)[2 * v + 1];
            f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
        } else {
            ember_u4 u = ((const ember_u4*)in)[v];
            unsigned int w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                f[2 * k] = ember_h2f((unsigned short)(w[k] & 0xffffu), ti);
                f[2 * k + 1] = ember_h2f((unsigned short)(w[k] >> 16), ti);
            }
        }
        if (to == 0) {
            ((ember_f4*)out)[2 * v] = ember_f4{f[0], f[1], f[2], f[3]};
            ((ember_f4*)out)[2 * v + 1] = ember_f4{f[4], f[5], f[6], f[7]};
        } else {
            unsigned int w[4];
#pragma unroll
            for (int k = 0; k < 4; ++k)
                w[k] = (unsigned int)ember_f2h(f[2 * k], to) | ((unsigned int)ember_f2h(f[2 * k + 1], to) << 16);
            ((ember_u4*)out)[v] = ember_u4{w[0], w[1], w[2], w[3]};
        }
    }
    // the tail (n % 8 elements), one per thread of the first block
    long long i = (n8 << 3) + (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) ember_st(out, i, to, ember_ld(in, i, ti));
}

// x[r, j] += b[j] in place for a C-contiguous (rows, n) x; x and b of one type; 8 elements per step when
// n % 8 == 0 and both are 16-byte aligned (vec), else one.
extern "C" __global__ void ember_bias_add(void* x, const void* b, long long rows, long long n, int t, int vec) {
    long long stride = (long long)gridDim.x * blockDim.x;
    long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (vec) {
        long long total = rows * n >> 3;
        long long n8 = n >> 3;
        for (long long v = start; v < total; v += stride) {
            long long j = (v % n8) << 3;
            if (t == 0) {
                ember_f4* px = (ember_f4*)x + 2 * v;
                const ember_f4* pb = (const ember_f4*)((const float*)b + j);
                ember_f4 a = px[0], c = px[1], ba = pb[0], bc = pb[1];
                a.x += ba.x; a.y += ba.y; a.z += ba.z; a.w += ba.w;
                c.x += bc.x; c.y += bc.y; c.z += bc.z; c.w += bc.w;
                px[0] = a; px[1] = c;
            } else {  // 8 halves: one 16-byte load of x and of b, one store
                ember_u4 xu = ((ember_u4*)x)[v], bu = *(const ember_u4*)((const unsigned short*)b + j);
                unsigned int xw[4] = {xu.x, xu.y, xu.z, xu.w}, bw[4] = {bu.x, bu.y, bu.z, bu.w};
#pragma unroll
                for (int k = 0; k < 4; ++k) {
                    unsigned short r[2];
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        unsigned short xs = (unsigned short)(xw[k] >> (16 * h)), bs = (unsigned short)(bw[k] >> (16 * h));
                        float f = ember_h2f(xs, t) + ember_h2f(bs, t);
                        r[h] = ember_f2h(f, t);
                    }
                    xw[k] = (unsigned int)r[0] | ((unsigned int)r[1] << 16);
                }
                ((ember_u4*)x)[v] = ember_u4{xw[0], xw[1], xw[2], xw[3]};
            }
        }
        return;
    }
    long long total = rows * n;
    for (long long i = start; i < total; i += stride)
        ember_st(x, i, t, ember_ld(x, i, t) + ember_ld(b, i % n, t));
}

// IEEE float32 arithmetic with subnormals, as torch's kernels compute it: CuPy compiles every kernel with
// -ftz=true, which would flush subnormal operands and results to zero in plain C operators, so the
// instructions are written out without .ftz.
__device__ __forceinline__ float ember_binop(float x, float y, int op) {
    float r;
    switch (op) {
        case 0: asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(x), "f"(y)); break;
        case 1: asm("sub.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(x), "f"(y)); break;
        case 2: asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(x), "f"(y)); break;
        case 3: asm("div.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(x), "f"(y)); break;
        case 4: asm("sub.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(y), "f"(x)); break;  // the scalar on the left: s - a
        default: asm("div.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(y), "f"(x)); break;  // s / a
    }
    return r;
}

// 8 consecutive elements (the v-th group of 8) of an array of type code t, in float32; 16-byte aligned.
__device__ __forceinline__ void ember_load8(const void* p, long long v, int t, float* x) {
    if (t == 0) {
        ember_f4 a = ((const ember_f4*)p)[2 * v], b = ((const ember_f4*)p)[2 * v + 1];
        x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w; x[4] = b.x; x[5] = b.y; x[6] = b.z; x[7] = b.w;
        return;
    }
    ember_u4 u = ((const ember_u4*)p)[v];
    unsigned int w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        x[2 * k] = ember_h2f((unsigned short)(w[k] & 0xffffu), t);
        x[2 * k + 1] = ember_h2f((unsigned short)(w[k] >> 16), t);
    }
}

__device__ __forceinline__ void ember_store8(void* p, long long v, int t, const float* x) {
    if (t == 0) {
        ((ember_f4*)p)[2 * v] = ember_f4{x[0], x[1], x[2], x[3]};
        ((ember_f4*)p)[2 * v + 1] = ember_f4{x[4], x[5], x[6], x[7]};
        return;
    }
    unsigned int w[4];
#pragma unroll
    for (int k = 0; k < 4; ++k)
        w[k] = (unsigned int)ember_f2h(x[2 * k], t) | ((unsigned int)ember_f2h(x[2 * k + 1], t) << 16);
    ((ember_u4*)p)[v] = ember_u4{w[0], w[1], w[2], w[3]};
}

// out[i] = a[i] op b[i] (b an array, has_b) or a[i] op s, computed in float32, for C-contiguous a, b, out of
// type codes ta, tb, to (mixed float32 / half operands give a float32 out, as torch's add does without a
// cast); 8 elements per thread per step when vec (all pointers 16-byte aligned), then the n % 8 tail.
extern "C" __global__ void ember_binary8(const void* a, const void* b, float s, int has_b, void* out, long long n,
                                         int ta, int tb, int to, int op, int vec) {
    long long stride = (long long)gridDim.x * blockDim.x;
    long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long done = 0;
    if (vec) {
        long long n8 = n >> 3;
        for (long long v = start; v < n8; v += stride) {
            float x[8], y[8];
            ember_load8(a, v, ta, x);
            if (has_b) ember_load8(b, v, tb, y);
#pragma unroll
            for (int k = 0; k < 8; ++k) x[k] = ember_binop(x[k], has_b ? y[k] : s, op);
            ember_store8(out, v, to, x);
        }
        done = n8 << 3;
    }
    for (long long i = done + start; i < n; i += stride)
        ember_st(out, i, to, ember_binop(ember_ld(a, i, ta), has_b ? ember_ld(b, i, tb) : s, op));
}

// out[r, :] = w[idx[r], :] row by row in units of `unit` bytes (16, 8, 4 or 2; upr units per row); a row whose
// index is outside [0, num) becomes NaN (the unit-sized NaN pattern nan_lo/nan_hi): torch stops at a device
// assert there, and a check on the host would wait for the GPU.
extern "C" __global__ void ember_gather_rows(const void* w, const long long* idx, void* out, long long rows,
                                             long long upr, long long num, int unit,
                                             unsigned long long nan_lo, unsigned long long nan_hi) {
    long long total = rows * upr;
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long u = (long long)blockIdx.x * blockDim.x + threadIdx.x; u < total; u += stride) {
        long long r = u / upr;
        long long k = idx[r];
        bool ok = k >= 0 && k < num;
        long long src = k * upr + (u - r * upr);
        if (unit == 16) {
            ember_u4 v = ok ? ((const ember_u4*)w)[src]
                            : ember_u4{(unsigned int)nan_lo, (unsigned int)(nan_lo >> 32),
                                       (unsigned int)nan_hi, (unsigned int)(nan_hi >> 32)};
            ((ember_u4*)out)[u] = v;
        } else if (unit == 8) {
            ((unsigned long long*)out)[u] = ok ? ((const unsigned long long*)w)[src] : nan_lo;
        } else if (unit == 4) {
            ((unsigned int*)out)[u] = ok ? ((const unsigned int*)w)[src] : (unsigned int)nan_lo;
        } else {
            ((unsigned short*)out)[u] = ok ? ((const unsigned short*)w)[src] : (unsigned short)nan_lo;
        }
    }
}
"""
)


_CUPY_EMPTY = []  # cupy.empty, bound on first use (this module imports without CuPy)


def _empty(shape, dtype):
    if not _CUPY_EMPTY:
        import cupy

        _CUPY_EMPTY.append(cupy.empty)
    return _CUPY_EMPTY[0](shape, dtype=dtype)


_KERNELS = Kernels(_SRC)
# int32 kernel arguments of small values, built once (a NumPy scalar costs ~0.1 us per construction)
_I32 = tuple(np.int32(k) for k in range(8))


def _grid(work: int) -> int:
    return max(1, min((work + 255) // 256, 132 * 16))


def cast(a, dtype):
    """a.astype(dtype) for float32/float16/bfloat16 C-contiguous arrays (else CuPy's astype). Also cheaper to
    launch than CuPy's astype (~5 vs ~15 us of host time), so small arrays take it too."""
    ti, to = DTYPE_CODE.get(a.dtype), DTYPE_CODE.get(dtype)
    if ti is None or to is None or ti == to or a.size == 0 or not a._c_contiguous or a.data.ptr % 16:
        return a.astype(dtype)
    out = _empty(a.shape, dtype)
    n = a.size
    args = (pointer(a), pointer(out), np.int64(n), _I32[ti], _I32[to])
    _KERNELS("ember_cast8")((_grid(max(n >> 3, 1)),), (256,), args)
    return out


def bias_add_(x, b) -> bool:
    """x += b over the last axis in place for C-contiguous x (..., n) and b (n,) of x's dtype (float32,
    float16 or bfloat16); returns False (doing nothing) for anything else."""
    t = DTYPE_CODE.get(x.dtype)
    if t is None or b.dtype != x.dtype or b.ndim != 1 or x.ndim < 1 or x.shape[-1] != b.shape[0]:
        return False
    if not (x._c_contiguous and b._c_contiguous) or x.size == 0:
        return False
    n = b.shape[0]
    rows = x.size // n
    vec = int(n % 8 == 0 and x.data.ptr % 16 == 0 and b.data.ptr % 16 == 0)
    work = (rows * n) >> 3 if vec else rows * n
    args = (pointer(x), pointer(b), np.int64(rows), np.int64(n), _I32[t], _I32[vec])
    _KERNELS("ember_bias_add")((_grid(work),), (256,), args)
    return True


def _nan_bits(dtype) -> int:
    """The bit pattern of a quiet NaN of a float dtype, as an unsigned integer of its size."""
    return int(np.array(np.nan, dtype=dtype).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[dtype.itemsize]))


_FLOATS = frozenset(DTYPE_CODE) | {np.dtype(np.float64)}  # float16, bfloat16 (kind "V"), float32, float64


def gather_rows(w, idx):
    """w[idx] for a 2-D float table w and integer indices of any shape, without reading idx on the host: rows
    whose index is out of range come out NaN. 16 bytes per thread where the row size and pointers allow.
    Returns None for a table that is not float16/bfloat16/float32/float64 (no NaN to mark a bad row with)."""
    import cupy

    num, dim = w.shape
    if w.dtype not in _FLOATS:
        return None
    if not w.flags.c_contiguous:
        w = cupy.ascontiguousarray(w)
    flat = idx.reshape(-1)
    if flat.dtype != np.int64:
        flat = flat.astype(np.int64)
    elif not flat.flags.c_contiguous:
        flat = cupy.ascontiguousarray(flat)
    out = _empty(idx.shape + (dim,), w.dtype)
    rows = flat.size
    isz = w.dtype.itemsize
    if rows == 0 or dim == 0:
        return out
    row_bytes = dim * isz
    unit = 16 if row_bytes % 16 == 0 and w.data.ptr % 16 == 0 and out.data.ptr % 16 == 0 else isz
    nan = _nan_bits(w.dtype)
    pattern = 0
    for k in range(8 // isz):  # the element's NaN repeated over 8 bytes
        pattern |= nan << (8 * isz * k)
    upr = row_bytes // unit
    args = (
        pointer(w), pointer(flat), pointer(out), np.int64(rows), np.int64(upr), np.int64(num), np.int32(unit),
        np.uint64(pattern), np.uint64(pattern),
    )  # fmt: skip
    _KERNELS("ember_gather_rows")((_grid(rows * upr),), (256,), args)
    return out


# name -> (op code with the array on the left, op code with a Python scalar on the left) of ember_binop
_BINARY_OPS = {"add": (0, 0), "sub": (1, 4), "mul": (2, 2), "truediv": (3, 5)}
_F32_MAX = 3.4028234663852886e38
_F32_DT = np.dtype(np.float32)


def _in_float32(fallback, a, b):
    """fallback(a, b) on float32 casts: operands of two float dtypes (float32 and a half, or float16 and
    bfloat16) give float32, as torch promotes them."""
    return fallback(cast(a, _F32_DT), cast(b, _F32_DT))


def binary_op(name: str, fallback):
    """`a <name> b` for CuPy arrays and Python numbers: one launch of ember_binary8 when the arrays are
    float32/float16/bfloat16 of one shape, C-contiguous, and any Python number is finite in float32;
    `fallback(a, b)` (the operator, i.e. CuPy's ufunc) for everything else. Halves are computed in float32
    and rounded once, with the scalar kept in float32 (torch's opmath), which CuPy does not do. Operands of
    two float dtypes (float32 and a half, or float16 and bfloat16) give float32, read in place as torch's add
    does (the fallback gets them cast to float32).

    It exists for the host's time: CuPy's ufunc call costs ~8 us of Python and Cython per op, a cached
    kernel's launch ~5 us (benchmarks/overhead.py measures both)."""
    import cupy

    nd = cupy.ndarray
    empty = cupy.empty
    code, code_swapped = _BINARY_OPS[name]
    f32, i64, u64, i32 = np.float32, np.int64, np.uint64, _I32
    zero = f32(0)
    launch = []  # the compiled kernel, bound on the first call

    def op(a, b):
        if type(a) is nd:
            arr = a
            ta = DTYPE_CODE.get(a.dtype)
            if type(b) is nd:
                tb = DTYPE_CODE.get(b.dtype)
                if ta is None or tb is None:
                    return fallback(a, b)
                out_dt = a.dtype if ta == tb else _F32_DT
                if not b._c_contiguous or b.shape != a.shape or not a._c_contiguous or not a.size:
                    return fallback(a, b) if ta == tb else _in_float32(fallback, a, b)
                s, has_b, c = zero, 1, code
            elif (type(b) is float or type(b) is int) and -_F32_MAX <= b <= _F32_MAX:
                s, has_b, c, tb, out_dt = f32(b), 0, code, ta, a.dtype
            else:
                return fallback(a, b)
        elif type(b) is nd and (type(a) is float or type(a) is int) and -_F32_MAX <= a <= _F32_MAX:
            arr, s, has_b, c, ta, out_dt = b, f32(a), 0, code_swapped, DTYPE_CODE.get(b.dtype), b.dtype
            tb = ta
        else:
            return fallback(a, b)
        n = arr.size
        if ta is None or not n or not arr._c_contiguous:
            return fallback(a, b)
        out = empty(arr.shape, out_dt)
        pa, po = arr.data.ptr, out.data.ptr
        pb = b.data.ptr if has_b else 0
        vec = (pa | pb | po) & 15 == 0
        if not launch:
            launch.append(_KERNELS("ember_binary8"))
        grid = _grid(max(n >> 3, 1) if vec else n)
        to = DTYPE_CODE[out_dt]
        args = (u64(pa), u64(pb), s, i32[has_b], u64(po), i64(n), i32[ta], i32[tb], i32[to], i32[c], i32[vec])
        launch[0]((grid,), (256,), args)
        return out

    op.__name__ = f"cuda_{name}"
    return op


def cupy_binary_op(name: str, fallback):
    """`fallback` (CuPy's ufunc) with float32 + half operands cast to float32 first: binary_op's semantics
    without its kernel (EMBER_CUDA_FUSED_ARITH=0)."""

    def op(a, b):
        da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
        if da is not None and db is not None and da != db and da in DTYPE_CODE and db in DTYPE_CODE:
            return _in_float32(fallback, a, b)
        return fallback(a, b)

    op.__name__ = f"cupy_{name}"
    return op
