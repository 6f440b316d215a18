"""Second derivatives through ops that compute float16/bfloat16 in float32 (upcast_half): the float32 copy
of the input they save must still depend on the input under create_graph (it used to be saved as a
constant, so the term through the input was lost: 10-14% off for GELU/SiLU). Against torch in float64 on the
same rounded inputs. Ops that save their float32 result (exp, tanh, sigmoid, softmax) get the output itself
under create_graph (it used to be a constant too)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

FUNCS = {
    "gelu": lambda F: F.gelu,
    "gelu_tanh": lambda F: lambda x: F.gelu(x, approximate="tanh"),
    "silu": lambda F: F.silu,
    "elu": lambda F: F.elu,
    "softplus": lambda F: F.softplus,
    "mish": lambda F: F.mish,
    "logsigmoid": lambda F: F.logsigmoid,
    "hardswish": lambda F: F.hardswish,
    "sigmoid": lambda F: torch.sigmoid if F is torch.nn.functional else ember.sigmoid,
    "tanh": lambda F: torch.tanh if F is torch.nn.functional else ember.tanh,
    "exp": lambda F: torch.exp if F is torch.nn.functional else ember.exp,
    "softmax": lambda F: lambda x: F.softmax(x, dim=0),
    "leaky_relu": lambda F: lambda x: F.leaky_relu(x, 0.1),
}


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(a).all()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(FUNCS))
def test_second_derivative_through_half_op(name, dtype):
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    x = (rng.standard_normal(64) * (0.5 if name == "exp" else 1.5)).astype(
        np.float32
    )  # exp: no fp16 overflow
    fe, ft = FUNCS[name](ember.nn.functional), FUNCS[name](torch.nn.functional)
    xe = ember.tensor(x).to(getattr(ember, dtype)).requires_grad_()
    (ge,) = ember.autograd.grad(fe(xe).float().pow(2).sum(), xe, create_graph=True)
    (ge.float() * ge.float()).sum().backward()
    xt = torch.tensor(xe.detach().float().cpu().numpy()).double().requires_grad_()
    (gt,) = torch.autograd.grad(ft(xt).pow(2).sum(), xt, create_graph=True)
    (gt * gt).sum().backward()
    tol = 3e-2 if dtype == "bfloat16" else 5e-3
    assert xe.grad.dtype is xe.dtype
    assert _rel(ge.detach().float().cpu().numpy(), gt.detach().numpy()) < tol
    assert _rel(xe.grad.float().cpu().numpy(), xt.grad.numpy()) < tol


def test_saved_half_output_modified_in_place_is_an_error():
    x = ember.tensor(np.linspace(-1, 1, 8).astype(np.float32)).to(ember.bfloat16).requires_grad_()
    y = ember.exp(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_first_order_backward_still_uses_the_saved_float32_copy():
    """Without create_graph the saved float32 array is used as is (no second upcast of the input). On CUDA the
    fused activation kernel reads the half input in place, so the saved tensor is the bfloat16 input."""
    x = ember.tensor(np.linspace(-3, 3, 50).astype(np.float32)).to(ember.bfloat16).requires_grad_()
    y = ember.nn.functional.gelu(x)
    with ember.no_grad():  # as in the engine's first-order backward
        saved = y.grad_fn.saved_tensors[0]
    assert saved.dtype is (ember.bfloat16 if x.is_cuda else ember.float32) and saved.grad_fn is None
    y.backward(ember.ones_like(y))
    xt = torch.tensor(x.detach().float().cpu().numpy()).double().requires_grad_()
    torch.nn.functional.gelu(xt).backward(torch.ones_like(xt))
    assert _rel(x.grad.float().cpu().numpy(), xt.grad.numpy()) < 1e-2
