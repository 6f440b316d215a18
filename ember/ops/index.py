"""Indexing: __getitem__/__setitem__, gather/scatter(_add/_reduce), index_select/add/copy/fill, masked_*, take,
take_along_dim, nonzero, index_put.

Basic indexing (ints, slices, None, ...) returns views like torch; advanced indexing (integer/bool tensors,
lists) copies, and its backward accumulates into repeated indices.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .op import Op

# ---------------------------------------------------------------------------------------- keys
#
# A key is turned into torch's two stages: a basic key (ints, slices, None) that NumPy applies as a view,
# then an optional advanced key (index arrays / masks, slice(None) elsewhere) applied to that view. Ints and
# 0-d integer tensors select (basic) as in torch, so they never take part in advanced-index broadcasting.

_FULL = slice(None)
_INDEX_TYPE_ERROR = "tensors used as indices must be long, int, byte or bool tensors"
_INDEX_DTYPES = (D.int64, D.int32, D.uint8, D.bool_)
_OVERLAP_MSG = (
    "unsupported operation: more than one element of the written-to tensor refers to a single memory location. "
    "Please clone() the tensor before performing the operation."
)


def _as_key_tuple(key) -> tuple:
    """torch's treatSequenceAsTuple: a short list holding sequences, slices, None, ... or Tensors is a tuple."""
    if isinstance(key, tuple):
        return key
    if isinstance(key, list) and len(key) < 32:
        for k in key:
            if isinstance(k, (Tensor, list, tuple, slice)) or k is None or k is Ellipsis:
                import warnings

                warnings.warn(
                    "Using a non-tuple sequence for multidimensional indexing is deprecated; use x[tuple(seq)] "
                    "instead of x[seq].",
                    stacklevel=4,
                )
                return tuple(key)
    return (key,)


def _convert_key(key, t: Tensor, index_put: bool = False):
    """Normalise an index key for tensor `t`: returns (basic, adv).

    basic: a tuple for NumPy basic indexing (ending with Ellipsis so that NumPy returns a 0-d view, never a
    scalar), or None when it selects everything; adv: a tuple of index Tensors / masks / slices applied to the
    basic result, or None. With index_put=True the key is a tuple of index tensors (torch's index_put)."""
    items = []
    if index_put:
        for i, k in enumerate(key):
            if not isinstance(k, Tensor):
                raise TypeError(f"expected Tensor as element {i} in argument 1, but got {type(k).__name__}")
            items.append(_index_tensor(k, as_int=False))
    else:
        for k in _as_key_tuple(key):
            items.append(_normalise_item(k, t))
    ndim = t._data.ndim
    specified = 0
    for k in items:
        if isinstance(k, Tensor):
            specified += k._data.ndim if k._dtype is D.bool_ else 1
        elif k is not None and k is not Ellipsis and not isinstance(k, bool):
            specified += 1
    if specified > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic = []
    adv = {}
    rdim = 0  # dim of the basic result the next item applies to
    consumed = 0  # dims of `t` consumed so far
    trivial = True
    for k in items:
        if k is Ellipsis:
            n = max(0, min(ndim - specified, ndim - consumed))
            basic.extend([_FULL] * n)
            rdim += n
            consumed += n
        elif k is None:
            basic.append(None)
            rdim += 1
            trivial = False
        elif isinstance(k, bool):
            basic.append(None)
            adv[rdim] = _bool_scalar_index(k, t)
            rdim += 1
            trivial = False
        elif isinstance(k, int):
            basic.append(k)
            consumed += 1
            trivial = False
        elif isinstance(k, slice):
            basic.append(k)
            rdim += 1
            consumed += 1
            if k != _FULL:
                trivial = False
        else:  # index Tensor or mask
            n = k._data.ndim if k._dtype is D.bool_ else 1
            if k._dtype is D.bool_ and n == 0:
                basic.append(None)
                adv[rdim] = _bool_scalar_index(bool(k.item()), t)
                rdim += 1
                trivial = False
                continue
            basic.extend([_FULL] * n)
            adv[rdim] = k
            rdim += n
            consumed += n
    if not adv:
        return (None if trivial else tuple(basic) + (Ellipsis,)), None
    shape = _basic_shape(t._data.shape, basic)
    key = []
    d = 0
    last = max(adv)
    while d <= last:
        k = adv.get(d)
        if k is None:
            key.append(_FULL)
            d += 1
            continue
        if k._dtype is D.bool_:
            n = k._data.ndim
            if tuple(k._data.shape) != tuple(shape[d : d + n]):
                raise IndexError(
                    f"The shape of the mask {list(k._data.shape)} at index {d} does not match the shape of the "
                    f"indexed tensor {list(shape)} at index {d}"
                )
            d += n
        else:
            d += 1
        key.append(k)
    return (None if trivial else tuple(basic) + (Ellipsis,)), tuple(key)


