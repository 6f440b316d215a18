"""Reductions: sum, mean, prod, var/std, max/min (values+indices), amax/amin, argmax/argmin, logsumexp,
all/any, count_nonzero, nansum/nanmean, aminmax.

NOTE: float16/bfloat16 reductions accumulate in float32 and round once (NumPy would accumulate in the
half type: a bf16 sum of 100,000 ones is 256 there). Integer and bool sums give int64, as in torch.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import _dtype as D
from .. import return_types as RT
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import SAME, Op

_HALF_NP = (np.dtype(np.float16), D.bfloat16.np)


def norm_dims(dim, ndim: int):
    """None for a full reduction, else a sorted tuple of wrapped dims (duplicates rejected)."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        dims = tuple(_wrap_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
        return tuple(sorted(dims))
    return (_wrap_dim(dim, ndim),)


def _axes(dims, ndim):
    if ndim == 0:
        return None
    return dims


def expand_back(g: Tensor, in_shape, dims, keepdim: bool) -> Tensor:
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdim and len(in_shape):
        shape = list(in_shape)
        for d in dims if dims is not None else range(len(in_shape)):
            shape[d] = 1
        g = g.reshape(shape)
    return g.expand(in_shape)


def _acc_dtype(a, dtype):
    """(array to reduce, accumulation dtype or None, output np dtype)."""
    if dtype is not None:
        a = a.astype(dtype.np)
    k = a.dtype.kind
    if k in "biu":
        # Integers and bools sum in int64 unless an integral dtype= was asked for explicitly.
        out_dt = a.dtype if dtype is not None else np.dtype(np.int64)
        return a, out_dt, out_dt
    if a.dtype in _HALF_NP:
        return a, np.float32, a.dtype
    return a, None, a.dtype


_FULL_SUM = {"dims": None, "keepdim": False}


