"""linear and bilinear."""

from __future__ import annotations

from ... import ops as O
from ..._tensor import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias. input (*, in), weight (out, in), bias (out,)."""
    if input.dim() == 0 or weight.dim() not in (1, 2):
        raise RuntimeError(
            f"linear: expected input of at least 1 dim and a 1-D or 2-D weight, got "
            f"{list(input.shape)} and {list(weight.shape)}"
        )
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied (input {list(input.shape)} @ weight.T of "
            f"{list(weight.shape)}): expected input[..., {weight.shape[-1]}]"
        )
    out = O.matmul(input, weight.t() if weight.dim() == 2 else weight)
    return out + bias if bias is not None else out


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T W_k x2 + b_k. input1 (*, in1), input2 (*, in2), weight (out, in1, in2)."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
            f"{list(input2.shape[:-1])}"
        )
    if weight.dim() != 3 or weight.shape[1] != input1.shape[-1] or weight.shape[2] != input2.shape[-1]:
        raise RuntimeError(
            f"bilinear(): weight of shape {list(weight.shape)} does not match inputs {list(input1.shape)} and "
            f"{list(input2.shape)}"
        )
    out = O.einsum("...i,oij,...j->...o", input1, weight, input2)
    return out + bias if bias is not None else out


__all__ = ["bilinear", "linear"]
