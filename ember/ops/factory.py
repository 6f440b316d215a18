"""Creation functions: tensor, as_tensor, from_numpy, zeros/ones/full/empty(_like), arange, linspace, eye, ...

Every factory takes dtype=, device= and requires_grad=, and builds its array through ``dispatch`` (so export
tracing sees ``arange(T)`` and friends), on the backend of the requested device.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtype as D
from .._device import to_device
from .._size import Size
from .._tensor import Tensor, _wrap
from ..backend import get_backend
from ._dispatch import _default_device, dispatch
from .op import Op


def _size_arg(size, fn: str) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]), f(Size) and f(tensor_of_ints)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(
                f"{fn}(): argument 'size' must be tuple of ints, but found element of type {type(s).__name__}"
            )
        if s < 0:
            raise RuntimeError(f"{fn}(): Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dev(device):
    return to_device(device) if device is not None else _default_device()


class Full(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, shape=(), fill_value=0, dtype=None, device=None):
        return ctx.xp.full(shape, fill_value, dtype=dtype.np)


class Empty(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, shape=(), dtype=None, device=None):
        return ctx.xp.empty(shape, dtype=dtype.np)


def _fill_dtype(fill_value) -> D.dtype:
    if isinstance(fill_value, Tensor):
        return fill_value._dtype
    return D.scalar_dtype(fill_value)


def full(
    size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False
) -> Tensor:
    """A tensor of shape `size` filled with `fill_value` (dtype inferred from the value when not given)."""
    shape = _size_arg((size,), "full")
    dt = D.to_dtype(dtype) if dtype is not None else _fill_dtype(fill_value)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    t = dispatch(Full, (), {"shape": shape, "fill_value": fill_value, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    shape = _size_arg(size, "zeros")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(Full, (), {"shape": shape, "fill_value": 0, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    shape = _size_arg(size, "ones")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(Full, (), {"shape": shape, "fill_value": 1, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def empty(
    *size,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
    memory_format=None,
):
    shape = _size_arg(size, "empty")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(Empty, (), {"shape": shape, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def _like(fn_name, t, dtype, device):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn_name}(): argument 'input' must be Tensor, not {type(t).__name__}")
    return (D.to_dtype(dtype) if dtype is not None else t._dtype), (
        to_device(device) if device else t._device
    )


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    dt, dev = _like("zeros_like", input, dtype, device)
    return _finish(
        dispatch(Full, (), {"shape": input._data.shape, "fill_value": 0, "dtype": dt, "device": dev}),
        requires_grad,
    )


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    dt, dev = _like("ones_like", input, dtype, device)
    return _finish(
        dispatch(Full, (), {"shape": input._data.shape, "fill_value": 1, "dtype": dt, "device": dev}),
        requires_grad,
    )


def full_like(
    input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None
):
    dt, dev = _like("full_like", input, dtype, device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _finish(
        dispatch(
            Full, (), {"shape": input._data.shape, "fill_value": fill_value, "dtype": dt, "device": dev}
        ),
        requires_grad,
    )


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None):
    dt, dev = _like("empty_like", input, dtype, device)
    return _finish(
        dispatch(Empty, (), {"shape": input._data.shape, "dtype": dt, "device": dev}), requires_grad
    )


# ------------------------------------------------------------------------------------------- from data


def _infer_np(data):
    """Convert Python data to a NumPy array with torch's dtype inference (floats -> default dtype)."""
    if isinstance(data, np.ndarray):
        return data, D.from_numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        return np.asarray(data), D.from_numpy_dtype(data.dtype)
    if isinstance(data, (bool, int, float, complex)):
        dt = D.scalar_dtype(data)
        return np.asarray(data, dtype=dt.np), dt
    if isinstance(data, (list, tuple)):
        has_tensor = _contains_tensor(data)
        try:
            arr = np.asarray(data if not has_tensor else _tensors_to_lists(data))
        except ValueError as e:
            raise ValueError(
                f"tensor(): could not build a tensor from the given nested sequence: {e}"
            ) from None
        if arr.dtype == object:
            raise TypeError("tensor(): nested sequences must be rectangular and hold only numbers")
        kind = arr.dtype.kind
        if has_tensor:
            dt = _promote_tensors_in(data)
        elif kind == "b":
            dt = D.bool_
        elif kind in "iu":
            dt = D.int64
        elif kind == "f":
            dt = D._DEFAULT[0] if arr.dtype != np.float16 else D.float16
            if _all_np_scalars(data, np.floating):
                dt = D.from_numpy_dtype(arr.dtype)
        elif kind == "c":
            dt = D.complex64 if D._DEFAULT[0] is not D.float64 else D.complex128
        else:
            raise TypeError(f"tensor(): can't convert data of type {arr.dtype}")
        return arr, dt
    if hasattr(data, "__array__") or hasattr(data, "__dlpack__"):
        arr = np.asarray(data)
        return arr, D.from_numpy_dtype(arr.dtype)
    raise TypeError(f"tensor(): could not infer dtype of {type(data).__name__}")


