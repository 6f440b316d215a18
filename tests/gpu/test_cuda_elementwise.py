"""ember/backend/cuda_elementwise.py: the vectorised float32 <-> float16/bfloat16 cast (bit-exact against
NumPy/ml_dtypes round-to-nearest-even, NaN/inf/subnormals included, odd sizes and unaligned views) and the
in-place bias add of linear layers, and the embedding row gather (bit-exact rows, NaN rows for out-of-range
indices, no host read of the indices)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from tests.gpu.bits import float_values, same_bits

pytestmark = pytest.mark.cuda

DT = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-42, 3.4e38, 65520.0, 1.00390625]


def _values(rng, n):
    return float_values(rng, n, 6, SPECIAL)


@pytest.mark.parametrize("src", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("dst", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000, 65541])
def test_cast_matches_numpy_bit_for_bit(src, dst, n):
    import cupy

    from ember.backend.cuda_elementwise import cast

    rng = np.random.default_rng(n)
    x = _values(rng, n).astype(DT[src])
    got = cast(cupy.asarray(x), DT[dst]).get()
    want = x.astype(DT[dst])
    assert got.dtype == want.dtype and got.shape == want.shape
    same_bits(got, want)


def test_cast_of_unaligned_and_strided_views():
    import cupy

    from ember.backend.cuda_elementwise import cast

    x = _values(np.random.default_rng(1), 4099)
    d = cupy.asarray(x)
    for view, ref in ((d[1:], x[1:]), (d[::2], x[::2]), (d.reshape(1, -1)[:, 3:], x.reshape(1, -1)[:, 3:])):
        got = cast(view, DT["bfloat16"]).get()
        same_bits(got, ref.astype(DT["bfloat16"]))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("shape", [(5, 8), (3, 7), (1, 1), (64, 3072), (2, 3, 40), (16, 768)])
def test_bias_add(dtype, shape):
    import cupy

    from ember.backend.cuda_elementwise import bias_add_

    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(DT[dtype])
    b = rng.standard_normal(shape[-1]).astype(DT[dtype])
    d = cupy.asarray(x)
    assert bias_add_(d, cupy.asarray(b))
    want = (x.astype(np.float32) + b.astype(np.float32)).astype(DT[dtype])
    np.testing.assert_array_equal(d.get().view(np.uint8), want.view(np.uint8))


def test_bias_add_refuses_what_it_cannot_do():
    import cupy

    from ember.backend.cuda_elementwise import bias_add_

    x = cupy.zeros((4, 8), dtype=np.float32)
    assert not bias_add_(x, cupy.ones(8, dtype=np.float16))  # dtype mismatch
    assert not bias_add_(x[:, ::2], cupy.ones(4, dtype=np.float32))  # not contiguous
    assert not bias_add_(x, cupy.ones(4, dtype=np.float32))  # wrong length
    assert float(x.sum()) == 0.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("dim", [1, 3, 8, 24, 768])
@pytest.mark.parametrize("ishape", [(), (0,), (5,), (3, 7)])
def test_gather_rows_bit_exact_and_nan_out_of_range(dtype, dim, ishape):
    import cupy

    from ember.backend.cuda_elementwise import gather_rows

    rng = np.random.default_rng(dim)
    dt = DT.get(dtype, np.dtype(dtype))
    w = _values(rng, 11 * dim).reshape(11, dim).astype(dt)
    idx = rng.integers(-2, 13, ishape)
    for itype in (np.int64, np.int32):
        got = gather_rows(cupy.asarray(w), cupy.asarray(idx.astype(itype))).get()
        assert got.dtype == w.dtype and got.shape == ishape + (dim,)
        ok = (idx >= 0) & (idx < 11)
        want = w[np.where(ok, idx, 0)]
        bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
        np.testing.assert_array_equal(got[ok].view(bits), want[ok].view(bits))
        assert np.isnan(got[~ok].astype(np.float64)).all()


def test_gather_rows_strided_table_and_unaligned_rows():
    import cupy

    from ember.backend.cuda_elementwise import gather_rows

    w = cupy.arange(60, dtype=cupy.float32).reshape(6, 10)
    idx = cupy.asarray([5, 0, 3])
    np.testing.assert_array_equal(gather_rows(w[:, 1:8], idx).get(), w[:, 1:8].get()[[5, 0, 3]])
    np.testing.assert_array_equal(gather_rows(w.T, idx).get(), w.T.get()[[5, 0, 3]])
    assert gather_rows(cupy.arange(6).reshape(3, 2), idx[:2] % 3) is None  # no NaN for integer tables
