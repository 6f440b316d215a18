"""Indexing: __getitem__/__setitem__, gather/scatter(_add/_reduce), index_select/add/copy/fill, masked_*, take,
take_along_dim, nonzero, index_put.

Basic indexing (ints, slices, None, ...) returns views like torch; advanced indexing (integer/bool tensors,
lists) copies, and its backward accumulates into repeated indices.
"""

from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import Op

# ---------------------------------------------------------------------------------------- keys


def _convert_key(key, t: Tensor):
    """Normalise an index key; returns (key, is_basic). Tensors stay Tensors (dispatch converts them)."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    basic = True
    for k in key:
        if isinstance(k, Tensor):
            if k._dtype.is_floating_point or k._dtype.is_complex:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if k._dtype is D.uint8:
                k = k.to(D.bool_)
            basic = False
        elif isinstance(k, (list, np.ndarray)):
            k = _list_index(k, t)
            basic = False
        elif isinstance(k, bool):
            basic = False
        elif isinstance(k, slice):
            if k.step is not None and _as_int(k.step) <= 0:
                raise ValueError("step must be greater than zero")
            k = slice(_opt_int(k.start), _opt_int(k.stop), _opt_int(k.step))
        elif k is None or k is Ellipsis:
            pass
        elif isinstance(k, (int, np.integer)):
            k = int(k)
        elif hasattr(k, "__index__"):
            k = k.__index__()
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices "
                f"(got {type(k).__name__})"
            )
        out.append(k)
    if basic and Ellipsis not in out:
        out.append(Ellipsis)  # so NumPy returns a 0-d view, never a scalar copy
    return tuple(out), basic


def _as_int(x):
    return int(x.item()) if isinstance(x, Tensor) else int(x)


def _opt_int(x):
    return None if x is None else _as_int(x)


def _list_index(k, t: Tensor):
    if isinstance(k, np.ndarray):
        arr = k
    else:
        if any(isinstance(v, Tensor) for v in k):
            k = [v.item() if isinstance(v, Tensor) and v.dim() == 0 else v for v in k]
            k = [v.tolist() if isinstance(v, Tensor) else v for v in k]
        arr = np.asarray(k)
    if arr.dtype.kind == "f":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if arr.dtype.kind not in "biu" and arr.size:
        raise IndexError(f"invalid index list of dtype {arr.dtype}")
    if arr.size == 0:
        arr = arr.astype(np.int64)
    from .factory import tensor

    return tensor(arr, device=t._device)


def _index_error(e: Exception, t: Tensor) -> IndexError:
    msg = str(e).replace("axis", "dimension").replace("array", "tensor")
    return IndexError(f"{msg} (indexing a tensor of shape {list(t.shape)})")


class Slice(Op):
    """Basic indexing: a view."""

    is_view = True

    @staticmethod
    def forward(ctx, a, key=()):
        ctx.key = key
        ctx.in_shape = a.shape
        return a[key]

    @staticmethod
    def backward(ctx, g):
        return (dispatch(IndexScatter, (g,), {"key": ctx.key, "shape": ctx.in_shape, "accumulate": False}),)


class Index(Op):
    """Advanced indexing: a copy."""

    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, key=()):
        ctx.key = key
        ctx.in_shape = a.shape
        return a[key]

    @staticmethod
    def backward(ctx, g):
        return (dispatch(IndexScatter, (g,), {"key": ctx.key, "shape": ctx.in_shape, "accumulate": True}),)


class IndexScatter(Op):
    """Gradient of indexing: zeros of the input's shape with `g` put (or accumulated) at `key`."""

    node_name = "IndexBackwardBackward0"

    @staticmethod
    def forward(ctx, g, key=(), shape=(), accumulate=False):
        ctx.key = key
        ctx.accumulate = accumulate
        z = ctx.xp.zeros(shape, dtype=g.dtype)
        if accumulate:
            ctx.be.add_at(z, key, g)
        else:
            z[key] = g
        return z

    @staticmethod
    def backward(ctx, gg):
        op = Index if ctx.accumulate else Slice
        return (dispatch(op, (gg,), {"key": ctx.key}),)


