"""Inputs with the edge cases of float arithmetic, and a bit-for-bit comparison, for the GPU kernel tests."""

from __future__ import annotations

import numpy as np


def float_values(rng, n: int, decades: int, special) -> np.ndarray:
    """n float32 values spread over +-`decades` powers of ten, the first ones replaced by `special`."""
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-decades, decades, n)).astype(np.float32)
    special = np.asarray(special, dtype=np.float32)
    k = min(n, special.size)
    x[:k] = special[:k]
    return x


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal dtype, shape and bits, except that any NaN matches any NaN (the GPU writes the canonical NaN)."""
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    g, w = got.astype(np.float32), want.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
    ok = ~np.isnan(w)
    ib = {2: np.uint16, 4: np.uint32}[got.itemsize]
    np.testing.assert_array_equal(got.view(ib)[ok], want.view(ib)[ok])
