"""Views and shape ops: view/reshape, permute/transpose, squeeze/unsqueeze, expand, narrow, diagonal, unfold,
as_strided, flatten/unflatten, movedim, sum_to_size, broadcast helpers.

View ops return tensors that alias the input's memory and share its version counter (dispatch does that
for ``is_view`` ops), like torch's views.
"""

from __future__ import annotations

import math

import numpy as np

from .._size import Size
from .._tensor import Tensor, _wrap, _wrap_dim
from ..autograd.grad_mode import STATE
from ._dispatch import dispatch
from .op import Op


def _reshaped_grad(ctx, g, shape):
    """g reshaped to `shape`: in a first-order backward straight on the array (a gradient needs no view
    tracking or graph), under create_graph through the differentiable op."""
    if STATE.enabled:
        return g.reshape(shape)
    return _wrap(ctx.xp.reshape(g._data, shape), g._dtype, g._device)


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = shape[0]
    for s in shape:
        if type(s) is not int:
            return tuple([int(s) for s in shape])
    return tuple(shape)


def infer_shape(shape: tuple, numel: int, op: str = "view") -> tuple:
    """Resolve one -1 in `shape` for a tensor of `numel` elements, with torch's error messages."""
    if -1 not in shape and math.prod(shape) == numel and min(shape, default=0) >= 0:
        return shape  # the common case: every size given
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    if neg:
        rest = math.prod(s for s in shape if s != -1)
        if rest == 0 and numel == 0:
            raise RuntimeError(
                f"cannot reshape tensor of 0 elements into shape {list(shape)} because the unspecified "
                "dimension size -1 can be any value and is ambiguous"
            )
        if rest == 0 or numel % rest:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // rest if s == -1 else s for s in shape)
    elif math.prod(shape) != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def broadcast_shapes(*shapes) -> Size:
    """The broadcast of the given shapes, or RuntimeError naming the mismatch (torch's wording)."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for k in range(1, len(s) + 1):
            a, b = out[ndim - k], s[len(s) - k]
            if a == b or b == 1:
                continue
            if a == 1:
                out[ndim - k] = b
            else:
                raise RuntimeError(
                    f"The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton "
                    f"dimension {ndim - k}"
                )
    return Size(out)


# ------------------------------------------------------------------------------------------ views


class View(Op):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.in_shape = a.shape
        try:
            return ctx.be.reshape_view(a, shape)
        except (ValueError, AttributeError):
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (at least one dimension spans "
                f"across two contiguous subspaces). Use .reshape(...) instead. (input shape {list(a.shape)}, "
                f"requested {list(shape)})"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return (_reshaped_grad(ctx, g, ctx.in_shape),)


class Reshape(Op):
    """Reshape: a view when the strides allow it, else a copy."""

    node_name = "ViewBackward0"
    is_view = "maybe"

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.in_shape = a.shape
        try:
            out = ctx.be.reshape_view(a, shape)
            ctx.aliased = True
            return out
        except (ValueError, AttributeError):
            return ctx.xp.reshape(a, shape)

    @staticmethod
    def backward(ctx, g):
        return (_reshaped_grad(ctx, g, ctx.in_shape),)


def view(t: Tensor, *shape) -> Tensor:
    """A view with a new shape (one -1 is inferred); fails when the strides can't express it."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, Size, int)):
        from .bits import view_dtype

        return view_dtype(t, shape[0])
    shape = infer_shape(_shape_arg(shape), t._data.size)
    return dispatch(View, (t,), {"shape": shape})


def reshape(t: Tensor, *shape) -> Tensor:
    """A tensor with the new shape: a view where possible, else a copy."""
    shape = infer_shape(_shape_arg(shape), t._data.size, "reshape")
    if shape == t._data.shape:
        return dispatch(View, (t,), {"shape": shape})
    return dispatch(Reshape, (t,), {"shape": shape})


def view_as(t: Tensor, other: Tensor) -> Tensor:
    return view(t, other.shape)


def reshape_as(t: Tensor, other: Tensor) -> Tensor:
    return reshape(t, other.shape)


class Permute(Op):
    is_view = True

    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        if STATE.enabled:
            return (g.permute(inv),)
        return (_wrap(g._data.transpose(tuple(inv)), g._dtype, g._device),)


