"""Joining, splitting and rearranging: cat/stack, split/chunk/unbind/tensor_split, narrow/select, flip, roll,
tril/triu, repeat/tile/repeat_interleave, diag/diag_embed, meshgrid."""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap_dim
from .._trace_hooks import traceable
from ._dispatch import dispatch
from .index import getitem
from .op import SAME, Op
from .shape import reshape, unsqueeze


def _tensor_seq(tensors, fn: str, empty_error=RuntimeError):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = tuple(tensors)
    if not tensors:
        if empty_error is ValueError:
            raise ValueError(f"torch.{fn}(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{fn} expects a non-empty TensorList")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{fn}(): expected Tensor as element {i} in argument 0, but got {type(x).__name__}"
            )
    return tensors


def _legacy_empty(a) -> bool:
    return a.ndim == 1 and a.shape[0] == 0


class Cat(Op):
    """Concatenation; legacy 1-D empty inputs take part in type promotion but are otherwise skipped."""

    promote = SAME

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        skip = [_legacy_empty(a) for a in arrays]
        if all(skip):
            skip = [False] * len(arrays)
        keep = [a for a, sk in zip(arrays, skip) if not sk]
        ctx.sizes = [None if sk else a.shape[dim] for a, sk in zip(arrays, skip)]
        return ctx.xp.concatenate(keep, axis=dim)

    @staticmethod
    def backward(ctx, g):
        out = []
        start = 0
        for size in ctx.sizes:
            if size is None:
                out.append(None)
                continue
            out.append(g.narrow(ctx.dim, start, size))
            start += size
        return tuple(out)


