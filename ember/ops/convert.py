"""dtype and device conversion, clone and contiguous."""

from __future__ import annotations

from .. import _dtype as D
from .._device import to_device
from .._tensor import Tensor
from ._dispatch import dispatch
from .op import Op


class ToCopy(Op):
    """Cast to another dtype (and/or device). The engine casts the gradient back to the input dtype."""

    node_name = "ToCopyBackward0"
    cross_device = True

    @staticmethod
    def forward(ctx, a, dtype=None, device=None, copy=False):
        ctx.src_device = None
        be = ctx.be
        if device is not None:
            a = be.from_other(a)
        if dtype is not None and a.dtype != dtype.np:
            return be.cast(a, dtype.np)  # CUDA: 16-byte-per-thread kernels for float32 <-> half
        return a.copy() if copy else a

    @staticmethod
    def backward(ctx, g):
        src_dev = ctx.src_device
        return g if src_dev is None else g.to(src_dev)


def to_dtype(t: Tensor, dtype) -> Tensor:
    """Differentiable cast to `dtype` (returns `t` itself when nothing changes)."""
    if t._dtype is dtype:
        return t
    return dispatch(ToCopy, (t,), {"dtype": dtype})


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    for a in args:
        if isinstance(a, Tensor):
            dtype = dtype or a._dtype
            device = device or a._device
        elif isinstance(a, D.dtype):
            dtype = a
        elif isinstance(a, bool):
            copy = copy  # positional non_blocking, ignored
        elif a is not None:
            try:
                device = to_device(a)
            except (RuntimeError, TypeError):
                dtype = D.to_dtype(a)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    return (
        (D.to_dtype(dtype) if dtype is not None else None),
        (to_device(device) if device is not None else None),
        copy,
    )


def to(t: Tensor, *args, **kwargs) -> Tensor:
    """Tensor.to(dtype | device | tensor, ..., non_blocking=False, copy=False)."""
    dtype, device, copy = _parse_to(args, dict(kwargs))
    same_dtype = dtype is None or dtype is t._dtype
    same_device = (
        device is None or device == t._device or (device.type == t._device.type and device.index is None)
    )
    if same_dtype and same_device and not copy:
        return t
    kw = {}
    if not same_dtype:
        kw["dtype"] = dtype
    if not same_device:
        kw["device"] = device
        return _to_device(t, device, dtype if not same_dtype else None)
    if copy:
        kw["copy"] = True
    return dispatch(ToCopy, (t,), kw)


def _to_device(t: Tensor, device, dtype):
    from ..backend import get_backend

    be = get_backend(device)
    out = be.from_other(t._data, device)
    if dtype is not None:
        out = out.astype(dtype.np)
    from .._tensor import _wrap
    from ..autograd.grad_mode import STATE

    res = _wrap(out, dtype or t._dtype, device)
    if t._requires_grad and STATE.enabled:
        from ._dispatch import _record

        ctx = object.__new__(ToCopy.node_cls)
        ctx.be = be
        ctx.xp = be.xp
        ctx._saved = ()
        ctx.src_device = t._device
        _record(ctx, (t,), (out,), (res,))
    return res


class Clone(Op):
    @staticmethod
    def forward(ctx, a, order="K"):
        return ctx.xp.array(a, copy=True, order=order)

    @staticmethod
    def backward(ctx, g):
        return g


def clone(t: Tensor, *, memory_format=None) -> Tensor:
    from .. import _formats

    if memory_format in (None, _formats.preserve_format):
        return dispatch(Clone, (t,))
    return dispatch(Clone, (t,), {"order": "C"})


class Contiguous(Op):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, a):
        return ctx.xp.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        return g


def contiguous(t: Tensor, memory_format=None) -> Tensor:
    if t._data.flags.c_contiguous:
        return t
    return dispatch(Contiguous, (t,))


def type_as(t: Tensor, other: Tensor) -> Tensor:
    return to(t, other._dtype)
