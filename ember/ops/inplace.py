"""In-place ops: copy_, fill_, zero_, the generic ``op_`` variants, and ``out=`` handling.

An in-place op is the out-of-place Op dispatched with ``inplace=True``: dispatch checks the leaf rules,
writes into the target's memory (seen by every view), bumps the shared version counter and rewrites the
graph (CopySlices when the target is a view).
"""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._dispatch import dispatch
from .op import Op


class Copy(Op):
    """target.copy_(src): src broadcast to the target's shape, cast to its dtype, from any device."""

    node_name = "CopyBackwards"
    cross_device = True

    @staticmethod
    def forward(ctx, a, src):
        xp = ctx.xp
        src = ctx.be.from_other(src) if not isinstance(src, (int, float, bool, complex)) else src
        return xp.broadcast_to(xp.asarray(src, dtype=a.dtype), a.shape).copy()

    @staticmethod
    def forward_inplace(ctx, a, src):
        if not isinstance(src, (int, float, bool, complex)):
            src = ctx.be.from_other(src)
        a[...] = src
        return a

    @staticmethod
    def backward(ctx, g):
        # torch: the overwritten value gets a zero gradient (not none)
        return (_zeros_like(g) if ctx.needs_input_grad[0] else None), g


def _zeros_like(g):
    from .factory import zeros_like

    return zeros_like(g)


def _wrap_int(value, npdt):
    """A negative Python int for an unsigned array wraps around (two's complement), as in torch."""
    if type(value) is int and value < 0 and npdt.kind == "u":
        return np.asarray(value, dtype=np.int64).astype(npdt)
    return value


class Fill(Op):
    """target.fill_(value): value is a Python scalar or a 0-d tensor (which then receives the summed grad)."""

    @staticmethod
    def forward(ctx, a, value):
        return ctx.xp.full(a.shape, _wrap_int(value, a.dtype), dtype=a.dtype)

    @staticmethod
    def forward_inplace(ctx, a, value):
        a[...] = _wrap_int(value, a.dtype)
        return a

    @staticmethod
    def backward(ctx, g):
        # torch: the overwritten value gets a zero gradient (not none)
        return (_zeros_like(g) if ctx.needs_input_grad[0] else None), g


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy `src` into `self` (broadcasting, casting and crossing devices as needed)."""
    if isinstance(src, Tensor):
        try:
            from .shape import broadcast_shapes

            if tuple(broadcast_shapes(self.shape, src.shape)) != tuple(self.shape):
                raise RuntimeError
        except RuntimeError:
            raise RuntimeError(
                f"copy_(): the size of src {list(src.shape)} is not broadcastable to the destination "
                f"{list(self.shape)}"
            ) from None
    return dispatch(Copy, (self, src), inplace=True)


def fill_(self: Tensor, value) -> Tensor:
    """Fill `self` with a number or a 0-d tensor (which then receives the summed gradient)."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} dimensions."
            )
    else:
        import numbers

        from .factory import _checked

        if not isinstance(value, numbers.Number):
            raise TypeError(f"fill_(): argument 'value' must be Number, not {type(value).__name__}")
        _checked(value, self._dtype)
    return dispatch(Fill, (self, value), inplace=True)


def zero_(self: Tensor) -> Tensor:
    return dispatch(Fill, (self, 0), inplace=True)


def inplace(op, self: Tensor, *args, **kwargs) -> Tensor:
    """Dispatch `op` in place on `self`."""
    return dispatch(op, (self,) + args, kwargs, inplace=True)


def write_out(out: Tensor, result: Tensor) -> Tensor:
    """Implement ``out=``: resize `out` if its shape differs, then copy the result into it."""
    if not isinstance(out, Tensor):
        raise TypeError(f"out= expects a Tensor, got {type(out).__name__}")
    if STATE.enabled and (result._requires_grad or out._requires_grad):
        raise RuntimeError(
            "functions with out=... arguments don't support automatic differentiation, but one of the arguments "
            "requires grad."
        )
    from .. import _dtype as D

    if not D.can_cast(result._dtype, out._dtype):
        raise RuntimeError(
            f"result type {D.SCALAR_NAME[result._dtype]} can't be cast to the desired output type "
            f"{D.SCALAR_NAME[out._dtype]}"
        )
    if out._data.shape != result._data.shape:
        out._data = result._data.astype(out._dtype.np, copy=True)
        out._bump_version()
        return out
    return copy_(out, result)
