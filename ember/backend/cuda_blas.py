"""cuBLAS GEMMs for what cupy.matmul does badly: bfloat16/float16 (any batch shape, float32 accumulation)
and TF32 float32 products; and every GEMM inside a CUDA-graph capture, which CuPy's cuBLAS wrappers refuse
(they raise NotImplementedError while the stream captures) although cuBLAS itself supports it: there the
library is called directly (ctypes, on CuPy's handle). Row-major C = A @ B is computed as column-major
C^T = B^T A^T."""

from __future__ import annotations

import ctypes

import numpy as np

from .cuda_graph import CAPTURING

_CUDA_R_16F = 2
_CUDA_R_16BF = 14
_CUDA_R_32F = 0
_CUDA_R_64F = 1
_COMPUTE_32F = 68
_COMPUTE_32F_FAST_TF32 = 77
_COMPUTE_64F = 70
_GEMM_DEFAULT = -1
_ONE = np.array(1.0, dtype=np.float32)
_ZERO = np.array(0.0, dtype=np.float32)
_ONE64 = np.array(1.0, dtype=np.float64)
_ZERO64 = np.array(0.0, dtype=np.float64)


def _dtype_code(dt) -> int:
    if dt == np.float16:
        return _CUDA_R_16F
    if dt == np.float32:
        return _CUDA_R_32F
    if dt == np.float64:
        return _CUDA_R_64F
    if np.dtype(dt).name == "bfloat16":  # ml_dtypes.bfloat16
        return _CUDA_R_16BF
    raise TypeError(
        f"cuBLAS GEMM: unsupported dtype {np.dtype(dt).name} (float16, bfloat16, float32 or float64)"
    )


_LIB: list = []


def _libcublas():
    """The libcublas CuPy loaded, opened again through ctypes (the same library, so the same handles)."""
    if _LIB:
        return _LIB[0]
    import cupy

    cupy.cuda.device.get_cublas_handle()  # loads the library
    with open("/proc/self/maps") as f:
        paths = {ln.split()[-1] for ln in f if "/libcublas.so" in ln}
    if len(paths) != 1:
        raise RuntimeError(
            f"cuBLAS: cannot tell which libcublas CuPy loaded (found {sorted(paths) or 'none'}), so GEMMs "
            "cannot be captured in a CUDA graph"
        )
    lib = ctypes.CDLL(paths.pop())
    p, i, ll = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
    lib.cublasSetStream_v2.argtypes = [p, p]
    lib.cublasGemmEx.argtypes = [p, i, i, i, i, i, p, p, i, i, p, i, i, p, p, i, i, i, i]
    lib.cublasGemmStridedBatchedEx.argtypes = [p, i, i, i, i, i, p, p, i, i, ll, p, i, i, ll, p, p, i, i, ll, i, i, i]  # fmt: skip
    for fn in (lib.cublasSetStream_v2, lib.cublasGemmEx, lib.cublasGemmStridedBatchedEx):
        fn.restype = i
    _LIB.append(lib)
    return lib


def _check(status, what: str) -> None:
    if status:
        raise RuntimeError(f"cuBLAS {what} failed during a CUDA graph capture (cublasStatus_t {status})")


def gemm_args(a_shape, b_shape, trans_a: bool, trans_b: bool):
    """cuBLAS arguments for row-major C = op(A) @ op(B) over C-contiguous (batch, r, c) operands.

    cuBLAS is column-major, where a row-major (r, c) array reads as its (c, r) transpose; so C^T (n x m) =
    op(B)^T op(A)^T is computed with B passed first. Each operand's leading dimension is its last axis.
    Returns (op_first, op_second, m_cublas, n_cublas, k, ld_first, ld_second, ld_c, stride_b, stride_a,
    stride_c, (m, n)) where `first` is B and `second` is A."""
    _, ra, ca = a_shape
    _, rb, cb = b_shape
    m, k = (ca, ra) if trans_a else (ra, ca)
    kb, n = (cb, rb) if trans_b else (rb, cb)
    if kb != k:
        raise ValueError(f"gemm: op(A) is {m}x{k} but op(B) is {kb}x{n}")
    return (int(trans_b), int(trans_a), n, m, k, cb, ca, n, rb * cb, ra * ca, m * n, (m, n))


