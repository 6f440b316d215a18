"""The fused CUDA dropout's mask (backend/cuda_dropout.py) on the CPU: its element -> Philox word mapping,
emulated in NumPy with the reference Philox, must give exactly the keep mask that bernoulli_(1 - p) draws from
the same engine state, and consume the same number of blocks; and its scale equals the unfused path's."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from ember.backend import cuda_dropout
from ember.backend.philox import PhiloxEngine, philox_blocks


def _kernel_mask(seed: int, offset: int, n: int, keep: float) -> np.ndarray:
    """What ember_dropout computes per element: block offset + i // 2, words (0, 1) or (2, 3)."""
    w = philox_blocks(np, seed, offset, cuda_dropout.blocks(n)).astype(np.uint64)  # (n_blocks, 4)
    i = np.arange(n)
    hi = np.where(i % 2 == 0, w[i // 2, 0], w[i // 2, 2])
    lo = np.where(i % 2 == 0, w[i // 2, 1], w[i // 2, 3])
    u = ((hi << np.uint64(32)) | lo) >> np.uint64(11)
    return u.astype(np.float64) * 2.0**-53 < keep


@pytest.mark.parametrize("n", [1, 2, 7, 8, 1001, 4096])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed,offset", [(0, 0), (1234, 17), (2**63 + 5, 2**64 - 3)])
def test_mask_equals_bernoulli_draw(n, p, seed, offset):
    eng = PhiloxEngine(seed)
    eng.set_state({"seed": seed, "offset": offset})
    drawn = eng.random(n) < (1.0 - p)  # what Bernoulli.forward compares (float64 uniforms)
    np.testing.assert_array_equal(_kernel_mask(seed, offset, n, 1.0 - p), drawn)
    assert eng.get_state()["offset"] == (offset + cuda_dropout.blocks(n)) % 2**64


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_scale_equals_unfused_division(dtype, p):
    noise = np.ones(3, dtype=dtype)
    if np.dtype(dtype).itemsize == 2:  # half precision divides in float32 and rounds once
        want = (noise.astype(np.float32) / np.float32(1 - p)).astype(dtype)
    else:
        want = noise / np.float32(1 - p)
    assert cuda_dropout.scale_of(p, np.dtype(dtype)) == float(want[0])
