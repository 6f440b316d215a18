"""Sorting and searching: sort/argsort/msort, topk, kthvalue, median/nanmedian, mode, unique,
unique_consecutive, bincount, searchsorted/bucketize, histc.

NOTE: every order is a stable sort in which NaN is the largest value (torch's CPU order): descending
sorts keep tied elements in their original order too. Where torch leaves the index of a tie unspecified
(topk, kthvalue, median, mode) ember picks the one its stable sort finds.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import _dtype as D
from .. import return_types as RT
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import Op

_BF16 = D.bfloat16.np


def _key(a):
    """The array to compare: bfloat16 (which NumPy cannot sort natively) as float32, the order kept."""
    return a.astype(np.float32) if a.dtype == _BF16 else a


def _argsort(xp, a, axis: int, descending: bool):
    """Stable argsort along axis with NaN largest; descending keeps ties in their original order."""
    k = _key(a)
    if not descending:
        return xp.argsort(k, axis=axis, kind="stable")
    n = k.shape[axis]
    rev = xp.argsort(xp.flip(k, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(rev, axis)


def _isnan(xp, a):
    return xp.isnan(a) if D.is_float_array_dtype(a.dtype) else xp.zeros(a.shape, dtype=bool)


def _scatter_back(g: Tensor, idx: Tensor, dim: int, in_shape, keepdim: bool) -> Tensor:
    """The gradient of a value-selecting op: g written back at the chosen indices, zero elsewhere."""
    from .factory import zeros

    if len(in_shape) == 0:
        return g.reshape(())
    if not keepdim:
        g = g.unsqueeze(dim)
        idx = idx.unsqueeze(dim)
    return zeros(in_shape, dtype=g.dtype, device=g.device).scatter(dim, idx, g)


class _Selecting(Op):
    """Ops returning (values, indices) whose values gradient scatters back to the indices."""

    num_outputs = 2
    nondiff_outputs = (1,)

    @staticmethod
    def backward(ctx, g, _gi=None):
        (idx,) = ctx.saved_tensors
        return (_scatter_back(g, idx, ctx.dim, ctx.in_shape, ctx.keepdim),)


def _save_idx(ctx, a, idx, dim, keepdim):
    ctx.dim = dim
    ctx.in_shape = a.shape
    ctx.keepdim = keepdim
    if ctx.needs_input_grad[0]:
        ctx.save_for_backward(idx)


def _scalar_pair(xp, a):
    return a.copy(), xp.zeros((), dtype=np.int64)


# ------------------------------------------------------------------------------------------ sort


class Sort(_Selecting):
    @staticmethod
    def forward(ctx, a, dim=-1, descending=False):
        xp = ctx.xp
        if a.ndim == 0:
            idx = xp.zeros((), dtype=np.int64)
            _save_idx(ctx, a, idx, 0, True)
            return a.copy(), idx
        idx = _argsort(xp, a, dim, descending).astype(np.int64, copy=False)
        _save_idx(ctx, a, idx, dim, True)
        return xp.take_along_axis(a, idx, axis=dim), idx


def _dim(input: Tensor, dim) -> int:
    return _wrap_dim(dim, input._data.ndim)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False, out=None):
    """(values, indices) sorted along dim; stable, NaN largest."""
    v, i = dispatch(Sort, (input,), {"dim": _dim(input, dim), "descending": bool(descending)})
    return RT.sort(v, i)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """Indices that sort input along dim (stable)."""
    return sort(input, dim, descending, stable=stable).indices


def msort(input: Tensor) -> Tensor:
    """input sorted along its first dim."""
    return sort(input, 0).values


class TopK(_Selecting):
    node_name = "TopkBackward0"

    @staticmethod
    def forward(ctx, a, k=1, dim=-1, largest=True):
        xp = ctx.xp
        if a.ndim == 0:
            vals, idx = _scalar_pair(xp, a)
            _save_idx(ctx, a, idx, 0, True)
            return vals, idx
        idx = _argsort(xp, a, dim, largest)
        idx = xp.take(idx, xp.arange(k), axis=dim).astype(np.int64, copy=False)
        _save_idx(ctx, a, idx, dim, True)
        return xp.take_along_axis(a, idx, axis=dim), idx


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *, out=None):
    """The k largest (or smallest) elements along dim, as (values, indices), in sorted order."""
    d = _dim(input, dim)
    n = input.shape[d] if input._data.ndim else 1
    if not (0 <= k <= n):
        raise RuntimeError("selected index k out of range")
    v, i = dispatch(TopK, (input,), {"k": int(k), "dim": d, "largest": bool(largest)})
    return RT.topk(v, i)


def _nonempty_dim(input: Tensor, d: int, fn: str) -> None:
    if input._data.ndim and input.shape[d] == 0:
        raise IndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")


def _pick(xp, a, sorted_idx, pos, dim, keepdim):
    """values/indices at sorted position `pos` (an array broadcastable with keepdims) along dim."""
    idx = xp.take_along_axis(sorted_idx, pos, axis=dim).astype(np.int64, copy=False)
    vals = xp.take_along_axis(a, idx, axis=dim)
    if not keepdim:
        idx = idx.squeeze(dim)
        vals = vals.squeeze(dim)
    return vals, idx


class Kthvalue(_Selecting):
    @staticmethod
    def forward(ctx, a, k=1, dim=-1, keepdim=False):
        xp = ctx.xp
        if a.ndim == 0:
            vals, idx = _scalar_pair(xp, a)
            _save_idx(ctx, a, idx, 0, keepdim)
            return vals, idx
        s = _argsort(xp, a, dim, False)
        shape = list(a.shape)
        shape[dim] = 1
        vals, idx = _pick(xp, a, s, xp.full(shape, k - 1), dim, keepdim)
        _save_idx(ctx, a, idx, dim, keepdim)
        return vals, idx


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """(values, indices) of the k-th smallest element along dim (NaN largest)."""
    d = _dim(input, dim)
    _nonempty_dim(input, d, "kthvalue")
    n = input.shape[d] if input._data.ndim else 1
    if not (1 <= k <= n):
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    v, i = dispatch(Kthvalue, (input,), {"k": int(k), "dim": d, "keepdim": bool(keepdim)})
    return RT.kthvalue(v, i)


# ------------------------------------------------------------------------------------------ median / mode


class MedianDim(_Selecting):
    """Lower median along dim. median: a slice holding NaN gives NaN (its first NaN); nanmedian skips NaN."""

    node_name = "MedianBackward1"

    @staticmethod
    def forward(ctx, a, dim=-1, keepdim=False, ignore_nan=False):
        xp = ctx.xp
        if a.ndim == 0:
            vals, idx = _scalar_pair(xp, a)
            _save_idx(ctx, a, idx, 0, keepdim)
            return vals, idx
        n = a.shape[dim]
        s = _argsort(xp, a, dim, False)
        nn = _isnan(xp, a).sum(axis=dim, keepdims=True)
        if ignore_nan:
            m = n - nn
            pos = xp.where(m > 0, (m - 1) // 2, 0)
        else:
            pos = xp.where(nn > 0, n - nn, (n - 1) // 2)
        vals, idx = _pick(xp, a, s, pos, dim, keepdim)
        _save_idx(ctx, a, idx, dim, keepdim)
        return vals, idx


class MedianAll(Op):
    """Lower median of all elements as a 0-d tensor; the gradient is shared by the elements equal to it."""

    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, a, ignore_nan=False):
        xp = ctx.xp
        flat = a.reshape(-1)
        nan = _isnan(xp, flat)
        if ignore_nan:
            flat = flat[~nan]
        if flat.size == 0 or (not ignore_nan and nan.any()):
            # torch fills NaN converted to the dtype (for integers: whatever the C cast gives, INT_MIN on x86)
            out = xp.asarray(np.nan).astype(a.dtype)
        else:
            out = xp.asarray(xp.sort(_key(flat), kind="stable")[(flat.size - 1) // 2]).astype(a.dtype)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return (_evenly_distribute(g, a, out),)


def _evenly_distribute(g: Tensor, a: Tensor, value: Tensor) -> Tensor:
    """torch's evenly_distribute_backward: g split between the elements equal to value (NaN matches NaN)."""
    from .elementwise import isnan

    if a.numel() == 0:
        return a.new_zeros(a.shape, dtype=g.dtype)
    if builtins.bool(isnan(value).item()) if value.dtype.is_floating_point else False:
        mask = isnan(a)
    else:
        mask = a == value
    mask = mask.to(g.dtype)
    return mask * (g / mask.sum())


