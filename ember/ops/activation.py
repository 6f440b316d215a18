"""softmax and log_softmax (also the activations nn.functional builds on: relu, gelu, silu, ...)."""

from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import Op


class Softmax(Op):
    upcast_half = True

    @staticmethod
    def forward(ctx, a, dim=-1):
        xp = ctx.xp
        ctx.dim = dim
        if a.ndim == 0:
            out = xp.ones_like(a)
        else:
            e = xp.exp(a - xp.max(a, axis=dim, keepdims=True)) if a.size else a.copy()
            out = e / xp.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if out.dim() == 0:
            return (g * 0,)
        return (out * (g - (g * out).sum(ctx.dim, keepdim=True)),)


class LogSoftmax(Op):
    upcast_half = True

    @staticmethod
    def forward(ctx, a, dim=-1):
        xp = ctx.xp
        ctx.dim = dim
        if a.ndim == 0:
            out = xp.zeros_like(a)
        elif a.size == 0:
            out = a.copy()
        else:
            m = xp.max(a, axis=dim, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            s = a - m
            out = s - xp.log(xp.sum(xp.exp(s), axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if out.dim() == 0:
            return (g * 0,)
        return (g - out.exp() * g.sum(ctx.dim, keepdim=True),)


def _softmax_args(input, dim, dtype, fn):
    if dim is None:
        # torch's legacy implicit dim: 0 for 0-, 1- and 3-D input, else 1
        dim = 0 if input.dim() in (0, 1, 3) else 1
    x = input.to(D.to_dtype(dtype)) if dtype is not None else input
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        raise RuntimeError(f"\"{fn}_lastdim_kernel_impl\" not implemented for '{D.SCALAR_NAME[x._dtype]}'")
    return x, _wrap_dim(dim, x._data.ndim)


def softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel=3) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed stably."""
    x, d = _softmax_args(input, dim, dtype, "softmax")
    return dispatch(Softmax, (x,), {"dim": d})


def log_softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel=3) -> Tensor:
    """x - logsumexp(x) along dim, computed stably."""
    x, d = _softmax_args(input, dim, dtype, "log_softmax")
    return dispatch(LogSoftmax, (x,), {"dim": d})