def _basic_shape(shape, basic) -> tuple:
    """The shape NumPy basic indexing with `basic` gives (bounds are checked later by NumPy itself)."""
    out = []
    d = 0
    for k in basic:
        if k is None:
            out.append(1)
        elif isinstance(k, int):
            d += 1
        else:
            out.append(len(range(*k.indices(shape[d]))))
            d += 1
    return tuple(out) + tuple(shape[d:])


def _bool_scalar_index(value: bool, t: Tensor) -> Tensor:
    from .factory import tensor

    return tensor([0] if value else [], dtype=D.int64, device=t._device)


def _normalise_item(k, t: Tensor):
    if isinstance(k, Tensor):
        k = _index_tensor(k, as_int=True)
        return k
    if isinstance(k, (bool, np.bool_)):
        return bool(k)
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, slice):
        if k.step is not None:
            step = _as_int(k.step)
            if step == 0:
                raise ValueError("slice step cannot be zero")
            if step < 0:
                raise ValueError("step must be greater than zero")
        return slice(_opt_int(k.start), _opt_int(k.stop), _opt_int(k.step))
    if k is None or k is Ellipsis:
        return k
    if isinstance(k, (list, tuple, np.ndarray)):
        return _index_tensor(_list_index(k, t), as_int=True)
    if isinstance(k, str):
        raise TypeError(f"new(): invalid data type '{type(k).__name__}'")
    if hasattr(k, "__index__"):
        return k.__index__()
    raise IndexError(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices "
        f"(got {type(k).__name__})"
    )


def _index_tensor(k: Tensor, as_int: bool):
    """Check an index tensor; uint8 masks become bool; 0-d integer tensors become ints when as_int."""
    dt = k._dtype
    if dt not in _INDEX_DTYPES:
        raise IndexError(_INDEX_TYPE_ERROR)
    if dt is D.uint8:
        import warnings

        warnings.warn(
            "indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead.",
            stacklevel=4,
        )
        from .convert import to_dtype

        k = to_dtype(k, D.bool_)
    elif as_int and k._data.ndim == 0 and k._dtype is not D.bool_:
        return int(k.item())
    return k


def _as_int(x):
    return int(x.item()) if isinstance(x, Tensor) else int(x)


def _opt_int(x):
    return None if x is None else _as_int(x)


def _list_index(k, t: Tensor) -> Tensor:
    """A Python sequence (or NumPy array) used as an index, as a bool or int64 tensor (torch's rules)."""
    if isinstance(k, np.ndarray):
        arr = k
    else:
        if any(isinstance(v, Tensor) for v in k):
            k = [v.tolist() if isinstance(v, Tensor) else v for v in k]
        try:
            arr = np.asarray(k)
        except ValueError as e:
            raise IndexError(str(e)) from None
    if arr.size == 0:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "c" or arr.dtype.kind not in "biuf":
        raise IndexError(_INDEX_TYPE_ERROR)
    elif arr.dtype.kind in "uif":
        arr = arr.astype(np.int64)
    from .factory import tensor

    return tensor(arr, device=t._device)


def _index_error(e: Exception, t: Tensor) -> IndexError:
    msg = str(e).replace("axis", "dimension").replace("array", "tensor")
    return IndexError(f"{msg} (indexing a tensor of shape {list(t.shape)})")


def _apply_key(a, key):
    """a[key] for a (basic, adv) key, on arrays."""
    basic, adv = key
    if basic is not None:
        a = a[basic]
    return a[adv] if adv is not None else a


def _target(a, basic):
    return a[basic] if basic is not None else a


def _torch_strides(a, key) -> tuple:
    """The strides torch gives a[key] (basic key): NumPy's, except for dims added by None."""
    from .shape import unsqueeze_stride

    shape, strides = list(a.shape), list(a.strides)
    p = 0
    for k in key:
        if k is Ellipsis:
            p += len(shape) - p - sum(1 for j in key[key.index(k) + 1 :] if j is not None)
        elif k is None:
            st = unsqueeze_stride(shape, strides, p, a.itemsize)
            shape.insert(p, 1)
            strides.insert(p, st)
            p += 1
        elif isinstance(k, slice):
            start, stop, step = k.indices(shape[p])
            shape[p] = len(range(start, stop, step))
            strides[p] *= step
            p += 1
        else:
            del shape[p]
            del strides[p]
    return tuple(strides)