def _median(input, dim, keepdim, ignore_nan, fn):
    if input._dtype is D.bool_:
        raise NotImplementedError(f"\"{fn}_cpu\" not implemented for 'Bool'")
    if dim is None:
        return dispatch(MedianAll, (input,), {"ignore_nan": ignore_nan})
    d = _dim(input, dim)
    _nonempty_dim(input, d, fn)
    v, i = dispatch(MedianDim, (input,), {"dim": d, "keepdim": bool(keepdim), "ignore_nan": ignore_nan})
    return (RT.nanmedian if ignore_nan else RT.median)(v, i)


def median(input: Tensor, dim=None, keepdim: bool = False, *, out=None):
    """Lower median: of all elements (0-d; NaN if any is NaN), or (values, indices) along dim."""
    return _median(input, dim, keepdim, False, "median")


def nanmedian(input: Tensor, dim=None, keepdim: bool = False, *, out=None):
    """median ignoring NaN (NaN only where a whole slice is NaN)."""
    return _median(input, dim, keepdim, True, "nanmedian")


class Mode(_Selecting):
    """Most frequent value along dim (the smallest among equally frequent ones) and its last index."""

    @staticmethod
    def forward(ctx, a, dim=-1, keepdim=False):
        xp = ctx.xp
        if a.ndim == 0:
            vals, idx = _scalar_pair(xp, a)
            _save_idx(ctx, a, idx, 0, keepdim)
            return vals, idx
        w = xp.moveaxis(a, dim, -1)
        batch = w.shape[:-1]
        n = w.shape[-1]
        w = w.reshape(-1, n)
        order = xp.argsort(_key(w), axis=-1, kind="stable")
        s = xp.take_along_axis(_key(w), order, axis=-1)
        new = xp.ones(s.shape, dtype=bool)
        new[:, 1:] = s[:, 1:] != s[:, :-1]
        pos = xp.arange(n)
        start = ctx.be.accumulate(xp.maximum, xp.where(new, pos, 0), -1)
        last = xp.ones(s.shape, dtype=bool)
        last[:, :-1] = new[:, 1:]
        end = xp.flip(ctx.be.accumulate(xp.minimum, xp.flip(xp.where(last, pos, n), -1), -1), -1)
        best = xp.argmax(end - start, axis=-1)
        rows = xp.arange(w.shape[0])
        idx = order[rows, end[rows, best]].astype(np.int64)
        vals = w[rows, idx]
        idx = idx.reshape(batch)
        vals = vals.reshape(batch)
        if keepdim:
            idx = xp.expand_dims(idx, dim)
            vals = xp.expand_dims(vals, dim)
        _save_idx(ctx, a, idx, dim, keepdim)
        return vals, idx