class Sum(Op):
    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        ctx.args = (a.shape, dims, keepdim)
        a, acc, out_dt = _acc_dtype(a, dtype)
        # ufunc.reduce directly: ndarray.sum goes through a slow Python wrapper in NumPy
        out = ctx.xp.add.reduce(a, axis=_axes(dims, a.ndim), keepdims=keepdim, dtype=acc)
        return out if out.dtype is out_dt else out.astype(out_dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        in_shape, dims, keepdim = ctx.args
        return (expand_back(g, in_shape, dims, keepdim),)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Sum over all elements, or over `dim` (int or tuple)."""
    if isinstance(dim, D.dtype):  # sum(x, dtype) positional form
        dim, dtype = None, dim
    if dim is None and not keepdim and dtype is None and out is None:
        return dispatch(Sum, (input,), _FULL_SUM)
    dims = norm_dims(dim, input._data.ndim)
    kw = {"dims": dims, "keepdim": keepdim}
    if dtype is not None:
        kw["dtype"] = D.to_dtype(dtype)
    r = dispatch(Sum, (input,), kw)
    return _out(r, out)


class Nansum(Op):
    """Sum treating NaN as zero; the gradient is grad * ~isnan(input) (NaN where grad is inf, as torch)."""

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        xp = ctx.xp
        ctx.args = (a.shape, dims, keepdim)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a)
        a, acc, out_dt = _acc_dtype(a, dtype)
        a = xp.where(xp.isnan(a), 0, a)
        out = a.sum(axis=_axes(dims, a.ndim), keepdims=keepdim, dtype=acc)
        return xp.asarray(out).astype(out_dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import isnan

        (a,) = ctx.saved_tensors
        in_shape, dims, keepdim = ctx.args
        return (expand_back(g, in_shape, dims, keepdim) * (~isnan(a)).to(g.dtype),)


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum treating NaN as zero."""
    if not input._dtype.is_floating_point:
        return sum(input, dim, keepdim, dtype=dtype)
    kw = {"dims": norm_dims(dim, input._data.ndim), "keepdim": keepdim}
    if dtype is not None:
        kw["dtype"] = D.to_dtype(dtype)
    return dispatch(Nansum, (input,), kw)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    """Arithmetic mean (floating and complex inputs only, or pass dtype=)."""
    if isinstance(dim, D.dtype):
        dim, dtype = None, dim
    dt = D.to_dtype(dtype) if dtype is not None else input._dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {D.SCALAR_NAME[dt]}"
        )
    x = input if dtype is None else input.to(dt)
    dims = norm_dims(dim, x._data.ndim)
    n = _count(x._data.shape, dims)
    half = dt in (D.float16, D.bfloat16)
    # Halves: sum and divide in float32, round once (as torch's CPU mean).
    s = sum(x, dims, keepdim, dtype=D.float32 if half else None)
    r = s / n if n else s * float("nan")
    return _out(r.to(dt) if half else r, out)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of the non-NaN elements (NaN where there are none)."""
    from .elementwise import isnan

    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{D.SCALAR_NAME[input._dtype]}"
        )
    notnan = ~isnan(input)
    return nansum(input, dim, keepdim, dtype=dtype) / sum(notnan, dim, keepdim)


def _count(shape, dims) -> int:
    n = 1
    if not len(shape):
        return 1
    for d in dims if dims is not None else range(len(shape)):
        n *= shape[d]
    return n


class Prod(Op):
    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, dtype=None):
        ctx.args = (dim, keepdim)
        a, acc, out_dt = _acc_dtype(a, dtype)
        out = a.prod(axis=dim if a.ndim else None, keepdims=keepdim, dtype=acc)
        ctx.save_for_backward(a)
        return ctx.xp.asarray(out).astype(out_dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        dim, keepdim = ctx.args
        if dim is None:
            flat = a.reshape(-1)
            return (expand_back(g, a.shape, None, keepdim) * _prod_others(flat, 0).reshape(a.shape),)
        return (expand_back(g, a.shape, (dim,), keepdim) * _prod_others(a, dim),)


def _prod_others(a: Tensor, dim: int) -> Tensor:
    """For each element, the product of the other elements along dim (exact with zeros: no division)."""
    from .factory import ones_like
    from .join import cat

    if a.dim() == 0:
        return ones_like(a)
    n = a.shape[dim]
    if n == 0:
        return a
    one = ones_like(a.narrow(dim, 0, 1))
    left = cat([one, a.narrow(dim, 0, n - 1).cumprod(dim)], dim) if n > 1 else one
    ar = a.flip(dim)
    right = cat([one, ar.narrow(dim, 0, n - 1).cumprod(dim)], dim).flip(dim) if n > 1 else one
    return left * right


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or along one `dim`."""
    if isinstance(dim, D.dtype):
        dim, dtype = None, dim
    kw = {"dim": None if dim is None else _wrap_dim(dim, input._data.ndim), "keepdim": keepdim}
    if dtype is not None:
        kw["dtype"] = D.to_dtype(dtype)
    return dispatch(Prod, (input,), kw)


# ------------------------------------------------------------------------------- variance