def getitem(t: Tensor, key) -> Tensor:
    """t[key] with torch/NumPy indexing semantics."""
    k, basic = _convert_key(key, t)
    try:
        if basic:
            return dispatch(Slice, (t,), {"key": k})
        return dispatch(Index, (t,), {"key": k})
    except IndexError as e:
        raise _index_error(e, t) from None


class IndexPut(Op):
    """t[key] = value (in place), or index_put(t, key, value) out of place."""

    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, v, key=(), accumulate=False):
        ctx.key = key
        out = a.copy()
        IndexPut._put(ctx, out, v, key, accumulate)
        return out

    @staticmethod
    def forward_inplace(ctx, a, v, key=(), accumulate=False):
        ctx.key = key
        IndexPut._put(ctx, a, v, key, accumulate)
        return a

    @staticmethod
    def _put(ctx, a, v, key, accumulate):
        ctx.accumulate = accumulate
        try:
            if accumulate:
                ctx.be.add_at(a, key, v)
            else:
                a[key] = v
        except ValueError as e:
            vshape = list(getattr(v, "shape", ()))
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {vshape} cannot be broadcast to indexing result ({e})"
            ) from None

    @staticmethod
    def backward(ctx, g):
        key = ctx.key
        g_self = g if ctx.accumulate else dispatch(IndexFillKey, (g,), {"key": key})
        g_v = None
        if ctx.needs_input_grad[1]:
            g_v = dispatch(Index, (g,), {"key": key})
        return g_self, g_v


