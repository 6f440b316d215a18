"""The row-major -> column-major argument mapping of the CUDA backend's batched GEMM (cuda_blas.gemm_args),
checked on the CPU by emulating cuBLAS's contract (column-major operands read through leading dimensions)
with NumPy: every transpose combination and shape must give op(A) @ op(B)."""

from __future__ import annotations

import numpy as np
import pytest

from ember.backend.cuda_blas import gemm_args


def _col_major(buf, rows, cols, ld):
    """The (rows, cols) column-major matrix at the start of `buf` with leading dimension ld."""
    assert ld >= max(rows, 1)
    return np.lib.stride_tricks.as_strided(buf, (rows, cols), (buf.itemsize, ld * buf.itemsize))


def _cublas_gemm(opa, opb, m, n, k, a_buf, lda, b_buf, ldb, ldc):
    """cublasGemmEx semantics: C (m x n, column-major, ldc) = op(A) op(B)."""
    A = _col_major(a_buf, k, m, lda).T if opa else _col_major(a_buf, m, k, lda)
    B = _col_major(b_buf, n, k, ldb).T if opb else _col_major(b_buf, k, n, ldb)
    c_buf = np.zeros(ldc * n)
    np.lib.stride_tricks.as_strided(c_buf, (m, n), (8, ldc * 8))[...] = A @ B
    return c_buf


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("mnk", [(3, 5, 7), (1, 1, 1), (8, 1, 4), (1, 9, 2), (6, 6, 6)])
def test_gemm_args_match_cublas_contract(trans_a, trans_b, mnk):
    m, n, k = mnk
    rng = np.random.default_rng(sum(mnk) + 2 * trans_a + trans_b)
    batch = 3
    a = rng.standard_normal((batch, k, m) if trans_a else (batch, m, k))
    b = rng.standard_normal((batch, n, k) if trans_b else (batch, k, n))
    opb, opa, cm, cn, kk, ldb, lda, ldc, sb, sa, sc, shape = gemm_args(a.shape, b.shape, trans_a, trans_b)
    assert shape == (m, n) and kk == k and (cm, cn) == (n, m)
    want = np.matmul(a.transpose(0, 2, 1) if trans_a else a, b.transpose(0, 2, 1) if trans_b else b)
    fa, fb = a.reshape(-1), b.reshape(-1)
    for i in range(batch):  # the strided-batched call: operand i starts at i * stride
        c = _cublas_gemm(opb, opa, cm, cn, kk, fb[i * sb :], ldb, fa[i * sa :], lda, ldc)
        np.testing.assert_allclose(c[: m * n].reshape(m, n), want[i], rtol=1e-12, atol=1e-12)
    assert sc == m * n


def test_gemm_args_reject_mismatched_inner_dims():
    with pytest.raises(ValueError, match="op\\(A\\) is 3x4 but op\\(B\\) is 5x2"):
        gemm_args((1, 3, 4), (1, 5, 2), False, False)


def _numpy_gemm_batched(a, b, trans_a=False, trans_b=False, out_dtype=None, compute=None):
    """gemm_batched's contract in NumPy, through the same argument mapping and the emulated cuBLAS call;
    it insists on C-contiguous (batch, r, c) operands, as the real one needs."""
    assert a.ndim == 3 and b.ndim == 3 and a.flags.c_contiguous and b.flags.c_contiguous
    opb, opa, cm, cn, k, ldb, lda, ldc, sb, sa, sc, (m, n) = gemm_args(a.shape, b.shape, trans_a, trans_b)
    fa, fb = a.reshape(-1), b.reshape(-1)
    out = np.empty((a.shape[0], m, n))
    for i in range(a.shape[0]):
        c = _cublas_gemm(opb, opa, cm, cn, k, fb[i * sb :], ldb, fa[i * sa :], lda, ldc)
        out[i] = c[: m * n].reshape(m, n)
    return out


@pytest.mark.parametrize(
    "make",
    [
        lambda r: (r((4, 5)), r((6, 5)).T),  # x @ w.T (linear forward: w.T passed transposed, not copied)
        lambda r: (r((7, 4)).T, r((7, 3))),  # g.mT @ x (linear weight gradient)
        lambda r: (r((2, 3, 4, 5)), r((6, 5)).T),  # batched rows folded into one GEMM
        lambda r: (r((2, 3, 5)).swapaxes(1, 2), r((2, 3, 4))),  # batched transposed operand
        lambda r: (r((2, 1, 3, 4)), r((5, 4, 2))),  # broadcast batch dims
        lambda r: (r((5,)), r((5, 3))),  # 1-D promotion
        lambda r: (r((3, 5)), r((5,))),
        lambda r: (r((3, 8))[:, ::2], r((4, 2))),  # a non-contiguous view is copied
    ],
)
def test_matmul_via_passes_transposed_views_without_copies(monkeypatch, make):
    import sys

    from ember.backend import cuda_blas

    monkeypatch.setitem(sys.modules, "cupy", np)  # NumPy stands in for CuPy (same array API)
    copies = []
    real = np.ascontiguousarray
    monkeypatch.setattr(np, "ascontiguousarray", lambda x: copies.append(x.shape) or real(x))
    monkeypatch.setattr(cuda_blas, "gemm_batched", _numpy_gemm_batched)
    rng = np.random.default_rng(0)
    a, b = make(lambda s: rng.standard_normal(s))
    got = cuda_blas._matmul_via(a, b, cuda_blas._COMPUTE_32F)
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    strided = not (a.flags.c_contiguous or a.swapaxes(-1, -2).flags.c_contiguous)
    assert bool(copies) == (strided or (a.ndim > 2 and b.ndim > 2 and a.shape[:-2] != b.shape[:-2]))