def permute(t: Tensor, *dims) -> Tensor:
    """A view with the dimensions reordered."""
    dims = _shape_arg(dims)
    n = t._data.ndim
    if len(dims) != n:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {n} is not equal to len(dims) = {len(dims)}"
        )
    dims = tuple(_wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return dispatch(Permute, (t,), {"dims": dims})


class Transpose(Op):
    is_view = True

    @staticmethod
    def forward(ctx, a, dim0=0, dim1=1):
        ctx.dims = (dim0, dim1)
        return a.swapaxes(dim0, dim1)

    @staticmethod
    def backward(ctx, g):
        if STATE.enabled:
            return (g.transpose(*ctx.dims),)
        return (_wrap(g._data.swapaxes(*ctx.dims), g._dtype, g._device),)


def transpose(t: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with dims dim0 and dim1 swapped."""
    n = t._data.ndim
    d0, d1 = _wrap_dim(dim0, n), _wrap_dim(dim1, n)
    if n == 0 or d0 == d1:
        return dispatch(View, (t,), {"shape": t._data.shape})
    return dispatch(Transpose, (t,), {"dim0": d0, "dim1": d1})


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose of a tensor of at most 2 dims."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    if input._data.ndim < 2:
        return dispatch(View, (input,), {"shape": input._data.shape})
    return transpose(input, 0, 1)


def adjoint(t_: Tensor) -> Tensor:
    return transpose(t_, -2, -1)


def T(t_: Tensor) -> Tensor:
    n = t_._data.ndim
    return permute(t_, tuple(range(n - 1, -1, -1))) if n >= 2 else t_


def mT(t_: Tensor) -> Tensor:
    if t_._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(t_, -2, -1)


def movedim(t_: Tensor, source, destination) -> Tensor:
    n = t_._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain the same number "
            f"of dims as destination ({list(dst)} dims)"
        )
    src = [_wrap_dim(d, n) for d in src]
    dst = [_wrap_dim(d, n) for d in dst]
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({ds})")
    order = [d for d in range(n) if d not in src]
    perm = [None] * n
    for s, d in zip(src, dst):
        perm[d] = s
    it = iter(order)
    perm = [p if p is not None else next(it) for p in perm]
    return permute(t_, perm)


moveaxis = movedim


class Squeeze(Op):
    is_view = True

    @staticmethod
    def forward(ctx, a, dims=None):
        ctx.in_shape = a.shape
        if dims is None:
            return a.reshape(tuple(s for s in a.shape if s != 1)) if a.ndim else a.view()
        dims = tuple(d for d in dims if a.shape[d] == 1)
        return a.squeeze(dims) if dims else a.view()

    @staticmethod
    def backward(ctx, g):
        return (_reshaped_grad(ctx, g, ctx.in_shape),)


def squeeze(t_: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all, or the given dim / dims that have size 1)."""
    if dim is None:
        return dispatch(Squeeze, (t_,))
    n = t_._data.ndim
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(sorted({_wrap_dim(d, n) for d in dims}))
    if n == 0:
        dims = ()
    return dispatch(Squeeze, (t_,), {"dims": dims})


def unsqueeze_stride(shape, strides, d: int, itemsize: int) -> int:
    """torch's stride (in bytes) for a size-1 dim inserted at `d`: size * stride of the dim it displaces."""
    return itemsize if d >= len(shape) else shape[d] * strides[d]


class Unsqueeze(Op):
    is_view = True

    @staticmethod
    def forward(ctx, a, dim=0):
        ctx.dim = dim
        st = unsqueeze_stride(a.shape, a.strides, dim, a.itemsize)
        return ctx.be.strided_view(
            a, a.shape[:dim] + (1,) + a.shape[dim:], a.strides[:dim] + (st,) + a.strides[dim:]
        )

    @staticmethod
    def backward(ctx, g):
        if STATE.enabled:
            return (g.squeeze(ctx.dim),)
        return (_wrap(g._data.squeeze(ctx.dim), g._dtype, g._device),)


def unsqueeze(t_: Tensor, dim: int) -> Tensor:
    """A view with a size-1 dim inserted at `dim`."""
    return dispatch(Unsqueeze, (t_,), {"dim": _wrap_dim(dim, t_._data.ndim + 1)})


class Expand(Op):
    """Broadcast view (read-only, like torch's expanded tensors). The engine sums the grad back."""

    is_view = True

    @staticmethod
    def forward(ctx, a, shape=()):
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return (g,)


def expand(t_: Tensor, *sizes) -> Tensor:
    """A broadcast view with `sizes` (-1 keeps a dim); new dims may be added in front."""
    sizes = _shape_arg(sizes)
    shape = t_._data.shape
    n_new = len(sizes) - len(shape)
    if n_new < 0:
        raise RuntimeError(
            f"expand({t_._dtype}{{{list(shape)}}}, size={list(sizes)}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(shape)})"
        )
    out = []
    for i, s in enumerate(sizes):
        if i < n_new:
            if s < 0:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension {i}")
            out.append(s)
            continue
        cur = shape[i - n_new]
        if s == -1:
            out.append(cur)
        elif cur == 1 or cur == s:
            out.append(s)
        else:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at non-singleton "
                f"dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}"
            )
    out = tuple(out)
    if out == shape:
        return dispatch(View, (t_,), {"shape": shape})
    return dispatch(Expand, (t_,), {"shape": out})


def expand_as(t_: Tensor, other: Tensor) -> Tensor:
    return expand(t_, other.shape)


def broadcast_to(t_: Tensor, shape) -> Tensor:
    return expand(t_, tuple(shape))


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(x.shape for x in tensors))
    return tuple(expand(x, shape) for x in tensors)