def _var_args(dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(x, unbiased)
        unbiased, dim = dim, None
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise TypeError("var() received an invalid combination of arguments: both unbiased and correction")
    return dim, keepdim, correction


def _var(input: Tensor, dim, keepdim: bool, correction) -> Tensor:
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError(
            f"std and var only support floating point and complex dtypes, got {D.SCALAR_NAME[input._dtype]}"
        )
    x = input.float() if input._dtype in (D.float16, D.bfloat16) else input
    dims = norm_dims(dim, x._data.ndim)
    n = _count(x._data.shape, dims)
    mu = mean(x, dims, keepdim=True)
    d = x - mu
    s = sum(d * d, dims, keepdim)
    # Non-positive degrees of freedom divide by zero (inf, or nan for 0/0), as in torch.
    v = s / builtins.max(n - correction, 0)
    return v.to(input._dtype) if x is not input else v


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance with Bessel's correction by default (correction=1)."""
    dim, keepdim, correction = _var_args(dim, unbiased, keepdim, correction)
    return _var(input, dim, keepdim, correction)


class StdSqrt(Op):
    """sqrt whose gradient is 0 (not inf*0) where the std is 0, as torch's std backward does."""

    node_name = "StdBackward0"

    @staticmethod
    def forward(ctx, v):
        out = ctx.xp.sqrt(v)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        (out,) = ctx.saved_tensors
        return (where(out == 0, 0.0, g / (out * 2)),)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation (sqrt of var)."""
    dim, keepdim, correction = _var_args(dim, unbiased, keepdim, correction)
    return dispatch(StdSqrt, (_var(input, dim, keepdim, correction),))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, keepdim, correction = _var_args(dim, unbiased, keepdim, correction)
    return RT.var_mean(_var(input, dim, keepdim, correction), mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, keepdim, correction = _var_args(dim, unbiased, keepdim, correction)
    return RT.std_mean(dispatch(StdSqrt, (_var(input, dim, keepdim, correction),)), mean(input, dim, keepdim))


# ------------------------------------------------------------------------------- extrema


class Amax(Op):
    """amax/amin (and full max/min): the gradient is shared evenly between tied extrema."""

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, is_min=False):
        ctx.args = (a.shape, dims, keepdim)
        xp = ctx.xp
        out = xp.asarray((xp.min if is_min else xp.max)(a, axis=_axes(dims, a.ndim), keepdims=keepdim))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        in_shape, dims, keepdim = ctx.args
        out_b = expand_back(out, in_shape, dims, keepdim)
        mask = (a == out_b).to(g.dtype)
        count = sum(mask, dims, keepdim=True)
        return (expand_back(g, in_shape, dims, keepdim) * mask / count,)


def _check_nonempty(input, dims, fn):
    shape = input._data.shape
    if dims is None:
        if input._data.size == 0:
            raise RuntimeError(
                f"{fn}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim "
                "with the 'dim' argument."
            )
        return
    for d in dims:
        if len(shape) and shape[d] == 0:
            raise IndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over dims (all when dim=()); ties share the gradient."""
    dims = norm_dims(dim, input._data.ndim)
    _check_nonempty(input, dims, "amax")
    return dispatch(Amax, (input,), {"dims": dims, "keepdim": keepdim})


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    dims = norm_dims(dim, input._data.ndim)
    _check_nonempty(input, dims, "amin")
    return dispatch(Amax, (input,), {"dims": dims, "keepdim": keepdim, "is_min": True})


class MaxDim(Op):
    """max/min along one dim: (values, indices); the gradient goes to the selected index only."""

    node_name = "MaxBackward0"
    num_outputs = 2
    nondiff_outputs = (1,)

    @staticmethod
    def forward(ctx, a, dim=0, keepdim=False, is_min=False):
        xp = ctx.xp
        ctx.args = (a.shape, dim, keepdim)
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        idx = (xp.argmin if is_min else xp.argmax)(a, axis=dim, keepdims=True)
        vals = xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            vals = vals.squeeze(dim)
            idx = idx.squeeze(dim)
        ctx.save_for_backward(idx)
        return vals, idx.astype(np.int64)

    @staticmethod
    def backward(ctx, g, _gi=None):
        in_shape, dim, keepdim = ctx.args
        if len(in_shape) == 0:
            return (g,)
        (idx,) = ctx.saved_tensors
        from .factory import zeros

        if not keepdim:
            g = g.unsqueeze(dim)
            idx = idx.unsqueeze(dim)
        return (zeros(in_shape, dtype=g.dtype, device=g.device).scatter(dim, idx, g),)


class MaxAll(Op):
    """max()/min() of all elements: the gradient is split evenly between the elements equal to the result
    (between the NaNs when the result is NaN), as torch's evenly_distribute_backward."""

    node_name = "MaxBackward1"

    @staticmethod
    def forward(ctx, a, is_min=False):
        xp = ctx.xp
        out = xp.asarray((xp.min if is_min else xp.max)(a))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import isnan

        a, out = ctx.saved_tensors
        if out.dtype.is_floating_point and builtins.bool(isnan(out).item()):
            mask = isnan(a)
        else:
            mask = a == out
        mask = mask.to(g.dtype)
        return (mask * (g / mask.sum()),)


def _minmax(input, dim, keepdim, other, is_min):
    name = "min" if is_min else "max"
    if isinstance(dim, Tensor) and other is None:
        from .arith import maximum, minimum

        return (minimum if is_min else maximum)(input, dim)
    if other is not None:
        from .arith import maximum, minimum

        return (minimum if is_min else maximum)(input, other)
    if dim is None:
        _check_nonempty(input, None, name)
        return dispatch(MaxAll, (input,), {"is_min": is_min})
    d = _wrap_dim(dim, input._data.ndim)
    _check_nonempty(input, (d,), name)
    vals, idx = dispatch(MaxDim, (input,), {"dim": d, "keepdim": keepdim, "is_min": is_min})
    return (RT.min if is_min else RT.max)(vals, idx)


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None, out=None):
    """max(x) -> 0-d; max(x, dim, keepdim) -> (values, indices); max(x, y) -> elementwise maximum."""
    return _minmax(input, dim, keepdim, other, False)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None, out=None):
    """min(x) -> 0-d; min(x, dim, keepdim) -> (values, indices); min(x, y) -> elementwise minimum."""
    return _minmax(input, dim, keepdim, other, True)


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    return RT.aminmax(
        amin(input, () if dim is None else dim, keepdim), amax(input, () if dim is None else dim, keepdim)
    )