class Slice(Op):
    """Basic indexing: a view."""

    is_view = True

    @staticmethod
    def forward(ctx, a, key=()):
        ctx.key = key
        ctx.in_shape = a.shape
        out = a[key]
        if None in key:
            out = ctx.be.strided_view(out, out.shape, _torch_strides(a, key))
        return out

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
        try:
            return a[key]
        except ValueError as e:  # CuPy's wording of NumPy's IndexError for index arrays that do not broadcast
            if "broadcast" not in str(e):
                raise
            shapes = ", ".join(str(list(k.shape)) for k in key if hasattr(k, "shape") and k.dtype != bool)
            raise IndexError(
                f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return (dispatch(IndexScatter, (g,), {"key": ctx.key, "shape": ctx.in_shape, "accumulate": True}),)


class IndexScatter(Op):
    """Gradient of indexing: zeros of the input's shape with `g` put (or accumulated) at `key`."""

    node_name = "IndexBackwardBackward0"
    tensor_attrs = True

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


def _getitem_key(t: Tensor, key) -> Tensor:
    basic, adv = key
    if basic is not None:
        t = dispatch(Slice, (t,), {"key": basic})
    if adv is not None:
        t = dispatch(Index, (t,), {"key": adv})
    elif basic is None:
        t = dispatch(Slice, (t,), {"key": (Ellipsis,)})
    return t


def getitem(t: Tensor, key) -> Tensor:
    """t[key] with torch's indexing semantics (basic indexing gives views, advanced indexing copies)."""
    tk = type(key)
    if (tk is int or tk is slice) and t._data.ndim:
        # fast path: one int in range, or one slice with a positive step, on a >= 1-d tensor
        if tk is int:
            if -t._data.shape[0] <= key < t._data.shape[0]:
                return dispatch(Slice, (t,), {"key": (key, Ellipsis)})
        elif (
            (key.step is None or type(key.step) is int and key.step > 0)
            and (key.start is None or type(key.start) is int)
            and (key.stop is None or type(key.stop) is int)
        ):
            return dispatch(Slice, (t,), {"key": (key, Ellipsis)})
    k = _convert_key(key, t)
    try:
        return _getitem_key(t, k)
    except IndexError as e:
        raise _index_error(e, t) from None


class IndexPut(Op):
    """t[key] = value (in place), or index_put(t, key, value) out of place; key is a (basic, adv) pair."""

    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, v, key=(None, None), accumulate=False):
        out = a.copy()
        IndexPut._put(ctx, out, v, key, accumulate)
        return out

    @staticmethod
    def forward_inplace(ctx, a, v, key=(None, None), accumulate=False):
        IndexPut._put(ctx, a, v, key, accumulate)
        return a

    @staticmethod
    def _put(ctx, a, v, key, accumulate):
        ctx.key = key
        ctx.accumulate = accumulate
        ctx.v_shape = getattr(v, "shape", ())
        basic, adv = key
        target = _target(a, basic)
        try:
            if adv is None:
                if accumulate:
                    target[...] += v
                else:
                    target[...] = v
            elif accumulate:
                ctx.be.add_at(target, adv, v)
            else:
                target[adv] = v
        except ValueError as e:
            if "read-only" in str(e):
                raise RuntimeError(_OVERLAP_MSG) from None
            vshape = list(getattr(v, "shape", ()))
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {vshape} cannot be broadcast to indexing result of shape "
                f"{list(_apply_key(a, key).shape)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        key = ctx.key
        g_self = None
        if ctx.needs_input_grad[0]:
            g_self = g if ctx.accumulate else dispatch(IndexFillKey, (g,), {"key": key})
        g_v = None
        if ctx.needs_input_grad[1]:
            g_v = _getitem_key(g, key)
            vs = tuple(ctx.v_shape)
            if len(vs) > g_v.dim():  # the value had extra leading 1s (allowed by broadcasting)
                g_v = g_v.reshape((1,) * (len(vs) - g_v.dim()) + tuple(g_v.shape))
        return g_self, g_v


class IndexFillKey(Op):
    """g with zeros written at `key` (backward of a non-accumulating put)."""

    node_name = "IndexPutBackward0"
    tensor_attrs = True

    @staticmethod
    def forward(ctx, g, key=(None, None)):
        ctx.key = key
        out = g.copy()
        basic, adv = key
        target = _target(out, basic)
        if adv is None:
            target[...] = 0
        else:
            target[adv] = 0
        return out

    @staticmethod
    def backward(ctx, gg):
        return (dispatch(IndexFillKey, (gg,), {"key": ctx.key}),)