class AsStrided(Op):
    """A view with the given shape, element strides and element offset into `storage`'s memory (input 0's own
    memory when storage is None). The gradient reaches only the elements of input 0, as in torch."""

    is_view = True
    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, size=(), stride=(), offset=0, storage=None):
        be = ctx.be
        isz = a.itemsize
        if storage is None:
            storage, in_off = a, 0
        else:
            in_off = be.byte_offset(a, storage) // isz
        in_geom = (a.shape, tuple(s // isz for s in a.strides), in_off)
        ctx.geom = (storage.size, in_geom, (size, stride, offset))
        out = be.as_strided(storage, size, tuple(s * isz for s in stride), offset * isz)
        if any(st == 0 and sz > 1 for sz, st in zip(size, stride)):
            if hasattr(out.flags, "writeable"):  # NumPy; CuPy has no read-only arrays (dispatch checks strides)
                out.flags.writeable = False  # internal overlap: in-place writes are refused, as in torch
        return out

    @staticmethod
    def backward(ctx, g):
        return (dispatch(AsStridedScatter, (g,), {"geom": ctx.geom}),)


class AsStridedScatter(Op):
    """Backward of as_strided: the grad scattered (accumulated where windows overlap) into a zero storage,
    read back through input 0's geometry."""

    @staticmethod
    def forward(ctx, g, geom=None):
        numel, in_geom, win_geom = geom
        ctx.geom = geom
        z = _StorageScatter.forward(ctx, g, numel, win_geom)
        in_shape, in_stride, in_off = in_geom
        isz = g.itemsize
        return ctx.be.as_strided(z, in_shape, tuple(s * isz for s in in_stride), in_off * isz).copy()

    @staticmethod
    def backward(ctx, gg):
        numel, in_geom, (size, stride, offset) = ctx.geom
        st = dispatch(_StorageScatter, (gg,), {"numel": numel, "geom": in_geom})
        return (dispatch(AsStrided, (st,), {"size": size, "stride": stride, "offset": offset}).contiguous(),)


class _StorageScatter(Op):
    """A zero 1-D storage of `numel` elements with `g` written (accumulated where it overlaps) at geom."""

    node_name = "AsStridedScatterBackward0"

    @staticmethod
    def forward(ctx, g, numel=0, geom=((), (), 0)):
        size, stride, offset = geom
        ctx.sgeom = geom
        be = ctx.be
        isz = g.itemsize
        z = ctx.xp.zeros(max(numel, 1), dtype=g.dtype)
        win = be.as_strided(z, size, tuple(s * isz for s in stride), offset * isz)
        if _overlapping(size, stride):
            if ctx.xp.__name__ == "numpy":
                be.add_at(win, (), g)
            else:  # a GPU scatter through an overlapping view races: scatter to flat storage positions
                xp = ctx.xp
                pos = xp.full(size, offset, dtype=xp.int64)
                for d, (n, st) in enumerate(zip(size, stride)):
                    pos += xp.arange(n, dtype=xp.int64).reshape((1,) * d + (n,) + (1,) * (len(size) - d - 1)) * st
                be.add_at(z, pos.reshape(-1), xp.ascontiguousarray(g).reshape(-1))
        else:
            win[...] = g
        return z

    @staticmethod
    def backward(ctx, gg):
        size, stride, offset = ctx.sgeom
        out = dispatch(AsStrided, (gg.contiguous(),), {"size": size, "stride": stride, "offset": offset})
        return (out.contiguous(),)


def _overlapping(size, stride) -> bool:
    dims = sorted((abs(st), sz) for sz, st in zip(size, stride) if sz > 1)
    span = 1
    for st, sz in dims:
        if st < span:
            return True
        span = st * sz
    return False


def as_strided(t_: Tensor, size, stride, storage_offset=None) -> Tensor:
    """A view with explicit size/stride/storage_offset (in elements) over the memory of `t_`'s storage."""
    base = t_._base if t_._base is not None else t_
    off = t_.storage_offset() if storage_offset is None else int(storage_offset)
    need = off + sum((sz - 1) * st for sz, st in zip(size, stride) if sz > 0) + 1
    if any(sz == 0 for sz in size):
        need = 0
    if need > base._data.size:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {off}, and itemsize "
            f"{base._data.itemsize} requiring a storage size of {need * base._data.itemsize} are out of bounds "
            f"for storage of size {base._data.nbytes}"
        )
    kw = {"size": tuple(int(v) for v in size), "stride": tuple(int(v) for v in stride), "offset": off}
    if t_ is not base:
        kw["storage"] = base
    return dispatch(AsStrided, (t_,), kw)


class Diagonal(Op):
    is_view = True

    @staticmethod
    def forward(ctx, a, offset=0, dim1=0, dim2=1):
        ctx.args = (a.shape, offset, dim1, dim2)
        n1, n2 = a.shape[dim1], a.shape[dim2]
        s1, s2 = a.strides[dim1], a.strides[dim2]
        if offset >= 0:
            length = max(0, min(n1, n2 - offset))
        else:
            length = max(0, min(n1 + offset, n2))
        keep = [d for d in range(a.ndim) if d not in (dim1, dim2)]
        shape = tuple(a.shape[d] for d in keep) + (length,)
        strides = tuple(a.strides[d] for d in keep) + (s1 + s2,)
        if length:
            # Start at the diagonal's first element through a basic slice, then restride from there.
            idx = [slice(None)] * a.ndim
            idx[dim2 if offset >= 0 else dim1] = slice(abs(offset), None)
            a = a[tuple(idx)]
        return ctx.be.strided_view(a, shape, strides)

    @staticmethod
    def backward(ctx, g):
        shape, offset, dim1, dim2 = ctx.args
        return (
            dispatch(DiagonalScatter, (g,), {"shape": shape, "offset": offset, "dim1": dim1, "dim2": dim2}),
        )


class DiagonalScatter(Op):
    @staticmethod
    def forward(ctx, g, shape=(), offset=0, dim1=0, dim2=1):
        ctx.args = (offset, dim1, dim2)
        z = ctx.xp.zeros(shape, dtype=g.dtype)
        d = Diagonal.forward(ctx, z, offset, dim1, dim2)
        ctx.args = (offset, dim1, dim2)
        d[...] = g
        return z

    @staticmethod
    def backward(ctx, gg):
        offset, dim1, dim2 = ctx.args
        return (diagonal(gg, offset, dim1, dim2),)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal (w.r.t. dim1, dim2) appended as the last dim."""
    n = input._data.ndim
    d1, d2 = _wrap_dim(dim1, n), _wrap_dim(dim2, n)
    if n < 2:
        raise RuntimeError(f"diagonal dimensions requires ndim larger than 1, got {n}")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return dispatch(Diagonal, (input,), {"offset": int(offset), "dim1": d1, "dim2": d2})


class Unfold(Op):
    """Sliding windows of `size` every `step` along `dim`, as a new last dim (a view)."""

    is_view = True

    @staticmethod
    def forward(ctx, a, dim=0, size=1, step=1):
        ctx.args = (a.shape, dim, size, step)
        n = (a.shape[dim] - size) // step + 1 if a.ndim else 1
        if a.ndim == 0:
            return ctx.be.strided_view(a, (size,), (0,))
        shape = a.shape[:dim] + (n,) + a.shape[dim + 1 :] + (size,)
        strides = a.strides[:dim] + (a.strides[dim] * step,) + a.strides[dim + 1 :] + (a.strides[dim],)
        return ctx.be.strided_view(a, shape, strides)

    @staticmethod
    def backward(ctx, g):
        shape, dim, size, step = ctx.args
        return (dispatch(UnfoldBackward, (g,), {"shape": shape, "dim": dim, "size": size, "step": step}),)


class UnfoldBackward(Op):
    @staticmethod
    def forward(ctx, g, shape=(), dim=0, size=1, step=1):
        ctx.args = (dim, size, step)
        xp = ctx.xp
        z = xp.zeros(shape, dtype=g.dtype)
        if len(shape) == 0:
            return z + g.sum()
        n = g.shape[dim]
        for k in range(size):
            idx = [slice(None)] * len(shape)
            idx[dim] = slice(k, k + step * (n - 1) + 1, step)
            z[tuple(idx)] += g[..., k]
        return z

    @staticmethod
    def backward(ctx, gg):
        dim, size, step = ctx.args
        return (gg.unfold(dim, size, step),)


def unfold(t_: Tensor, dimension: int, size: int, step: int) -> Tensor:
    n = t_._data.ndim
    d = _wrap_dim(dimension, n)
    length = t_._data.shape[d] if n else 1
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return dispatch(Unfold, (t_,), {"dim": d, "size": int(size), "step": int(step)})


def flatten(t_: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (a view when possible)."""
    n = t_._data.ndim
    if n == 0:
        return reshape(t_, (1,))
    s, e = _wrap_dim(start_dim, n), _wrap_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return t_
    shape = t_._data.shape
    return reshape(t_, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def unflatten(t_: Tensor, dim: int, sizes) -> Tensor:
    """Split dim `dim` into `sizes` (one may be -1)."""
    n = t_._data.ndim
    d = _wrap_dim(dim, n)
    sizes = tuple(sizes)
    if len(sizes) == 0:
        raise RuntimeError("unflatten: sizes must be non-empty")
    inner = infer_shape(sizes, t_._data.shape[d], "unflatten")
    shape = t_._data.shape
    return reshape(t_, shape[:d] + inner + shape[d + 1 :])


def ravel(t_: Tensor) -> Tensor:
    return reshape(t_, (-1,))


class SumToSize(Op):
    """Sum a broadcast tensor down to `shape` (the engine uses this to un-broadcast gradients)."""

    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.in_shape = a.shape
        lead = a.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and a.shape[lead + i] != 1
        )
        if not axes:
            return a.reshape(shape)
        if a.itemsize == 2 and a.dtype.kind == "f":  # float16: accumulate in float32, as torch
            return a.sum(axis=axes, dtype="float32").astype(a.dtype).reshape(shape)
        if a.itemsize == 2 and a.dtype.kind == "V":  # ml_dtypes' bfloat16: the same, through the backend's cast
            be = ctx.be
            return be.cast(be.cast(a, np.dtype(np.float32)).sum(axis=axes), a.dtype).reshape(shape)
        return a.sum(axis=axes).reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.expand(ctx.in_shape),)