def mode(input: Tensor, dim: int = -1, keepdim: bool = False, *, out=None):
    """(values, indices) of the most frequent value along dim."""
    d = _dim(input, dim)
    _nonempty_dim(input, d, "mode")
    v, i = dispatch(Mode, (input,), {"dim": d, "keepdim": bool(keepdim)})
    return RT.mode(v, i)


# ------------------------------------------------------------------------------------------ unique


class Unique(Op):
    """(unique values, inverse indices, counts); NaNs are all distinct, as in torch."""

    differentiable = False
    num_outputs = 3

    @staticmethod
    def forward(ctx, a, dim=None, consecutive=False):
        xp = ctx.xp
        if dim is None:
            rows = a.reshape(-1, 1)
            moved = a.reshape(-1)
        else:
            moved = xp.moveaxis(a, dim, 0)
            rows = moved.reshape(moved.shape[0], int(np.prod(moved.shape[1:])))
        n = rows.shape[0]
        keys = _key(rows)
        if consecutive or n == 0:
            order = None
            s = keys
        else:
            if keys.shape[1] == 1:
                order = xp.argsort(keys[:, 0], kind="stable")
            else:
                order = xp.lexsort(keys.T[::-1]) if keys.shape[1] else xp.arange(n)
            s = keys[order]
        new = xp.ones(n, dtype=bool)
        if n:
            new[1:] = (s[1:] != s[:-1]).any(axis=1)
        group = xp.cumsum(new) - 1
        firsts = xp.flatnonzero(new)
        counts = xp.diff(xp.append(firsts, n)).astype(np.int64)
        if order is None:
            inverse = group.astype(np.int64)
            picked = firsts
        else:
            inverse = xp.empty(n, dtype=np.int64)
            inverse[order] = group
            picked = order[firsts]
        out = moved[picked] if n else moved[:0]
        if dim is None:
            inverse = inverse.reshape(a.shape)
        else:
            out = xp.moveaxis(out, 0, dim)
        return out, inverse, counts