def setitem(t: Tensor, key, value) -> None:
    """t[key] = value, in place (through views too)."""
    k = _convert_key(key, t)
    if not isinstance(value, (Tensor, int, float, bool, complex)):
        raise TypeError(f"can't assign a {_type_name(value)} to a {_tensor_type_name(t)}")
    if isinstance(value, Tensor) and value._dtype is not t._dtype:
        from .convert import to_dtype

        value = to_dtype(value, t._dtype)
    try:
        dispatch(IndexPut, (t, value), {"key": k}, inplace=True)
    except IndexError as e:
        raise _index_error(e, t) from None


def _type_name(v) -> str:
    tp = type(v)
    return tp.__name__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__name__}"


def _tensor_type_name(t: Tensor) -> str:
    return f"ember.{D.SCALAR_NAME[t._dtype]}Tensor"


def _check_put_value(values, fn):
    if not isinstance(values, Tensor):
        raise TypeError(f"{fn}(): argument 'values' (position 2) must be Tensor, not {type(values).__name__}")


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of input with values put (or accumulated) at the index tensors `indices`."""
    _check_put_value(values, "index_put")
    k = _convert_key(tuple(indices), input, index_put=True)
    if values._dtype is not input._dtype:
        raise RuntimeError(
            f"Index put requires the source and destination dtypes match, got {D.SCALAR_NAME[input._dtype]} for "
            f"the destination and {D.SCALAR_NAME[values._dtype]} for the source."
        )
    try:
        return dispatch(IndexPut, (input, values), {"key": k, "accumulate": accumulate})
    except IndexError as e:
        raise _index_error(e, input) from None


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """index_put in place."""
    _check_put_value(values, "index_put_")
    k = _convert_key(tuple(indices), input, index_put=True)
    if values._dtype is not input._dtype:
        raise RuntimeError(
            f"Index put requires the source and destination dtypes match, got {D.SCALAR_NAME[input._dtype]} for "
            f"the destination and {D.SCALAR_NAME[values._dtype]} for the source."
        )
    try:
        return dispatch(IndexPut, (input, values), {"key": k, "accumulate": accumulate}, inplace=True)
    except IndexError as e:
        raise _index_error(e, input) from None


# ---------------------------------------------------------------------------------------- gather / scatter


def _check_index(index: Tensor, fn: str, long_only: bool = False):
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if long_only:
        if index._dtype is not D.int64:
            raise RuntimeError(
                f"{fn}(): Expected a long tensor for index, but got {D.SCALAR_NAME[index._dtype]}"
            )
    elif index._dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{fn}(): Expected dtype int32/int64 for index")


def _full_index(xp, index, dim):
    """Index arrays addressing input[..., index[...], ...] for every position of `index`."""
    nd = len(index.shape)
    grids = [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (nd - i - 1)) for i, n in enumerate(index.shape)]
    grids[dim] = index
    return tuple(grids)


def _check_bounds(xp, index, size, dim, prefix="", exc=RuntimeError, negative=False):
    """Raise exc (torch's message) when an index is outside [0, size) (or [-size, size) with negative=True)."""
    if index.size == 0 or xp.__name__ != "numpy":
        return
    lo, hi = int(index.min()), int(index.max())
    if lo < (-size if negative else 0) or hi >= size:
        bad = hi if hi >= size else lo
        raise exc(f"{prefix}index {bad} is out of bounds for dimension {dim} with size {size}")


class Gather(Op):
    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, dim=0, index=None):
        xp = ctx.xp
        ctx.dim = dim
        ctx.in_shape = a.shape
        ctx.save_for_backward(index)
        _check_bounds(xp, index, a.shape[dim] if a.ndim else 1, dim)
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
                f"Size does not match at dimension {i} expected index {list(index.shape)} to be no larger than "
                f"self {list(input.shape)} apart from dimension {d}"
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
        _check_bounds(xp, index, a.shape[dim] if a.ndim else 1, dim)
        out = a.copy()
        if a.ndim == 0:
            out = out.reshape(1)
            index = index.reshape(-1)
        full = _full_index(xp, index, dim)
        vals = (
            src[tuple(slice(0, s) for s in index.shape)] if isinstance(src, xp.ndarray) and src.ndim else src
        )
        if not isinstance(vals, xp.ndarray) or vals.ndim == 0:
            vals = xp.broadcast_to(_fill_value(xp, vals, a.dtype), index.shape)
        if reduce is None:
            out[full] = vals
        elif reduce in ("sum", "add"):
            if not include_self:
                out[full] = 0
            ctx.be.add_at(out, full, vals)
        elif reduce in ("prod", "multiply"):
            if not include_self:
                out[full] = 1
            if xp.__name__ == "numpy":
                xp.multiply.at(out, full, vals)
            else:  # CuPy has no multiply.at: reduce on the host (rare op; this synchronises)
                host = ctx.be.to_numpy(out)
                np.multiply.at(host, tuple(ctx.be.to_numpy(i) for i in full), ctx.be.to_numpy(vals))
                out[...] = xp.asarray(host)
        elif reduce == "amax":
            if not include_self:
                out[full] = _lowest(xp, a.dtype)
            _ufunc_at(ctx, xp.maximum, out, full, vals)
        elif reduce == "amin":
            if not include_self:
                out[full] = _highest(xp, a.dtype)
            _ufunc_at(ctx, xp.minimum, out, full, vals)
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
            out = (out / count).astype(a.dtype) if D.is_float_array_dtype(a.dtype) else out // count
        else:
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
        ctx.save_for_backward(index, a, src, out)
        return out.reshape(a.shape)

    @staticmethod
    def backward(ctx, g):
        index, a, src, out = ctx.saved_tensors
        dim, reduce, include_self = ctx.dim, ctx.reduce, ctx.include_self
        need = ctx.needs_input_grad
        src_t = isinstance(src, Tensor)
        part = src[tuple(slice(0, s) for s in index.shape)] if src_t and src.dim() else src
        ga = gs = None
        if reduce is None:
            ga = g.scatter(dim, index, 0.0) if need[0] else None
            gs = g.gather(dim, index) if need[1] else None
        elif reduce == "sum":
            ga = (g if include_self else g.scatter(dim, index, 0.0)) if need[0] else None
            gs = g.gather(dim, index) if need[1] else None
        elif reduce == "mean":
            from .factory import ones_like

            count = ones_like(g) if include_self else ones_like(g).scatter(dim, index, 0.0)
            count = count.scatter_add(dim, index, ones_like(index, dtype=g.dtype)).clamp(min=1)
            share = g / count
            if need[0]:
                ga = share if include_self else share.scatter(dim, index, 0.0)
            gs = share.gather(dim, index) if need[1] else None
        elif reduce in ("amax", "amin"):
            # Ties share the gradient evenly, as in torch.
            from .factory import zeros_like

            sel_s = (part == out.gather(dim, index)).to(g.dtype)
            count = zeros_like(g).scatter_add(dim, index, sel_s)
            if include_self:
                sel_a = (a == out).to(g.dtype)
                count = count + sel_a
            share = g / count.clamp(min=1)
            if need[0]:
                ga = share * sel_a if include_self else g.scatter(dim, index, 0.0)
            gs = share.gather(dim, index) * sel_s if need[1] else None
        else:  # prod, exact with zeros: products of the other factors, without dividing by zero
            from .elementwise import where
            from .factory import ones_like

            if need[0]:
                others = ones_like(g).scatter_reduce(dim, index, part, "prod", include_self=False)
                ga = g * others if include_self else g.scatter(dim, index, 0.0)
            if need[1]:
                zero = part == 0
                nz = where(zero, 1.0, part).to(g.dtype)
                base = where(a == 0, 1.0, a).to(g.dtype) if include_self else ones_like(g)
                nzeros = (a == 0).to(g.dtype) if include_self else ones_like(g) * 0
                nzeros = nzeros.scatter_add(dim, index, zero.to(g.dtype))
                prod_nz = base.scatter_reduce(dim, index, nz, "prod")
                gp = (g * prod_nz).gather(dim, index)
                nz_at = nzeros.gather(dim, index)
                # src_j != 0: product of the others = prod_nz / src_j when no zero is present, else 0;
                # src_j == 0: product of the others = prod_nz when it is the only zero, else 0.
                gs = where(zero, where(nz_at == 1, gp, 0.0), where(nz_at == 0, gp / nz, 0.0))
        if gs is not None and src_t and tuple(src.shape) != tuple(gs.shape):
            gs = dispatch(
                IndexScatter,
                (gs,),
                {"key": tuple(slice(0, s) for s in gs.shape), "shape": tuple(src.shape), "accumulate": False},
            )
        return ga, gs