def sum_to_size(t_: Tensor, *size) -> Tensor:
    """Sum `t_` to `size`, which `t_`'s shape must be expandable from."""
    shape = _shape_arg(size)
    if tuple(t_._data.shape) == shape:
        return t_
    try:
        if tuple(broadcast_shapes(shape, t_._data.shape)) != tuple(t_._data.shape):
            raise RuntimeError
    except RuntimeError:
        raise RuntimeError(
            f"size {{{list(shape)}}} is not expandable to size {{{list(t_._data.shape)}}}."
        ) from None
    return dispatch(SumToSize, (t_,), {"shape": shape})


def atleast_1d(*tensors):
    res = tuple(reshape(x, (1,)) if x.dim() == 0 else x for x in _flat(tensors))
    return res[0] if len(res) == 1 else res


def atleast_2d(*tensors):
    res = []
    for x in _flat(tensors):
        if x.dim() == 0:
            x = reshape(x, (1, 1))
        elif x.dim() == 1:
            x = unsqueeze(x, 0)
        res.append(x)
    return res[0] if len(res) == 1 else tuple(res)


def atleast_3d(*tensors):
    res = []
    for x in _flat(tensors):
        if x.dim() == 0:
            x = reshape(x, (1, 1, 1))
        elif x.dim() == 1:
            x = reshape(x, (1, x.shape[0], 1))
        elif x.dim() == 2:
            x = unsqueeze(x, -1)
        res.append(x)
    return res[0] if len(res) == 1 else tuple(res)


def _flat(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tensors


__all__ = [
    "T",
    "adjoint",
    "as_strided",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_shapes",
    "broadcast_tensors",
    "broadcast_to",
    "diagonal",
    "expand",
    "expand_as",
    "flatten",
    "mT",
    "moveaxis",
    "movedim",
    "permute",
    "ravel",
    "reshape",
    "reshape_as",
    "squeeze",
    "sum_to_size",
    "swapaxes",
    "swapdims",
    "t",
    "transpose",
    "unflatten",
    "unfold",
    "unsqueeze",
    "view",
    "view_as",
]