class Argmax(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, is_min=False):
        xp = ctx.xp
        f = xp.argmin if is_min else xp.argmax
        if dim is None:
            out = f(a.reshape(-1))
            if keepdim:
                return xp.asarray(out).reshape((1,) * a.ndim).astype(np.int64)
            return xp.asarray(out).astype(np.int64)
        if a.ndim == 0:
            return xp.zeros((), dtype=np.int64)
        return f(a, axis=dim, keepdims=keepdim).astype(np.int64)


def _arg_check(input, dim, fn):
    if input._dtype is D.bool_:
        raise RuntimeError(f"{fn}(): does not support bool input")
    d = None if dim is None else _wrap_dim(dim, input._data.ndim)
    if d is None and input._data.size == 0:
        raise IndexError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0.")
    _check_nonempty(input, None if d is None else (d,), fn)
    return d


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) maximum, over all elements (flattened) or along dim."""
    d = _arg_check(input, dim, "argmax")
    return dispatch(Argmax, (input,), {"dim": d, "keepdim": keepdim})


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) minimum, over all elements (flattened) or along dim."""
    d = _arg_check(input, dim, "argmin")
    return dispatch(Argmax, (input,), {"dim": d, "keepdim": keepdim, "is_min": True})


# ------------------------------------------------------------------------------- logsumexp


class Logsumexp(Op):
    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False):
        xp = ctx.xp
        ctx.args = (a.shape, dims, keepdim)
        if a.size == 0:
            out = xp.log(xp.sum(xp.exp(a), axis=_axes(dims, a.ndim), keepdims=keepdim))
        else:
            m = xp.max(a, axis=_axes(dims, a.ndim), keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            out = xp.log(xp.sum(xp.exp(a - m), axis=_axes(dims, a.ndim), keepdims=True)) + m
            if not keepdim:
                out = out.reshape([s for i, s in enumerate(a.shape) if i not in (dims or range(a.ndim))])
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import exp

        a, out = ctx.saved_tensors
        in_shape, dims, keepdim = ctx.args
        return (expand_back(g, in_shape, dims, keepdim) * exp(a - expand_back(out, in_shape, dims, keepdim)),)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input), dim)), computed stably."""
    x = input if input._dtype.is_floating_point else input.to(D._DEFAULT[0])
    dims = norm_dims(dim, x._data.ndim)
    return dispatch(Logsumexp, (x,), {"dims": dims, "keepdim": keepdim})


# ------------------------------------------------------------------------------- boolean reductions


class AllAny(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, is_any=False):
        xp = ctx.xp
        out = (xp.any if is_any else xp.all)(a, axis=_axes(dims, a.ndim), keepdims=keepdim)
        out = xp.asarray(out)
        return out.astype(np.uint8) if a.dtype == np.uint8 else out


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where all elements (over dim) are non-zero."""
    return dispatch(AllAny, (input,), {"dims": norm_dims(dim, input._data.ndim), "keepdim": keepdim})


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where any element (over dim) is non-zero."""
    return dispatch(
        AllAny, (input,), {"dims": norm_dims(dim, input._data.ndim), "keepdim": keepdim, "is_any": True}
    )


class CountNonzero(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, a, dims=None):
        return ctx.xp.asarray(ctx.xp.count_nonzero(a, axis=_axes(dims, a.ndim))).astype(np.int64)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    return dispatch(CountNonzero, (input,), {"dims": norm_dims(dim, input._data.ndim)})


def _out(r, out):
    if out is None:
        return r
    from .inplace import write_out

    return write_out(out, r)


__all__ = [
    "all",
    "amax",
    "amin",
    "aminmax",
    "any",
    "argmax",
    "argmin",
    "count_nonzero",
    "logsumexp",
    "max",
    "mean",
    "min",
    "nanmean",
    "nansum",
    "prod",
    "std",
    "std_mean",
    "sum",
    "var",
    "var_mean",
]