def _ufunc_at(ctx, ufunc, out, full, vals):
    """ufunc.at on NumPy; the backend's scatter_extreme elsewhere."""
    xp = ctx.xp
    if xp.__name__ == "numpy":
        ufunc.at(out, full, vals)
        return
    ctx.be.scatter_extreme(out, full, vals, ufunc is xp.maximum)


def _lowest(xp, dt):
    return -np.inf if D.is_float_array_dtype(dt) else np.iinfo(dt).min


def _highest(xp, dt):
    return np.inf if D.is_float_array_dtype(dt) else np.iinfo(dt).max


def _scatter(input, dim, index, src, reduce, include_self, fn, inplace):
    _check_index(index, fn)
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    ni = index._data.ndim
    if ni != n and not (n == 0 and ni <= 1) and index.numel():
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if isinstance(src, Tensor):
        if src._dtype is not input._dtype:
            raise RuntimeError(f"{fn}(): Expected self.dtype to be equal to src.dtype")
        if src._data.ndim != ni and index.numel() and not (src._data.ndim == 0 and ni <= 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    ishape = index._data.shape
    sshape = src._data.shape if isinstance(src, Tensor) else None
    for k in range(min(ni, n)):
        if (k != d and ishape[k] > input._data.shape[k]) or (sshape and ishape[k] > sshape[k]):
            raise RuntimeError(
                f"Expected index {list(ishape)} to be no larger than self {list(input.shape)} apart from dimension "
                f"{d}" + (f" and to be no larger size than src {list(sshape)}" if sshape is not None else "")
            )
    if reduce in ("max", "min"):
        reduce = "a" + reduce
    if reduce not in (None, "sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    kw = {"dim": d, "index": index, "reduce": reduce, "include_self": include_self}
    return dispatch(Scatter, (input, src), kw, inplace=inplace)


def _scatter_reduce_arg(reduce):
    if reduce is None:
        return None
    if reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    return {"add": "sum", "multiply": "prod"}[reduce]


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Write src (or value) into a copy of input at index along dim; reduce='add'|'multiply' accumulates."""
    src = value if src is None else src
    return _scatter(input, dim, index, src, _scatter_reduce_arg(reduce), True, "scatter", False)


def scatter_(input, dim, index, src=None, *, value=None, reduce=None):
    src = value if src is None else src
    return _scatter(input, dim, index, src, _scatter_reduce_arg(reduce), True, "scatter_", True)


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
        raise TypeError(f"{fn}(): argument 'index' (position 2) must be Tensor, not {type(index).__name__}")
    if index._dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{fn}(): Expected dtype int32 or int64 for index")
    if index._data.ndim > 1:
        raise IndexError(f"{fn}(): Index is supposed to be a vector")


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Rows (along dim) of input picked by the 1-D index."""
    _check_index_1d(index, "index_select")
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    size = input._data.shape[d] if n else 1
    idx = index._data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise IndexError("index out of range in self")
    if n == 0:
        from .shape import reshape

        if index.numel() != 1:
            raise RuntimeError(
                f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)"
            )
        return reshape(dispatch(Index, (reshape(input, (1,)),), {"key": (index.reshape(-1),)}), ())
    return dispatch(Index, (input,), {"key": _dim_key(None, n, d, index.reshape(-1))})


class IndexAdd(Op):
    """index_add / index_copy / index_fill along a dim (mode), out of place or in place."""

    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, src, dim=0, index=None, alpha=1, mode="add"):
        ctx.dim, ctx.alpha, ctx.mode = dim, alpha, mode
        ctx.save_for_backward(index)
        out = a.copy()
        IndexAdd._apply(ctx, out, src, dim, index, alpha, mode)
        return out

    @staticmethod
    def forward_inplace(ctx, a, src, dim=0, index=None, alpha=1, mode="add"):
        ctx.dim, ctx.alpha, ctx.mode = dim, alpha, mode
        ctx.save_for_backward(index)
        IndexAdd._apply(ctx, a, src, dim, index, alpha, mode)
        return a

    @staticmethod
    def _apply(ctx, out, src, dim, index, alpha, mode):
        if not getattr(out.flags, "writeable", True) or any(
            st == 0 and sh > 1 for sh, st in zip(out.shape, out.strides)
        ):
            raise RuntimeError(_OVERLAP_MSG)
        xp = ctx.xp
        o = out if out.ndim else out.reshape(1)
        key = _dim_key(xp, o.ndim, dim, index)
        if mode == "add":
            if isinstance(src, xp.ndarray) and src.ndim == 0 and o.ndim:
                src = src.reshape((1,) * o.ndim)
            ctx.be.add_at(o, key, src * alpha if alpha != 1 else src)
        else:
            if isinstance(src, xp.ndarray) and src.ndim == 0 and o.ndim and mode == "copy":
                src = src.reshape((1,) * o.ndim)
            o[key] = src

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        dim = ctx.dim
        need = ctx.needs_input_grad
        g1 = g.reshape(-1) if g.dim() == 0 else g
        if ctx.mode == "add":
            gs = g1.index_select(dim, index) if need[1] else None
            if gs is not None and ctx.alpha != 1:
                gs = gs * ctx.alpha
            return g, gs
        ga = g1.index_fill(dim, index, 0.0).reshape(g.shape) if need[0] else None
        gs = None
        if need[1] and ctx.mode == "fill":
            from .._tensor import _wrap

            uniq = _wrap(ctx.xp.unique(index._data), index._dtype, index._device)
            gs = g1.index_select(dim, uniq).sum()
        elif need[1]:
            gs = g1.index_select(dim, index)
        return ga, gs