def _contains_tensor(data) -> bool:
    for x in data:
        if isinstance(x, Tensor):
            return True
        if isinstance(x, (list, tuple)) and _contains_tensor(x):
            return True
    return False


def _tensors_to_lists(data):
    return [
        x.tolist() if isinstance(x, Tensor) else (_tensors_to_lists(x) if isinstance(x, (list, tuple)) else x)
        for x in data
    ]


def _promote_tensors_in(data) -> D.dtype:
    dt = None
    stack = [data]
    while stack:
        for x in stack.pop():
            if isinstance(x, (list, tuple)):
                stack.append(x)
                continue
            xd = x._dtype if isinstance(x, Tensor) else D.scalar_dtype(x)
            dt = xd if dt is None else D.promote_types(dt, xd)
    return dt


def _all_np_scalars(data, kind) -> bool:
    flat = data
    while flat and isinstance(flat[0], (list, tuple)):
        flat = flat[0]
    return bool(flat) and isinstance(flat[0], kind)


class FromData(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, data=None, dtype=None, device=None):
        return ctx.be.from_numpy(np.array(data, dtype=dtype.np, copy=True), device)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, scalars, NumPy arrays or tensors)."""
    if isinstance(data, Tensor):
        arr = data.detach().cpu()._data if data._device.type != "cpu" else data._data
        dt = data._dtype
    else:
        arr, dt = _infer_np(data)
    if dtype is not None:
        dt = D.to_dtype(dtype)
    t = dispatch(FromData, (), {"data": arr, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory with a tensor or NumPy array when dtype and device allow."""
    dt = D.to_dtype(dtype) if dtype is not None else None
    dev = to_device(device) if device is not None else None
    if isinstance(data, Tensor):
        return data.to(device=dev, dtype=dt) if (dt or dev) else data
    if isinstance(data, np.ndarray) and (dev is None or dev.type == "cpu"):
        t = from_numpy(data)
        return t.to(dt) if dt is not None else t
    return tensor(data, dtype=dt, device=dev)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with `ndarray` (writes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    try:
        dt = D.from_numpy_dtype(ndarray.dtype)
    except TypeError:
        raise TypeError(
            f"can't convert np.ndarray of type {ndarray.dtype}. The only supported types are: float64, float32, "
            "float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
        ) from None
    if dt.np != ndarray.dtype:
        raise TypeError(f"can't convert np.ndarray of type {ndarray.dtype} without a copy")
    from .._device import CPU

    return _wrap(ndarray, dt, CPU)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False) -> Tensor:
    dt = D.to_dtype(dtype)
    return _finish(from_numpy(np.frombuffer(buffer, dtype=dt.np, count=count, offset=offset)), requires_grad)


def _legacy_tensor_new(cls, *args, **kwargs):
    """torch.Tensor(...) legacy constructor: sizes give an uninitialised tensor, data gives a float copy."""
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
    if not args:
        t = empty(0, device=device)
    elif all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        t = empty(*args, device=device)
    elif len(args) == 1 and isinstance(args[0], Size):
        t = empty(args[0], device=device)
    elif len(args) == 1 and isinstance(args[0], Tensor):
        t = args[0].detach()
    elif len(args) == 1:
        t = tensor(args[0], dtype=D._DEFAULT[0], device=device)
    else:
        raise TypeError(f"Tensor(): could not interpret arguments {args!r}")
    if cls is not Tensor:
        return cls._from_tensor(t) if hasattr(cls, "_from_tensor") else t
    return t


# ------------------------------------------------------------------------------------------- ranges


class Arange(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, start=0, end=None, step=1, dtype=None, device=None):
        xp = ctx.xp
        n = _arange_len(start, end, step)
        if dtype.is_floating_point:
            vals = xp.arange(n, dtype=np.float64) * step + start
            return vals.astype(dtype.np)
        if all(isinstance(v, (int, np.integer)) for v in (start, end, step)):
            return xp.arange(start, end, step, dtype=dtype.np)
        return (xp.arange(n, dtype=np.float64) * step + start).astype(dtype.np)


