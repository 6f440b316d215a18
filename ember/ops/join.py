"""Joining, splitting and rearranging: cat/stack, split/chunk/unbind/tensor_split, narrow/select, flip, roll,
tril/triu, repeat/tile/repeat_interleave, diag/diag_embed, meshgrid."""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from ._dispatch import dispatch
from .index import getitem
from .op import SAME, Op
from .shape import reshape, unsqueeze


def _tensor_seq(tensors, fn: str):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fn}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError(f"{fn}(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{fn}(): expected Tensor as element {i} in argument 0, but got {type(x).__name__}"
            )
    return tensors


class Cat(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] if a.ndim else 0 for a in arrays]
        return ctx.xp.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        out = []
        start = 0
        for size in ctx.sizes:
            out.append(g.narrow(ctx.dim, start, size))
            start += size
        return tuple(out)


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along an existing dim (legacy 1-D empty tensors are skipped, as in torch)."""
    tensors = _tensor_seq(tensors, "cat")
    keep = [x for x in tensors if not (x._data.ndim == 1 and x._data.shape[0] == 0)]
    if not keep:
        from .factory import empty

        res = tensors[0]
        return empty(0, dtype=_promote_all(tensors), device=res._device)
    ref = keep[0]
    n = ref._data.ndim
    if n == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = _wrap_dim(dim, n)
    for i, x in enumerate(keep):
        if x._data.ndim != n:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {n} and {x._data.ndim}")
        for k in range(n):
            if k != d and x._data.shape[k] != ref._data.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {ref._data.shape[k]} but got "
                    f"size {x._data.shape[k]} for tensor number {i} in the list."
                )
    r = dispatch(Cat, tuple(keep), {"dim": d})
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


concat = concatenate = cat


def _promote_all(tensors):
    dt = tensors[0]._dtype
    for x in tensors[1:]:
        dt = D.promote_types(dt, x._dtype)
    return dt


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    tensors = _tensor_seq(tensors, "stack")
    shape = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                f"{list(x._data.shape)} at entry {i}"
            )
    d = _wrap_dim(dim, len(shape) + 1)
    r = cat([unsqueeze(x, d) for x in tensors], d)
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


def hstack(tensors) -> Tensor:
    from .shape import atleast_1d

    ts = [atleast_1d(x) for x in tensors]
    return cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors) -> Tensor:
    from .shape import atleast_2d

    return cat([atleast_2d(x) for x in tensors], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    from .shape import atleast_3d

    return cat([atleast_3d(x) for x in tensors], 2)


def column_stack(tensors) -> Tensor:
    ts = [reshape(x, (-1, 1)) if x.dim() <= 1 else x for x in tensors]
    return cat(ts, 1)


# ------------------------------------------------------------------------------------------ split / views


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """A view of `length` elements from `start` along `dim`."""
    n = input._data.ndim
    if n == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, n)
    size = input._data.shape[d]
    start = int(start.item()) if isinstance(start, Tensor) else int(start)
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    key = (slice(None),) * d + (slice(start, start + length),)
    return getitem(input, key)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """A view of input[..., index, ...] at `dim` (that dim removed)."""
    n = input._data.ndim
    if n == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, n)
    size = input._data.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at dimension {d}"
        )
    return getitem(input, (slice(None),) * d + (index,))


def split(tensor: Tensor, split_size_or_sections, dim: int = 0):
    """Views of chunks of size `split_size` (last may be smaller), or of the given section sizes."""
    n = tensor._data.ndim
    d = _wrap_dim(dim, n)
    size = tensor._data.shape[d] if n else 0
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0 or (step == 0 and size != 0):
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}"
            )
        if size == 0:
            return (narrow(tensor, d, 0, 0),)
        return tuple(narrow(tensor, d, s, min(step, size - s)) for s in range(0, size, step))
    sections = [int(s) for s in split_size_or_sections]
    if sum(sections) != size:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at dimension {d}), "
            f"but got split_sizes={sections}"
        )
    out, start = [], 0
    for s in sections:
        out.append(narrow(tensor, d, start, s))
        start += s
    return tuple(out)


def split_with_sizes(tensor, split_sizes, dim=0):
    return split(tensor, list(split_sizes), dim)


def chunk(input: Tensor, chunks: int, dim: int = 0):
    """Split into `chunks` pieces of ceil(size / chunks) (fewer when they run out)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    step = max(1, math.ceil(size / chunks)) if size else 1
    if size == 0:
        return tuple(narrow(input, d, 0, 0) for _ in range(chunks))
    return split(input, step, d)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0):
    """Split into n nearly equal parts, or at the given indices."""
    d = _wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        q, r = divmod(size, n)
        sizes = [q + 1] * r + [q] * (n - r)
        return split(input, sizes, d)
    bounds = (
        [0] + [min(max(int(i) if i >= 0 else int(i) + size, 0), size) for i in indices_or_sections] + [size]
    )
    return tuple(
        narrow(input, d, bounds[k], max(0, bounds[k + 1] - bounds[k])) for k in range(len(bounds) - 1)
    )