def _index_op(input, dim, index, src, mode, alpha=1, inplace=False):
    _check_index_1d(index, f"index_{mode}_")
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    size = input._data.shape[d] if n else 1
    numel = index.numel()
    if mode == "fill":
        if isinstance(src, Tensor):
            if src._data.ndim != 0:
                raise RuntimeError(
                    "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                    f"{src._data.ndim} dimension(s)."
                )
        _check_bounds(np, index._data, size, d, exc=IndexError, negative=True)
    else:
        if not isinstance(src, Tensor):
            raise TypeError(f"index_{mode}(): argument 'source' must be Tensor, not {type(src).__name__}")
        if src._dtype is not input._dtype:
            raise RuntimeError(
                f"index_{mode}_(): self ({D.SCALAR_NAME[input._dtype]}) and source ({D.SCALAR_NAME[src._dtype]}) "
                "must have the same scalar type"
            )
        if mode == "add" and (n or src._data.ndim):
            if src._data.ndim != n or any(src.shape[k] != input.shape[k] for k in range(n) if k != d):
                raise RuntimeError(
                    "source tensor shape must match self tensor shape, excluding the specified dimension. Got "
                    f"self.shape = {list(input.shape)} source.shape = {list(src.shape)}"
                )
        ssize = src.shape[d] if src._data.ndim else 1
        if (n or src._data.ndim) and ssize != numel:
            if mode == "add":
                raise RuntimeError(
                    f"index_add_(): Number of indices ({numel}) should be equal to source.size(dim): ({ssize}), "
                    f"for dim: {d}"
                )
            raise IndexError(
                f"index_copy_(): Number of indices ({numel}) should be equal to source.size(dim) ({ssize})"
            )
        if mode == "add":
            _check_bounds(np, index._data, size, d)
        else:
            _check_bounds(np, index._data, size, d, prefix="index_copy_(): ", exc=IndexError)
    kw = {"dim": d, "index": index.reshape(-1), "alpha": alpha, "mode": mode}
    return dispatch(IndexAdd, (input, src), kw, inplace=inplace)