@traceable("E.cat")
def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along an existing dim (legacy 1-D empty tensors are skipped, as in torch)."""
    tensors = _tensor_seq(tensors, "cat", ValueError)
    for i, x in enumerate(tensors):
        if x._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    keep = [x for x in tensors if not _legacy_empty(x._data)] or list(tensors)
    ref = keep[0]
    n = ref._data.ndim
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
    r = dispatch(Cat, tensors, {"dim": d})
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


@traceable("E.stack")
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
    """Concatenate column-wise (along dim 1, or dim 0 for 1-D inputs)."""
    from .shape import atleast_1d

    ts = [atleast_1d(x) for x in _tensor_seq(tensors, "hstack")]
    return cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate row-wise (inputs made at least 2-D)."""
    from .shape import atleast_2d

    return cat([atleast_2d(x) for x in _tensor_seq(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Concatenate depth-wise (inputs made at least 3-D)."""
    from .shape import atleast_3d

    return cat([atleast_3d(x) for x in _tensor_seq(tensors, "dstack")], 2)


def column_stack(tensors) -> Tensor:
    """Stack 0-D/1-D inputs as columns and concatenate 2-D ones along dim 1."""
    ts = [reshape(x, (-1, 1)) if x.dim() <= 1 else x for x in _tensor_seq(tensors, "column_stack")]
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
    length = int(length)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    if start < 0:
        start += size
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > size:
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
    if n == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _wrap_dim(dim, n)
    size = tensor._data.shape[d]
    if isinstance(split_size_or_sections, Tensor) and split_size_or_sections._data.ndim == 0:
        split_size_or_sections = int(split_size_or_sections.item())
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0 or (step == 0 and size != 0):
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}"
            )
        if size == 0:
            return _multi_output((narrow(tensor, d, 0, 0),))
        sizes = tuple(min(step, size - s) for s in range(0, size, step))
        return _multi_output(dispatch(SplitViews, (tensor,), {"dim": d, "sizes": sizes}))
    sections = [int(s) for s in split_size_or_sections]
    if sum(sections) != size:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at dimension {d}), "
            f"but got split_sizes={sections}"
        )
    if any(s < 0 for s in sections):
        out, start = [], 0
        for s in sections:
            out.append(narrow(tensor, d, start, s))
            start += s
        return _multi_output(tuple(out))
    return _multi_output(dispatch(SplitViews, (tensor,), {"dim": d, "sizes": tuple(sections)}))


class SplitViews(Op):
    """split/chunk as one op returning views; backward concatenates the pieces' grads (zeros where none)
    instead of each slice scattering a zero-padded full-size gradient."""

    node_name = "SplitWithSizesBackward0"
    is_view = True

    @staticmethod
    def forward(ctx, a, dim=0, sizes=()):
        ctx.dim, ctx.sizes = dim, sizes
        ctx.num_outputs = len(sizes)
        lead = (slice(None),) * dim
        out, start = [], 0
        for n in sizes:
            out.append(a[lead + (slice(start, start + n), Ellipsis)])
            start += n
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads):
        from .factory import zeros

        ref = next(g for g in grads if g is not None)
        parts = []
        for g, n in zip(grads, ctx.sizes):
            if g is None:
                shape = list(ref.shape)
                shape[ctx.dim] = n
                g = zeros(shape, dtype=ref.dtype, device=ref.device)
            parts.append(g)
        return (cat(parts, ctx.dim),)


def _multi_output(pieces: tuple) -> tuple:
    """Mark views made by an op that returns several views (torch refuses in-place ops on them in autograd)."""
    for p in pieces:
        if p._requires_grad:
            p.__dict__["_multi_output_view"] = True
    return pieces


def split_with_sizes(tensor, split_sizes, dim=0):
    return split(tensor, list(split_sizes), dim)


def chunk(input: Tensor, chunks: int, dim: int = 0):
    """Split into `chunks` pieces of ceil(size / chunks) (fewer when they run out)."""
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    step = max(1, math.ceil(size / chunks)) if size else 1
    if size == 0:
        return _multi_output(tuple(narrow(input, d, 0, 0) for _ in range(chunks)))
    return split(input, step, d)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0):
    """Split into n nearly equal parts, or at the given indices."""
    if input._data.ndim == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    if isinstance(indices_or_sections, Tensor):
        ios = indices_or_sections
        if ios._dtype is not D.int64:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                f"{D.SCALAR_NAME[ios._dtype]}"
            )
        if ios._data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional "
                f"tensor, but got a tensor with {ios._data.ndim} dims"
            )
        indices_or_sections = ios.tolist()
    d = _wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
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
    return _multi_output(
        tuple(narrow(input, d, bounds[k], max(0, bounds[k + 1] - bounds[k])) for k in range(len(bounds) - 1))
    )


def unbind(input: Tensor, dim: int = 0):
    """Views of every slice along `dim`, that dim removed."""
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap_dim(dim, input._data.ndim)
    return _multi_output(tuple(select(input, d, i) for i in range(input._data.shape[d])))


def _dir_split(input, sections, fn: str, min_dim: int, dim: int):
    n = input._data.ndim
    if n < min_dim:
        plural = "dimension" if min_dim == 1 else "dimensions"
        raise RuntimeError(
            f"torch.{fn} requires a tensor with at least {min_dim} {plural}, but got a tensor with {n} dimensions!"
        )
    if isinstance(sections, int):
        size = input._data.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(
                f"torch.{fn} attempted to split along dimension {dim}, but the size of the dimension {size} is "
                f"not divisible by the split_size {sections}!"
            )
    return tensor_split(input, sections, dim)


def hsplit(input, sections):
    """tensor_split along dim 1 (dim 0 for 1-D); an int must divide the size."""
    return _dir_split(input, sections, "hsplit", 1, 1 if input.dim() > 1 else 0)


def vsplit(input, sections):
    """tensor_split along dim 0 of a tensor of at least 2 dims."""
    return _dir_split(input, sections, "vsplit", 2, 0)


def dsplit(input, sections):
    """tensor_split along dim 2 of a tensor of at least 3 dims."""
    return _dir_split(input, sections, "dsplit", 3, 2)


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
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    if n == 0:
        dims = ()
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
    if not isinstance(shifts, int) and len(tuple(shifts)) == 0:
        raise RuntimeError("`shifts` required")
    if dims is not None and input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
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


@traceable("E.tril")
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle (on and below `diagonal`) of the last two dims; the rest zeroed."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return dispatch(Tril, (input,), {"diagonal": int(diagonal)})


@traceable("E.triu")
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

        _check_repeats(input, True)
        idx = arange(input.numel(), dtype=input._dtype, device=input._device)
        return repeat_interleave(idx, input, 0, output_size=output_size)
    if not isinstance(repeats, (int, Tensor)) or isinstance(repeats, bool):
        raise TypeError(
            f"repeat_interleave(): argument 'repeats' must be int or Tensor, not {type(repeats).__name__}"
        )
    x = input
    if dim is None:
        x = reshape(input, (-1,))
        d = 0
    else:
        d = _wrap_dim(dim, input._data.ndim)
    if isinstance(repeats, Tensor):
        _check_repeats(repeats, False)
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
    if output_size is not None:
        n = x._data.shape[d] if x._data.ndim else 1
        total = sum(repeats) if isinstance(repeats, tuple) else repeats * n
        if output_size != total:
            raise RuntimeError(
                f"repeat_interleave: Invalid output_size, expected {total} but got {output_size}"
            )
    return dispatch(RepeatInterleave, (x,), {"repeats": repeats, "dim": d})


def _check_repeats(repeats: Tensor, alone: bool) -> None:
    if not (repeats._dtype.is_floating_point or repeats._dtype.is_complex or repeats._dtype is D.bool_):
        if repeats._data.ndim > 1 or (alone and repeats._data.ndim != 1):
            raise RuntimeError(
                "repeat_interleave only accept 1D vector as repeat"
                if alone
                else "repeats must be 0-dim or 1-dim tensor"
            )
        return
    raise NotImplementedError(
        f"\"repeat_interleave_cpu\" not implemented for '{D.SCALAR_NAME[repeats._dtype]}'"
    )


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

    if input._data.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    n = input.shape[-1] + abs(offset)
    out_nd = input._data.ndim + 1
    d1, d2 = _wrap_dim(dim1, out_nd), _wrap_dim(dim2, out_nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
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
    ts = list(_tensor_seq(tensors, "meshgrid"))
    for x in ts:
        if x._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {x}")
        if x._dtype is not ts[0]._dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if x._device != ts[0]._device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
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
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def block_diag(*tensors) -> Tensor:
    """A block-diagonal matrix of the inputs (0-D/1-D inputs are treated as one row)."""
    from .factory import zeros

    if not tensors:
        return zeros(1, 0)
    for i, x in enumerate(tensors):
        if x.dim() > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has {x.dim()} "
                "dimensions"
            )
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
    """All combinations of the elements of 1-D tensors, one per row."""
    for x in tensors:
        if x.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(x.shape)}")
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
    "dsplit",
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