def gemm_batched(
    a, b, trans_a: bool = False, trans_b: bool = False, out_dtype=None, compute: int = _COMPUTE_32F
):
    """C[i] = op(A[i]) @ op(B[i]) for C-contiguous (batch, r, c) arrays of one dtype (float16, bfloat16 or
    float32); op transposes when asked. `out_dtype` may be float32 for half inputs (scores that a softmax
    reads in full precision). Returns a C-contiguous (batch, m, n) array."""
    import cupy
    from cupy_backends.cuda.libs import cublas

    opb, opa, cm, cn, k, ldb, lda, ldc, sb, sa, sc, (m, n) = gemm_args(a.shape, b.shape, trans_a, trans_b)
    batch = a.shape[0]
    c = cupy.empty((batch, m, n), dtype=a.dtype if out_dtype is None else out_dtype)
    if batch == 0 or m == 0 or n == 0:
        return c
    if k == 0:
        c.fill(0)
        return c
    dt, ct = _dtype_code(a.dtype), _dtype_code(c.dtype)
    one, zero = (_ONE64, _ZERO64) if compute == _COMPUTE_64F else (_ONE, _ZERO)
    handle = cupy.cuda.device.get_cublas_handle()
    if CAPTURING[0]:  # the library itself, on the capturing stream (CuPy's wrappers refuse it)
        lib = _libcublas()
        _check(lib.cublasSetStream_v2(handle, cupy.cuda.get_current_stream().ptr), "SetStream")
        gemm, gemm_strided = lib.cublasGemmEx, lib.cublasGemmStridedBatchedEx
    else:  # CuPy's wrappers set the handle's stream to the current one themselves, and raise on errors
        gemm, gemm_strided = cublas.gemmEx, cublas.gemmStridedBatchedEx
    if batch == 1:
        st = gemm(
            handle, opb, opa, cm, cn, k, one.ctypes.data, b.data.ptr, dt, ldb, a.data.ptr, dt, lda,
            zero.ctypes.data, c.data.ptr, ct, ldc, compute, _GEMM_DEFAULT,
        )  # fmt: skip
    else:
        st = gemm_strided(
            handle, opb, opa, cm, cn, k, one.ctypes.data, b.data.ptr, dt, ldb, sb, a.data.ptr, dt, lda, sa,
            zero.ctypes.data, c.data.ptr, ct, ldc, sc, batch, compute, _GEMM_DEFAULT,
        )  # fmt: skip
    _check(st, "GemmEx")  # a cublasStatus_t from the library; None from CuPy's wrappers
    return c


def _operand(x):
    """(C-contiguous array, transposed?) for a matmul operand: a view whose last two axes are a swapped
    C-contiguous array is passed to cuBLAS transposed instead of copied (w.T in linear, g.mT in backward)."""
    import cupy

    if x.flags.c_contiguous:
        return x, False
    t = x.swapaxes(-1, -2)
    if t.flags.c_contiguous:
        return t, True
    return cupy.ascontiguousarray(x), False


def _matmul_via(a, b, compute: int):
    """NumPy matmul semantics (1-D promotion, broadcast batch dims) over a cuBLAS batched GEMM."""
    import cupy

    squeeze_a = a.ndim == 1
    squeeze_b = b.ndim == 1
    if squeeze_a:
        a = a[None, :]
    if squeeze_b:
        b = b[:, None]
    batch_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.ndim == 2 and a.ndim >= 2 and (a.ndim == 2 or a.flags.c_contiguous):
        # fold the batch into the rows: one GEMM; a transposed 2-D operand is passed as such
        a2, ta = _operand(a) if a.ndim == 2 else (a, False)
        b2, tb = _operand(b)
        a3 = a2.reshape(1, -1, a2.shape[-1])
        c = gemm_batched(a3, b2[None], trans_a=ta, trans_b=tb, compute=compute).reshape(batch_shape + (m, n))
    else:
        batch = int(np.prod(batch_shape)) if batch_shape else 1
        a3, ta = _operand(cupy.broadcast_to(a, batch_shape + (m, k)))
        b3, tb = _operand(cupy.broadcast_to(b, batch_shape + (k, n)))
        c = gemm_batched(
            a3.reshape((batch,) + a3.shape[-2:]),
            b3.reshape((batch,) + b3.shape[-2:]),
            trans_a=ta,
            trans_b=tb,
            compute=compute,
        ).reshape(batch_shape + (m, n))
    if squeeze_a:
        c = c[..., 0, :]
    if squeeze_b:
        c = c[..., 0]
    return c


def column_sum(g2, out_dtype):
    """Sum over the rows of a C-contiguous 2-D float array as a GEMM with a ones vector (float32
    accumulation; CuPy's axis-0 reduction is ~10x slower on a (16384, 3072) bfloat16 gradient)."""
    out = gemm_batched(_ones(g2.shape[0], g2.dtype), g2[None], out_dtype=np.float32, compute=_COMPUTE_32F)
    return out.reshape(g2.shape[1]).astype(out_dtype, copy=False)


_ONES: dict = {}


def _ones(n: int, dtype):
    """A cached (1, 1, n) ones vector per (device, dtype, n): made once (its fill may wait for the host),
    so that a training step's bias gradients allocate and fill nothing."""
    import cupy

    key = (cupy.cuda.Device().id, np.dtype(dtype).str, n)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 64:
            _ONES.clear()
        v = _ONES[key] = cupy.ones((1, 1, n), dtype=dtype)
    return v


def half_matmul(a, b):
    """bfloat16/float16 matmul with float32 accumulation (cuBLAS tensor cores)."""
    return _matmul_via(a, b, _COMPUTE_32F)


def tf32_matmul(a, b):
    """float32 matmul on TF32 tensor cores (when ember.backends.cuda.matmul.allow_tf32 is set)."""
    return _matmul_via(a, b, _COMPUTE_32F_FAST_TF32)


def captured_matmul(a, b):
    """float32/float64 matmul inside a CUDA-graph capture (cupy.matmul's cuBLAS call cannot be captured)."""
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        raise RuntimeError(
            f"matmul of {a.dtype} and {b.dtype} arrays cannot be captured in a CUDA graph: CuPy runs it through "
            "cuBLAS wrappers that refuse a capture (float16, bfloat16, float32 and float64 of one dtype can)"
        )
    return _matmul_via(a, b, _COMPUTE_64F if a.dtype == np.float64 else _COMPUTE_32F)