class IndexFillKey(Op):
    """g with zeros written at `key` (backward of a non-accumulating put)."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, key=()):
        ctx.key = key
        out = g.copy()
        out[key] = 0
        return out

    @staticmethod
    def backward(ctx, gg):
        return (dispatch(IndexFillKey, (gg,), {"key": ctx.key}),)


def setitem(t: Tensor, key, value) -> None:
    """t[key] = value, in place (through views too)."""
    k, _ = _convert_key(key, t)
    if isinstance(value, (list, tuple)) or isinstance(value, np.ndarray):
        from .factory import tensor

        value = tensor(value, dtype=t._dtype, device=t._device)
    try:
        dispatch(IndexPut, (t, value), {"key": k}, inplace=True)
    except IndexError as e:
        raise _index_error(e, t) from None


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    k, _ = _convert_key(tuple(indices), input)
    return dispatch(IndexPut, (input, values), {"key": k, "accumulate": accumulate})


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    k, _ = _convert_key(tuple(indices), input)
    return dispatch(IndexPut, (input, values), {"key": k, "accumulate": accumulate}, inplace=True)


# ---------------------------------------------------------------------------------------- gather / scatter


def _check_index(index: Tensor, fn: str):
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{fn}(): Expected dtype int64 for index")


def _full_index(xp, index, dim):
    """Index arrays addressing input[..., index[...], ...] for every position of `index`."""
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _check_bounds(xp, index, size, fn, dim):
    if xp.__name__ == "numpy" and index.size and (index.min() < -size or index.max() >= size):
        bad = index.max() if index.max() >= size else index.min()
        raise RuntimeError(f"{fn}(): index {int(bad)} is out of bounds for dimension {dim} with size {size}")


class Gather(Op):
    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, dim=0, index=None):
        xp = ctx.xp
        ctx.dim = dim
        ctx.in_shape = a.shape
        ctx.save_for_backward(index)
        _check_bounds(xp, index, a.shape[dim] if a.ndim else 1, "gather", dim)
        if a.ndim == 0:
            return a[()] + xp.zeros(index.shape, a.dtype)
        return a[_full_index(xp, index, dim)]

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        from .factory import zeros

        z = zeros(ctx.in_shape, dtype=g.dtype, device=g.device)
        return (scatter_add(z, ctx.dim, index, g),)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0); index may be smaller than input off `dim`."""
    _check_index(index, "gather")
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    if index._data.ndim != max(n, 1) and not (n == 0 and index._data.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for i in range(n):
        if i != d and index.shape[i] > input.shape[i]:
            raise RuntimeError(
                f"Size does not match at dimension {i} expected index {list(index.shape)} to be smaller than self "
                f"{list(input.shape)} apart from dimension {d}"
            )
    return dispatch(Gather, (input,), {"dim": d, "index": index})


class Scatter(Op):
    """out = input with src (or a scalar) written / reduced at index along dim."""

    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, src, dim=0, index=None, reduce=None, include_self=True):
        xp = ctx.xp
        ctx.dim = dim
        ctx.reduce = reduce
        ctx.include_self = include_self
        _check_bounds(xp, index, a.shape[dim] if a.ndim else 1, "scatter", dim)
        out = a.copy()
        if a.ndim == 0:
            out = out.reshape(1)
            index = index.reshape(-1)
        full = _full_index(xp, index, dim)
        vals = (
            src[tuple(slice(0, s) for s in index.shape)] if isinstance(src, xp.ndarray) and src.ndim else src
        )
        if not isinstance(vals, xp.ndarray) or vals.ndim == 0:
            vals = xp.broadcast_to(xp.asarray(vals, dtype=a.dtype), index.shape)
        if reduce is None:
            out[full] = vals
        elif reduce in ("sum", "add"):
            if not include_self:
                out[full] = 0
            ctx.be.add_at(out, full, vals)
        elif reduce in ("prod", "multiply"):
            if not include_self:
                out[full] = 1
            xp.multiply.at(out, full, vals)
        elif reduce == "amax":
            if not include_self:
                out[full] = _lowest(xp, a.dtype)
            xp.maximum.at(out, full, vals)
        elif reduce == "amin":
            if not include_self:
                out[full] = _highest(xp, a.dtype)
            xp.minimum.at(out, full, vals)
        elif reduce == "mean":
            count = (
                xp.ones(a.shape if a.ndim else (1,), dtype=np.int64)
                if include_self
                else xp.zeros(a.shape if a.ndim else (1,), dtype=np.int64)
            )
            if not include_self:
                out[full] = 0
            ctx.be.add_at(out, full, vals)
            ctx.be.add_at(count, full, 1)
            count = xp.maximum(count, 1)
            out = (out / count).astype(a.dtype) if a.dtype.kind == "f" else out // count
        else:
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
        ctx.save_for_backward(index, a, src, out)
        return out.reshape(a.shape)

    @staticmethod
    def backward(ctx, g):
        index, a, src, out = ctx.saved_tensors
        dim, reduce = ctx.dim, ctx.reduce
        need = ctx.needs_input_grad
        if reduce is None:
            ga = g.scatter(dim, index, 0.0) if need[0] else None
            gs = g.gather(dim, index) if need[1] else None
            return ga, gs
        if reduce in ("sum", "add"):
            ga = g if ctx.include_self else g.scatter(dim, index, 0.0)
            return ga, (g.gather(dim, index) if need[1] else None)
        if reduce == "mean":
            from .factory import ones_like

            count = ones_like(g) if ctx.include_self else ones_like(g).scatter(dim, index, 0.0)
            count = count.scatter_add(dim, index, ones_like(index, dtype=g.dtype))
            count = count.clamp(min=1)
            ga = g / count
            if not ctx.include_self:
                ga = ga.scatter(dim, index, 0.0)
            return ga, ((g / count).gather(dim, index) if need[1] else None)
        if reduce in ("amax", "amin"):
            # Ties share the gradient evenly, as in torch.
            sel_a = (a == out).to(g.dtype) if ctx.include_self else None
            sel_s = (src[tuple(slice(0, s) for s in index.shape)] == out.gather(dim, index)).to(g.dtype)
            from .factory import zeros_like

            count = zeros_like(g).scatter_add(dim, index, sel_s)
            if sel_a is not None:
                count = count + sel_a
            share = g / count.clamp(min=1)
            ga = share * sel_a if sel_a is not None else share * 0
            gs = share.gather(dim, index) * sel_s
            return ga, gs
        # prod: d out / d x = out / x (inputs assumed non-zero)
        ga = g * out / a if ctx.include_self else None
        gs = (g * out).gather(dim, index) / src[tuple(slice(0, s) for s in index.shape)]
        return ga, gs