def _arange_len(start, end, step) -> int:
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("arange(): upper bound and larger bound inconsistent with step sign")
    return max(0, math.ceil((end - start) / step))


def arange(
    start=0,
    end=None,
    step=1,
    *,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
) -> Tensor:
    """Values from start (inclusive) to end (exclusive) by step; int64 unless any bound is a float."""
    if end is None:
        start, end = 0, start
    vals = []
    for v in (start, end, step):
        if isinstance(v, Tensor):
            v = v.item()
        vals.append(v)
    start, end, step = vals
    if dtype is None:
        is_float = any(isinstance(v, float) or (isinstance(v, np.floating)) for v in vals)
        dt = D._DEFAULT[0] if is_float else D.int64
    else:
        dt = D.to_dtype(dtype)
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, float) and not math.isfinite(v):
            raise RuntimeError(f"arange(): unsupported range: {start} -> {end}")
        if not isinstance(v, numbers.Number):
            raise TypeError(f"arange(): argument '{name}' must be a number, not {type(v).__name__}")
    t = dispatch(Arange, (), {"start": start, "end": end, "step": step, "dtype": dt, "device": _dev(device)})
    return _finish(t, requires_grad)


class Linspace(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, start=0.0, end=1.0, steps=100, dtype=None, device=None, base=None):
        xp = ctx.xp
        if steps == 1:
            vals = xp.full((1,), start, dtype=np.float64)
        else:
            # torch's symmetric formula: the first half counts up from start, the second down from end.
            step = (end - start) / (steps - 1)
            i = xp.arange(steps, dtype=np.float64)
            half = steps // 2
            vals = xp.where(i < half, start + i * step, end - (steps - 1 - i) * step)
        if base is not None:
            vals = base**vals
        if dtype.is_floating_point or dtype.is_complex:
            return vals.astype(dtype.np)
        return xp.trunc(vals).astype(dtype.np) if base is None else vals.astype(dtype.np)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """`steps` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(
        Linspace, (), {"start": start, "end": end, "steps": int(steps), "dtype": dt, "device": _dev(device)}
    )
    return _finish(t, requires_grad)


def logspace(
    start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None, layout=None
):
    """base ** linspace(start, end, steps)."""
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(
        Linspace,
        (),
        {"start": start, "end": end, "steps": int(steps), "dtype": dt, "device": _dev(device), "base": base},
    )
    return _finish(t, requires_grad)


class Eye(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, n=1, m=None, dtype=None, device=None):
        return ctx.xp.eye(n, m, dtype=dtype.np)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """The n x m identity matrix."""
    if n < 0:
        raise RuntimeError(f"eye(): n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"eye(): m must be greater or equal to 0, got {m}")
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    t = dispatch(
        Eye, (), {"n": int(n), "m": None if m is None else int(m), "dtype": dt, "device": _dev(device)}
    )
    return _finish(t, requires_grad)


class TrilIndices(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, row=0, col=0, offset=0, upper=False, dtype=None, device=None):
        xp = ctx.xp
        r, c = (xp.triu_indices if upper else xp.tril_indices)(row, offset, col)
        return xp.stack([r, c]).astype(dtype.np)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None) -> Tensor:
    """2 x N indices of the lower triangle of a row x col matrix (row-major order)."""
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    return dispatch(
        TrilIndices, (), {"row": row, "col": col, "offset": offset, "dtype": dt, "device": _dev(device)}
    )


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None) -> Tensor:
    """2 x N indices of the upper triangle of a row x col matrix (row-major order)."""
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    return dispatch(
        TrilIndices,
        (),
        {"row": row, "col": col, "offset": offset, "upper": True, "dtype": dt, "device": _dev(device)},
    )


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full((), s, dtype=dtype or D._DEFAULT[0], device=device, requires_grad=requires_grad)


def get_backend_of(t: Tensor):
    return get_backend(t._device)


__all__ = [
    "arange",
    "as_tensor",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "from_numpy",
    "frombuffer",
    "full",
    "full_like",
    "linspace",
    "logspace",
    "ones",
    "ones_like",
    "scalar_tensor",
    "tensor",
    "tril_indices",
    "triu_indices",
    "zeros",
    "zeros_like",
]
