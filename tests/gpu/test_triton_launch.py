"""The torch-free Triton adapter (ember/backend/cuda_triton.py): kernels compiled by Triton, launched by CuPy,
checked against CuPy/NumPy on fresh random data, every output element written (outputs poisoned first)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.cuda

triton = pytest.importorskip("triton")
tl = pytest.importorskip("triton.language")


@triton.jit
def _axpy(x, y, out, a, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = i < n
    xv = tl.load(x + i, mask=m).to(tl.float32)
    yv = tl.load(y + i, mask=m).to(tl.float32)
    tl.store(out + i, (a * xv + yv).to(out.dtype.element_ty), mask=m)


@triton.jit
def _mm(a, b, c, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pm, pn = tl.program_id(0), tl.program_id(1)
    rm = pm * BM + tl.arange(0, BM)
    rn = pn * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k0 in range(0, K, BK):
        ka = k0 + rk
        av = tl.load(a + rm[:, None] * K + ka[None, :], mask=(rm[:, None] < M) & (ka[None, :] < K), other=0.0)
        bv = tl.load(b + ka[:, None] * N + rn[None, :], mask=(ka[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc = tl.dot(av, bv, acc)
    tl.store(c + rm[:, None] * N + rn[None, :], acc, mask=(rm[:, None] < M) & (rn[None, :] < N))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("n", [1, 17, 1000, 65537])
def test_axpy(dtype, n):
    import cupy
    import ml_dtypes

    from ember.backend.cuda_triton import TritonKernel

    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dt)
    y = rng.standard_normal(n).astype(dt)
    out = cupy.full(n, np.nan, dtype=dt)
    k = TritonKernel(_axpy)
    for _ in range(2):  # second call: the cached specialisation
        k(((n + 255) // 256,), cupy.asarray(x), cupy.asarray(y), out, 1.5, n, BLOCK=256)
    ref = 1.5 * x.astype(np.float64) + y.astype(np.float64)
    got = out.get().astype(np.float64)
    assert np.isfinite(got).all()
    tol = 1e-6 if dtype == "float32" else 1e-2
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(64, 64, 64), (100, 70, 33), (1, 1, 1)])
def test_dot_bf16(shape):
    import cupy
    import ml_dtypes

    from ember.backend.cuda_triton import TritonKernel

    M, N, K = shape
    rng = np.random.default_rng(M * N + K)
    a = rng.standard_normal((M, K)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((K, N)).astype(ml_dtypes.bfloat16)
    c = cupy.full((M, N), np.nan, dtype=np.float32)
    TritonKernel(_mm)(
        ((M + 63) // 64, (N + 63) // 64), cupy.asarray(a), cupy.asarray(b), c, M, N, K, BM=64, BN=64, BK=32
    )
    ref = a.astype(np.float64) @ b.astype(np.float64)
    got = c.get()
    assert np.isfinite(got).all()
    assert np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30) < 1e-5