def _lowest(xp, dt):
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _highest(xp, dt):
    return np.inf if dt.kind == "f" else np.iinfo(dt).max


def _scatter(input, dim, index, src, reduce, include_self, fn, inplace):
    _check_index(index, fn)
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    if isinstance(src, Tensor):
        if index._data.ndim != src._data.ndim and src._data.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
        if src._dtype is not input._dtype:
            raise RuntimeError(
                f"{fn}(): Expected self.dtype to be equal to src.dtype (got {input._dtype} and {src._dtype})"
            )
    kw = {"dim": d, "index": index, "reduce": reduce, "include_self": include_self}
    return dispatch(Scatter, (input, src), kw, inplace=inplace)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Write src (or value) into a copy of input at index along dim; reduce='add'|'multiply' accumulates."""
    src = value if src is None else src
    red = {"add": "sum", "multiply": "prod"}.get(reduce, reduce)
    return _scatter(input, dim, index, src, red, True, "scatter", False)


def scatter_(input, dim, index, src=None, *, value=None, reduce=None):
    src = value if src is None else src
    red = {"add": "sum", "multiply": "prod"}.get(reduce, reduce)
    return _scatter(input, dim, index, src, red, True, "scatter_", True)


def scatter_add(input, dim, index, src):
    """Add src into a copy of input at index along dim (repeated indices accumulate)."""
    return _scatter(input, dim, index, src, "sum", True, "scatter_add", False)


def scatter_add_(input, dim, index, src):
    return _scatter(input, dim, index, src, "sum", True, "scatter_add_", True)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce src into input at index along dim with 'sum', 'prod', 'mean', 'amax' or 'amin'."""
    return _scatter(input, dim, index, src, reduce, include_self, "scatter_reduce", False)


def scatter_reduce_(input, dim, index, src, reduce, *, include_self=True):
    return _scatter(input, dim, index, src, reduce, include_self, "scatter_reduce_", True)


# ---------------------------------------------------------------------------------------- index_* along a dim


def _dim_key(xp, ndim, dim, index):
    key = [slice(None)] * ndim
    key[dim] = index
    return tuple(key)