def _unique(input, return_inverse, return_counts, dim, consecutive):
    d = None
    if dim is not None:
        if input._data.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        d = _dim(input, dim)
        if any(s == 0 for i, s in enumerate(input.shape) if i != d):
            raise RuntimeError(
                "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"
            )
    out, inv, counts = dispatch(Unique, (input,), {"dim": d, "consecutive": consecutive})
    if not (return_inverse or return_counts):
        return out
    res = (out,)
    if return_inverse:
        res += (inv,)
    if return_counts:
        res += (counts,)
    return res


def unique(
    input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None
):
    """Sorted unique elements (or slices along dim); optionally the inverse indices and the counts."""
    return _unique(input, return_inverse, return_counts, dim, False)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Collapse runs of equal consecutive elements (or slices along dim)."""
    return _unique(input, return_inverse, return_counts, dim, True)


# ------------------------------------------------------------------------------------------ counting


class Bincount(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, a, weights=None, minlength=0):
        xp = ctx.xp
        if weights is None:
            return xp.bincount(a, minlength=minlength).astype(np.int64)
        out_dt = weights.dtype if weights.dtype in (np.float32, np.float64) else np.float64
        return xp.bincount(a, weights=weights.astype(np.float64), minlength=minlength).astype(out_dt)


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """Count of each non-negative integer in a 1-D int tensor (weighted sums with weights)."""
    dt = input._dtype
    if dt is D.bool_ or dt.is_floating_point or dt.is_complex:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{D.SCALAR_NAME[dt]}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    a = input._data
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights._data.ndim != 1 or weights._data.shape[0] != a.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    return dispatch(Bincount, (input, weights), {"minlength": int(minlength)})


class Histc(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, a, bins=100, lo=0.0, hi=0.0):
        xp = ctx.xp
        # Same arithmetic as torch's kernel, in the input's dtype (halves round after every step there too).
        dt = a.dtype
        lo_t, hi_t = dt.type(lo), dt.type(hi)
        flat = a.reshape(-1)
        keep = flat[(flat >= lo_t) & (flat <= hi_t)]
        pos = ((keep - lo_t) * bins / (hi_t - lo_t)).astype(np.int64)
        pos = xp.minimum(pos, bins - 1)
        return xp.bincount(pos, minlength=bins)[:bins].astype(dt)


def histc(input: Tensor, bins: int = 100, min=0, max=0, *, out=None) -> Tensor:
    """Histogram of `bins` equal bins over [min, max] (the data's range when min == max)."""
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{D.SCALAR_NAME[input._dtype]}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    a = input._data
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    if not lo < hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    r = dispatch(Histc, (input,), {"bins": int(bins), "lo": lo, "hi": hi})
    if out is None:
        return r
    from .inplace import write_out

    return write_out(out, r)


# ------------------------------------------------------------------------------------------ searching


class Searchsorted(Op):
    differentiable = False
    tensor_attrs = True

    @staticmethod
    def forward(ctx, seq, values, right=False, sorter=None, out_int32=False):
        xp = ctx.xp
        side = "right" if right else "left"
        if sorter is not None:
            seq = xp.take_along_axis(seq, sorter, axis=-1)
        seq = _key(seq)
        v = _key(xp.asarray(values))
        if seq.ndim == 1:
            out = xp.asarray(xp.searchsorted(seq, v, side=side))
        else:
            m = seq.shape[-1]
            batch = int(np.prod(seq.shape[:-1]))
            rows = seq.reshape(batch, m)
            vr = v.reshape(batch, v.shape[-1])
            out = xp.empty(vr.shape, dtype=np.int64)
            for r in range(rows.shape[0]):
                out[r] = xp.searchsorted(rows[r], vr[r], side=side)
            out = out.reshape(v.shape)
        return out.astype(np.int32 if out_int32 else np.int64, copy=False)


def searchsorted(
    sorted_sequence: Tensor, values, *, out_int32=False, right=False, side=None, sorter=None, out=None
):
    """Insertion indices of values into the innermost dim of sorted_sequence (which may be batched)."""
    name = "torch.searchsorted(): "
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{name}side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(
                f"{name}side and right can't be set to opposites, got side of left while right was True"
            )
        right = side == "right"
    seq = sorted_sequence
    sshape = list(seq._data.shape)
    if isinstance(values, Tensor):
        vshape = list(values._data.shape)
        if len(sshape) != 1 and (not vshape or sshape[:-1] != vshape[:-1]):
            if not vshape:
                raise RuntimeError(
                    f"{name}input value can be a scalar only when boundaries tensor dimension is 1, but we got "
                    f"boundaries tensor dim({len(sshape)}) and input value's dim(0) numel(1)"
                )
            raise RuntimeError(
                f"{name}boundaries tensor should be 1 dimension or the first N-1 dimensions of boundaries tensor "
                f"and input value tensor must match, but we got boundaries tensor {sshape} and input value tensor "
                f"{vshape}"
            )
    elif len(sshape) != 1:
        raise RuntimeError(
            f"{name}input value can be a scalar only when boundaries tensor dimension is 1, but we got "
            f"boundaries tensor dim({len(sshape)}) and input value's dim(0) numel(1)"
        )
    if sorter is not None:
        if sorter._dtype is not D.int64:
            raise RuntimeError(
                f"{name}sorter must be a tensor of long dtype but got dtype {D.SCALAR_NAME[sorter._dtype]}"
            )
        if list(sorter._data.shape) != sshape:
            raise RuntimeError(
                f"{name}boundary and sorter must have the same size, but got boundary tensor {sshape}and got "
                f"sorter tensor {list(sorter._data.shape)}"
            )
        s = sorter._data
        if s.size and (s.min() < 0 or s.max() >= sshape[-1]):
            raise RuntimeError(f"{name}sorter index out of range")
    kw = {"right": bool(right), "out_int32": bool(out_int32)}
    if sorter is not None:
        kw["sorter"] = sorter
    r = dispatch(Searchsorted, (seq, values), kw)
    if out is None:
        return r
    from .inplace import write_out

    return write_out(out, r)


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False, out=None) -> Tensor:
    """Index of the bucket (between consecutive 1-D boundaries) of each input element."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


__all__ = [
    "argsort",
    "bincount",
    "bucketize",
    "histc",
    "kthvalue",
    "median",
    "mode",
    "msort",
    "nanmedian",
    "searchsorted",
    "sort",
    "topk",
    "unique",
    "unique_consecutive",
]