def index_add(input, dim, index, source, *, alpha=1):
    """input with alpha * source added at `index` along `dim` (repeats accumulate)."""
    return _index_op(input, dim, index, source, "add", alpha)


def index_add_(input, dim, index, source, *, alpha=1):
    """index_add in place."""
    return _index_op(input, dim, index, source, "add", alpha, inplace=True)


def index_copy(input, dim, index, source):
    """input with the slices of source copied to `index` along `dim`."""
    return _index_op(input, dim, index, source, "copy")


def index_copy_(input, dim, index, source):
    """index_copy in place."""
    return _index_op(input, dim, index, source, "copy", inplace=True)


def index_fill(input, dim, index, value):
    """input with the slices at `index` along `dim` set to value (a number or 0-d tensor)."""
    return _index_op(input, dim, index, value, "fill")


def index_fill_(input, dim, index, value):
    """index_fill in place."""
    return _index_op(input, dim, index, value, "fill", inplace=True)


# ---------------------------------------------------------------------------------------- masks


def _fill_value(xp, value, dtype):
    """`value` (a Python number or an array) as a 0-d or broadcastable array of `dtype`. A number goes through
    xp.full, a fill kernel on CUDA: xp.asarray would copy it from the host, which waits for the GPU (and cannot
    be captured in a CUDA graph)."""
    if isinstance(value, xp.ndarray):
        return value.astype(dtype, copy=False)
    if (
        value == 0
        and isinstance(value, float)
        and math.copysign(1.0, value) < 0
        and D.is_float_array_dtype(dtype)
    ):
        return xp.negative(xp.zeros((), dtype=dtype))  # CuPy fills a 0 with memset: -0.0 would lose its sign
    return xp.full((), value, dtype=dtype)


class MaskedFill(Op):
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        xp = ctx.xp
        return xp.where(mask, _fill_value(xp, value, a.dtype), a)

    @staticmethod
    def forward_inplace(ctx, a, mask, value):
        ctx.save_for_backward(mask)
        xp = ctx.xp
        a[...] = xp.where(mask, _fill_value(xp, value, a.dtype), a)
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
        raise TypeError(f"{fn}(): argument 'mask' (position 1) must be Tensor, not {type(mask).__name__}")
    if mask._dtype is not D.bool_:
        if fn == "masked_select":
            raise RuntimeError("masked_select: expected BoolTensor for mask")
        raise RuntimeError(
            f"{fn.rstrip('_')}_ only supports boolean masks, but got mask with dtype {D.SCALAR_NAME[mask._dtype]}"
        )