def _check_index_1d(index, fn):
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): argument 'index' must be Tensor")
    if index._dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{fn}(): Expected dtype int32/int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{fn}(): Index is supposed to be a vector")


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Rows (along dim) of input picked by the 1-D index."""
    _check_index_1d(index, "index_select")
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    if n == 0:
        return getitem(input.reshape(1), index.reshape(-1)).reshape(index.shape)
    return dispatch(Index, (input,), {"key": _dim_key(None, n, d, index.reshape(-1))})


class IndexAdd(Op):
    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, src, dim=0, index=None, alpha=1, mode="add"):
        ctx.dim, ctx.alpha, ctx.mode = dim, alpha, mode
        ctx.save_for_backward(index)
        xp = ctx.xp
        _check_bounds(xp, index, a.shape[dim] if a.ndim else 1, "index_" + mode, dim)
        out = a.copy()
        key = _dim_key(xp, a.ndim, dim, index) if a.ndim else (index,)
        o = out if a.ndim else out.reshape(1)
        if mode == "add":
            ctx.be.add_at(o, key, src * alpha if alpha != 1 else src)
        elif mode == "copy":
            o[key] = src
        elif mode == "fill":
            o[key] = src
        return out

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        dim = ctx.dim
        if ctx.mode == "add":
            gs = g.index_select(dim, index) if ctx.needs_input_grad[1] else None
            return g, (gs * ctx.alpha if gs is not None and ctx.alpha != 1 else gs)
        ga = g.index_fill(dim, index, 0.0)
        if ctx.mode == "fill":
            gs = g.index_select(dim, index).sum() if ctx.needs_input_grad[1] else None
            return ga, gs
        return ga, (g.index_select(dim, index) if ctx.needs_input_grad[1] else None)


def _index_op(input, dim, index, src, mode, alpha=1, inplace=False):
    _check_index_1d(index, f"index_{mode}")
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    if isinstance(src, Tensor) and mode != "fill":
        if src._dtype is not input._dtype:
            raise RuntimeError(
                f"index_{mode}_(): self ({input._dtype}) and source ({src._dtype}) must have the same scalar type"
            )
        exp_len = index.numel()
        if n and src._data.ndim and src.shape[d] != exp_len:
            raise RuntimeError(
                f"index_{mode}_(): Number of indices ({exp_len}) should be equal to source.size(dim) "
                f"({src.shape[d]})"
            )
    kw = {"dim": d, "index": index.reshape(-1), "alpha": alpha, "mode": mode}
    return dispatch(IndexAdd, (input, src), kw, inplace=inplace)


def index_add(input, dim, index, source, *, alpha=1):
    """input with alpha * source added at `index` along `dim` (repeats accumulate)."""
    return _index_op(input, dim, index, source, "add", alpha)


def index_add_(input, dim, index, source, *, alpha=1):
    return _index_op(input, dim, index, source, "add", alpha, inplace=True)


def index_copy(input, dim, index, source):
    return _index_op(input, dim, index, source, "copy")


def index_copy_(input, dim, index, source):
    return _index_op(input, dim, index, source, "copy", inplace=True)


def index_fill(input, dim, index, value):
    return _index_op(input, dim, index, value, "fill")


def index_fill_(input, dim, index, value):
    return _index_op(input, dim, index, value, "fill", inplace=True)


# ---------------------------------------------------------------------------------------- masks


class MaskedFill(Op):
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        xp = ctx.xp
        return xp.where(mask, xp.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def forward_inplace(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        xp = ctx.xp
        a[...] = xp.where(mask, xp.asarray(value, dtype=a.dtype), a)
        return a

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        (mask,) = ctx.saved_tensors
        ga = where(mask, 0.0, g) if ctx.needs_input_grad[0] else None
        gv = where(mask, g, 0.0).sum() if ctx.needs_input_grad[2] else None
        return ga, None, gv


def _check_mask(mask, fn):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{fn}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._dtype is not D.bool_:
        raise RuntimeError(f"{fn}() only supports boolean masks, but got mask with dtype {mask._dtype}")


def _mask_value(value, input, fn):
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"{fn} only supports a 0-dimensional value tensor, but got tensor with {value.dim()} dimension(s)."
            )
        if value._dtype is not input._dtype:
            value = value.to(input._dtype)
    return value


def masked_fill(input, mask, value):
    """input with `value` where mask is True (mask broadcasts to input)."""
    _check_mask(mask, "masked_fill")
    return dispatch(MaskedFill, (input, mask, _mask_value(value, input, "masked_fill")))


def masked_fill_(input, mask, value):
    _check_mask(mask, "masked_fill_")
    from .shape import broadcast_shapes

    if tuple(broadcast_shapes(input.shape, mask.shape)) != tuple(input.shape):
        raise RuntimeError(
            f"masked_fill_(): the mask of shape {list(mask.shape)} is not broadcastable to self "
            f"{list(input.shape)}"
        )
    return dispatch(MaskedFill, (input, mask, _mask_value(value, input, "masked_fill_")), inplace=True)


def masked_select(input, mask):
    """1-D tensor of the elements of input where mask (broadcast together) is True."""
    _check_mask(mask, "masked_select")
    from .shape import broadcast_tensors

    a, m = broadcast_tensors(input, mask)
    return getitem(a, m)


class MaskedScatter(Op):
    @staticmethod
    def forward(ctx, a, mask, src):
        ctx.save_for_backward(mask)
        ctx.src_shape = src.shape
        out = a.copy()
        n = int(mask.sum())
        if n > src.size:
            raise RuntimeError(
                "masked_scatter: expected source to have at least as many elements as ones in mask"
            )
        out[mask] = src.reshape(-1)[:n]
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where
        from .factory import zeros

        (mask,) = ctx.saved_tensors
        ga = where(mask, 0.0, g)
        gs = None
        if ctx.needs_input_grad[2]:
            sel = getitem(g, mask)
            n = 1
            for s in ctx.src_shape:
                n *= s
            flat = zeros(n, dtype=g.dtype, device=g.device)
            from .join import cat

            gs = cat([sel, flat[sel.numel() :]]).reshape(ctx.src_shape)
        return ga, None, gs


def masked_scatter(input, mask, source):
    _check_mask(mask, "masked_scatter")
    from .shape import broadcast_tensors

    a, m = broadcast_tensors(input, mask)
    return dispatch(MaskedScatter, (a.contiguous() if a is not input else a, m, source))


def masked_scatter_(input, mask, source):
    _check_mask(mask, "masked_scatter_")
    m = mask.expand(input.shape)
    return dispatch(MaskedScatter, (input, m, source), inplace=True)


# ---------------------------------------------------------------------------------------- flat / misc


def take(input: Tensor, index: Tensor) -> Tensor:
    """input.flatten()[index], shaped like index."""
    _check_index(index, "take")
    return getitem(input.reshape(-1), index)


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    """Like gather, but input and indices broadcast against each other off `dim`; dim=None flattens."""
    _check_index(indices, "take_along_dim")
    if dim is None:
        return getitem(input.reshape(-1), indices.reshape(-1))
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    if indices._data.ndim != n:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of dimensions"
        )
    from .shape import broadcast_shapes

    a_shape = list(input.shape)
    i_shape = list(indices.shape)
    a_shape[d] = 1
    i_shape[d] = 1
    b = list(broadcast_shapes(a_shape, i_shape))
    a_b = list(b)
    a_b[d] = input.shape[d]
    i_b = list(b)
    i_b[d] = indices.shape[d]
    return gather(input.expand(a_b), d, indices.expand(i_b))


class Nonzero(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        if a.ndim == 0:
            return xp.zeros((1 if bool(a) else 0, 0), dtype=np.int64)
        return xp.argwhere(a).astype(np.int64)


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of non-zero elements: (N, ndim) int64, or a tuple of 1-D index tensors."""
    out = dispatch(Nonzero, (input,))
    if not as_tuple:
        return out
    if input._data.ndim == 0:
        from .factory import zeros

        return (zeros(int(out.shape[0]), dtype=D.int64, device=input._device),)
    return tuple(out[:, i] for i in range(input._data.ndim))


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


def put_(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    flat = input.view(-1) if input.is_contiguous() else None
    if flat is None:
        raise RuntimeError("put_: only contiguous tensors are supported")
    return index_put_(flat, (index.reshape(-1),), source.reshape(-1), accumulate) and input


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    return put_(input.clone(), index, source, accumulate)


__all__ = [
    "argwhere",
    "gather",
    "getitem",
    "index_add",
    "index_add_",
    "index_copy",
    "index_copy_",
    "index_fill",
    "index_fill_",
    "index_put",
    "index_put_",
    "index_select",
    "masked_fill",
    "masked_fill_",
    "masked_scatter",
    "masked_scatter_",
    "masked_select",
    "nonzero",
    "put",
    "put_",
    "scatter",
    "scatter_",
    "scatter_add",
    "scatter_add_",
    "scatter_reduce",
    "scatter_reduce_",
    "setitem",
    "take",
    "take_along_dim",
]
