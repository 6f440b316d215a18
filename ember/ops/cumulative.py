"""Cumulative ops along one dim: cumsum, cumprod, cummax/cummin (values + indices), logcumsumexp.

NOTE: integer and bool inputs accumulate in int64 (as torch); float16/bfloat16 accumulate in float32 and
round each output once, as torch's CPU kernels do.
"""

from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .. import return_types as RT
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import Op

_HALF_NP = (np.dtype(np.float16), D.bfloat16.np)


def _acc(a, dtype):
    """(array to accumulate, accumulation np dtype or None, output np dtype) for cumsum/cumprod."""
    if dtype is not None:
        a = a.astype(dtype.np)
    if a.dtype.kind in "biu":
        out_dt = a.dtype if dtype is not None and a.dtype.kind != "b" else np.dtype(np.int64)
        return a, out_dt, out_dt
    if a.dtype in _HALF_NP:
        return a, np.float32, a.dtype
    return a, None, a.dtype


def _rev_cumsum(g: Tensor, dim: int) -> Tensor:
    """out[k] = sum_{j >= k} g[j] along dim."""
    return g.flip(dim).cumsum(dim).flip(dim)


class Cumsum(Op):
    @staticmethod
    def forward(ctx, a, dim=0, dtype=None):
        ctx.dim = dim
        a, acc, out_dt = _acc(a, dtype)
        if a.ndim == 0:
            return a.astype(out_dt, copy=True)
        return ctx.xp.cumsum(a, axis=dim, dtype=acc).astype(out_dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        if g.dim() == 0:
            return (g,)
        return (_rev_cumsum(g, ctx.dim),)


class Cumprod(Op):
    @staticmethod
    def forward(ctx, a, dim=0, dtype=None):
        ctx.dim = dim
        a, acc, out_dt = _acc(a, dtype)
        if a.ndim == 0:
            out = a.astype(out_dt, copy=True)
        else:
            out = ctx.xp.cumprod(a, axis=dim, dtype=acc).astype(out_dt, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from ..autograd.grad_mode import is_grad_enabled
        from .elementwise import where

        a, out = ctx.saved_tensors
        dim = ctx.dim
        if a.dim() == 0 or a.shape[dim] <= 1:
            return (g,)
        a = a.to(g.dtype)
        out = out.to(g.dtype)
        zero = a == 0
        if not bool(zero.any()):
            # grad[k] = sum_{j>=k} g[j] * prod_{i<=j, i!=k} a[i] = revcumsum(g * out)[k] / a[k], an identity
            # (all derivatives included) wherever a[k] != 0.
            return (_rev_cumsum(g * out, dim) / a,)
        if is_grad_enabled():
            # create_graph with zeros: the O(n^2) formula, exact as a function of every input (as torch).
            return (_cumprod_grad_quadratic(g, a, dim),)
        # Values only: before the first zero z of a slice the division formula holds; at z the product
        # skips a[z] (cumprod with a[z] := 1); after z every term holds a[z] = 0. No division by zero.
        nz = zero.cumsum(dim)
        before = nz == 0
        first = zero & (nz == 1)
        g_before = _rev_cumsum(g * out, dim) / where(before, a, 1.0)
        g_first = _rev_cumsum(g * where(first, 1.0, a).cumprod(dim), dim)
        return (where(before, g_before, where(first, g_first, 0.0)),)


def _cumprod_grad_quadratic(g: Tensor, a: Tensor, dim: int) -> Tensor:
    """grad[k] = sum_{j>=k} g[j] * prod_{i<=j, i!=k} a[i], built from an (n, n) product table per slice."""
    from .elementwise import where
    from .factory import eye, ones

    n = a.shape[dim]
    am = a.movedim(dim, -1)
    gm = g.movedim(dim, -1)
    table = where(eye(n, dtype=bool, device=a.device), 1.0, am.unsqueeze(-2).expand(*am.shape[:-1], n, n))
    upper = ones(n, n, dtype=g.dtype, device=g.device).triu()  # [k, j] = 1 where j >= k
    res = (table.cumprod(-1) * gm.unsqueeze(-2) * upper).sum(-1)
    return res.movedim(-1, dim)


def _dim_of(input: Tensor, dim) -> int:
    if dim is None:
        raise TypeError("cumulative ops need an explicit dim")
    return _wrap_dim(dim, input._data.ndim)


def cumsum(input: Tensor, dim, *, dtype=None, out=None) -> Tensor:
    """Cumulative sum along dim (integers and bools accumulate in int64)."""
    d = _dim_of(input, dim)
    kw = {"dim": d}
    if dtype is not None:
        kw["dtype"] = D.to_dtype(dtype)
    return _out(dispatch(Cumsum, (input,), kw), out)


def cumprod(input: Tensor, dim, *, dtype=None, out=None) -> Tensor:
    """Cumulative product along dim; its gradient is exact when the input holds zeros."""
    d = _dim_of(input, dim)
    kw = {"dim": d}
    if dtype is not None:
        kw["dtype"] = D.to_dtype(dtype)
    return _out(dispatch(Cumprod, (input,), kw), out)


class Cummax(Op):
    """cummax/cummin: running extremum and the index where it was (last) attained; NaN propagates."""

    num_outputs = 2
    nondiff_outputs = (1,)

    @staticmethod
    def forward(ctx, a, dim=0, is_min=False):
        xp = ctx.xp
        ctx.dim = dim
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        w = a.astype(np.float32) if a.dtype == D.bfloat16.np else a
        ufunc = xp.minimum if is_min else xp.maximum
        vals = ctx.be.accumulate(ufunc, w, dim) if w.shape[dim] else w.copy()
        # Index rule of torch's kernel: a new element takes the index when it ties or beats the running
        # extremum, or is NaN. Such positions are exactly where a == running value (or a is NaN).
        hit = w == vals
        if w.dtype.kind == "f":
            hit |= xp.isnan(w)
        shape = [1] * a.ndim
        shape[dim] = a.shape[dim]
        pos = xp.arange(a.shape[dim], dtype=np.int64).reshape(shape)
        idx = xp.where(hit, pos, 0)
        idx = ctx.be.accumulate(xp.maximum, idx, dim) if a.shape[dim] else idx
        ctx.save_for_backward(idx)
        return vals.astype(a.dtype, copy=False), idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        from .factory import zeros

        if g.dim() == 0:
            return (g,)
        (idx,) = ctx.saved_tensors
        return (zeros(g.shape, dtype=g.dtype, device=g.device).scatter_add(ctx.dim, idx, g),)


def cummax(input: Tensor, dim: int):
    """(values, indices) of the running maximum along dim."""
    d = _dim_of(input, dim)
    v, i = dispatch(Cummax, (input,), {"dim": d})
    return RT.cummax(v, i)


def cummin(input: Tensor, dim: int):
    """(values, indices) of the running minimum along dim."""
    d = _dim_of(input, dim)
    v, i = dispatch(Cummax, (input,), {"dim": d, "is_min": True})
    return RT.cummin(v, i)


class Logcumsumexp(Op):
    upcast_half = True

    @staticmethod
    def forward(ctx, a, dim=0):
        ctx.dim = dim
        if a.ndim == 0 or a.shape[dim] == 0:
            out = a.copy()
        else:
            out = ctx.be.accumulate(ctx.xp.logaddexp, a, dim)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import exp, where

        a, out = ctx.saved_tensors
        if a.dim() == 0:
            return (g,)
        dim = ctx.dim
        a = a.to(g.dtype)
        out = out.to(g.dtype)
        # grad[k] = sum_{j>=k} g[j] exp(a[k] - out[j]), split by the sign of g so that every term stays in
        # log space (as TensorFlow and torch do): no overflow for large inputs.
        ninf = float("-inf")
        pos = where(g > 0, where(g > 0, g, 1.0).log(), ninf)
        neg = where(g < 0, where(g < 0, -g, 1.0).log(), ninf)
        rl = lambda t: logcumsumexp(t.flip(dim), dim).flip(dim)  # noqa: E731
        return (exp(rl(pos - out) + a) - exp(rl(neg - out) + a),)


def logcumsumexp(input: Tensor, dim: int, *, out=None) -> Tensor:
    """log(cumsum(exp(input))) along dim, computed stably."""
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise NotImplementedError(
            f"\"logcumsumexp_out_cpu\" not implemented for '{D.SCALAR_NAME[input._dtype]}'"
        )
    d = _dim_of(input, dim)
    return _out(dispatch(Logcumsumexp, (input,), {"dim": d}), out)


def _out(r, out):
    if out is None:
        return r
    from .inplace import write_out

    return write_out(out, r)


__all__ = ["cummax", "cummin", "cumprod", "cumsum", "logcumsumexp"]