def _mask_value(value, input, fn):
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"{fn.rstrip('_')}_ only supports a 0-dimensional value tensor, but got tensor with {value.dim()} "
                "dimension(s)."
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

    shape = tuple(broadcast_shapes(input.shape, mask.shape))
    if shape != tuple(input.shape):
        raise RuntimeError(
            f"output with shape {list(input.shape)} doesn't match the broadcast shape {list(shape)}"
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
            raise RuntimeError("Number of elements of source < number of ones in mask")
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


def _check_masked_scatter(input, mask, source, fn):
    _check_mask(mask, fn)
    if not isinstance(source, Tensor):
        raise TypeError(f"{fn}(): argument 'source' (position 2) must be Tensor, not {type(source).__name__}")
    if source._dtype is not input._dtype:
        raise RuntimeError(
            f"masked_scatter: expected self and source to have same dtypes but got"
            f"{D.SCALAR_NAME[input._dtype]} and {D.SCALAR_NAME[source._dtype]}"
        )


def masked_scatter(input, mask, source):
    """input with the elements of source (in order) written where mask (broadcast) is True."""
    _check_masked_scatter(input, mask, source, "masked_scatter")
    from .shape import broadcast_tensors

    a, m = broadcast_tensors(input, mask)
    return dispatch(MaskedScatter, (a.contiguous() if a is not input else a, m, source))


def masked_scatter_(input, mask, source):
    """masked_scatter in place (mask broadcasts to input)."""
    _check_masked_scatter(input, mask, source, "masked_scatter_")
    m = mask.expand(input.shape)
    return dispatch(MaskedScatter, (input, m, source), inplace=True)


# ---------------------------------------------------------------------------------------- flat / misc


def _check_flat_bounds(index: Tensor, n: int) -> None:
    idx = index._data
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            bad = hi if hi >= n else lo
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")


def take(input: Tensor, index: Tensor) -> Tensor:
    """input.flatten()[index], shaped like index (negative indices count from the end)."""
    from .shape import reshape

    _check_index(index, "take", long_only=True)
    _check_flat_bounds(index, input.numel())
    return dispatch(Index, (reshape(input, (-1,)),), {"key": (index,)})


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    """Like gather, but input and indices broadcast against each other off `dim`; dim=None flattens."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"take_along_dim(): argument 'indices' must be Tensor, not {type(indices).__name__}")
    if indices._dtype is not D.int64:
        raise RuntimeError(
            f"torch.take_along_dim(): dtype of indices should be Long but got {D.SCALAR_NAME[indices._dtype]}"
        )
    if dim is None:
        from .shape import reshape

        return take(input, reshape(indices, (-1,)))
    n = input._data.ndim
    d = _wrap_dim(dim, n)
    if indices._data.ndim != n:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of dimensions, but got "
            f"{n} dimensions for input, and {indices._data.ndim} dimensions for indices"
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
    """Write (or accumulate) source into input viewed as 1-D (row-major, whatever its strides) at index."""
    _check_index(index, "put_", long_only=True)
    if not isinstance(source, Tensor):
        raise TypeError(f"put_(): argument 'source' (position 2) must be Tensor, not {type(source).__name__}")
    if source._dtype is not input._dtype:
        raise RuntimeError(
            f"put_(): self and source expected to have the same dtype, but got self.dtype = "
            f"{D.SCALAR_NAME[input._dtype]} and source.dtype = {D.SCALAR_NAME[source._dtype]}"
        )
    if index.numel() != source.numel():
        raise IndexError(
            "put_(): Expected source and index to have the same number of elements, but got source.numel() = "
            f"{source.numel()}, index.numel() = {index.numel()}"
        )
    n = input.numel()
    _check_flat_bounds(index, n)
    from .factory import tensor
    from .shape import reshape

    flat = np.asarray(index.detach().cpu()._data).reshape(-1) % max(n, 1)
    if input._data.ndim == 0:
        target, shape = reshape(input, (1,)), (1,)
    else:
        target, shape = input, input._data.shape
    idx = tuple(tensor(i, dtype=D.int64, device=input._device) for i in np.unravel_index(flat, shape))
    index_put_(target, idx, reshape(source, (-1,)), accumulate)
    return input


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """put_ on a copy of input."""
    from .convert import clone

    return put_(clone(input), index, source, accumulate)


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
