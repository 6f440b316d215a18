"""Dropout functionals: dropout, dropout1d/2d/3d (channel-wise), alpha_dropout, feature_alpha_dropout.

Masks are drawn from ember's default generator (``ember.manual_seed`` makes them reproducible); the streams
differ from torch's. As in torch, the output is ``input * noise`` (plus a shift for alpha dropout) with
``noise = bernoulli(1 - p) / (1 - p)``, so the gradient is exactly ``noise``; p == 0 or eval mode return
the input itself and p == 1 multiplies by zero.
"""

from __future__ import annotations

import math
import warnings

from ... import ops as O
from ..._tensor import Tensor, _wrap
from ..._trace_hooks import traceable
from ...autograd.grad_mode import STATE
from ...ops._dispatch import dispatch
from ...ops.op import Op

_ALPHA = 1.7580993408473766  # -SELU scale * alpha: the value alpha dropout sets dropped units to


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise(input: Tensor, p: float, feature: bool) -> Tensor:
    if feature:
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    else:
        shape = tuple(input.shape)
    return O.empty(shape, dtype=input.dtype, device=input.device).bernoulli_(1 - p)


def _dropout_impl(input: Tensor, p: float, train: bool, feature: bool, alpha: bool, inplace: bool) -> Tensor:
    """torch's ATen _dropout_impl: identity, zeros, or input * noise (+ b for alpha dropout)."""
    if p == 0 or not train or input.numel() == 0:
        return input
    if p == 1:
        zero = O.zeros((), dtype=input.dtype, device=input.device)
        return input.mul_(zero) if inplace else input * zero
    if not (feature or alpha or inplace) and input._device.type == "cuda":
        fused = _fused_dropout(input, p)
        if fused is not None:
            return fused
    noise = _noise(input, p, feature)
    if alpha:
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        b = noise.add(-1).mul_(_ALPHA * a).add_(_ALPHA * a * p)
        noise.mul_(a)
        return input.mul_(noise).add_(b) if inplace else input * noise + b
    noise.div_(1 - p)
    return input.mul_(noise) if inplace else input * noise


class _FusedDropout(Op):
    """CUDA dropout whose mask is regenerated from the Philox stream (seed, offset) in backward: nothing else
    is saved (backend/cuda_dropout.py; the mask equals the unfused path's for the same generator state)."""

    node_name = "NativeDropoutBackward0"

    @staticmethod
    def forward(ctx, x, p=0.5, seed=0, offset=0, base=None):
        from ...backend import cuda_dropout

        ctx.args = (p, seed, offset, base)  # base: a CUDA graph's generator buffer, kept alive for backward
        return cuda_dropout.apply(x, p, seed, offset, base)

    @staticmethod
    def backward(ctx, g):
        from ...backend import cuda_dropout

        p, seed, offset, base = ctx.args
        if STATE.enabled:  # create_graph: the regenerated noise as a constant, times g (differentiable in g)
            ones = ctx.xp.ones(tuple(g.shape), dtype=g._data.dtype)
            noise = _wrap(cuda_dropout.apply(ones, p, seed, offset, base), g._dtype, g._device)
            return (g * noise,)
        gd = ctx.xp.ascontiguousarray(g._data)
        return (_wrap(cuda_dropout.apply(gd, p, seed, offset, base), g._dtype, g._device),)


def _fused_dropout(input: Tensor, p: float):
    """dropout by the fused CUDA kernel when it applies (else None): the generator advances exactly as
    bernoulli_ would have advanced it, so the streams after the call agree too."""
    from ...backend import cuda_dropout
    from ...ops.random import _gen

    if not cuda_dropout.supports(input._data):
        return None
    seed, offset, base = _gen(None, input._device)._engine.reserve(cuda_dropout.blocks(input.numel()), True)
    # base: inside a CUDA graph, its (seed, offset) buffer for this generator (None outside one)
    kw = {"p": float(p), "seed": int(seed), "offset": int(offset), "base": base}
    return dispatch(_FusedDropout, (input,), kw)


@traceable("F.dropout")
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only)."""
    _check_p(p)
    return _dropout_impl(input, p, training, False, False, inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped units take SELU's negative saturation value, then an affine map
    keeps zero mean and unit variance."""
    _check_p(p)
    return _dropout_impl(input, p, training, False, True, inplace)


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """alpha_dropout with one draw per (sample, channel)."""
    _check_p(p)
    return _dropout_impl(input, p, training, True, True, inplace)


def _batched(input: Tensor, batched: bool, inplace: bool, fn) -> Tensor:
    if batched:
        return fn(input)
    x = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    r = fn(x)
    return r.squeeze_(0) if inplace else r.squeeze(0)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability p."""
    _check_p(p)
    nd = input.dim()
    if nd not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d exists to "
            "provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            "batch dimension (i.e. 2D or 3D inputs)."
        )
    return _batched(input, nd == 3, inplace, lambda x: _dropout_impl(x, p, training, True, False, inplace))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability p (3-D input: (N, C, L), as torch)."""
    _check_p(p)
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an error in "
            "a future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
            "instead.",
            stacklevel=2,
        )
    return _dropout_impl(input, p, training, True, False, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p."""
    _check_p(p)
    nd = input.dim()
    if nd not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in an error in "
            "a future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            "that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a channel "
            "dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _batched(input, nd == 5, inplace, lambda x: _dropout_impl(x, p, training, True, False, inplace))


__all__ = [
    "alpha_dropout",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
]
