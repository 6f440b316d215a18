"""Activation functionals (torch.nn.functional names). The ops live in ember/ops/activation.py."""

from __future__ import annotations

from ... import ops as O
from ..._tensor import Tensor
from ..._trace_hooks import traceable
from ...ops import activation as A
from ...ops._autocast import autocast_policy
from ...ops.activation import (
    celu,
    gelu,
    hardsigmoid,
    hardswish,
    leaky_relu,
    logsigmoid,
    mish,
    relu6,
    selu,
    silu,
    softplus,
    softsign,
    tanhshrink,
)


def _inplace_result(input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    return input.copy_(result) if inplace else result


@traceable("F.relu")
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return A.relu_(input) if inplace else A.relu(input)


def relu_(input: Tensor) -> Tensor:
    return A.relu_(input)


@traceable("F.elu")
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _inplace_result(input, A.elu(input, alpha), inplace)


@traceable("F.hardtanh")
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _inplace_result(input, A.hardtanh(input, min_val, max_val), inplace)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x if x > threshold else value."""
    return _inplace_result(input, O.where(input > threshold, input, value), inplace)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) for the two halves of `dim`."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return O.where((input > lambd) | (input < -lambd), input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return O.where(input > lambd, input - lambd, O.where(input < -lambd, input + lambd, 0.0))


@autocast_policy("prelu")
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + weight * min(0, x); weight has 1 or C (= input.shape[1]) elements."""
    if weight.numel() != 1:
        if input.dim() < 2 or weight.numel() != input.shape[1]:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {weight.numel()} "
                f"and channel size = {input.shape[1] if input.dim() > 1 else 1}."
            )
        weight = weight.reshape((1, -1) + (1,) * (input.dim() - 2))
    return O.where(input > 0, input, input * weight)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    if training:
        slope = O.empty_like(input).uniform_(lower, upper)
        out = O.where(input >= 0, input, input * slope)
    else:
        out = A.leaky_relu(input, (lower + upper) / 2)
    return _inplace_result(input, out, inplace)


@traceable("F.sigmoid")
def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


@traceable("F.tanh")
def tanh(input: Tensor) -> Tensor:
    return input.tanh()


@traceable("F.softmax")
def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return A.softmax(input, dim, dtype)


@traceable("F.log_softmax")
def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return A.log_softmax(input, dim, dtype)


@autocast_policy("softmin")
def softmin(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    return A.softmax(-input, dim, dtype)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1):
    gumbels = -O.empty_like(logits).exponential_().log()
    y = A.softmax((logits + gumbels) / tau, dim)
    if hard:
        index = y.argmax(dim, keepdim=True)
        y_hard = O.zeros_like(logits).scatter_(dim, index, 1.0)
        return y_hard - y.detach() + y
    return y


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return input.copy_(A.leaky_relu(input, negative_slope))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return input.copy_(A.elu(input, alpha))


__all__ = [
    "celu",
    "elu",
    "elu_",
    "gelu",
    "glu",
    "gumbel_softmax",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "leaky_relu_",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "relu_",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
]