def unbind(input: Tensor, dim: int = 0):
    """Views of every slice along `dim`, that dim removed."""
    d = _wrap_dim(dim, input._data.ndim)
    return tuple(select(input, d, i) for i in range(input._data.shape[d]))


def hsplit(input, sections):
    return tensor_split(input, sections, 1 if input.dim() > 1 else 0)


def vsplit(input, sections):
    return tensor_split(input, sections, 0)


# ------------------------------------------------------------------------------------------ rearranging


class Flip(Op):
    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.dims = dims
        return ctx.xp.flip(a, dims).copy() if dims else a.copy()

    @staticmethod
    def backward(ctx, g):
        return (g.flip(ctx.dims),)


def flip(input: Tensor, dims) -> Tensor:
    """A copy with the order of elements reversed along `dims`."""
    n = input._data.ndim
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(_wrap_dim(d, n) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("dims has duplicates")
    return dispatch(Flip, (input,), {"dims": dims})


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


class Roll(Op):
    @staticmethod
    def forward(ctx, a, shifts=(), dims=None):
        ctx.shifts, ctx.dims = shifts, dims
        return ctx.xp.roll(a, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return (dispatch(Roll, (g,), {"shifts": neg, "dims": ctx.dims}),)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Rotate elements along dims (flattened when dims is None)."""
    if dims is None:
        s = shifts if isinstance(shifts, int) else tuple(shifts)
        if not isinstance(s, int) and len(s) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(s)}, dims:0")
        return dispatch(Roll, (input,), {"shifts": s if isinstance(s, int) else s[0], "dims": None})
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(_wrap_dim(d, input._data.ndim) for d in dims)
    return dispatch(Roll, (input,), {"shifts": shifts, "dims": dims})


class Tril(Op):
    @staticmethod
    def forward(ctx, a, diagonal=0, upper=False):
        ctx.diagonal, ctx.upper = diagonal, upper
        return (ctx.xp.triu if upper else ctx.xp.tril)(a, diagonal)

    @staticmethod
    def backward(ctx, g):
        return (dispatch(Tril, (g,), {"diagonal": ctx.diagonal, "upper": ctx.upper}),)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle (on and below `diagonal`) of the last two dims; the rest zeroed."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return dispatch(Tril, (input,), {"diagonal": int(diagonal)})


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle (on and above `diagonal`) of the last two dims; the rest zeroed."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return dispatch(Tril, (input,), {"diagonal": int(diagonal), "upper": True})


class Repeat(Op):
    @staticmethod
    def forward(ctx, a, repeats=()):
        ctx.in_shape = a.shape
        ctx.repeats = repeats
        lead = len(repeats) - a.ndim
        return ctx.xp.tile(a.reshape((1,) * lead + a.shape), repeats)

    @staticmethod
    def backward(ctx, g):
        reps = ctx.repeats
        in_shape = ctx.in_shape
        lead = len(reps) - len(in_shape)
        full = (1,) * lead + tuple(in_shape)
        inter = []
        for r, s in zip(reps, full):
            inter += [r, s]
        gs = g.reshape(inter).sum(dim=tuple(range(0, 2 * len(reps), 2)))
        return (gs.reshape(in_shape),)


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile the tensor `sizes[i]` times along each dim (extra leading sizes add dims)."""
    from .shape import _shape_arg

    sizes = _shape_arg(sizes)
    if len(sizes) < input._data.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    return dispatch(Repeat, (input,), {"repeats": sizes})


def tile(input: Tensor, dims) -> Tensor:
    dims = tuple(dims)
    if len(dims) < input._data.ndim:
        dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


class RepeatInterleave(Op):
    tensor_attrs = True

    @staticmethod
    def forward(ctx, a, repeats=1, dim=0):
        ctx.dim = dim
        ctx.repeats = repeats
        ctx.in_shape = a.shape
        return ctx.xp.repeat(a, repeats, axis=dim)

    @staticmethod
    def backward(ctx, g):
        dim, reps = ctx.dim, ctx.repeats
        n = ctx.in_shape[dim]
        if isinstance(reps, int):
            shape = list(ctx.in_shape)
            shape[dim : dim + 1] = [n, reps]
            return (g.reshape(shape).sum(dim + 1),)
        from .factory import tensor

        idx = np.repeat(np.arange(n), np.asarray(reps))
        z = g.new_zeros(ctx.in_shape)
        return (z.index_add(dim, tensor(idx, device=g.device), g),) if n else (z,)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element `repeats` times (int or per-element tensor) along dim (flattened if None)."""
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated by count
        from .factory import arange

        return repeat_interleave(arange(input.numel(), device=input._device), input, 0)
    x = input
    if dim is None:
        x = reshape(input, (-1,))
        d = 0
    else:
        d = _wrap_dim(dim, input._data.ndim)
    if isinstance(repeats, Tensor):
        if repeats._data.ndim == 0 or repeats.numel() == 1:
            repeats = int(repeats.reshape(-1)[0].item())
        else:
            if repeats.numel() != x.shape[d]:
                raise RuntimeError("repeats must have the same size as input along dim")
            if bool((repeats < 0).any()):
                raise RuntimeError("repeats can not be negative")
            repeats = tuple(int(r) for r in repeats.tolist())
    elif repeats < 0:
        raise RuntimeError("repeats can not be negative")
    return dispatch(RepeatInterleave, (x,), {"repeats": repeats, "dim": d})


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D -> square matrix with it on `diagonal`; 2-D -> copy of that diagonal."""
    if input._data.ndim == 1:
        return diag_embed(input, diagonal)
    if input._data.ndim == 2:
        from .shape import diagonal as _diagonal

        return _diagonal(input, diagonal).clone()
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input._data.ndim}D")


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims dim1, dim2) with the last dim of input on the `offset` diagonal."""
    from .shape import DiagonalScatter

    n = input.shape[-1] + abs(offset)
    out_nd = input._data.ndim + 1
    d1, d2 = _wrap_dim(dim1, out_nd), _wrap_dim(dim2, out_nd)
    batch = list(input.shape[:-1])
    shape = [0] * out_nd
    rest = iter(batch)
    for k in range(out_nd):
        shape[k] = n if k in (d1, d2) else next(rest)
    return dispatch(
        DiagonalScatter, (input,), {"shape": tuple(shape), "offset": offset, "dim1": d1, "dim2": d2}
    )


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    return diag_embed(reshape(input, (-1,)), offset)


def meshgrid(*tensors, indexing: str | None = None):
    """Coordinate grids; indexing 'ij' (torch's default) or 'xy'."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(x.numel() for x in ts)
    n = len(ts)
    out = []
    for i, x in enumerate(ts):
        view_shape = [1] * n
        view_shape[i] = -1
        out.append(reshape(x, view_shape).expand(shape))
    if swap:
        out = [o.transpose(0, 1) for o in out]
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def block_diag(*tensors) -> Tensor:
    from .factory import zeros

    mats = [reshape(x, (1, -1)) if x.dim() < 2 else x for x in tensors]
    rows = sum(m.shape[0] for m in mats)
    cols = sum(m.shape[1] for m in mats)
    dt = _promote_all(mats)
    out = zeros(rows, cols, dtype=dt, device=mats[0].device)
    r = c = 0
    parts = []
    for m in mats:
        parts.append((r, c, m))
        r += m.shape[0]
        c += m.shape[1]
    for r, c, m in parts:
        out[r : r + m.shape[0], c : c + m.shape[1]] = m.to(dt)
    return out


def cartesian_prod(*tensors) -> Tensor:
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1) if len(tensors) > 1 else tensors[0]


__all__ = [
    "block_diag",
    "cartesian_prod",
    "cat",
    "chunk",
    "column_stack",
    "concat",
    "concatenate",
    "diag",
    "diag_embed",
    "diagflat",
    "dstack",
    "flip",
    "fliplr",
    "flipud",
    "hsplit",
    "hstack",
    "meshgrid",
    "narrow",
    "repeat",
    "repeat_interleave",
    "roll",
    "row_stack",
    "select",
    "split",
    "split_with_sizes",
    "stack",
    "tensor_split",
    "tile",
    "tril",
    "triu",
    "unbind",
    "vsplit",
    "vstack",
]
