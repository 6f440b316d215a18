"""Fused CUDA softmax / log_softmax over the last axis (backend/cuda_softmax.py, EMBER_CUDA_FUSED_SOFTMAX):
against torch in float64 on the same rounded inputs, forward and backward with a random cotangent, odd and
large rows, float32/bfloat16/float16; special values against the composed path; the fallbacks (other dims,
empty input) and create_graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.backend import cuda_softmax
from tests.gpu.counting import count_calls

pytestmark = pytest.mark.cuda


@pytest.fixture
def fused(monkeypatch):
    monkeypatch.setattr(cuda_softmax, "ENABLED", True)
    return count_calls(monkeypatch, cuda_softmax, fwd="forward", bwd="backward")


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(a).all()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


FNS = {"softmax": "softmax", "log_softmax": "log_softmax"}


@pytest.mark.parametrize("name", list(FNS))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("shape", [(1,), (3, 7), (2, 3, 1000), (4, 50304), (5, 4097), (300, 33)])
def test_fused_softmax_matches_torch(name, dtype, shape, fused):
    rng = np.random.default_rng(sum(shape))
    tdt = getattr(torch, dtype)
    x = (torch.tensor(rng.standard_normal(shape)) * 3).to(tdt)
    g = torch.tensor(rng.standard_normal(shape)).to(tdt)
    xr = x.double().requires_grad_()
    ref = getattr(torch.nn.functional, name)(xr, dim=-1)
    ref.backward(g.double())
    xe = ember.tensor(x.float().numpy(), device="cuda").to(getattr(ember, dtype)).requires_grad_()
    out = getattr(ember.nn.functional, name)(xe, dim=-1)
    out.backward(ember.tensor(g.float().numpy(), device="cuda").to(out.dtype))
    assert fused == {"fwd": 1, "bwd": 1}
    assert out.dtype is xe.dtype and xe.grad.dtype is xe.dtype
    tol = 1e-5 if dtype == "float32" else 1e-2
    assert _rel(out.detach().float().cpu().numpy(), ref.detach().numpy()) < tol
    assert _rel(xe.grad.float().cpu().numpy(), xr.grad.numpy()) < 3 * tol


@pytest.mark.parametrize("name", list(FNS))
def test_special_values_as_the_composed_path(name, monkeypatch):
    inf, nan = float("inf"), float("nan")
    rows = np.array(
        [[0.0, 1.0, 2.0], [-inf, -inf, -inf], [inf, 0.0, 1.0], [nan, 0.0, 1.0], [-inf, 0.0, 1.0]], np.float32
    )
    outs = []
    for on in (True, False):
        monkeypatch.setattr(cuda_softmax, "ENABLED", on)
        x = ember.tensor(rows, device="cuda")
        outs.append(getattr(ember.nn.functional, name)(x, dim=-1).cpu().numpy())
    np.testing.assert_array_equal(np.isnan(outs[0]), np.isnan(outs[1]))
    ok = ~np.isnan(outs[1])
    np.testing.assert_allclose(outs[0][ok], outs[1][ok], rtol=1e-6, atol=1e-7)


def test_fallbacks_and_create_graph(fused):
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal((4, 5)).astype(np.float32), device="cuda", requires_grad=True)
    y0 = ember.nn.functional.softmax(x, dim=0)  # not the last axis: the composed path
    e = ember.nn.functional.softmax(ember.zeros((2, 0), device="cuda"), dim=-1)  # empty
    assert fused["fwd"] == 0 and tuple(e.shape) == (2, 0)
    tx = torch.tensor(x.detach().cpu().numpy()).double().requires_grad_()
    assert _rel(y0.detach().cpu().numpy(), torch.softmax(tx, 0).detach().numpy()) < 1e-6
    y = ember.nn.functional.log_softmax(x, dim=-1)
    (g,) = ember.autograd.grad((y * y).sum(), x, create_graph=True)
    w = rng.standard_normal((4, 5)).astype(np.float32)  # not g.sum(): each row of g sums to 0 exactly
    (g * ember.tensor(w, device="cuda")).sum().backward()
    ty = torch.log_softmax(tx, -1)
    (tg,) = torch.autograd.grad((ty * ty).sum(), tx, create_graph=True)
    (tg * torch.tensor(w).double()).sum().backward()
    assert _rel(g.detach().cpu().numpy(), tg.detach().numpy()) < 1e-5
    assert _rel(x.grad.cpu().numpy(), tx.grad.numpy()) < 1e-5
