"""Fused CUDA dropout (backend/cuda_dropout.py) against the unfused path from the same generator state:
bit-for-bit equal outputs and gradients, the same generator offset afterwards, nothing but the Philox state
saved, special values propagated as input * noise propagates them, and a plausible keep fraction."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.backend import cuda_dropout

pytestmark = pytest.mark.cuda


def _bits(t) -> np.ndarray:
    a = t.detach().cpu().numpy()
    return a.view({2: np.uint16, 4: np.uint32}[a.dtype.itemsize])


def _run(fused: bool, monkeypatch, x0: np.ndarray, dtype, p: float, g0: np.ndarray):
    monkeypatch.setattr(cuda_dropout, "ENABLED", fused)
    ember.cuda.manual_seed(1234)
    x = ember.tensor(x0, device="cuda").to(dtype).requires_grad_()
    y = ember.nn.functional.dropout(x, p, training=True)
    y.backward(ember.tensor(g0, device="cuda").to(dtype))
    state = ember.cuda.get_rng_state()
    return y, x.grad, state


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("n", [1, 7, 1001, 65537])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_fused_equals_unfused(dtype, n, p, monkeypatch):
    rng = np.random.default_rng(n)
    x0 = rng.standard_normal(n).astype(np.float32)
    x0[:3] = [np.inf, -0.5, np.nan][: min(3, n)]
    g0 = rng.standard_normal(n).astype(np.float32)
    dt = getattr(ember, dtype)
    yf, gf, sf = _run(True, monkeypatch, x0, dt, p, g0)
    yu, gu, su = _run(False, monkeypatch, x0, dt, p, g0)
    assert yf.grad_fn.name() == "NativeDropoutBackward0"
    np.testing.assert_array_equal(_bits(yf), _bits(yu))
    np.testing.assert_array_equal(_bits(gf), _bits(gu))
    np.testing.assert_array_equal(sf.numpy(), su.numpy())  # the stream advanced by the same amount


def test_keep_fraction_and_scale(monkeypatch):
    monkeypatch.setattr(cuda_dropout, "ENABLED", True)
    x = ember.ones(1 << 20, device="cuda")
    y = ember.nn.functional.dropout(x, 0.3).cpu().numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_allclose(y[kept], np.float32(1) / np.float32(0.7))


def test_double_backward_and_inplace_fallback(monkeypatch):
    monkeypatch.setattr(cuda_dropout, "ENABLED", True)
    ember.cuda.manual_seed(0)
    x = ember.randn(300, device="cuda", requires_grad=True)
    y = ember.nn.functional.dropout(x, 0.4)
    (g,) = ember.autograd.grad((y * y).sum(), x, create_graph=True)
    g.sum().backward()
    noise = (y / x).detach()  # x is never 0 here
    np.testing.assert_allclose(x.grad.cpu().numpy(), (2 * noise * noise).cpu().numpy(), rtol=1e-5)
    z = ember.randn(10, device="cuda")
    out = ember.nn.functional.dropout(z, 0.5, inplace=True)  # in place: the unfused path, same tensor
    assert out is z
